using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// y_i = act(r_i·(p_i + s_i − μ_i·u) + c) per row, μ_i and r_i the LayerNorm statistics of x_i (+ residual_i), computed
/// by <see cref="LayerNormKernel.Statistics"/>. The shared rows s and residual are row r mod their row count.
/// </summary>
internal static unsafe class LayerNormProjectedKernel
{
    public static void Rows(Activation activation, float* x, float* residual, int residualRows, float* p, float* shared, int sharedRows,
        float* u, float* c, float* y, int n, int m, float eps, int row0, int row1, SimdLevel simd)
    {
        switch (activation)
        {
            case Activation.Gelu: Rows<GeluActivation>(x, residual, residualRows, p, shared, sharedRows, u, c, y, n, m, eps, row0, row1, simd); break;
            case Activation.QuickGelu: Rows<QuickGeluActivation>(x, residual, residualRows, p, shared, sharedRows, u, c, y, n, m, eps, row0, row1, simd); break;
            default:
                Rows<IdentityActivation>(x, residual, residualRows, p, shared, sharedRows, u, c, y, n, m, eps, row0, row1, simd);
                // tanh stays scalar, as everywhere (see VectorMath.Apply).
                if (activation == Activation.Tanh) VectorMath.Apply(y + (long)row0 * m, (row1 - row0) * m, activation, simd);
                break;
        }
    }

    // As the other kernels: called a few times per forward, it would otherwise run unoptimised code for its first calls.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TActivation>(float* x, float* residual, int residualRows, float* p, float* shared, int sharedRows,
        float* u, float* c, float* y, int n, int m, float eps, int row0, int row1, SimdLevel simd)
        where TActivation : struct, IVectorActivation
    {
        float* sum = residual == null ? null : Scratch.Get(Scratch.Rows, n);
        for (int r = row0; r < row1; r++)
        {
            LayerNormKernel.Statistics(x + (long)r * n, residual == null ? null : residual + (long)(r % residualRows) * n, sum, n, eps, simd,
                out float mean, out float inv);
            float* pr = p + (long)r * m, yr = y + (long)r * m;
            float* sr = shared == null ? null : shared + (long)(r % sharedRows) * m;
            int j = 0;
            if (simd >= SimdLevel.Avx512)
            {
                var mu = Vector512.Create(mean); var s = Vector512.Create(inv);
                for (; j <= m - 16; j += 16)
                {
                    var v = Vector512.Load(pr + j);
                    if (sr != null) v += Vector512.Load(sr + j);
                    v = Vector512.FusedMultiplyAdd(s, v - mu * Vector512.Load(u + j), Vector512.Load(c + j));
                    Vector512.Store(TActivation.Apply(v), yr + j);
                }
            }
            if (simd >= SimdLevel.Avx2Fma)
            {
                var mu = Vector256.Create(mean); var s = Vector256.Create(inv);
                for (; j <= m - 8; j += 8)
                {
                    var v = Vector256.Load(pr + j);
                    if (sr != null) v += Vector256.Load(sr + j);
                    v = Vector256.FusedMultiplyAdd(s, v - mu * Vector256.Load(u + j), Vector256.Load(c + j));
                    Vector256.Store(TActivation.Apply(v), yr + j);
                }
            }
            for (; j < m; j++)
            {
                float v = pr[j] + (sr == null ? 0f : sr[j]);
                yr[j] = TActivation.Apply(inv * (v - mean * u[j]) + c[j]);
            }
        }
    }
}
