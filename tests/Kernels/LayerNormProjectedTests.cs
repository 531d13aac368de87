using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>
/// LayerNormProjected: the CPU kernel against the reference on awkward shapes, and the reference against its contract,
/// activation(LayerNorm(x + residual)·Wᵀ + b) with the projection done through G = diag(gamma)·Wᵀ by the caller.
/// </summary>
public class LayerNormProjectedTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var c in Configurations())
            foreach (var (rows, n, m) in new[] { (1, 1, 1), (3, 17, 65), (2 * 65, 3, 17), (2 * 17, 65, 333), (4 * 65, 768, 40) })
                yield return [c[0], c[1], rows, n, m];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_equals_the_reference(SimdLevel simd, int threads, int rows, int n, int m)
    {
        using var cpu = new CpuBackend(threads, simd);
        // Rows as (batch, t) so residual and shared projection can be one t-row set for every batch.
        int t = rows % 65 == 0 ? 65 : rows % 17 == 0 ? 17 : rows;
        int batch = rows / t;
        var x = Reference.AddScaled(Random(1, batch, t, n), Tensor.FromArray(new[] { 2f }, 1).Reshape([]));
        var projected = Random(2, batch, t, m);
        var u = Random(3, m); var c = Random(4, m);
        Func<double, double> tol = v => 4e-6 * (1 + Math.Abs(v));
        foreach (var (residual, shared) in new[]
        {
            (null, null),
            (Random(5, batch, t, n), Random(6, batch, t, m)),
            (Random(7, t, n), Random(8, t, m)),            // one row set shared by the batch
        })
            foreach (var act in Enum.GetValues<Activation>())
                AssertClose(Reference.LayerNormProjected(x, residual, 1e-5f, projected, shared, u, c, act),
                    cpu.LayerNormProjected(x, residual, 1e-5f, projected, shared, u, c, act), tol,
                    $"layernorm projected, {act}, residual {residual?.ShapeString ?? "none"}");
    }

    [Fact]
    public void Reference_equals_layernorm_then_linear()
    {
        int rows = 17, n = 65, m = 33;
        var x = Random(11, rows, n); var residual = Random(12, n);
        var gamma = Reference.AddScaled(Random(13, n), Tensor.FromArray(new[] { 1f }, 1).Reshape([]));
        var beta = Random(14, n);
        var w = Random(15, m, n); var b = Random(16, m);
        var g = new float[n * m]; var u = new float[m]; var c = new float[m];
        float[] gs = gamma.ToFloatArray(), bs = beta.ToFloatArray(), ws = w.ToFloatArray(), biases = b.ToFloatArray();
        for (int j = 0; j < m; j++)
        {
            double sum = 0, shift = biases[j];
            for (int k = 0; k < n; k++) { g[k * m + j] = gs[k] * ws[j * n + k]; sum += g[k * m + j]; shift += (double)bs[k] * ws[j * n + k]; }
            u[j] = (float)sum; c[j] = (float)shift;
        }
        var summed = Reference.AddScaled(x, residual);
        var projected = Reference.MatMul(summed, Tensor.FromArray(g, n, m));
        using var linear = Reference.PrepareLinear(w, b);
        foreach (var act in new[] { Activation.None, Activation.Gelu })
        {
            var expected = Reference.Linear(Reference.LayerNorm(x, gamma, beta, 1e-5f, residual), linear, act);
            var actual = Reference.LayerNormProjected(x, residual, 1e-5f, projected, null, Tensor.FromArray(u, m), Tensor.FromArray(c, m), act);
            AssertClose(expected, actual, v => 2e-5 * (1 + Math.Abs(v)), $"layernorm then linear, {act}");
        }
    }

    [Fact]
    public void Mismatched_shapes_name_the_argument()
    {
        using var cpu = new CpuBackend(1);
        var x = Random(1, 2, 5, 8); var p = Random(2, 2, 5, 6); var u = Random(3, 6); var c = Random(4, 6);
        foreach (IBackend backend in new IBackend[] { cpu, Reference })
        {
            Assert.Contains("residual", Assert.Throws<ArgumentException>(() => backend.LayerNormProjected(x, Random(5, 4, 8), 1e-5f, p, null, u, c, Activation.None)).Message);
            Assert.Contains("projected", Assert.Throws<ArgumentException>(() => backend.LayerNormProjected(x, null, 1e-5f, Random(6, 2, 4, 6), null, u, c, Activation.None)).Message);
            Assert.Contains("projectedShared", Assert.Throws<ArgumentException>(() => backend.LayerNormProjected(x, null, 1e-5f, p, Random(7, 3, 6), u, c, Activation.None)).Message);
            Assert.Contains("columnSums", Assert.Throws<ArgumentException>(() => backend.LayerNormProjected(x, null, 1e-5f, p, null, Random(8, 5), c, Activation.None)).Message);
            Assert.Contains("bias", Assert.Throws<ArgumentException>(() => backend.LayerNormProjected(x, null, 1e-5f, p, null, u, Random(9, 7), Activation.None)).Message);
        }
    }
}
