using System.Runtime.CompilerServices;
using BridgeTower.Tensors;

namespace BridgeTower.Tests.Tensors;

public class PinnedBufferPoolTests
{
    private static PinnedBufferPool NewPool(long maxRetained = 64L << 20) => new(maxRetained) { PoisonRentedBuffers = true };

    [Fact]
    public void Size_classes_cover_the_request_with_at_most_a_quarter_of_slack()
    {
        long previous = 0;
        foreach (long n in new long[] { 0, 1, 255, 256, 257, 320, 321, 1000, 4096, 4097, 998_400, 3_993_600, 1L << 30, Array.MaxLength })
        {
            long size = PinnedBufferPool.ClassSize(n);
            Assert.True(size >= n, $"class {size} < request {n}");
            Assert.True(size >= previous, "classes must not shrink as requests grow");
            if (n > PinnedBufferPool.MinClassBytes) Assert.True(size <= n * 1.25 + 1, $"class {size} wastes more than 25% of {n}");
            previous = size;
        }
        Assert.Equal(320, PinnedBufferPool.ClassSize(257));
        Assert.Equal(512, PinnedBufferPool.ClassSize(449));
    }

    [Fact]
    public void A_disposed_tensor_s_buffer_is_reused_by_the_next_rent_of_its_class()
    {
        var pool = NewPool();
        var first = Tensor.Rent(pool, DType.F32, false, 10, 30);
        Assert.True(first.OwnsStorage);
        var firstStorage = (PooledStorage)first.Storage;
        nint address;
        unsafe { address = (nint)first.DataPointer; }
        first.Dispose();
        Assert.True(firstStorage.IsReturned);
        Assert.Equal(PinnedBufferPool.ClassSize(1200), pool.RetainedBytes);

        var second = Tensor.Rent(pool, DType.F32, false, 290); // 1160 bytes: same class as 1200
        Assert.Equal(1, pool.ReuseCount);
        Assert.Equal(2, pool.RentCount);
        Assert.Equal(PinnedBufferPool.ClassSize(1200), pool.AllocatedBytes);
        Assert.NotSame(firstStorage, second.Storage); // a new storage object per rent: old views stay dead
        unsafe { Assert.Equal(address, (nint)second.DataPointer); }
        Assert.Equal(0, pool.RetainedBytes);
    }

    [Fact]
    public void Views_of_a_disposed_tensor_throw_instead_of_reading_reused_memory()
    {
        var pool = NewPool();
        var owner = Tensor.Rent(pool, DType.F32, false, 4, 6);
        owner.Span<float>().Fill(1f);
        var reshaped = owner.Reshape(6, 4);
        var narrowed = owner.Narrow(1, 2, 3);
        var transposed = owner.Transpose(0, 1);
        owner.Dispose();
        using var reuser = Tensor.Rent(pool, DType.F32, false, 4, 6); // takes the same buffer
        reuser.Span<float>().Fill(2f);

        Assert.Throws<ObjectDisposedException>(() => reshaped.ReadOnlySpan<float>().ToArray());
        Assert.Throws<ObjectDisposedException>(() => narrowed.GetDouble(0, 0));
        Assert.Throws<ObjectDisposedException>(() => transposed.ToFloatArray());
        Assert.Throws<ObjectDisposedException>(() => owner.Span<float>().ToArray());
        Assert.Throws<ObjectDisposedException>(() => { unsafe { _ = (nint)reshaped.DataPointer; } });
        Assert.All(reuser.ToFloatArray(), v => Assert.Equal(2f, v));
    }

    [Fact]
    public void Disposing_twice_returns_the_buffer_once()
    {
        var pool = NewPool();
        var t = Tensor.Rent(pool, DType.F32, false, 100);
        t.Dispose();
        t.Dispose();
        Assert.Equal(PinnedBufferPool.ClassSize(400), pool.RetainedBytes);
        Assert.Equal(0, pool.OutstandingBytes);
        var a = Tensor.Rent(pool, DType.F32, false, 100);
        var b = Tensor.Rent(pool, DType.F32, false, 100);
        Assert.Equal(1, pool.ReuseCount); // one buffer came back, so only one rent could reuse it
        unsafe { Assert.NotEqual((nint)a.DataPointer, (nint)b.DataPointer); }
    }

    [Fact]
    public void Disposing_a_view_leaves_the_owner_and_the_pool_alone()
    {
        var pool = NewPool();
        using var owner = Tensor.Rent(pool, DType.F32, false, 3, 4);
        owner.Span<float>().Fill(5f);
        var views = new[] { owner.Reshape(12), owner.Narrow(0, 1, 1), owner.Permute(1, 0), owner.Unsqueeze(0), owner.Select(0, 2), owner.Contiguous() };
        foreach (var v in views)
        {
            if (!ReferenceEquals(v, owner)) Assert.False(v.OwnsStorage);
            v.DisposeIfCopyOf(owner);
        }
        Assert.True(owner.OwnsStorage);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.All(owner.ToFloatArray(), v => Assert.Equal(5f, v));
    }

