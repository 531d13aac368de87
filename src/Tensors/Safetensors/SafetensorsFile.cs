using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;

namespace BridgeTower.Tensors.Safetensors;

/// <summary>
/// One memory-mapped .safetensors file. Tensors are zero-copy read-only views into the mapping,
/// valid until the file is disposed. Every size in the header is checked against the file before
/// anything is allocated or read.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The same cap the reference implementation puts on the JSON header.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MemoryMappedFile? _mapping;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly Dictionary<string, Tensor> _tensors;
    private bool _disposed;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensor names in file order (by data offset).</summary>
    public IReadOnlyList<string> Names { get; }

    private SafetensorsFile(string path, MemoryMappedFile? mapping, MemoryMappedViewAccessor? view, byte* basePtr,
        Dictionary<string, Tensor> tensors, List<string> names, Dictionary<string, string> metadata)
    {
        Path = path;
        _mapping = mapping;
        _view = view;
        _base = basePtr;
        _tensors = tensors;
        Names = names;
        Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: no such safetensors file", path);
        long fileLength = info.Length;
        if (fileLength < 8)
            throw new SafetensorsException(path, null, $"file is {fileLength} bytes, shorter than the 8-byte header length");

        MemoryMappedFile mapping;
        try
        {
            mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        }
        catch (IOException e)
        {
            throw new SafetensorsException(path, null, $"cannot map the file ({e.Message})", e);
        }
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = mapping.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            ptr += view.PointerOffset;
            var file = Parse(path, ptr, fileLength, mapping, view);
            return file;
        }
        catch
        {
            if (view is not null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            mapping.Dispose();
            throw;
        }
    }

    private static SafetensorsFile Parse(string path, byte* basePtr, long fileLength, MemoryMappedFile mapping, MemoryMappedViewAccessor view)
    {
        ulong headerLength = *(ulong*)basePtr; // little-endian on every platform .NET runs this on
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsException(path, null, $"header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes");
        if ((long)headerLength > fileLength - 8)
            throw new SafetensorsException(path, null, $"header length {headerLength} runs past the end of the {fileLength}-byte file");

        var headerBytes = new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var header = SafetensorsHeader.Parse(path, headerBytes, dataLength);

        var holder = new object();
        var storage = new ExternalStorage(basePtr + dataStart, dataLength, holder);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (var entry in header.Entries)
        {
            if (entry.Begin % entry.DType.SizeOf() != 0)
            {
                // Views need element alignment; copy the rare unaligned tensor out of the mapping.
                var copy = new ManagedStorage(entry.End - entry.Begin);
                Buffer.MemoryCopy(basePtr + dataStart + entry.Begin, copy.Pointer, copy.ByteLength, entry.End - entry.Begin);
                tensors[entry.Name] = new Tensor(copy, entry.DType, entry.Shape);
            }
            else
            {
                tensors[entry.Name] = new Tensor(storage, entry.DType, entry.Shape, null, entry.Begin / entry.DType.SizeOf());
            }
            names.Add(entry.Name);
        }
        var file = new SafetensorsFile(path, mapping, view, basePtr, tensors, names, header.Metadata);
        return file;
    }

    public int Count => _tensors.Count;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The named tensor (a read-only view into the mapping).</summary>
    public Tensor this[string name]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _tensors.TryGetValue(name, out var t)
                ? t
                : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        }
    }

    public bool TryGet(string name, out Tensor tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _tensors.TryGetValue(name, out tensor!);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _mapping?.Dispose();
    }
}
