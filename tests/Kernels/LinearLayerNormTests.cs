using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>
/// LinearLayerNorm = LayerNorm(x·Wᵀ + b + residual). The CPU backend normalises rows inside the GEMM task that owns
/// them (N not split: one thread, or enough row blocks for every thread) and otherwise in a pass after the GEMM;
/// either way it must give exactly what its own Linear then LayerNorm give, and the reference's result within the
/// GEMM's rounding carried through the norm.
/// </summary>
public class LinearLayerNormTests
{
    public static IEnumerable<object[]> Cases()
    {
        // (leading dims..., in, out) with the residual's leading dims: "full" (y's shape), "rows" (the last two dims:
        // one row set shared by the batch) or "row" (one row shared by all) or "none".
        (int[] Lead, int In, int Out)[] shapes =
        [
            ([1], 1, 1), ([3], 17, 65), ([17], 65, 3), ([333], 65, 17),
            ([5, 65], 300, 333),  // two K blocks, a ragged last column panel; at 2 threads N is split: the pass after
            ([4, 550], 65, 65),   // 2200 rows: 16 row blocks, whole rows per task at 2 threads, repetitions of 550 rows cut by blocks of 144
            ([2, 1101], 17, 768), // the model's width, 2202 rows
        ];
        foreach (var c in Configurations())
            foreach (var (lead, inF, outF) in shapes)
                foreach (var residual in new[] { "full", "rows", "row", "none" })
                    yield return [c[0], c[1], lead, inF, outF, residual];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_linear_then_layernorm(SimdLevel simd, int threads, int[] lead, int inF, int outF, string residualKind)
    {
        using var cpu = new CpuBackend(threads, simd);
        var x = Random(1, [.. lead, inF]);
        var w = Random(2, outF, inF);
        var bias = Random(3, outF);
        var g = Random(4, outF); var beta = Random(5, outF);
        int[] yShape = [.. lead, outF];
        Tensor? residual = residualKind switch
        {
            "full" => Random(6, yShape),
            "rows" => Random(6, yShape[^Math.Min(2, yShape.Length)..]),
            "row" => Random(6, outF),
            _ => null,
        };
        using var prepared = cpu.PrepareLinear(w, bias);
        var actual = cpu.LinearLayerNorm(x, prepared, residual, g, beta, 1e-5f);
        Assert.Equal(yShape, actual.ShapeArray());
        string what = $"linear+layernorm {string.Join("x", lead)}x{inF}->{outF} residual {residualKind}, {simd} {threads}t";

        // The same fp32 operations in the same order as the unfused pair: bit for bit.
        var dense = cpu.Linear(x, prepared);
        AssertClose(cpu.LayerNorm(dense, g, beta, 1e-5f, residual), actual, _ => 0, what + " vs cpu Linear, LayerNorm");

        // Against the reference (computed once per shape: every SIMD level and thread count compares with the same).
        var (expected, tolerance) = ReferenceResult(x, w, bias, residual, g, beta, $"{string.Join("x", lead)}x{inF}->{outF} {residualKind}");
        AssertClose(expected, actual, tolerance, what + " vs reference");
    }

    private static readonly Dictionary<string, (Tensor, Func<double, double>)> ReferenceResults = [];

    private static (Tensor Expected, Func<double, double> Tolerance) ReferenceResult(Tensor x, Tensor w, Tensor bias, Tensor? residual,
        Tensor g, Tensor beta, string key)
    {
        lock (ReferenceResults)
        {
            if (ReferenceResults.TryGetValue(key, out var known)) return known;
            var weights = Reference.PrepareLinear(w, bias);
            var expected = Reference.LinearLayerNorm(x, weights, residual, g, beta, 1e-5f);
            var dense = Reference.Linear(x, weights);
            var sums = residual is null ? dense : Reference.AddScaled(dense, residual);
            // The GEMM's error δ (see GemmTests) and the residual sum's rounding reach the output as δ·|gamma|/std of its row.
            double gemmBound = 1.2e-6 * Math.Sqrt(x.Dim(-1)) * MaxAbs(x) * MaxAbs(w) + 1e-6 * MaxAbs(sums);
            double amplification = MaxAbs(g) / MinRowStd(sums, w.Dim(0));
            Func<double, double> tolerance = v => gemmBound * amplification + 2e-6 * (1 + Math.Abs(v));
            return ReferenceResults[key] = (expected, tolerance);
        }
    }

    private static double MinRowStd(Tensor t, int n)
    {
        var v = t.ToFloatArray();
        double min = double.PositiveInfinity;
        for (int r = 0; r < v.Length / n; r++)
        {
            double mean = 0, ss = 0;
            for (int i = 0; i < n; i++) mean += v[r * n + i];
            mean /= n;
            for (int i = 0; i < n; i++) ss += (v[r * n + i] - mean) * (v[r * n + i] - mean);
            min = Math.Min(min, Math.Sqrt(ss / n + 1e-5));
        }
        return min;
    }

    public static IEnumerable<object[]> Backends() => [["cpu"], ["reference"]];

    [Theory]
    [MemberData(nameof(Backends))]
    public void Bad_shapes_name_the_argument_and_both_shapes(string name)
    {
        using IBackend b = name == "cpu" ? new CpuBackend(1) : new BridgeTower.Kernels.Reference.ReferenceBackend();
        using var w = b.PrepareLinear(Random(1, 8, 5), Random(2, 8));
        var x = Random(3, 3, 4, 5);
        var g = Random(4, 8); var beta = Random(5, 8);

        var e = Assert.Throws<ArgumentException>(() => b.LinearLayerNorm(x, w, Random(6, 1, 4, 8), g, beta, 1e-5f));
        Assert.Contains("residual", e.Message);
        Assert.Contains("[1, 4, 8]", e.Message);
        Assert.Contains("[3, 4, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => b.LinearLayerNorm(x, w, Random(6, 3, 8), g, beta, 1e-5f));
        Assert.Contains("[3, 8]", e.Message);

        e = Assert.Throws<ArgumentException>(() => b.LinearLayerNorm(x, w, null, Random(7, 7), beta, 1e-5f));
        Assert.Contains("gamma", e.Message);
        Assert.Contains("[8]", e.Message);
        Assert.Contains("[7]", e.Message);
        e = Assert.Throws<ArgumentException>(() => b.LinearLayerNorm(x, w, null, g, Random(8, 8, 1), 1e-5f));
        Assert.Contains("beta", e.Message);
        Assert.Contains("[8, 1]", e.Message);

        e = Assert.Throws<ArgumentException>(() => b.LinearLayerNorm(Random(9, 3, 6), w, null, g, beta, 1e-5f));
        Assert.Contains("[3, 6]", e.Message);
    }

    [Fact]
    public void Zero_inner_dimension_normalises_bias_plus_residual()
    {
        using var cpu = new CpuBackend(1);
        using var w = cpu.PrepareLinear(Tensor.Zeros(4, 0), Tensor.FromArray(new[] { 1f, 2, 3, 4 }, 4));
        var residual = Random(1, 4);
        var g = Random(2, 4); var beta = Random(3, 4);
        var expected = Reference.LayerNorm(Tensor.FromArray(new[] { 1f, 2, 3, 4, 1, 2, 3, 4 }, 2, 4), g, beta, 1e-5f, residual);
        AssertClose(expected, cpu.LinearLayerNorm(Tensor.Zeros(2, 0), w, residual, g, beta, 1e-5f), v => 2e-6 * (1 + Math.Abs(v)), "K = 0");
    }
}
