using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BridgeTower.Tensors;

/// <summary>
/// One rent of a <see cref="PinnedBufferPool"/> buffer. Each rent gets a new storage object, so once
/// <see cref="Return"/> has run, every tensor still viewing this storage throws
/// <see cref="ObjectDisposedException"/> on data access instead of reading memory the next rent reuses.
/// A storage that is never returned is collected with its buffer like any managed array.
/// </summary>
public sealed unsafe class PooledStorage : Storage
{
    private readonly PinnedBufferPool _pool;
    private readonly long _length;
    private byte[]? _bytes;

    internal PooledStorage(PinnedBufferPool pool, byte[] bytes, long length)
    {
        _pool = pool;
        _bytes = bytes;
        _length = length;
    }

    public override long ByteLength => _length;

    public override bool IsReadOnly => false;

    public bool IsReturned => Volatile.Read(ref _bytes) is null;

    public override byte* Pointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Live()));

    public override Span<byte> Bytes(long byteOffset, int length)
    {
        CheckRange(byteOffset, length);
        return Live().AsSpan((int)byteOffset, length);
    }

    /// <summary>Hands the buffer back to the pool; later calls do nothing.</summary>
    public void Return()
    {
        var bytes = Interlocked.Exchange(ref _bytes, null);
        if (bytes is not null) _pool.Return(bytes);
    }

    private byte[] Live() => Volatile.Read(ref _bytes)
        ?? throw new ObjectDisposedException(nameof(Tensor), $"the {_length}-byte pooled buffer behind this tensor was returned (its owning tensor was disposed)");
}
