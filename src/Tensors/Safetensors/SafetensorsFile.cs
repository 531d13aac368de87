namespace BridgeTower.Tensors.Safetensors;

/// <summary>
/// One memory-mapped .safetensors file. Tensors are zero-copy read-only views into the mapping,
/// valid until the file is disposed (after that, touching their data throws
/// <see cref="ObjectDisposedException"/>). Every size in the header is checked against the file
/// before anything is allocated or read.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The same cap the reference implementation puts on the JSON header.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedStorage _mapped;
    private readonly Dictionary<string, Tensor> _tensors;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensor names in file order (by data offset).</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>Length of the JSON header in bytes (after the 8-byte length prefix).</summary>
    public long HeaderLength { get; }
    /// <summary>File offset of the data section (8 + <see cref="HeaderLength"/>).</summary>
    public long DataOffset => 8 + HeaderLength;
    public long FileLength => _mapped.ByteLength;

    private SafetensorsFile(string path, MappedStorage mapped, long headerLength,
        Dictionary<string, Tensor> tensors, List<string> names, Dictionary<string, string> metadata)
    {
        Path = path;
        _mapped = mapped;
        HeaderLength = headerLength;
        _tensors = tensors;
        Names = names;
        Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such safetensors file", path);

        MappedStorage mapped;
        try
        {
            mapped = MappedStorage.Open(path);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new SafetensorsException(path, null, $"cannot map the file ({e.Message})", e);
        }
        try
        {
            return Parse(path, mapped);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    private static SafetensorsFile Parse(string path, MappedStorage mapped)
    {
        long fileLength = mapped.ByteLength;
        if (fileLength < 8)
            throw new SafetensorsException(path, null, $"file is {fileLength} bytes, shorter than the 8-byte header length");
        byte* basePtr = mapped.Pointer;
        ulong headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePtr, 8));
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsException(path, null, $"header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes");
        if ((long)headerLength > fileLength - 8)
            throw new SafetensorsException(path, null, $"header length {headerLength} runs past the end of the {fileLength}-byte file");

        var headerBytes = new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var header = SafetensorsHeader.Parse(path, headerBytes, dataLength);

        // One storage for the data section: tensor offsets are counted from its first byte.
        var data = new ExternalStorage(basePtr + dataStart, dataLength, mapped);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var names = new List<string>(header.Entries.Count);
        foreach (var entry in header.Entries)
        {
            int size = entry.DType.SizeOf();
            if (entry.Begin % size != 0)
            {
                // A view's offset is counted in elements; copy the rare misaligned tensor out of the mapping.
                var copy = new ManagedStorage(entry.End - entry.Begin);
                Buffer.MemoryCopy(basePtr + dataStart + entry.Begin, copy.Pointer, copy.ByteLength, entry.End - entry.Begin);
                tensors[entry.Name] = new Tensor(copy, entry.DType, entry.Shape);
            }
            else
            {
                tensors[entry.Name] = new Tensor(data, entry.DType, entry.Shape, null, entry.Begin / size);
            }
            names.Add(entry.Name);
        }
        return new SafetensorsFile(path, mapped, (long)headerLength, tensors, names, header.Metadata);
    }

    public int Count => _tensors.Count;

    public bool IsDisposed => _mapped.IsDisposed;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The named tensor (a read-only view into the mapping).</summary>
    public Tensor this[string name]
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _tensors.TryGetValue(name, out var t)
                ? t
                : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        }
    }

    public bool TryGet(string name, out Tensor tensor)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return _tensors.TryGetValue(name, out tensor!);
    }

    /// <summary>
    /// The named tensor as a fresh writable copy read with file I/O rather than through the mapping: for data
    /// used once and dropped (a Linear weight the backend packs), so the mapping's pages for it never count in
    /// this process's working set. The copy comes from the buffer pool; dispose it when done.
    /// </summary>
    public bool TryReadCopy(string name, out Tensor tensor)
    {
        if (!TryGet(name, out var view))
        {
            tensor = null!;
            return false;
        }
        long bytes = view.ElementCount * view.DType.SizeOf();
        if (view.Storage is not ExternalStorage { Owner: MappedStorage mapped } || bytes > Array.MaxLength)
        {
            tensor = view.Copy(); // a misaligned tensor (already copied out) or one too big for a managed array
            return true;
        }
        // Rented: a loader that is done with the copy (it was packed) gives it back with Dispose.
        var copy = Tensor.Rent(view.DType, view.ShapeArray());
        try
        {
            mapped.ReadAt(DataOffset + view.Offset * view.DType.SizeOf(), copy.Storage.Bytes(copy.Offset * copy.DType.SizeOf(), (int)bytes));
        }
        catch (Exception e)
        {
            copy.Dispose();
            if (e is IOException) throw new SafetensorsException(Path, name, e.Message, e);
            throw;
        }
        tensor = copy;
        return true;
    }

    public override string ToString() => $"SafetensorsFile({Path}, {Count} tensors)";

    public void Dispose() => _mapped.Dispose();
}
