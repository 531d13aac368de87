using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// fp32 transcendental helpers shared by the activation kernels and the GEMM epilogue. erf uses
/// N. Juffa's two-range minimax polynomials (max error about 1 ulp; checked against a double erf
/// in the tests), so GELU stays within 1e-7 relative of the exact erf form.
/// </summary>
internal static class VectorMath
{
    private const float ErfSplit = 0.927734375f;
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float QuickGeluAlpha = 1.702f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Erf(float a)
    {
        float t = MathF.Abs(a), s = a * a, r;
        if (t > ErfSplit)
        {
            r = MathF.FusedMultiplyAdd(-1.72853470e-5f, t, 3.83197126e-4f);
            float u = MathF.FusedMultiplyAdd(-3.88396438e-3f, t, 2.42546219e-2f);
            r = MathF.FusedMultiplyAdd(r, s, u);
            r = MathF.FusedMultiplyAdd(r, t, -1.06777877e-1f);
            r = MathF.FusedMultiplyAdd(r, t, -6.34846687e-1f);
            r = MathF.FusedMultiplyAdd(r, t, -1.28717512e-1f);
            r = MathF.FusedMultiplyAdd(r, t, -t);
            r = MathF.CopySign(1f - MathF.Exp(r), a);
        }
        else
        {
            r = -5.96761703e-4f;
            r = MathF.FusedMultiplyAdd(r, s, 4.99119423e-3f);
            r = MathF.FusedMultiplyAdd(r, s, -2.67681349e-2f);
            r = MathF.FusedMultiplyAdd(r, s, 1.12819925e-1f);
            r = MathF.FusedMultiplyAdd(r, s, -3.76125336e-1f);
            r = MathF.FusedMultiplyAdd(r, s, 1.28379166e-1f);
            r = MathF.FusedMultiplyAdd(r, a, a);
        }
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x) => 0.5f * x * (1f + Erf(x * InvSqrt2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float QuickGelu(float x) => x / (1f + MathF.Exp(-QuickGeluAlpha * x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(float x, Activation activation) => activation switch
    {
        Activation.Gelu => Gelu(x),
        Activation.QuickGelu => QuickGelu(x),
        Activation.Tanh => MathF.Tanh(x),
        _ => x,
    };

    /// <summary>Vector erf; both polynomial branches are evaluated and blended (no divergent lanes in SIMD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> a)
    {
        var t = Vector256.Abs(a);
        var s = a * a;
        var r = Fma.MultiplyAdd(Vector256.Create(-1.72853470e-5f), t, Vector256.Create(3.83197126e-4f));
        var u = Fma.MultiplyAdd(Vector256.Create(-3.88396438e-3f), t, Vector256.Create(2.42546219e-2f));
        r = Fma.MultiplyAdd(r, s, u);
        r = Fma.MultiplyAdd(r, t, Vector256.Create(-1.06777877e-1f));
        r = Fma.MultiplyAdd(r, t, Vector256.Create(-6.34846687e-1f));
        r = Fma.MultiplyAdd(r, t, Vector256.Create(-1.28717512e-1f));
        r = Fma.MultiplyAdd(r, t, -t);
        var large = Vector256<float>.One - Vector256.Exp(r);
        large = Vector256.ConditionalSelect(Vector256.Create(-0f), a, large); // copysign(large, a)

        var p = Vector256.Create(-5.96761703e-4f);
        p = Fma.MultiplyAdd(p, s, Vector256.Create(4.99119423e-3f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(-2.67681349e-2f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(1.12819925e-1f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(-3.76125336e-1f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(1.28379166e-1f));
        var small = Fma.MultiplyAdd(p, a, a);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(t, Vector256.Create(ErfSplit)), large, small);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        var half = Vector256.Create(0.5f) * x;
        return Fma.MultiplyAdd(half, Erf(x * Vector256.Create(InvSqrt2)), half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> QuickGelu(Vector256<float> x)
        => x / (Vector256<float>.One + Vector256.Exp(x * Vector256.Create(-QuickGeluAlpha)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Apply(Vector256<float> x, Activation activation) => activation switch
    {
        Activation.Gelu => Gelu(x),
        Activation.QuickGelu => QuickGelu(x),
        _ => x,
    };

    /// <summary>Applies an activation to a span in place at the given SIMD level.</summary>
    public static unsafe void Apply(float* x, int n, Activation activation, SimdLevel simd)
    {
        if (activation == Activation.None) return;
        int i = 0;
        // tanh stays scalar: it only runs on pooler rows, and MathF.Tanh keeps full relative accuracy near 0
        // (the exp-quotient form and TensorPrimitives.Tanh lose it there).
        if (simd >= SimdLevel.Avx2Fma && activation != Activation.Tanh)
        {
            for (; i <= n - 8; i += 8) Vector256.Store(Apply(Vector256.Load(x + i), activation), x + i);
        }
        for (; i < n; i++) x[i] = Apply(x[i], activation);
    }
}
