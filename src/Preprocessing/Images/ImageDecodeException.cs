namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// An image that cannot be turned into pixels: unknown format, corrupt or truncated data, or a
/// size over the configured limit. The message names the source (file path) and the reason.
/// </summary>
public sealed class ImageDecodeException : Exception
{
    /// <summary>The file path, or the name given for in-memory data.</summary>
    public string FileName { get; }
    /// <summary>Why decoding failed, without the source name.</summary>
    public string Reason { get; }

    public ImageDecodeException(string source, string reason, Exception? inner = null)
        : base($"{source}: {reason}", inner)
    {
        FileName = source;
        Reason = reason;
    }
}
