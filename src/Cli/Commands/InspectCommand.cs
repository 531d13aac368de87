using System.Globalization;
using System.Text.Json;
using BridgeTower.Tensors;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Cli.Commands;

/// <summary>
/// `bridgetower inspect &lt;model dir&gt;`: the main fields of config.json and a table of every tensor
/// of the checkpoint (name, dtype, shape, bytes) with totals. Reads headers only: nothing is converted.
/// </summary>
public sealed class InspectCommand : ICommand
{
    private readonly TextWriter? _output;

    public InspectCommand() { }

    /// <summary>Writes to <paramref name="output"/> instead of the console (for tests and embedding).</summary>
    public InspectCommand(TextWriter output) => _output = output;

    public string Name => "inspect";
    public string Summary => "print a checkpoint's config and its tensors (name, dtype, shape, bytes)";
    public string Usage => """
        usage: bridgetower inspect <model dir | .safetensors | .safetensors.index.json | pytorch_model.bin> [--no-tensors]

        Prints the main fields of config.json (when the directory has one) and a table of the
        checkpoint's tensors with dtype, shape and size, then the totals (tensors, parameters, bytes).
        Sharded checkpoints are read through model.safetensors.index.json; a directory with only a
        pytorch_model.bin is read with a restricted unpickler that runs nothing from the file.

          --no-tensors   print the config and totals only
        """;

    // The fields worth seeing at a glance; the typed BridgeTowerConfig validates the rest when a model loads.
    private static readonly string[] TopFields =
    [
        "model_type", "architectures", "hidden_size", "num_hidden_layers", "num_attention_heads", "link_tower_type",
        "share_cross_modal_transformer_layers", "share_link_tower_layers", "contrastive_hidden_size",
        "hidden_act", "layer_norm_eps", "torch_dtype",
    ];

    private static readonly string[] TextFields =
    [
        "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
        "vocab_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
    ];

    private static readonly string[] VisionFields =
    [
        "hidden_size", "num_hidden_layers", "image_size", "patch_size", "num_channels",
        "share_layernorm", "remove_last_layer", "layer_norm_eps",
    ];

    public int Run(string[] args, CancellationToken cancellationToken)
    {
        var options = Options.Parse(args, [], ["--no-tensors"]);
        if (options.Positional.Count != 1)
            throw new CliException($"expected one model directory, got {options.Positional.Count} arguments (see bridgetower inspect --help)", CommandLine.ExitUsage);
        string path = options.Positional[0];
        var output = _output ?? Console.Out;

        if (!Directory.Exists(path) && !File.Exists(path))
            throw new CliException($"{path}: no such directory or file");
        string directory = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        string configPath = Path.Combine(directory, "config.json");

        // Read everything first so an error prints one line, not half a report.
        var config = File.Exists(configPath) ? ReadConfig(configPath) : null;
        using var checkpoint = Checkpoint.Open(path);
        cancellationToken.ThrowIfCancellationRequested();

        output.WriteLine($"model: {Path.GetFullPath(path)}");
        if (config is null) output.WriteLine("config.json: absent");
        else WriteConfig(output, configPath, config);
        output.WriteLine();
        WriteTensors(output, checkpoint, !options.Flag("--no-tensors"));
        return CommandLine.ExitOk;
    }

    private static JsonDocument ReadConfig(string configPath)
    {
        long length = new FileInfo(configPath).Length;
        if (length > 16 << 20)
            throw new CliException($"{configPath}: {length} bytes is too large for a config file");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(configPath), new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new CliException($"{configPath}: not valid JSON ({e.Message})");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new CliException($"{configPath}: expected a JSON object, found {doc.RootElement.ValueKind}");
        }
        return doc;
    }

    private static void WriteConfig(TextWriter output, string configPath, JsonDocument config)
    {
        using (config)
        {
            output.WriteLine($"config: {Path.GetFullPath(configPath)}");
            WriteFields(output, config.RootElement, TopFields, "  ");
            foreach (var (section, fields) in new[] { ("text_config", TextFields), ("vision_config", VisionFields) })
            {
                if (!config.RootElement.TryGetProperty(section, out var sub)) { output.WriteLine($"  {section}: absent (library defaults)"); continue; }
                if (sub.ValueKind != JsonValueKind.Object)
                    throw new CliException($"{configPath}: '{section}' must be an object, found {sub.ValueKind}");
                output.WriteLine($"  {section}:");
                WriteFields(output, sub, fields, "    ");
            }
            if (config.RootElement.TryGetProperty("vision_config", out var v) && v.ValueKind == JsonValueKind.Object
                && TryInt(v, "image_size", out int image) && TryInt(v, "patch_size", out int patch) && patch > 0)
                output.WriteLine($"  image tokens: ({image}/{patch})^2 + 1 = {(long)(image / patch) * (image / patch) + 1}");
        }
    }

    private static bool TryInt(JsonElement e, string name, out int value)
    {
        value = 0;
        return e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out value);
    }

    private static void WriteFields(TextWriter output, JsonElement obj, string[] fields, string indent)
    {
        int width = fields.Max(f => f.Length);
        foreach (string field in fields)
        {
            string value = obj.TryGetProperty(field, out var p) ? Render(p) : "(absent: library default)";
            output.WriteLine($"{indent}{field.PadRight(width)}  {value}");
        }
    }

    private static string Render(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Array => string.Join(", ", e.EnumerateArray().Select(Render)),
        JsonValueKind.Null => "null",
        _ => e.GetRawText(),
    };

    private static void WriteTensors(TextWriter output, Checkpoint checkpoint, bool table)
    {
        var rows = checkpoint.Names.Select(n => (Name: n, Tensor: checkpoint[n])).ToList();
        var sources = checkpoint.SourcePaths;
        output.WriteLine(sources.Count == 1
            ? $"tensors: {sources[0]}"
            : $"tensors: {sources.Count} shards in {checkpoint.Directory}");

        if (table)
        {
            int nameWidth = Math.Max("name".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Name.Length));
            int shapeWidth = Math.Max("shape".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Tensor.ShapeString.Length));
            output.WriteLine($"{"name".PadRight(nameWidth)}  {"dtype",-5}  {"shape".PadRight(shapeWidth)}  {"bytes",12}");
            foreach (var (name, tensor) in rows)
                output.WriteLine($"{name.PadRight(nameWidth)}  {tensor.DType.SafetensorsName(),-5}  {tensor.ShapeString.PadRight(shapeWidth)}  {tensor.ByteCount,12}");
            output.WriteLine();
        }

        long parameters = rows.Sum(r => r.Tensor.ElementCount);
        long bytes = rows.Sum(r => r.Tensor.ByteCount);
        var byDtype = rows.GroupBy(r => r.Tensor.DType).OrderBy(g => g.Key)
            .Select(g => $"{g.Key.SafetensorsName()} {g.Count()}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"total: {rows.Count} tensors ({string.Join(", ", byDtype)}), {parameters} parameters, {bytes} bytes ({bytes / 1048576.0:F1} MiB)"));
        if (checkpoint.Files.Count == 1 && checkpoint.Files[0].Metadata.Count > 0)
            output.WriteLine("metadata: " + string.Join(", ", checkpoint.Files[0].Metadata.Select(kv => $"{kv.Key}={kv.Value}")));
    }
}
