using System.IO.Compression;

namespace BridgeTower.Tensors.PyTorch;

/// <summary>
/// A state dict saved by torch.save (the zip format of torch ≥ 1.6, as hub repos ship
/// pytorch_model.bin), read without running Python or any code from the file: the pickle is
/// interpreted by <see cref="RestrictedUnpickler"/>, storages are copied out of the zip into
/// managed memory, and each tensor is a (possibly strided, offset) view of its storage.
/// </summary>
public sealed class PyTorchFile : IDisposable
{
    /// <summary>A state dict pickle is a few hundred bytes per tensor; 100 MB is far beyond any real one.</summary>
    public const long MaxPickleBytes = 100_000_000;

    private static readonly byte[] ZipMagic = [(byte)'P', (byte)'K', 3, 4];

    private readonly Dictionary<string, Tensor> _tensors;

    public string Path { get; }
    /// <summary>Tensor names in pickle order.</summary>
    public IReadOnlyList<string> Names { get; }
    public int Count => _tensors.Count;

    private PyTorchFile(string path, Dictionary<string, Tensor> tensors, List<string> names)
    {
        Path = path;
        _tensors = tensors;
        Names = names;
    }

    public static PyTorchFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = stream.Length;
        if (fileLength == 0) throw new PyTorchFormatException(path, null, "file is empty");
        var head = new byte[Math.Min(4, fileLength)];
        stream.ReadExactly(head);
        stream.Position = 0;
        if (!head.AsSpan().SequenceEqual(ZipMagic))
        {
            if (head.Length >= 2 && head[0] == 0x80)
                throw new PyTorchFormatException(path, null,
                    "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a recent torch or convert it to safetensors");
            throw new PyTorchFormatException(path, null, "not a torch.save zip archive (no zip signature)");
        }

        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new PyTorchFormatException(path, null, $"not a readable zip archive ({e.Message})", e);
        }
        using (zip)
        {
            try
            {
                return Read(path, zip, fileLength);
            }
            catch (InvalidDataException e)
            {
                throw new PyTorchFormatException(path, null, $"corrupt zip entry ({e.Message})", e);
            }
        }
    }

    private static PyTorchFile Read(string path, ZipArchive zip, long fileLength)
    {
        var pickles = zip.Entries.Where(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)).ToList();
        if (pickles.Count != 1)
            throw new PyTorchFormatException(path, null, $"expected one data.pkl in the archive, found {pickles.Count}");
        var pickleEntry = pickles[0];
        string prefix = pickleEntry.FullName[..^"data.pkl".Length];

        var byteorder = zip.GetEntry(prefix + "byteorder");
        if (byteorder is not null && ReadEntry(path, byteorder, 16, fileLength) is var order && System.Text.Encoding.ASCII.GetString(order) != "little")
            throw new PyTorchFormatException(path, null, "big-endian checkpoints are not supported");

        byte[] pickle = ReadEntry(path, pickleEntry, MaxPickleBytes, fileLength);
        object? root = RestrictedUnpickler.Load(path, pickle);
        if (root is not PickledDict dict)
            throw new PyTorchFormatException(path, null, "the pickle does not hold a state dict (a dict of tensors)");

        var storages = new Dictionary<string, (ManagedStorage Storage, PickledStorage Declared)>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name) throw new PyTorchFormatException(path, null, "state dict has a key that is not a string");
            if (value is not PickledTensor t) throw new PyTorchFormatException(path, name, "value is not a tensor");
            if (!tensors.TryAdd(name, Build(path, name, t, zip, prefix, storages, fileLength)))
                throw new PyTorchFormatException(path, name, "name appears more than once");
            names.Add(name);
        }
        return new PyTorchFile(path, tensors, names);
    }

    private static Tensor Build(string path, string name, PickledTensor t, ZipArchive zip, string prefix,
        Dictionary<string, (ManagedStorage Storage, PickledStorage Declared)> storages, long fileLength)
    {
        var s = t.Storage;
        if (t.Size.Length != t.Stride.Length || t.Size.Length > 16)
            throw new PyTorchFormatException(path, name, $"size {ShapeMath.Format(t.Size)} and stride {ShapeMath.Format(t.Stride)} do not match");
        var shape = new int[t.Size.Length];
        for (int i = 0; i < shape.Length; i++)
            shape[i] = t.Size[i] is >= 0 and <= int.MaxValue ? (int)t.Size[i]
                : throw new PyTorchFormatException(path, name, $"size {ShapeMath.Format(t.Size)} has a dimension out of range");
        if (t.Stride.Any(x => x < 0) || t.Offset < 0)
            throw new PyTorchFormatException(path, name, $"negative stride {ShapeMath.Format(t.Stride)} or offset {t.Offset}");

        ManagedStorage storage;
        if (storages.TryGetValue(s.Key, out var known))
        {
            if (known.Declared != s)
                throw new PyTorchFormatException(path, name, $"storage '{s.Key}' is referenced with two different types or sizes");
            storage = known.Storage;
        }
        else
        {
            var entry = zip.GetEntry($"{prefix}data/{s.Key}")
                ?? throw new PyTorchFormatException(path, name, $"storage '{s.Key}' is missing from the archive");
            int size = s.DType.SizeOf();
            if (s.ElementCount > long.MaxValue / size || entry.Length != s.ElementCount * size)
                throw new PyTorchFormatException(path, name,
                    $"storage '{s.Key}' holds {entry.Length} bytes but {s.ElementCount} {s.DType} elements need {(s.ElementCount <= long.MaxValue / size ? s.ElementCount * size : -1)}");
            storage = new ManagedStorage(entry.Length);
            var bytes = ReadEntry(path, entry, entry.Length, fileLength);
            unsafe { bytes.AsSpan().CopyTo(new Span<byte>(storage.Pointer, bytes.Length)); }
            storages[s.Key] = (storage, s);
        }

        try
        {
            return new Tensor(storage, s.DType, shape, t.Stride, t.Offset);
        }
        catch (ArgumentException e)
        {
            throw new PyTorchFormatException(path, name, $"view does not fit its storage '{s.Key}' ({e.Message})", e);
        }
    }

    /// <summary>Reads a whole entry after checking its declared size against <paramref name="limit"/> and what the file can hold.</summary>
    private static byte[] ReadEntry(string path, ZipArchiveEntry entry, long limit, long fileLength)
    {
        long length = entry.Length;
        // Deflate expands at most ~1032:1; a larger claim is a lie (or a bomb) and is refused before allocating.
        if (length > limit || length > Array.MaxLength || length > Math.Max(entry.CompressedLength, 1) * 1032 || entry.CompressedLength > fileLength)
            throw new PyTorchFormatException(path, null, $"zip entry '{entry.FullName}' declares {length} bytes, more than it can hold");
        var bytes = new byte[length];
        using var s = entry.Open();
        int read = 0;
        while (read < bytes.Length)
        {
            int n = s.Read(bytes, read, bytes.Length - read);
            if (n == 0) throw new PyTorchFormatException(path, null, $"zip entry '{entry.FullName}' ends after {read} of {length} bytes");
            read += n;
        }
        return bytes;
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public Tensor this[string name] => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    public bool TryGet(string name, out Tensor tensor) => _tensors.TryGetValue(name, out tensor!);

    /// <summary>Nothing to release (storages are managed); present so callers treat every checkpoint alike.</summary>
    public void Dispose() { }
}
