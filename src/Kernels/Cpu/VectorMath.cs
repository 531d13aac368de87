using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// fp32 transcendental helpers shared by the activation kernels and the GEMM epilogue. erf uses
/// N. Juffa's two-range minimax polynomials (max error about 1 ulp; checked against a double erf
/// in the tests), so GELU stays within 1e-7 relative of the exact erf form.
/// </summary>
internal static partial class VectorMath
{
    private const float ErfSplit = 0.927734375f;
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float Sqrt2 = 1.41421356237309505f;
    // erf(t) rounds to 1 in fp32 from t ≈ 3.92; clamping there keeps the exp argument in range.
    private const float ErfSaturation = 4f;
    // -QuickGeluAlpha·QuickGeluFloor stays below ExpMax.
    private const float QuickGeluFloor = -51.5f;
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
        // minps returns its second operand when either is NaN, so a NaN stays NaN (and takes the small branch).
        var t = Avx.Min(Vector256.Create(ErfSaturation), Vector256.Abs(a));
        return Vector256.ConditionalSelect(Vector256.Create(-0f), a, ErfOfAbs(t)); // copysign
    }

    /// <summary>erf(t) for 0 ≤ t ≤ <see cref="ErfSaturation"/> (or NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ErfOfAbs(Vector256<float> t)
    {
        var s = t * t;
        var r = Fma.MultiplyAdd(Vector256.Create(-1.72853470e-5f), t, Vector256.Create(3.83197126e-4f));
        var u = Fma.MultiplyAdd(Vector256.Create(-3.88396438e-3f), t, Vector256.Create(2.42546219e-2f));
        r = Fma.MultiplyAdd(r, s, u);
        r = Fma.MultiplyAdd(r, t, Vector256.Create(-1.06777877e-1f));
        r = Fma.MultiplyAdd(r, t, Vector256.Create(-6.34846687e-1f));
        r = Fma.MultiplyAdd(r, t, Vector256.Create(-1.28717512e-1f));
        r = Fma.MultiplySubtract(r, t, t); // ln erfc(t): about [-18, -1.6] for t in (ErfSplit, ErfSaturation]
        var large = Vector256<float>.One - ExpInRange(r);

        var p = Fma.MultiplyAdd(Vector256.Create(-5.96761703e-4f), s, Vector256.Create(4.99119423e-3f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(-2.67681349e-2f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(1.12819925e-1f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(-3.76125336e-1f));
        p = Fma.MultiplyAdd(p, s, Vector256.Create(1.28379166e-1f));
        var small = Fma.MultiplyAdd(p, t, t);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(t, Vector256.Create(ErfSplit)), large, small);
    }

    /// <summary>
    /// x·Φ(x) = x/2 + |x|/2·erf(|x|/√2): erf is odd, so working on |x| needs no copysign.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        var half = Vector256.Create(0.5f) * x;
        var absHalf = Vector256.Abs(half);
        var t = Avx.Min(Vector256.Create(ErfSaturation), absHalf * Vector256.Create(Sqrt2)); // |x|/√2, NaN kept
        return Fma.MultiplyAdd(absHalf, ErfOfAbs(t), half);
    }

    /// <summary>
    /// x/(1 + exp(-1.702x)). x is floored at <see cref="QuickGeluFloor"/> (below it the result is ~1e-37, not x/inf),
    /// and the exp argument at <see cref="ExpMin"/> (where 1 + exp is already exactly 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> QuickGelu(Vector256<float> x)
    {
        var xc = Avx.Max(Vector256.Create(QuickGeluFloor), x); // maxps keeps its second operand's NaN
        var z = Avx.Max(xc * Vector256.Create(-QuickGeluAlpha), Vector256.Create(ExpMin));
        return xc / (Vector256<float>.One + ExpInRange(z));
    }

    /// <inheritdoc cref="ErfOfAbs(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ErfOfAbs(Vector512<float> t)
    {
        var s = t * t;
        var r = Avx512F.FusedMultiplyAdd(Vector512.Create(-1.72853470e-5f), t, Vector512.Create(3.83197126e-4f));
        var u = Avx512F.FusedMultiplyAdd(Vector512.Create(-3.88396438e-3f), t, Vector512.Create(2.42546219e-2f));
        r = Avx512F.FusedMultiplyAdd(r, s, u);
        r = Avx512F.FusedMultiplyAdd(r, t, Vector512.Create(-1.06777877e-1f));
        r = Avx512F.FusedMultiplyAdd(r, t, Vector512.Create(-6.34846687e-1f));
        r = Avx512F.FusedMultiplyAdd(r, t, Vector512.Create(-1.28717512e-1f));
        r = Avx512F.FusedMultiplySubtract(r, t, t);
        var large = Vector512<float>.One - ExpInRange(r);

        var p = Avx512F.FusedMultiplyAdd(Vector512.Create(-5.96761703e-4f), s, Vector512.Create(4.99119423e-3f));
        p = Avx512F.FusedMultiplyAdd(p, s, Vector512.Create(-2.67681349e-2f));
        p = Avx512F.FusedMultiplyAdd(p, s, Vector512.Create(1.12819925e-1f));
        p = Avx512F.FusedMultiplyAdd(p, s, Vector512.Create(-3.76125336e-1f));
        p = Avx512F.FusedMultiplyAdd(p, s, Vector512.Create(1.28379166e-1f));
        var small = Avx512F.FusedMultiplyAdd(p, t, t);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(t, Vector512.Create(ErfSplit)), large, small);
    }

    /// <inheritdoc cref="Gelu(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x)
    {
        var half = Vector512.Create(0.5f) * x;
        var absHalf = Vector512.Abs(half);
        var t = Avx512F.Min(Vector512.Create(ErfSaturation), absHalf * Vector512.Create(Sqrt2));
        return Avx512F.FusedMultiplyAdd(absHalf, ErfOfAbs(t), half);
    }

    /// <inheritdoc cref="QuickGelu(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> QuickGelu(Vector512<float> x)
    {
        var xc = Avx512F.Max(Vector512.Create(QuickGeluFloor), x);
        var z = Avx512F.Max(xc * Vector512.Create(-QuickGeluAlpha), Vector512.Create(ExpMin));
        return xc / (Vector512<float>.One + ExpInRange(z));
    }

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
