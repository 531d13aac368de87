using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// A float-only exp for arguments the caller has already clamped to [<see cref="ExpMin"/>, <see cref="ExpMax"/>],
/// where the result is a normal float: no special cases, so it is about a dozen instructions.
/// <see cref="Vector256.Exp(Vector256{float})"/> widens to double and narrows back, which costs about twice as many.
/// Cody-Waite reduction x = n·ln2 + f with |f| ≤ ln2/2, exp(f) by N. Juffa's degree-6 minimax polynomial,
/// then 2^n added into the exponent bits. Max error about 1 ulp (measured in the tests).
/// </summary>
internal static partial class VectorMath
{
    /// <summary>Below this, 2^n would need a subnormal scale; exp(-86) is still a normal float.</summary>
    public const float ExpMin = -86f;
    /// <summary>Above this, 2^n could reach the exponent of infinity; exp(88) is a finite float.</summary>
    public const float ExpMax = 88f;

    private const float Log2E = 1.44269502f;
    // 1.5·2^23: adding it rounds x·log2(e) to an integer held in the low mantissa bits.
    private const float RoundMagic = 12582912f;
    // ln2 split so that n·Ln2Hi is exact for |n| < 2^9.
    private const float Ln2Hi = 6.93145752e-1f;
    private const float Ln2Lo = 1.42860677e-6f;
    private const float ExpC6 = 1.37805939e-3f;
    private const float ExpC5 = 8.37312452e-3f;
    private const float ExpC4 = 4.16695364e-2f;
    private const float ExpC3 = 1.66664720e-1f;
    private const float ExpC2 = 4.99999851e-1f;

    /// <summary>exp(x) for x in [ExpMin, ExpMax]; outside that range the result is wrong, not saturated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpInRange(Vector256<float> x)
    {
        var t = Fma.MultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(RoundMagic));
        var n = t - Vector256.Create(RoundMagic);
        var f = Fma.MultiplyAddNegated(n, Vector256.Create(Ln2Hi), x);
        f = Fma.MultiplyAddNegated(n, Vector256.Create(Ln2Lo), f);
        var p = Fma.MultiplyAdd(Vector256.Create(ExpC6), f, Vector256.Create(ExpC5));
        p = Fma.MultiplyAdd(p, f, Vector256.Create(ExpC4));
        p = Fma.MultiplyAdd(p, f, Vector256.Create(ExpC3));
        p = Fma.MultiplyAdd(p, f, Vector256.Create(ExpC2));
        p = Fma.MultiplyAdd(p, f, Vector256<float>.One);
        p = Fma.MultiplyAdd(p, f, Vector256<float>.One);
        // t's low bits hold n (two's complement); shifted into the exponent field they scale p by 2^n.
        return (p.AsInt32() + (t.AsInt32() << 23)).AsSingle();
    }

    /// <inheritdoc cref="ExpInRange(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpInRange(Vector512<float> x)
    {
        var t = Avx512F.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(RoundMagic));
        var n = t - Vector512.Create(RoundMagic);
        var f = Avx512F.FusedMultiplyAddNegated(n, Vector512.Create(Ln2Hi), x);
        f = Avx512F.FusedMultiplyAddNegated(n, Vector512.Create(Ln2Lo), f);
        var p = Avx512F.FusedMultiplyAdd(Vector512.Create(ExpC6), f, Vector512.Create(ExpC5));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(ExpC4));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(ExpC3));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(ExpC2));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512<float>.One);
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512<float>.One);
        return (p.AsInt32() + (t.AsInt32() << 23)).AsSingle();
    }
}
