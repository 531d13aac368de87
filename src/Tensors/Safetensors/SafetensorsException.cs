namespace BridgeTower.Tensors.Safetensors;

/// <summary>
/// A safetensors file (or shard index) broke a rule of the format. The message names the file, the
/// tensor and the rule. An IOException, so callers that handle unreadable files handle these too.
/// </summary>
public sealed class SafetensorsException : IOException
{
    public string FilePath { get; }
    public string? TensorName { get; }

    public SafetensorsException(string filePath, string? tensorName, string rule, Exception? inner = null)
        : base(Compose(filePath, tensorName, rule), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    private static string Compose(string file, string? tensor, string rule) =>
        tensor is null ? $"{file}: {rule}" : $"{file}: tensor '{tensor}': {rule}";
}
