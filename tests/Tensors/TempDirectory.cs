namespace BridgeTower.Tests.Tensors;

/// <summary>A fresh folder under the system temp dir, deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "bridgetower-tests-" + Guid.NewGuid().ToString("N"));

    public TempDirectory() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Builds safetensors files byte by byte, so tests can break exactly one rule at a time.</summary>
public static class RawSafetensors
{
    /// <summary>8-byte little-endian length, the header text as given (no padding), then <paramref name="dataLength"/> bytes 0,1,2,...</summary>
    public static byte[] Build(string header, long dataLength) =>
        Build(System.Text.Encoding.UTF8.GetBytes(header), dataLength);

    public static byte[] Build(byte[] header, long dataLength, ulong? declaredHeaderLength = null)
    {
        var bytes = new byte[8 + header.Length + dataLength];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), declaredHeaderLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (long i = 0; i < dataLength; i++) bytes[8 + header.Length + i] = (byte)i;
        return bytes;
    }

    public static string Write(TempDirectory dir, string name, byte[] bytes)
    {
        string path = dir.File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }
}
