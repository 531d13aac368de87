using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Kernels.Reference;

namespace BridgeTower.Tests.Kernels;

/// <summary>Seeded random operands and the comparisons the CPU kernel tests share.</summary>
internal static class KernelTestData
{
    public static readonly ReferenceBackend Reference = new();

    public static Tensor Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var data = new float[ShapeMath.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return Tensor.FromArray(data, shape);
    }

    /// <summary>Every SIMD level this machine can run, each at 1 and 2 threads.</summary>
    public static IEnumerable<object[]> Configurations()
    {
        foreach (var level in new[] { SimdLevel.Avx512, SimdLevel.Avx2Fma, SimdLevel.Vector128, SimdLevel.Scalar })
        {
            if (level > SimdSupport.Detected) continue;
            yield return new object[] { level, 1 };
            yield return new object[] { level, 2 };
        }
    }

    /// <summary>Asserts |actual - expected| ≤ tolerance(expected) elementwise, reporting the worst element.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, Func<double, double> tolerance, string what)
    {
        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
        var e = expected.ToFloatArray();
        var a = actual.ToFloatArray();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs((double)a[i] - e[i]);
            if (double.IsNaN(a[i])) Assert.Fail($"{what}: NaN at element {i} (expected {e[i]})");
            double ratio = err / tolerance(e[i]);
            if (ratio > worst) { worst = ratio; worstAt = i; }
        }
        if (worst > 1)
            Assert.Fail($"{what}: element {worstAt} is {a[worstAt]}, expected {e[worstAt]} (error {Math.Abs(a[worstAt] - e[worstAt]):g3}, {worst:f1}x the tolerance {tolerance(e[worstAt]):g3})");
    }

    public static double MaxAbs(Tensor t) => t.ToFloatArray().Select(v => (double)Math.Abs(v)).DefaultIfEmpty(0).Max();
}
