using System.IO.MemoryMappedFiles;

namespace BridgeTower.Tensors;

/// <summary>
/// A whole file mapped read-only into memory. It owns the mapping: tensors viewing it (directly or
/// through an <see cref="ExternalStorage"/> whose owner is this object) are valid until
/// <see cref="Dispose"/>; after that <see cref="Pointer"/> throws instead of handing out freed memory.
/// </summary>
public sealed unsafe class MappedStorage : Storage, IDisposable
{
    private readonly FileStream _file;
    private readonly MemoryMappedFile? _mapping;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _pointer;
    private readonly long _length;
    private int _disposed;

    public string Path { get; }

    private MappedStorage(string path, FileStream file, MemoryMappedFile? mapping, MemoryMappedViewAccessor? view, byte* pointer, long length)
    {
        Path = path;
        _file = file;
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
        // The handle stays open for ReadAt: reading a region with file I/O leaves the mapping's pages untouched.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long length = stream.Length;
            if (length == 0) return new MappedStorage(path, stream, null, null, null, 0);
            mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            view = mapping.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            return new MappedStorage(path, stream, mapping, view, p + view.PointerOffset, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            mapping?.Dispose();
            stream.Dispose();
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

    /// <summary>
    /// Copies bytes [<paramref name="byteOffset"/>, + destination length) with file reads instead of through the
    /// mapping, so data that is consumed once (weights a backend repacks) never becomes resident mapped pages
    /// of this process: they would otherwise count in its working set beside the copy for as long as the
    /// mapping lives. Safe to call from several threads.
    /// </summary>
    public void ReadAt(long byteOffset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        CheckRange(byteOffset, destination.Length);
        while (destination.Length > 0)
        {
            int read = RandomAccess.Read(_file.SafeFileHandle, destination, byteOffset);
            if (read <= 0)
                throw new EndOfStreamException($"{Path}: the file ended at byte {byteOffset} while {destination.Length} more bytes were expected (was it truncated after it was opened?)");
            destination = destination[read..];
            byteOffset += read;
        }
    }

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
        _file.Dispose();
    }
}
