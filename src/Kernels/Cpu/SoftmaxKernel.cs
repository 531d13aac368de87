namespace BridgeTower.Kernels.Cpu;

/// <summary>Row softmax with max subtraction (fp32, as the reference computes it).</summary>
internal static unsafe class SoftmaxKernel
{
    public static void Rows(float* x, float* y, int n, int row0, int row1, SimdLevel simd)
    {
        for (int r = row0; r < row1; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            float max = RowReductions.Max(xr, n, simd);
            float sum = RowReductions.ExpShifted(xr, yr, n, max, simd);
            RowReductions.Scale(yr, n, 1f / sum, simd);
        }
    }
}
