using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>Row kernels (LayerNorm, softmax, L2 normalise, AddScaled, embedding) against the reference.</summary>
public class RowOpsTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var c in Configurations())
            foreach (var shape in new[] { new[] { 1 }, new[] { 3, 17 }, new[] { 2, 65, 3 }, new[] { 333, 65 }, new[] { 40, 1000 }, new[] { 7, 768 } })
                yield return [c[0], c[1], shape];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerNorm_with_and_without_residual(SimdLevel simd, int threads, int[] shape)
    {
        using var cpu = new CpuBackend(threads, simd);
        int n = shape[^1];
        var x = Random(1, shape);
        // An offset mean checks the two-pass variance.
        x = Reference.AddScaled(x, Tensor.FromArray(new[] { 3f }, 1).Reshape([]), 1f, 1f);
        var r = Random(2, shape);
        var g = Random(3, n); var b = Random(4, n);
        // fp32 mean/variance of n terms: relative error ~ eps·√n on the normalised value.
        Func<double, double> tol = v => 2e-6 * (1 + Math.Abs(v));
        AssertClose(Reference.LayerNorm(x, g, b, 1e-5f), cpu.LayerNorm(x, g, b, 1e-5f), tol, "layernorm");
        AssertClose(Reference.LayerNorm(x, g, b, 1e-5f, r), cpu.LayerNorm(x, g, b, 1e-5f, r), tol, "residual layernorm");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Softmax_and_L2Normalize(SimdLevel simd, int threads, int[] shape)
    {
        using var cpu = new CpuBackend(threads, simd);
        var x = Reference.AddScaled(Random(5, shape), Tensor.Zeros(shape), 20f, 0f); // scores of magnitude 20
        AssertClose(Reference.Softmax(x), cpu.Softmax(x), v => 2e-6 * Math.Abs(v) + 1e-9, "softmax");
        AssertClose(Reference.L2Normalize(x), cpu.L2Normalize(x), v => 1e-6 * (Math.Abs(v) + 1e-3), "l2 normalise");
        var zeros = Tensor.Zeros(shape);
        Assert.All(cpu.L2Normalize(zeros).ToFloatArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AddScaled_same_shape_and_suffix_broadcast(SimdLevel simd, int threads, int[] shape)
    {
        using var cpu = new CpuBackend(threads, simd);
        var a = Random(6, shape);
        var same = Random(7, shape);
        var suffix = Random(8, shape[^1]);
        Func<double, double> tol = v => 1e-6 * (1 + Math.Abs(v));
        AssertClose(Reference.AddScaled(a, same, 0.5f, -2f), cpu.AddScaled(a, same, 0.5f, -2f), tol, "add same shape");
        AssertClose(Reference.AddScaled(a, suffix, 1f, 3f), cpu.AddScaled(a, suffix, 1f, 3f), tol, "add broadcast");
        var strided = Random(9, [.. shape[..^1], shape[^1] + 2]).Narrow(-1, 1, shape[^1]);
        AssertClose(Reference.AddScaled(strided, same), cpu.AddScaled(strided, same), tol, "add strided");
    }

    [Fact]
    public void Embedding_gathers_rows_and_rejects_out_of_range_ids()
    {
        using var cpu = new CpuBackend(2);
        var table = Random(10, 50, 17);
        var ids = Tensor.FromArray(new long[] { 0, 49, 3, 3, 17, 1 }, 2, 3);
        AssertClose(Reference.Embedding(table, ids), cpu.Embedding(table, ids), _ => 0, "embedding");
        var ids32 = Tensor.FromArray(new[] { 5, 6 }, 2);
        AssertClose(Reference.Embedding(table, ids32), cpu.Embedding(table.To(DType.F16), ids32), _ => 1e-3, "embedding f16 table");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.Embedding(table, Tensor.FromArray(new long[] { 2, 50 }, 2)));
        Assert.Contains("id 50 at position 1", e.Message);
        Assert.Throws<ArgumentException>(() => cpu.Embedding(table, Tensor.FromArray(new[] { 1f }, 1)));
    }

    [Fact]
    public void LayerNorm_rejects_mismatched_gamma()
    {
        using var cpu = new CpuBackend(1);
        var e = Assert.Throws<ArgumentException>(() => cpu.LayerNorm(Random(1, 2, 8), Random(2, 7), Random(3, 8), 1e-5f));
        Assert.Contains("gamma", e.Message);
    }
}
