using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>
/// One batch-1 operand shared by B rows without a copy (a cached image against B texts): LayerNorm's suffix residual
/// and attention's stride-0 batch views give exactly what the repeated operand gives, on both backends.
/// </summary>
public class BatchBroadcastTests
{
    private static IBackend Backend(string name, SimdLevel simd, int threads) =>
        name == "cpu" ? new CpuBackend(threads, simd) : new BridgeTower.Kernels.Reference.ReferenceBackend();

    public static IEnumerable<object[]> Cases()
    {
        foreach (var c in Configurations()) yield return ["cpu", c[0], c[1]];
        yield return ["reference", SimdLevel.Scalar, 1];
    }

    /// <summary>(1, ...) repeated n times as a new contiguous tensor: what the broadcast must equal.</summary>
    private static Tensor Repeat(Tensor x, int n)
    {
        var one = x.ToFloatArray();
        var all = new float[one.Length * n];
        for (int i = 0; i < n; i++) one.CopyTo(all, i * one.Length);
        var shape = x.ShapeArray();
        shape[0] *= n;
        return Tensor.FromArray(all, shape);
    }

    /// <summary>A view of (1, ...) x as (n, ...) with batch stride 0.</summary>
    private static Tensor Broadcast(Tensor x, int n)
    {
        var shape = x.ShapeArray();
        shape[0] = n;
        var strides = x.Strides.ToArray();
        strides[0] = 0;
        return new Tensor(x.Storage, x.DType, shape, strides, x.Offset);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerNorm_repeats_a_suffix_residual_over_the_leading_rows(string backend, SimdLevel simd, int threads)
    {
        using var b = Backend(backend, simd, threads);
        // 3 batches of 37 rows: the 2-thread row split falls inside a repetition, not on its edge.
        var x = Random(1, 3, 37, 24);
        var shared = Random(2, 37, 24);
        var g = Random(3, 24); var beta = Random(4, 24);
        var expected = b.LayerNorm(x, g, beta, 1e-5f, Repeat(shared.Unsqueeze(0), 3));
        AssertClose(expected, b.LayerNorm(x, g, beta, 1e-5f, shared), _ => 0, "suffix residual (37, 24) of (3, 37, 24)");
        // A single row shared by every row.
        var row = Random(5, 24);
        var expectedRow = b.LayerNorm(x, g, beta, 1e-5f, Repeat(row.Reshape(1, 24), 111).Reshape(3, 37, 24));
        AssertClose(expectedRow, b.LayerNorm(x, g, beta, 1e-5f, row), _ => 0, "suffix residual (24) of (3, 37, 24)");
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("reference")]
    public void LayerNorm_rejects_a_residual_that_is_not_a_suffix(string backend)
    {
        using var b = Backend(backend, SimdSupport.Detected, 1);
        var x = Random(1, 3, 5, 8);
        var e = Assert.Throws<ArgumentException>(() => b.LayerNorm(x, Random(2, 8), Random(3, 8), 1e-5f, Random(4, 1, 5, 8)));
        Assert.Contains("residual", e.Message);
        Assert.Contains("(1, 5, 8)", e.Message.Replace("[", "(").Replace("]", ")"));
        Assert.Throws<ArgumentException>(() => b.LayerNorm(x, Random(2, 8), Random(3, 8), 1e-5f, Random(4, 4, 8)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Attention_reads_batch_1_keys_values_and_queries_through_a_zero_batch_stride(string backend, SimdLevel simd, int threads)
    {
        using var b = Backend(backend, simd, threads);
        int batch = 3, h = 2, d = 16, tq = 5, tk = 19;
        var q = Random(1, batch, tq, h * d);
        var k = Random(2, 1, tk, h * d);
        var v = Random(3, 1, tk, h * d);
        var mask = Tensor.FromArray(Enumerable.Range(0, batch * tk).Select(i => i % 7 == 3 ? float.MinValue : 0f).ToArray(), batch, tk);
        foreach (var m in new[] { null, mask })
        {
            var expected = b.Attention(q, Repeat(k, batch), Repeat(v, batch), h, 0.25f, m, true, out var expectedP);
            var actual = b.Attention(q, Broadcast(k, batch), Broadcast(v, batch), h, 0.25f, m, true, out var actualP);
            AssertClose(expected, actual, _ => 0, "shared k, v");
            AssertClose(expectedP!, actualP!, _ => 0, "shared k, v probabilities");
        }
        // One query batch against per-batch keys (the other stream shared).
        var q1 = Random(4, 1, tq, h * d);
        var kb = Random(5, batch, tk, h * d);
        var vb = Random(6, batch, tk, h * d);
        AssertClose(b.Attention(Repeat(q1, batch), kb, vb, h, 0.25f, mask, false, out _),
            b.Attention(Broadcast(q1, batch), kb, vb, h, 0.25f, mask, false, out _), _ => 0, "shared q");
    }
}
