using System.IO.MemoryMappedFiles;

namespace BridgeTower.Tensors;

/// <summary>
/// A whole file mapped read-only into memory. It owns the mapping: tensors viewing it (directly or
/// through an <see cref="ExternalStorage"/> whose owner is this object) are valid until
/// <see cref="Dispose"/>; after that <see cref="Pointer"/> throws instead of handing out freed memory.
/// </summary>
public sealed unsafe class MappedStorage : Storage, IDisposable
{
    private readonly MemoryMappedFile? _mapping;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _pointer;
    private readonly long _length;
    private int _disposed;

    public string Path { get; }

    private MappedStorage(string path, MemoryMappedFile? mapping, MemoryMappedViewAccessor? view, byte* pointer, long length)
    {
        Path = path;
        _mapping = mapping;
        _view = view;
        _pointer = pointer;
        _length = length;
    }

    /// <summary>Maps <paramref name="path"/> read-only. An empty file gives an empty storage (nothing to map).</summary>
    public static MappedStorage Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Take the length from the open handle, not a separate stat, so the view matches what is mapped.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        long length = stream.Length;
        if (length == 0) return new MappedStorage(path, null, null, null, 0);

        var mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = mapping.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            return new MappedStorage(path, mapping, view, p + view.PointerOffset, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            mapping.Dispose();
            throw;
        }
    }

    public override long ByteLength => _length;

    public override byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _pointer;
        }
    }

    public override bool IsReadOnly => true;

    public override Span<byte> Bytes(long byteOffset, int length)
    {
        CheckRange(byteOffset, length);
        return new Span<byte>(Pointer + byteOffset, length);
    }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public override string ToString() => $"MappedStorage({Path}, {_length} bytes)";

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _mapping?.Dispose();
    }
}
