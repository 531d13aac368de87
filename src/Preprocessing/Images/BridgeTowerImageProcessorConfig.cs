using System.Text.Json;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// The options of Hugging Face's BridgeTowerImageProcessor with the class defaults of
/// transformers 4.41 (note: the mean/std default to OpenAI CLIP's, not ImageNet's as its
/// docstring says). Read from a hub-style preprocessor_config.json with <see cref="FromFile"/>.
/// </summary>
public sealed record BridgeTowerImageProcessorConfig
{
    public static readonly double[] OpenAiClipMean = [0.48145466, 0.4578275, 0.40821073];
    public static readonly double[] OpenAiClipStd = [0.26862954, 0.26130258, 0.27577711];

    public bool DoResize { get; init; } = true;
    /// <summary>size["shortest_edge"]: the short side after resizing; the long side is capped at int(1333 / 800 * this).</summary>
    public int ShortestEdge { get; init; } = 288;
    public int SizeDivisor { get; init; } = 32;
    public PilResampling Resample { get; init; } = PilResampling.Bicubic;
    public bool DoRescale { get; init; } = true;
    public double RescaleFactor { get; init; } = 1.0 / 255.0;
    public bool DoNormalize { get; init; } = true;
    public double[] ImageMean { get; init; } = OpenAiClipMean;
    public double[] ImageStd { get; init; } = OpenAiClipStd;
    /// <summary>Stored like the reference, but see <see cref="BridgeTowerImageProcessor.Preprocess"/>: its plain call never reads it.</summary>
    public bool DoCenterCrop { get; init; } = true;
    /// <summary>crop_size; null falls back to <see cref="ShortestEdge"/> (a square crop).</summary>
    public (int Height, int Width)? CropSize { get; init; }
    public bool DoPad { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public BridgeTowerImageProcessorConfig Validate()
    {
        if (ShortestEdge <= 0) throw new ArgumentException($"size.shortest_edge must be positive, got {ShortestEdge}");
        if (SizeDivisor <= 0) throw new ArgumentException($"size_divisor must be positive, got {SizeDivisor}");
        if (!Enum.IsDefined(Resample)) throw new ArgumentException($"resample must be a Pillow filter 0..5, got {(int)Resample}");
        if (!double.IsFinite(RescaleFactor)) throw new ArgumentException($"rescale_factor must be finite, got {RescaleFactor}");
        if (ImageMean is null || ImageMean.Length != 3) throw new ArgumentException($"image_mean needs 3 values (one per RGB channel), got {ImageMean?.Length ?? 0}");
        if (ImageStd is null || ImageStd.Length != 3) throw new ArgumentException($"image_std needs 3 values (one per RGB channel), got {ImageStd?.Length ?? 0}");
        if (ImageStd.Any(s => s == 0 || !double.IsFinite(s))) throw new ArgumentException($"image_std must be finite and non-zero, got [{string.Join(", ", ImageStd)}]");
        if (CropSize is { } c && (c.Height <= 0 || c.Width <= 0)) throw new ArgumentException($"crop_size must be positive, got {c.Height}x{c.Width}");
        return this;
    }

    /// <summary>Reads preprocessor_config.json from a file, or from a directory holding one.</summary>
    public static BridgeTowerImageProcessorConfig FromFile(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "preprocessor_config.json");
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{path}: cannot read the image processor configuration: {e.Message}", e);
        }
        return FromJson(json, path);
    }

    /// <summary>Parses the JSON of a preprocessor_config.json; keys absent keep the reference's defaults, unknown keys are ignored.</summary>
    public static BridgeTowerImageProcessorConfig FromJson(string json, string source = "preprocessor_config.json")
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("the top level is not an object");
            var c = new BridgeTowerImageProcessorConfig();
            foreach (var p in root.EnumerateObject())
            {
                var v = p.Value;
                if (v.ValueKind == JsonValueKind.Null) continue; // null means "use the default" in the reference
                c = p.Name switch
                {
                    "do_resize" => c with { DoResize = v.GetBoolean() },
                    "size" => c with { ShortestEdge = ShortestEdgeOf(v) },
                    "size_divisor" => c with { SizeDivisor = v.GetInt32() },
                    "resample" => c with { Resample = (PilResampling)v.GetInt32() },
                    "do_rescale" => c with { DoRescale = v.GetBoolean() },
                    "rescale_factor" => c with { RescaleFactor = v.GetDouble() },
                    "do_normalize" => c with { DoNormalize = v.GetBoolean() },
                    "image_mean" => c with { ImageMean = PerChannel(v) },
                    "image_std" => c with { ImageStd = PerChannel(v) },
                    "do_center_crop" => c with { DoCenterCrop = v.GetBoolean() },
                    "crop_size" => c with { CropSize = CropOf(v) },
                    "do_pad" => c with { DoPad = v.GetBoolean() },
                    "pad_and_return_pixel_mask" => v.GetBoolean() ? c with { DoPad = true } : c,
                    _ => c,
                };
            }
            return c.Validate();
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new ArgumentException($"{source}: invalid image processor configuration: {e.Message}", e);
        }
    }

    // get_size_dict(size, default_to_square=False): an int means the shortest edge.
    private static int ShortestEdgeOf(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number) return v.GetInt32();
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("shortest_edge", out var e)) return e.GetInt32();
        throw new FormatException($"size must be an integer or hold \"shortest_edge\" (BridgeTower resizes by the shortest edge), got {v.GetRawText()}");
    }

    // The reference crops to crop_size["shortest_edge"] squared; {"height", "width"} is accepted too.
    private static (int, int) CropOf(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number) return (v.GetInt32(), v.GetInt32());
        if (v.ValueKind == JsonValueKind.Object)
        {
            if (v.TryGetProperty("shortest_edge", out var e)) return (e.GetInt32(), e.GetInt32());
            if (v.TryGetProperty("height", out var h) && v.TryGetProperty("width", out var w)) return (h.GetInt32(), w.GetInt32());
        }
        throw new FormatException($"crop_size must be an integer or hold \"shortest_edge\" or \"height\" and \"width\", got {v.GetRawText()}");
    }

    // A single number applies to every channel, as numpy broadcasting does in the reference.
    private static double[] PerChannel(JsonElement v) =>
        v.ValueKind == JsonValueKind.Number ? [v.GetDouble(), v.GetDouble(), v.GetDouble()]
        : v.EnumerateArray().Select(x => x.GetDouble()).ToArray();
}
