using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// What a GEMM does to a finished output tile while it is still in L1: y = act(acc + bias[col]) + residual[row, col].
/// Pointers stay valid for the duration of one GEMM call (the caller pins the tensors).
/// </summary>
internal readonly unsafe struct GemmEpilogue
{
    public readonly float* Bias;
    public readonly Activation Activation;
    public readonly float* Residual;
    public readonly long ResidualStride;

    public GemmEpilogue(float* bias, Activation activation, float* residual, long residualStride)
    {
        Bias = bias;
        Activation = activation;
        Residual = residual;
        ResidualStride = residualStride;
    }

    public bool IsNone => Bias == null && Activation == Activation.None && Residual == null;

    /// <summary>Applies to C[row0.., col0..] (rows x cols) where c points at that element and ldc is C's row stride.</summary>
    public void Apply(float* c, long ldc, int row0, int col0, int rows, int cols, SimdLevel simd)
    {
        // tanh stays scalar (see VectorMath.Apply); the AVX-512 level also gets 512-bit steps: on Zen 4 they
        // are double-pumped, so the gain is half the instructions for the front end, not more arithmetic.
        if (simd >= SimdLevel.Avx2Fma && Activation != Activation.Tanh)
        {
            bool wide = simd >= SimdLevel.Avx512;
            switch (Activation)
            {
                case Activation.Gelu: ApplyVector<GeluActivation>(c, ldc, row0, col0, rows, cols, wide); return;
                case Activation.QuickGelu: ApplyVector<QuickGeluActivation>(c, ldc, row0, col0, rows, cols, wide); return;
                default: ApplyVector<IdentityActivation>(c, ldc, row0, col0, rows, cols, wide); return;
            }
        }
        for (int r = 0; r < rows; r++)
        {
            float* cr = c + r * ldc;
            float* res = Residual == null ? null : Residual + (row0 + r) * ResidualStride + col0;
            float* bias = Bias == null ? null : Bias + col0;
            for (int j = 0; j < cols; j++)
            {
                float v = cr[j];
                if (bias != null) v += bias[j];
                v = VectorMath.Apply(v, Activation);
                if (res != null) v += res[j];
                cr[j] = v;
            }
        }
    }

    private void ApplyVector<TActivation>(float* c, long ldc, int row0, int col0, int rows, int cols, bool wide)
        where TActivation : struct, IVectorActivation
    {
        float* bias = Bias == null ? null : Bias + col0;
        for (int r = 0; r < rows; r++)
        {
            float* cr = c + r * ldc;
            float* res = Residual == null ? null : Residual + (row0 + r) * ResidualStride + col0;
            int j = 0;
            if (wide)
            {
                for (; j <= cols - 16; j += 16)
                {
                    var v = Vector512.Load(cr + j);
                    if (bias != null) v += Vector512.Load(bias + j);
                    v = TActivation.Apply(v);
                    if (res != null) v += Vector512.Load(res + j);
                    Vector512.Store(v, cr + j);
                }
            }
            for (; j <= cols - 8; j += 8)
            {
                var v = Vector256.Load(cr + j);
                if (bias != null) v += Vector256.Load(bias + j);
                v = TActivation.Apply(v);
                if (res != null) v += Vector256.Load(res + j);
                Vector256.Store(v, cr + j);
            }
            for (; j < cols; j++)
            {
                float v = cr[j];
                if (bias != null) v += bias[j];
                v = TActivation.Apply(v);
                if (res != null) v += res[j];
                cr[j] = v;
            }
        }
    }
}

/// <summary>
/// LayerNorm with affine gamma, beta of (C + residual) over every finished output row of a GEMM (all N columns), after the
/// epilogue: where one task owns complete rows it normalises them right after its last K block, while they are still in
/// its L2. The residual (rows n wide, contiguous) is added here, streaming row by row, rather than in the tile epilogue
/// (there each 32-column tile would read 12 rows of it 3 KB apart, measured slower). Row r reads residual row
/// r mod <see cref="ResidualRows"/>: one row set shared by a batch.
/// </summary>
internal readonly unsafe struct GemmRowLayerNorm
{
    public readonly float* Gamma;
    public readonly float* Beta;
    public readonly float Eps;
    public readonly float* Residual;
    public readonly int ResidualRows;

    public GemmRowLayerNorm(float* gamma, float* beta, float eps, float* residual, int residualRows)
    {
        Gamma = gamma;
        Beta = beta;
        Eps = eps;
        Residual = residual;
        ResidualRows = residualRows;
    }

    public bool IsNone => Gamma == null;

    /// <summary>Rows row0..row1 of C (n wide, rows ldc apart) normalised in place, as the standalone LayerNorm computes them.</summary>
    public void Apply(float* c, long ldc, int n, int row0, int row1, SimdLevel simd)
    {
        for (int r = row0; r < row1; r++)
        {
            float* res = Residual == null ? null : Residual + (long)(r % ResidualRows) * n;
            LayerNormKernel.Rows(c + r * ldc, res, c + r * ldc, Gamma, Beta, n, Eps, 0, 1, simd);
        }
    }
}
