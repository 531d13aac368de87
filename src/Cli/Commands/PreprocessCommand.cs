using BridgeTower.Preprocessing;
using BridgeTower.Preprocessing.Images;
using BridgeTower.Preprocessing.Text;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Cli.Commands;

/// <summary>`bridgetower preprocess`: images and texts through BridgeTowerProcessor into the inputs file `bridgetower run` reads.</summary>
public sealed class PreprocessCommand : ICommand
{
    public string Name => "preprocess";
    public string Summary => "turn image files and texts into model inputs (input_ids, attention_mask, pixel_values, pixel_mask)";
    public string Usage =>
        """
        usage: bridgetower preprocess --model DIR --image F [F...] --text T [T...] --out OUT.safetensors
                                      [--no-center-crop] [--max-length N] [--repeat-image]

          --model DIR        processor or model directory: preprocessor_config.json and tokenizer.json
                             (or vocab.json + merges.txt)
          --image F...       image files (PNG, JPEG, GIF, BMP, PGM/PPM)
          --text T...        texts (use --text=T for a text that starts with --); as many as images,
                             or one text for every image, or several texts for one image
          --out FILE         safetensors file with input_ids, attention_mask (I64 B,T), pixel_values
                             (F32 B,3,H,W) and pixel_mask (I64 B,H,W): the --inputs of `bridgetower run`
          --no-center-crop   keep each image's resized aspect (the batch is padded, pixel_mask 0 there)
          --max-length N     truncate texts to N tokens (default the tokenizer's model_max_length)
          --repeat-image     one image with several texts: repeat it to the text batch (default: batch 1,
                             which the model shares with every text)
        """;

    /// <summary>Result lines go here (default the console at the time of the call).</summary>
    public TextWriter? Out { get; set; }
    /// <summary>Progress lines go here (default stderr at the time of the call).</summary>
    public TextWriter? Progress { get; set; }

    public int Run(string[] args, CancellationToken cancellationToken)
    {
        var o = Options.Parse(args, ["--model", "--image", "--text", "--out", "--max-length"], ["--no-center-crop", "--repeat-image"]);
        if (o.Positional.Count > 0) throw new CliException($"unexpected argument '{o.Positional[0]}'", CommandLine.ExitUsage);
        string model = o.Require("--model"), outPath = o.Require("--out");
        var images = o.All("--image");
        var texts = o.All("--text");
        if (images.Count == 0) throw new CliException("missing required option --image", CommandLine.ExitUsage);
        if (texts.Count == 0) throw new CliException("missing required option --text", CommandLine.ExitUsage);
        try { BridgeTowerProcessor.CheckCounts(images.Count, texts.Count); }
        catch (ArgumentException e) { throw new CliException(e.Message, CommandLine.ExitUsage); }
        int? maxLength = o.Get("--max-length") is null ? null : o.GetInt("--max-length", 0, min: 2);
        if (!Directory.Exists(model)) throw new CliException($"--model {model}: no such directory");

        var options = new ProcessorOptions
        {
            Text = new EncodeOptions { Padding = Padding.Longest, Truncation = true, MaxLength = maxLength },
            Images = ImageProcessorCallOptions.ProcessorDefaults with { DoCenterCrop = !o.Flag("--no-center-crop") },
            RepeatSingleImage = o.Flag("--repeat-image"),
        };
        var processor = BridgeTowerProcessor.FromPretrained(model);
        ProcessorOutput output;
        try
        {
            output = processor.ProcessFiles(images, texts, options, progress: ProgressFor(images.Count), cancellationToken: cancellationToken);
        }
        catch (ImageDecodeException e)
        {
            // The message already names the file and the reason.
            throw new CliException(e.Message.ReplaceLineEndings(" "));
        }
        cancellationToken.ThrowIfCancellationRequested();

        var tensors = output.ToNamedTensors();
        SafetensorsWriter.Write(outPath, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var stdout = Out ?? Console.Out;
        stdout.WriteLine($"wrote {tensors.Count} tensors to {outPath}: {string.Join(", ", tensors.Select(kv => $"{kv.Key} {kv.Value.ShapeString}"))}");
        stdout.Flush();
        return CommandLine.ExitOk;
    }

    /// <summary>A line per image on stderr, at most about 20 of them; nothing for a single image.</summary>
    private IProgress<int>? ProgressFor(int count)
    {
        if (count < 2) return null;
        int step = Math.Max(1, count / 20);
        var stderr = Progress ?? Console.Error;
        return new LineProgress(done =>
        {
            if (done % step == 0 || done == count) stderr.WriteLine($"preprocess: {done}/{count} images");
        });
    }

    // Synchronous, unlike Progress<T>, so lines come in order and before the result line.
    private sealed class LineProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
