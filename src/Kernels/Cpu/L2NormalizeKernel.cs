using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>y = x / max(‖x‖₂, eps) per row (torch.nn.functional.normalize).</summary>
internal static unsafe class L2NormalizeKernel
{
    public static void Rows(float* x, float* y, int n, float eps, int row0, int row1, SimdLevel simd)
    {
        for (int r = row0; r < row1; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            int i = 0;
            double ss = 0;
            if (simd >= SimdLevel.Avx2Fma)
            {
                Vector256<float> acc = default;
                for (; i <= n - 8; i += 8) { var v = Vector256.Load(xr + i); acc = Vector256.FusedMultiplyAdd(v, v, acc); }
                ss = Vector256.Sum(acc);
            }
            for (; i < n; i++) ss += (double)xr[i] * xr[i];
            float norm = MathF.Max((float)Math.Sqrt(ss), eps);
            new ReadOnlySpan<float>(xr, n).CopyTo(new Span<float>(yr, n));
            RowReductions.Scale(yr, n, 1f / norm, simd);
        }
    }
}
