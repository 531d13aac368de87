namespace BridgeTower.Tensors;

/// <summary>
/// A thread-safe pool of pinned byte arrays: the activation arena. A forward pass allocates the same
/// shapes layer after layer, so a buffer handed back by a disposed tensor is handed out again to the
/// next tensor of a similar size instead of leaving a dead pinned array for a full GC to find.
/// Sizes are rounded up to classes four per power of two (at most 25% slack) so nearby shapes share
/// buffers. Returned buffers are kept up to <see cref="MaxRetainedBytes"/> in all; beyond that, and
/// for buffers over <see cref="MaxPooledBufferBytes"/>, they are left to the GC. A rented buffer that
/// is never returned is simply collected: the pool holds no reference to what it hands out.
/// </summary>
public sealed class PinnedBufferPool
{
    /// <summary>Smallest size class: tiny tensors (scalars, masks) share one class.</summary>
    public const int MinClassBytes = 256;

    /// <summary>The process-wide pool: <see cref="Current"/> unless a <see cref="Use"/> scope says otherwise.</summary>
    public static PinnedBufferPool Shared { get; } = new();

    private static readonly AsyncLocal<PinnedBufferPool?> s_current = new();

    /// <summary>The pool <see cref="Tensor.Rent(DType, int[])"/> (and so every backend result) draws from in this async flow.</summary>
    public static PinnedBufferPool Current => s_current.Value ?? Shared;

    /// <summary>
    /// Makes <paramref name="pool"/> the <see cref="Current"/> one for this async flow until the scope is disposed
    /// (a separate arena for one model, or exact counts in a test while other code uses the shared pool).
    /// </summary>
    public static IDisposable Use(PinnedBufferPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var previous = s_current.Value;
        s_current.Value = pool;
        return new Scope(previous);
    }

    private sealed class Scope(PinnedBufferPool? previous) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) s_current.Value = previous;
        }
    }

    private readonly object _lock = new();
    private readonly Dictionary<long, Stack<byte[]>> _free = [];
    private long _retainedBytes, _outstandingBytes, _rents, _reuses, _allocatedBytes;

    /// <param name="maxRetainedBytes">most bytes kept for reuse across all classes</param>
    /// <param name="maxPooledBufferBytes">buffers larger than this are never kept (a one-off vocabulary-sized tensor must not stay resident)</param>
    public PinnedBufferPool(long maxRetainedBytes = 512L << 20, long maxPooledBufferBytes = 128L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPooledBufferBytes);
        MaxRetainedBytes = maxRetainedBytes;
        MaxPooledBufferBytes = maxPooledBufferBytes;
    }

    public long MaxRetainedBytes { get; set; }
    public long MaxPooledBufferBytes { get; }

    /// <summary>
    /// Fill every rented buffer with 0xFF bytes (a NaN in every float) before handing it out. For tests:
    /// a kernel that reads its output before writing it, or relies on fresh memory being zero, then fails
    /// visibly instead of passing by luck.
    /// </summary>
    public bool PoisonRentedBuffers { get; set; }

    /// <summary>Bytes (class-rounded) of buffers idle in the pool.</summary>
    public long RetainedBytes => Interlocked.Read(ref _retainedBytes);
    /// <summary>Bytes (class-rounded) rented and not returned yet, including buffers whose tensors were left to the GC.</summary>
    public long OutstandingBytes => Interlocked.Read(ref _outstandingBytes);
    /// <summary>Rents so far.</summary>
    public long RentCount => Interlocked.Read(ref _rents);
    /// <summary>Rents served by a returned buffer.</summary>
    public long ReuseCount => Interlocked.Read(ref _reuses);
    /// <summary>Bytes of fresh arrays allocated because no returned buffer fitted.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);

    /// <summary>
    /// A pooled storage of <paramref name="byteLength"/> bytes. Its contents are whatever the previous
    /// user left (or poison) unless <paramref name="zeroed"/>; give it back with <see cref="PooledStorage.Return"/>
    /// (what disposing the owning tensor does).
    /// </summary>
    public PooledStorage Rent(long byteLength, bool zeroed = false)
    {
        if (byteLength < 0 || byteLength > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(byteLength), byteLength, $"a pooled buffer holds 0 to {Array.MaxLength} bytes");
        long size = ClassSize(byteLength);
        byte[]? array = null;
        lock (_lock)
        {
            _rents++;
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                array = stack.Pop();
                _retainedBytes -= array.Length;
                _reuses++;
            }
            _outstandingBytes += size;
        }
        if (array is null)
        {
            try
            {
                // Uninitialized: a fresh array is written before it is read, or cleared below when asked.
                array = GC.AllocateUninitializedArray<byte>((int)size, pinned: true);
            }
            catch
            {
                Interlocked.Add(ref _outstandingBytes, -size);
                throw;
            }
            Interlocked.Add(ref _allocatedBytes, size);
        }
        if (zeroed) Array.Clear(array, 0, (int)byteLength);
        else if (PoisonRentedBuffers) array.AsSpan(0, (int)byteLength).Fill(0xFF);
        return new PooledStorage(this, array, byteLength);
    }

    /// <summary>Takes a buffer back (called once per rent, by <see cref="PooledStorage.Return"/>).</summary>
    internal void Return(byte[] array)
    {
        long size = array.Length;
        lock (_lock)
        {
            _outstandingBytes -= size;
            if (size > MaxPooledBufferBytes || _retainedBytes + size > MaxRetainedBytes) return; // left to the GC
            if (!_free.TryGetValue(size, out var stack)) _free[size] = stack = new Stack<byte[]>();
            stack.Push(array);
            _retainedBytes += size;
        }
    }

    /// <summary>Drops every idle buffer (the GC reclaims them).</summary>
    public void Trim()
    {
        lock (_lock)
        {
            _free.Clear();
            _retainedBytes = 0;
        }
    }

    /// <summary>
    /// The buffer size a request is served with: at least <see cref="MinClassBytes"/>, then the next
    /// multiple of a quarter of the request's power of two (256, 320, 384, 448, 512, 640, ...).
    /// </summary>
    public static long ClassSize(long byteLength)
    {
        if (byteLength <= MinClassBytes) return MinClassBytes;
        int log = 63 - (int)long.LeadingZeroCount(byteLength - 1); // 2^log < byteLength <= 2^(log+1)
        long step = 1L << (log - 2);
        long size = (byteLength + step - 1) / step * step;
        return size > Array.MaxLength ? byteLength : size;
    }
}
