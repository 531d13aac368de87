using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>y = alpha·a + beta·b row by row; b advances bStride per row (0 when b is a suffix broadcast over the rows).</summary>
internal static unsafe class AddScaledKernel
{
    public static void Rows(float* a, float* b, long bStride, float* y, int n, float alpha, float beta, int row0, int row1, SimdLevel simd)
    {
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (int r = row0; r < row1; r++)
        {
            float* ar = a + (long)r * n, yr = y + (long)r * n, br = b + r * bStride;
            int i = 0;
            if (simd >= SimdLevel.Avx2Fma)
                for (; i <= n - 8; i += 8)
                    Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(ar + i), vb * Vector256.Load(br + i)), yr + i);
            for (; i < n; i++) yr[i] = alpha * ar[i] + beta * br[i];
        }
    }
}
