namespace BridgeTower.Tensors;

// Tensors whose memory comes from the activation arena (PinnedBufferPool) and goes back to it on Dispose.
public sealed partial class Tensor : IDisposable
{
    /// <summary>Set only on the tensor a rent created: the one tensor allowed to give the buffer back.</summary>
    private PooledStorage? _ownedStorage;

    /// <summary>
    /// A contiguous tensor in a pooled buffer whose contents are undefined (whatever its last user left):
    /// for results that are written in full before they are read. Dispose it to give the buffer back.
    /// </summary>
    public static Tensor Rent(DType dtype, params int[] shape) => Rent(PinnedBufferPool.Current, dtype, zeroed: false, shape);

    /// <inheritdoc cref="Rent(DType, int[])"/>
    public static Tensor Rent(params int[] shape) => Rent(DType.F32, shape);

    /// <summary>As <see cref="Rent(DType, int[])"/>, cleared to zero (for results that are accumulated into).</summary>
    public static Tensor RentZeroed(DType dtype, params int[] shape) => Rent(PinnedBufferPool.Current, dtype, zeroed: true, shape);

    /// <inheritdoc cref="RentZeroed(DType, int[])"/>
    public static Tensor RentZeroed(params int[] shape) => RentZeroed(DType.F32, shape);

    /// <summary>A tensor in a buffer of <paramref name="pool"/>; <paramref name="zeroed"/> clears it.</summary>
    public static Tensor Rent(PinnedBufferPool pool, DType dtype, bool zeroed, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(shape);
        long count = ShapeMath.ElementCount(shape);
        long bytes = count > long.MaxValue / dtype.SizeOf()
            ? throw new ArgumentException($"a {dtype} tensor of shape {ShapeMath.Format(shape)} has more bytes than a 64-bit count holds")
            : count * dtype.SizeOf();
        var storage = pool.Rent(bytes, zeroed);
        try
        {
            return new Tensor(storage, dtype, shape) { _ownedStorage = storage };
        }
        catch
        {
            storage.Return();
            throw;
        }
    }

    /// <summary>Whether disposing this tensor gives a pooled buffer back (false for views, managed and mapped tensors).</summary>
    public bool OwnsStorage => Volatile.Read(ref _ownedStorage) is { IsReturned: false };

    /// <summary>
    /// Gives the pooled buffer back when this tensor is the one a rent created; from then on every view of
    /// it throws <see cref="ObjectDisposedException"/> on data access. Views, managed and memory-mapped
    /// tensors are left as they are (a view never frees its owner's memory). Calling it again does nothing.
    /// </summary>
    public void Dispose() => Interlocked.Exchange(ref _ownedStorage, null)?.Return();

    /// <summary>
    /// Disposes this tensor unless it is <paramref name="source"/> itself: for results of <see cref="ToF32"/>,
    /// <see cref="Contiguous"/> and the like, which return their input when there is nothing to convert.
    /// </summary>
    public void DisposeIfCopyOf(Tensor source)
    {
        if (!ReferenceEquals(this, source)) Dispose();
    }
}