    [Fact]
    public void Copies_and_conversions_own_a_pooled_buffer_and_DisposeIfCopyOf_spares_the_source()
    {
        using var f32 = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        var same = f32.ToF32();
        Assert.Same(f32, same);
        same.DisposeIfCopyOf(f32);
        Assert.Equal(4f, f32[1, 1]);

        var copy = f32.Transpose(0, 1).Contiguous();
        Assert.True(copy.OwnsStorage);
        Assert.IsType<PooledStorage>(copy.Storage);
        Assert.Equal(3f, copy[0, 1]);
        copy.DisposeIfCopyOf(f32);
        Assert.False(copy.OwnsStorage);

        using var half = Tensor.FromArray(new[] { (Half)1, (Half)2 }, 2);
        var converted = half.ToF32();
        Assert.True(converted.OwnsStorage);
        Assert.Equal(new[] { 1f, 2f }, converted.ToFloatArray());
        converted.Dispose();
    }

    [Fact]
    public void Managed_tensors_are_untouched_by_Dispose()
    {
        var t = Tensor.FromArray(new float[] { 1, 2, 3 }, 3);
        Assert.False(t.OwnsStorage);
        t.Dispose();
        Assert.Equal(new[] { 1f, 2f, 3f }, t.ToFloatArray());
    }

    [Fact]
    public void A_zeroed_rent_is_zero_even_in_a_reused_buffer()
    {
        var pool = NewPool();
        var dirty = Tensor.Rent(pool, DType.F32, false, 64);
        dirty.Span<float>().Fill(float.NaN);
        dirty.Dispose();
        using var clean = Tensor.Rent(pool, DType.F32, zeroed: true, 64);
        Assert.Equal(1, pool.ReuseCount);
        Assert.All(clean.ToFloatArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Tests_run_with_a_poisoned_shared_pool()
    {
        Assert.True(PinnedBufferPool.Shared.PoisonRentedBuffers);
        using var t = Tensor.Rent(8);
        Assert.All(t.ToFloatArray(), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Retained_bytes_stay_within_the_bound_and_oversized_buffers_are_not_kept()
    {
        var pool = new PinnedBufferPool(maxRetainedBytes: 1000, maxPooledBufferBytes: 4096);
        var small = Enumerable.Range(0, 4).Select(_ => Tensor.Rent(pool, DType.U8, false, 400)).ToList(); // class 448
        var big = Tensor.Rent(pool, DType.U8, false, 5000);
        foreach (var t in small) t.Dispose();
        big.Dispose();
        Assert.Equal(2 * 448, pool.RetainedBytes);
        Assert.Equal(0, pool.OutstandingBytes);
        pool.Trim();
        Assert.Equal(0, pool.RetainedBytes);
    }

    [Fact]
    public void Concurrent_rents_and_returns_never_hand_one_buffer_to_two_tensors()
    {
        var pool = NewPool(maxRetained: 1L << 20);
        var failures = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var rng = new Random(worker);
            var held = new List<(Tensor T, int Tag)>();
            for (int i = 0; i < 2000; i++)
            {
                int tag = worker * 100_000 + i;
                var t = Tensor.Rent(pool, DType.I32, false, rng.Next(1, 300));
                t.Span<int>().Fill(tag);
                held.Add((t, tag));
                if (held.Count > 4 || rng.Next(3) == 0)
                {
                    int k = rng.Next(held.Count);
                    var (victim, victimTag) = held[k];
                    foreach (int v in victim.ReadOnlySpan<int>()) if (v != victimTag) Interlocked.Increment(ref failures);
                    victim.Dispose();
                    held.RemoveAt(k);
                }
            }
            foreach (var (t, tag) in held)
            {
                foreach (int v in t.ReadOnlySpan<int>()) if (v != tag) Interlocked.Increment(ref failures);
                t.Dispose();
            }
        });
        Assert.Equal(0, failures);
        Assert.Equal(0, pool.OutstandingBytes);
        Assert.Equal(8 * 2000, pool.RentCount);
        Assert.True(pool.ReuseCount > 0);
        Assert.True(pool.RetainedBytes <= 1L << 20);
    }

    [Fact]
    public void An_undisposed_tensor_is_collected_with_its_buffer()
    {
        var pool = NewPool();
        var weak = RentAndDrop(pool);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(weak.IsAlive);
        Assert.Equal(0, pool.RetainedBytes); // never returned: the GC has it, not the pool
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference RentAndDrop(PinnedBufferPool pool)
    {
        var t = Tensor.Rent(pool, DType.F32, false, 1000);
        t.Span<float>().Fill(1f);
        return new WeakReference(((PooledStorage)t.Storage));
    }

    [Fact]
    public void A_scope_routes_rents_to_its_pool_and_restores_the_previous_one()
    {
        var pool = NewPool();
        Assert.Same(PinnedBufferPool.Shared, PinnedBufferPool.Current);
        using (PinnedBufferPool.Use(pool))
        {
            Assert.Same(pool, PinnedBufferPool.Current);
            using var t = Tensor.Rent(16);
            using var copy = t.Transpose(0, 0).Copy();
        }
        Assert.Same(PinnedBufferPool.Shared, PinnedBufferPool.Current);
        Assert.Equal(2, pool.RentCount);
        Assert.Equal(0, pool.OutstandingBytes);
    }
}
