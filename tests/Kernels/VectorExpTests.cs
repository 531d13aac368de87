using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Kernels.Reference;
using Xunit.Abstractions;

namespace BridgeTower.Tests.Kernels;

/// <summary>
/// The float-only exp behind GELU and QuickGelu against Math.Exp, and the activations on the inputs where
/// clamping decides the result (saturation, infinities, NaN, subnormals).
/// </summary>
public class VectorExpTests(ITestOutputHelper output)
{
    /// <summary>Error in units of the last place of the correctly rounded result.</summary>
    private static double UlpError(float actual, double expected)
    {
        float rounded = (float)expected;
        double ulp = Math.Max(MathF.BitIncrement(MathF.Abs(rounded)) - MathF.Abs(rounded), float.Epsilon);
        return Math.Abs(actual - expected) / ulp;
    }

    private static float[] Sweep()
    {
        // A dense even grid over the whole range, plus every 97th float in [-2, 2] where the reduction is exact.
        var xs = new List<float>();
        const int Steps = 1 << 20;
        for (int i = 0; i <= Steps; i++) xs.Add(VectorMath.ExpMin + (VectorMath.ExpMax - VectorMath.ExpMin) * i / Steps);
        for (float x = 2f; x > 0; x = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) - 97 * 97)) { xs.Add(x); xs.Add(-x); }
        xs.AddRange([0f, -0f, VectorMath.ExpMin, VectorMath.ExpMax, float.Epsilon, -float.Epsilon, 88f, -86f, 0.34657359f, -0.34657359f]);
        while (xs.Count % 16 != 0) xs.Add(1f);
        return xs.ToArray();
    }

    [Fact]
    public void Exp_is_within_one_ulp_of_double_exp_over_its_range()
    {
        if (!Fma.IsSupported) return;
        var xs = Sweep();
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < xs.Length; i += 8)
        {
            var y = VectorMath.ExpInRange(Vector256.Create(xs, i));
            for (int l = 0; l < 8; l++)
            {
                double e = UlpError(y[l], Math.Exp(xs[i + l]));
                if (e > worst) (worst, worstAt) = (e, xs[i + l]);
            }
        }
        output.WriteLine($"ExpInRange: max error {worst:F3} ulp at x = {worstAt:R} over {xs.Length} points");
        Assert.True(worst < 1.0, $"exp({worstAt:R}) is {worst:F3} ulp off");
        Assert.Equal(1f, VectorMath.ExpInRange(Vector256<float>.Zero)[0]);
        Assert.Equal(1f, VectorMath.ExpInRange(Vector256.Create(-0f))[0]);
        Assert.True(float.IsNormal(VectorMath.ExpInRange(Vector256.Create(VectorMath.ExpMin))[0]));
        Assert.True(float.IsFinite(VectorMath.ExpInRange(Vector256.Create(VectorMath.ExpMax))[0]));
    }

    [Fact]
    public void Wide_exp_and_activations_equal_the_256_bit_ones_bit_for_bit()
    {
        if (!Avx512F.IsSupported || !Fma.IsSupported) return;
        var xs = Sweep();
        for (int i = 0; i < xs.Length; i += 16)
        {
            var wide = Vector512.Create(xs, i);
            var lo = Vector256.Create(xs, i);
            var hi = Vector256.Create(xs, i + 8);
            var scaled = wide * Vector512.Create(0.1f); // activations' interesting range is about ±10
            Assert.Equal(Vector512.Create(VectorMath.ExpInRange(lo), VectorMath.ExpInRange(hi)), VectorMath.ExpInRange(wide));
            Assert.Equal(Vector512.Create(VectorMath.Gelu(scaled.GetLower()), VectorMath.Gelu(scaled.GetUpper())), VectorMath.Gelu(scaled));
            Assert.Equal(Vector512.Create(VectorMath.QuickGelu(scaled.GetLower()), VectorMath.QuickGelu(scaled.GetUpper())), VectorMath.QuickGelu(scaled));
        }
    }

    private static readonly float[] Edges =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e30f, -1e30f,
        100f, -100f, 60f, -60f, 51.5f, -51.5f, 51.6f, -51.6f, 10f, -10f, 5.7f, -5.7f, 4f * 1.41421356f, -4f * 1.41421356f,
        3.93f, -3.93f, 1e-30f, -1e-30f, 1e-40f, -1e-40f, float.Epsilon, -float.Epsilon, 0f, -0f, 1.3120041f, -1.3120041f,
    ];

    private static Vector256<float>[] EdgeVectors()
    {
        var padded = Edges.Concat(Enumerable.Repeat(0f, (8 - Edges.Length % 8) % 8)).ToArray();
        return Enumerable.Range(0, padded.Length / 8).Select(v => Vector256.Create(padded, 8 * v)).ToArray();
    }

    [Fact]
    public void Erf_saturates_to_exactly_one_and_keeps_nan_and_signed_zero()
    {
        if (!Fma.IsSupported) return;
        foreach (var v in EdgeVectors())
        {
            var y = VectorMath.Erf(v);
            for (int l = 0; l < 8; l++)
            {
                float x = v[l];
                if (float.IsNaN(x)) { Assert.True(float.IsNaN(y[l]), "erf(NaN)"); continue; }
                if (MathF.Abs(x) >= 3.93f) Assert.Equal(MathF.Sign(x), y[l]);
                else Assert.True(UlpError(y[l], ReferenceBackend.Erf(x)) <= 2, $"erf({x:R}) = {y[l]:R}");
                if (x == 0) Assert.Equal(float.IsNegative(x), float.IsNegative(y[l]));
            }
        }
    }

    [Fact]
    public void Gelu_and_QuickGelu_at_the_clamps_and_beyond()
    {
        if (!Fma.IsSupported) return;
        foreach (var v in EdgeVectors())
        {
            var gelu = VectorMath.Gelu(v);
            var quick = VectorMath.QuickGelu(v);
            for (int l = 0; l < 8; l++)
            {
                float x = v[l];
                if (float.IsNaN(x))
                {
                    Assert.True(float.IsNaN(gelu[l]) && float.IsNaN(quick[l]), "NaN in, NaN out");
                    continue;
                }
                // GELU: x beyond 4√2 is x exactly, below -4√2 it is 0; -inf gives NaN (-inf·0), as in torch.
                double g = 0.5 * x * (1 + ReferenceBackend.Erf(x / Math.Sqrt(2)));
                if (x == float.NegativeInfinity) Assert.True(float.IsNaN(gelu[l]), "gelu(-inf)");
                else if (x >= 5.7f) Assert.Equal(x, gelu[l]);
                else if (x <= -5.7f) Assert.Equal(0f, gelu[l]);
                else Assert.True(Math.Abs(gelu[l] - g) <= 1e-6, $"gelu({x:R}) = {gelu[l]:R}, expected {g:R}");

                // QuickGelu: large x is x exactly; below -51.5 the result is a tiny negative number (the exact value
                // underflows to -0), including at -inf where x/(1 + e^inf) would be NaN.
                double q = x / (1 + Math.Exp(-1.702 * x));
                if (x >= 20f) Assert.Equal(x, quick[l]);
                else if (x < -51.5f) Assert.True(quick[l] <= 0 && quick[l] > -1e-36f, $"quickgelu({x:R}) = {quick[l]:R}");
                else Assert.True(Math.Abs(quick[l] - q) <= 5e-7 * (1 + Math.Abs(q)), $"quickgelu({x:R}) = {quick[l]:R}, expected {q:R}");
            }
        }
    }

    [Fact]
    public void Accuracy_on_a_dense_grid_is_reported()
    {
        if (!Fma.IsSupported) return;
        // erf in ulps; GELU and QuickGelu as |error|/(1 + |ref|): in their negative tails the fp32 rounding of the
        // argument alone (x/√2, 1.702x) moves the tiny result by many of its own ulps, as it does in torch.
        double erfWorst = 0, geluWorst = 0, quickWorst = 0;
        var lanes = new float[8];
        for (int i = 0; i < 400_000; i += 8)
        {
            for (int l = 0; l < 8; l++) lanes[l] = -12f + 24f * (i + l) / 400_000;
            var x = Vector256.Create(lanes);
            var erf = VectorMath.Erf(x * Vector256.Create(0.5f));
            var gelu = VectorMath.Gelu(x);
            var quick = VectorMath.QuickGelu(x);
            for (int l = 0; l < 8; l++)
            {
                double v = lanes[l];
                double g = 0.5 * v * (1 + ReferenceBackend.Erf(v / Math.Sqrt(2))), q = v / (1 + Math.Exp(-1.702 * v));
                erfWorst = Math.Max(erfWorst, UlpError(erf[l], ReferenceBackend.Erf(v * 0.5)));
                geluWorst = Math.Max(geluWorst, Math.Abs(gelu[l] - g) / (1 + Math.Abs(g)));
                quickWorst = Math.Max(quickWorst, Math.Abs(quick[l] - q) / (1 + Math.Abs(q)));
            }
        }
        output.WriteLine($"max error over [-12, 12]: erf(x/2) {erfWorst:F3} ulp, gelu {geluWorst:E2}·(1+|ref|), quickgelu {quickWorst:E2}·(1+|ref|)");
        Assert.True(erfWorst <= 2, $"erf {erfWorst} ulp");
        Assert.True(geluWorst <= 1e-6 && quickWorst <= 5e-7, $"gelu {geluWorst}, quickgelu {quickWorst}");
    }
}
