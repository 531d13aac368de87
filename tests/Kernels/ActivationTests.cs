using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Kernels.Reference;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>Activations on a dense grid against the double-precision formulas.</summary>
public class ActivationTests
{
    private static Tensor Grid(int count, float lo, float hi)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = lo + (hi - lo) * i / (count - 1);
        return Tensor.FromArray(data, count);
    }

    public static IEnumerable<object[]> Levels()
    {
        foreach (var c in Configurations()) yield return c;
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void Gelu_is_within_1e6_of_the_exact_erf_form(SimdLevel simd, int threads)
    {
        using var cpu = new CpuBackend(threads, simd);
        var x = Grid(200_001, -10f, 10f);
        // The bound: within 1e-6 of torch's erf GELU (fp32 rounding of 10 alone is 4.8e-7).
        AssertClose(Reference.Activate(x, Activation.Gelu), cpu.Activate(x, Activation.Gelu), _ => 1e-6, "gelu");
    }

    private static double Ulp(double expected) =>
        Math.Max(Math.Abs(MathF.BitIncrement((float)expected) - (float)expected), float.Epsilon);

    [Fact]
    public void Vector_erf_is_within_two_ulp_of_double_erf()
    {
        if (!Fma.IsSupported) return;
        var lanes = new float[8];
        for (int i = 0; i <= 100_000; i += 8)
        {
            for (int l = 0; l < 8; l++) lanes[l] = -6f + 12f * (i + l) / 100_000;
            var y = VectorMath.Erf(Vector256.Create(lanes));
            for (int l = 0; l < 8; l++)
            {
                double expected = ReferenceBackend.Erf(lanes[l]);
                Assert.True(Math.Abs(y[l] - expected) <= 2 * Ulp(expected), $"erf({lanes[l]}) = {y[l]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Float_erf_is_within_two_ulp_of_double_erf()
    {
        for (int i = 0; i <= 100_000; i++)
        {
            float x = -6f + 12f * i / 100_000;
            double expected = ReferenceBackend.Erf(x);
            double ulp = Math.Max(Math.Abs(MathF.BitIncrement((float)expected) - (float)expected), float.Epsilon);
            Assert.True(Math.Abs(VectorMath.Erf(x) - expected) <= 2 * ulp, $"erf({x}) = {VectorMath.Erf(x)}, expected {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void QuickGelu_and_Tanh(SimdLevel simd, int threads)
    {
        using var cpu = new CpuBackend(threads, simd);
        var x = Grid(100_003, -30f, 30f);
        AssertClose(Reference.Activate(x, Activation.QuickGelu), cpu.Activate(x, Activation.QuickGelu), v => 5e-7 * (1 + Math.Abs(v)), "quickgelu");
        AssertClose(Reference.Activate(x, Activation.Tanh), cpu.Activate(x, Activation.Tanh), v => 5e-7 * Math.Abs(v) + 1e-12, "tanh");
        var small = Grid(17, -1e-3f, 1e-3f);
        AssertClose(Reference.Activate(small, Activation.Tanh), cpu.Activate(small, Activation.Tanh), v => 5e-7 * Math.Abs(v) + 1e-12, "tanh near 0");
        AssertClose(x, cpu.Activate(x, Activation.None), _ => 0, "identity");
    }

    [Fact]
    public void Strided_input_is_accepted()
    {
        using var cpu = new CpuBackend(2);
        var x = Random(3, 17, 9).Transpose(0, 1);
        AssertClose(Reference.Activate(x, Activation.Gelu), cpu.Activate(x, Activation.Gelu), _ => 1e-6, "gelu strided");
    }
}
