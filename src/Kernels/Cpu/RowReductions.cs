using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>Vectorised row reductions (sum, sum of squares, max) with a scalar path for the fallback levels.</summary>
internal static unsafe class RowReductions
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float* x, int n, SimdLevel simd)
    {
        int i = 0;
        double s = 0; // the scalar path has no 16 partial sums to keep its rounding error small
        if (simd >= SimdLevel.Avx2Fma && n >= 16)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16) { a0 += Vector256.Load(x + i); a1 += Vector256.Load(x + i + 8); }
            s = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) s += x[i];
        return (float)s;
    }

    /// <summary>Σ (x - mean)²: the two-pass form keeps LayerNorm's variance accurate when |mean| ≫ std.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumSquaredDeviation(float* x, int n, float mean, SimdLevel simd)
    {
        int i = 0;
        double s = 0;
        if (simd >= SimdLevel.Avx2Fma && n >= 16)
        {
            var m = Vector256.Create(mean);
            Vector256<float> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16)
            {
                var d0 = Vector256.Load(x + i) - m;
                var d1 = Vector256.Load(x + i + 8) - m;
                a0 = Vector256.FusedMultiplyAdd(d0, d0, a0);
                a1 = Vector256.FusedMultiplyAdd(d1, d1, a1);
            }
            s = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) { float d = x[i] - mean; s += d * d; }
        return (float)s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float* x, int n, SimdLevel simd)
    {
        int i = 0;
        float m = float.NegativeInfinity;
        if (simd >= SimdLevel.Avx2Fma && n >= 8)
        {
            var v = Vector256.Create(float.NegativeInfinity);
            for (; i <= n - 8; i += 8) v = Vector256.Max(v, Vector256.Load(x + i));
            for (int l = 0; l < 8; l++) m = Math.Max(m, v[l]);
        }
        for (; i < n; i++) m = Math.Max(m, x[i]);
        return m;
    }

    /// <summary>y = exp(x - max) elementwise; returns Σ y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpShifted(float* x, float* y, int n, float max, SimdLevel simd)
    {
        int i = 0;
        float s = 0;
        if (simd >= SimdLevel.Avx2Fma && n >= 8)
        {
            var m = Vector256.Create(max);
            Vector256<float> acc = default;
            for (; i <= n - 8; i += 8)
            {
                // x - max <= 0; clamped at ExpMin a masked score (float.MinValue) weighs e^-86 ~ 4e-38 instead of 0,
                // far below the rounding of a sum that is at least 1.
                var e = VectorMath.ExpInRange(Vector256.Max(Vector256.Load(x + i) - m, Vector256.Create(VectorMath.ExpMin)));
                Vector256.Store(e, y + i);
                acc += e;
            }
            s = Vector256.Sum(acc);
        }
        for (; i < n; i++) { float e = MathF.Exp(x[i] - max); y[i] = e; s += e; }
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scale(float* y, int n, float factor, SimdLevel simd)
    {
        int i = 0;
        if (simd >= SimdLevel.Avx2Fma)
        {
            var f = Vector256.Create(factor);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(y + i) * f, y + i);
        }
        for (; i < n; i++) y[i] *= factor;
    }
}
