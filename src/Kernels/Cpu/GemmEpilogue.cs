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
