namespace BridgeTower.Tensors.PyTorch;

/// <summary>A pytorch_model.bin that cannot or must not be loaded. The message names the file, the tensor (when one is at fault) and why.</summary>
public sealed class PyTorchFormatException : IOException
{
    public string FilePath { get; }
    public string? TensorName { get; }

    public PyTorchFormatException(string filePath, string? tensorName, string rule, Exception? inner = null)
        : base(tensorName is null ? $"{filePath}: {rule}" : $"{filePath}: tensor '{tensorName}': {rule}", inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }
}
