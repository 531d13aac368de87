using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>y = (s - mean)/sqrt(var + eps)·gamma + beta per row, s = x (+ residual, fused so the sum is never a separate pass over memory).</summary>
internal static unsafe class LayerNormKernel
{
    /// <summary>
    /// LayerNorm's mean and 1/sqrt(var + eps) of one row s = x (+ residual, written into <paramref name="sum"/>); returns
    /// where s is (x itself without a residual).
    /// </summary>
    public static float* Statistics(float* x, float* residual, float* sum, int n, float eps, SimdLevel simd, out float mean, out float inv)
    {
        float* src = x;
        if (residual != null)
        {
            int j = 0;
            if (simd >= SimdLevel.Avx2Fma)
                for (; j <= n - 8; j += 8) Vector256.Store(Vector256.Load(x + j) + Vector256.Load(residual + j), sum + j);
            for (; j < n; j++) sum[j] = x[j] + residual[j];
            src = sum;
        }
        mean = n == 0 ? 0f : RowReductions.Sum(src, n, simd) / n;
        float variance = n == 0 ? 0f : RowReductions.SumSquaredDeviation(src, n, mean, simd) / n;
        inv = 1f / MathF.Sqrt(variance + eps);
        return src;
    }

    public static void Rows(float* x, float* residual, float* y, float* gamma, float* beta, int n, float eps,
        int row0, int row1, SimdLevel simd)
    {
        for (int r = row0; r < row1; r++)
        {
            float* yr = y + (long)r * n;
            float* src = Statistics(x + (long)r * n, residual == null ? null : residual + (long)r * n, yr, n, eps, simd, out float mean, out float inv);
            int i = 0;
            if (simd >= SimdLevel.Avx2Fma)
            {
                var m = Vector256.Create(mean);
                var s = Vector256.Create(inv);
                for (; i <= n - 8; i += 8)
                {
                    var v = (Vector256.Load(src + i) - m) * s;
                    Vector256.Store(Vector256.FusedMultiplyAdd(v, Vector256.Load(gamma + i), Vector256.Load(beta + i)), yr + i);
                }
            }
            for (; i < n; i++) yr[i] = (src[i] - mean) * inv * gamma[i] + beta[i];
        }
    }
}
