using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>The widest instruction set a CPU kernel may use; detected once, lowered in tests to exercise fallbacks.</summary>
public enum SimdLevel
{
    Scalar,
    /// <summary>128-bit vectors (SSE/NEON), multiply then add.</summary>
    Vector128,
    /// <summary>256-bit vectors with fused multiply-add (x86 AVX2 + FMA).</summary>
    Avx2Fma,
    /// <summary>
    /// AVX-512F: the GEMM uses a 512-bit micro-kernel (half the instructions and loads per flop, which
    /// matters even where, as on Zen 4, a 512-bit FMA is double-pumped); the other kernels stay at 256 bits.
    /// </summary>
    Avx512,
}

public static class SimdSupport
{
    /// <summary>The best level this process can run.</summary>
    public static SimdLevel Detected { get; } =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported ? SimdLevel.Avx512
        : Fma.IsSupported && Avx2.IsSupported ? SimdLevel.Avx2Fma
        : Vector128.IsHardwareAccelerated ? SimdLevel.Vector128
        : SimdLevel.Scalar;

    /// <summary>Clamps a requested level to what the hardware supports.</summary>
    public static SimdLevel Clamp(SimdLevel requested) => requested > Detected ? Detected : requested;
}
