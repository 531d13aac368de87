namespace BridgeTower.Tensors;

/// <summary>
/// Raw bytes behind one or more tensors. Either a pinned managed array or a region of a
/// memory-mapped file; both expose a stable pointer so kernels can work without pinning per call.
/// </summary>
public abstract unsafe class Storage
{
    /// <summary>Length in bytes.</summary>
    public abstract long ByteLength { get; }

    /// <summary>First byte. Valid while the storage (and, for mapped storage, its file) is alive.</summary>
    public abstract byte* Pointer { get; }

    public abstract bool IsReadOnly { get; }

    /// <summary>
    /// A span over <paramref name="length"/> bytes from <paramref name="byteOffset"/>. Unlike a span
    /// built from <see cref="Pointer"/>, a span over managed storage keeps the array alive while
    /// it is in use (the GC tracks it), so a tensor that becomes unreachable cannot be freed under it.
    /// </summary>
    public abstract Span<byte> Bytes(long byteOffset, int length);

    private protected void CheckRange(long byteOffset, int length)
    {
        if (byteOffset < 0 || length < 0 || byteOffset > ByteLength - length)
            throw new ArgumentOutOfRangeException(nameof(byteOffset),
                $"bytes [{byteOffset}, {byteOffset + length}) lie outside the {ByteLength}-byte storage");
    }
}

/// <summary>A pinned managed byte array (pinned so <see cref="Pointer"/> never moves).</summary>
public sealed unsafe class ManagedStorage : Storage
{
    private readonly byte[] _bytes;

    public ManagedStorage(long byteLength)
    {
        if (byteLength < 0 || byteLength > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(byteLength), byteLength,
                $"a managed tensor holds at most {Array.MaxLength} bytes");
        _bytes = GC.AllocateArray<byte>((int)byteLength, pinned: true);
    }

    public override long ByteLength => _bytes.Length;

    public override byte* Pointer => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_bytes));

    public override bool IsReadOnly => false;

    public override Span<byte> Bytes(long byteOffset, int length)
    {
        CheckRange(byteOffset, length);
        return _bytes.AsSpan((int)byteOffset, length);
    }
}

/// <summary>
/// A read-only window into memory owned by someone else (a memory-mapped file). The owner keeps
/// the mapping alive; disposing the owner invalidates every tensor that views it.
/// </summary>
public sealed unsafe class ExternalStorage : Storage
{
    private readonly byte* _pointer;
    private readonly long _length;
    private readonly object _owner;

    public ExternalStorage(byte* pointer, long length, object owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "a storage length cannot be negative");
        if (pointer == null && length > 0) throw new ArgumentNullException(nameof(pointer), $"a {length}-byte storage needs a pointer");
        _pointer = pointer;
        _length = length;
        _owner = owner;
    }

    public override long ByteLength => _length;

    /// <summary>First byte; throws <see cref="ObjectDisposedException"/> once a <see cref="MappedStorage"/> owner is disposed.</summary>
    public override byte* Pointer
    {
        get
        {
            if (_owner is MappedStorage { IsDisposed: true } mapped)
                throw new ObjectDisposedException(mapped.ToString(), "the memory-mapped file behind this tensor was disposed");
            return _pointer;
        }
    }

    public override bool IsReadOnly => true;

    /// <summary>The mapping's lifetime is explicit (its owner is disposed by the user), not the GC's.</summary>
    public override Span<byte> Bytes(long byteOffset, int length)
    {
        CheckRange(byteOffset, length);
        return new Span<byte>(Pointer + byteOffset, length);
    }

    /// <summary>What keeps the memory alive (held so the GC cannot collect it while tensors view it).</summary>
    public object Owner => _owner;
}
