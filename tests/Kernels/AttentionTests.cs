using BridgeTower.Kernels.Cpu;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>
/// Fused attention against the reference. Tolerance 2e-6·(1+|ref|): outputs are convex combinations
/// of V (|v| ≤ 1) and probabilities lie in [0,1]; fp32 scores of a length-D dot product and the
/// online rescaling each add a few eps, a wrong block, head or mask index is off by O(1).
/// </summary>
public class AttentionTests
{
    public static IEnumerable<object[]> Cases()
    {
        int[][] shapes = [[1, 1, 1, 1, 64], [2, 3, 17, 17, 5], [1, 2, 65, 70, 64], [2, 12, 16, 3, 17], [1, 1, 3, 130, 32], [2, 2, 70, 1, 16]];
        foreach (var c in Configurations())
            foreach (var s in shapes)
                yield return [c[0], c[1], s[0], s[1], s[2], s[3], s[4]];
    }

    private static Tensor KeyMask(int b, int tk, bool maskAllOfBatch0)
    {
        var rng = new Random(99);
        var m = new float[b * tk];
        for (int i = 0; i < m.Length; i++) m[i] = rng.Next(4) == 0 ? float.MinValue : 0f;
        for (int z = 0; z < b; z++) m[z * tk] = 0f; // every batch keeps a key unless fully masked below
        if (maskAllOfBatch0) for (int j = 0; j < tk; j++) m[j] = float.MinValue;
        return Tensor.FromArray(m, b, tk);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference_with_mask_and_probabilities(SimdLevel simd, int threads, int b, int h, int tq, int tk, int d)
    {
        using var cpu = new CpuBackend(threads, simd);
        var q = Random(1, b, tq, h * d);
        var k = Random(2, b, tk, h * d);
        var v = Random(3, b, tk, h * d);
        float scale = 1f / MathF.Sqrt(d);
        Func<double, double> tol = x => 2e-6 * (1 + Math.Abs(x));
        foreach (var mask in new[] { null, KeyMask(b, tk, false), KeyMask(b, tk, true) })
        {
            var expected = Reference.Attention(q, k, v, h, scale, mask, true, out var expectedP);
            var actual = cpu.Attention(q, k, v, h, scale, mask, true, out var actualP);
            string what = $"attention b{b} h{h} tq{tq} tk{tk} d{d} mask={(mask is null ? "none" : "some")}";
            AssertClose(expected, actual, tol, what);
            AssertClose(expectedP!, actualP!, tol, what + " probabilities");
            var withoutP = cpu.Attention(q, k, v, h, scale, mask, false, out var none);
            Assert.Null(none);
            AssertClose(expected, withoutP, tol, what + " (no probabilities)");
        }
    }

    [Theory]
    [MemberData(nameof(Configurations), MemberType = typeof(KernelTestData))]
    public void Accepts_views_narrowed_from_a_packed_qkv(SimdLevel simd, int threads)
    {
        using var cpu = new CpuBackend(threads, simd);
        int b = 2, t = 19, h = 3, d = 16;
        var qkv = Random(4, b, t, 3 * h * d);
        var q = qkv.Narrow(2, 0, h * d); var k = qkv.Narrow(2, h * d, h * d); var v = qkv.Narrow(2, 2 * h * d, h * d);
        var mask = KeyMask(b, t, false);
        var expected = Reference.Attention(q.Contiguous(), k.Contiguous(), v.Contiguous(), h, 0.25f, mask, false, out _);
        AssertClose(expected, cpu.Attention(q, k, v, h, 0.25f, mask, false, out _), x => 2e-6 * (1 + Math.Abs(x)), "packed qkv views");
    }

    /// <summary>
    /// The AVX-512 query-lanes path (taken without probabilities): query counts around its 16/32-lane groups,
    /// key counts around its 8-key chunks and 64-key blocks, head widths off its 8- and 16-column tiles.
    /// </summary>
    public static IEnumerable<object[]> LanesCases()
    {
        int[][] shapes = [[1, 2, 1, 9, 1], [2, 1, 16, 8, 17], [1, 3, 17, 65, 64], [1, 1, 32, 64, 80], [2, 2, 33, 130, 16],
            [1, 1, 70, 7, 24], [1, 2, 47, 129, 64], [1, 1, 5, 1, 8]];
        foreach (var threads in new[] { 1, 2 })
            foreach (var s in shapes)
                yield return [threads, s[0], s[1], s[2], s[3], s[4]];
    }

    [Theory]
    [MemberData(nameof(LanesCases))]
    public void Avx512_lanes_path_matches_reference(int threads, int b, int h, int tq, int tk, int d)
    {
        if (SimdSupport.Detected < SimdLevel.Avx512) return; // nothing to exercise on this machine
        using var cpu = new CpuBackend(threads, SimdLevel.Avx512);
        // Packed QKV with a row stride of 3·h·d plus one spare column: q, k, v are strided, non-contiguous views.
        var qkv = Random(8, b, Math.Max(tq, tk), 3 * h * d + 1);
        var q = qkv.Narrow(1, 0, tq).Narrow(2, 0, h * d);
        var k = qkv.Narrow(1, 0, tk).Narrow(2, h * d, h * d);
        var v = qkv.Narrow(1, 0, tk).Narrow(2, 2 * h * d + 1, h * d);
        float scale = 1f / MathF.Sqrt(d);
        var ninf = KeyMask(b, tk, true).ToFloatArray();
        for (int j = 0; j < tk; j++) ninf[j] = float.NegativeInfinity; // batch 0 fully masked with -inf
        foreach (var mask in new[] { null, KeyMask(b, tk, false), Tensor.FromArray(ninf, b, tk) })
        {
            var expected = Reference.Attention(q.Contiguous(), k.Contiguous(), v.Contiguous(), h, scale,
                mask is null ? null : Tensor.FromArray(mask.ToFloatArray().Select(x => Math.Max(x, float.MinValue)).ToArray(), b, tk), false, out _);
            var actual = cpu.Attention(q, k, v, h, scale, mask, false, out _);
            AssertClose(expected, actual, x => 2e-6 * (1 + Math.Abs(x)), $"lanes b{b} h{h} tq{tq} tk{tk} d{d} mask={(mask is null ? "none" : "some")}");
        }
    }

    [Fact]
    public void Fully_masked_rows_are_uniform_even_with_negative_infinity()
    {
        using var cpu = new CpuBackend(2);
        int b = 1, tq = 5, tk = 7, h = 2, d = 8;
        var q = Random(5, b, tq, h * d); var k = Random(6, b, tk, h * d); var v = Random(7, b, tk, h * d);
        var inf = Tensor.FromArray(Enumerable.Repeat(float.NegativeInfinity, tk).ToArray(), b, tk);
        var min = Tensor.FromArray(Enumerable.Repeat(float.MinValue, tk).ToArray(), b, tk);
        var expected = Reference.Attention(q, k, v, h, 1f, min, true, out var expectedP);
        var actual = cpu.Attention(q, k, v, h, 1f, inf, true, out var actualP);
        AssertClose(expected, actual, x => 2e-6 * (1 + Math.Abs(x)), "all keys -inf");
        Assert.All(actualP!.ToFloatArray(), p => Assert.Equal(1f / tk, p, 1e-6f));
    }

    [Fact]
    public void Shape_errors_name_the_tensor()
    {
        using var cpu = new CpuBackend(1);
        var q = Random(1, 1, 3, 8);
        var e = Assert.Throws<ArgumentException>(() => cpu.Attention(q, Random(2, 1, 4, 8), Random(3, 1, 5, 8), 2, 1f, null, false, out _));
        Assert.Contains("v", e.Message);
        Assert.Throws<ArgumentException>(() => cpu.Attention(q, q, q, 3, 1f, null, false, out _));
        Assert.Throws<ArgumentException>(() => cpu.Attention(q, q, q, 2, 1f, Random(4, 1, 4), false, out _));
    }
}
