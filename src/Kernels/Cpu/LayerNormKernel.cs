using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>y = (s - mean)/sqrt(var + eps)·gamma + beta per row, s = x (+ residual, fused so the sum is never a separate pass over memory).</summary>
internal static unsafe class LayerNormKernel
{
    public static void Rows(float* x, float* residual, float* y, float* gamma, float* beta, int n, float eps,
        int row0, int row1, SimdLevel simd)
    {
        for (int r = row0; r < row1; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            float* src = xr;
            if (residual != null)
            {
                float* rr = residual + (long)r * n;
                int j = 0;
                if (simd >= SimdLevel.Avx2Fma)
                    for (; j <= n - 8; j += 8) Vector256.Store(Vector256.Load(xr + j) + Vector256.Load(rr + j), yr + j);
                for (; j < n; j++) yr[j] = xr[j] + rr[j];
                src = yr;
            }
            float mean = RowReductions.Sum(src, n, simd) / n;
            float variance = RowReductions.SumSquaredDeviation(src, n, mean, simd) / n;
            float inv = 1f / MathF.Sqrt(variance + eps);
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
