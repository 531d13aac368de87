using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// C[6x16] (+)= Apanel[kc x 6]ᵀ · Bpanel[kc x 16] on packed micro-panels. The AVX2 kernel keeps the
/// 6x16 tile in 12 ymm accumulators and issues 12 FMAs per 2 loads + 6 broadcasts, which keeps
/// both FMA pipes busy. accumulate=false overwrites C (first KC block).
/// </summary>
internal static unsafe class GemmMicroKernels
{
    public const int MR = GemmPacking.MR, NR = GemmPacking.NR;

    public static void Run(SimdLevel simd, int kc, float* a, float* b, float* c, long ldc, bool accumulate)
    {
        switch (simd)
        {
            case SimdLevel.Avx2Fma: Avx6x16(kc, a, b, c, ldc, accumulate); break;
            case SimdLevel.Vector128: V128(kc, a, b, c, ldc, accumulate); break;
            default: Scalar(kc, a, b, c, ldc, accumulate); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx6x16(int kc, float* a, float* b, float* c, long ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++, a += MR, b += NR)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var av = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
        }
        if (accumulate)
        {
            Add(c, c00, c01); Add(c + ldc, c10, c11); Add(c + 2 * ldc, c20, c21);
            Add(c + 3 * ldc, c30, c31); Add(c + 4 * ldc, c40, c41); Add(c + 5 * ldc, c50, c51);
        }
        else
        {
            Set(c, c00, c01); Set(c + ldc, c10, c11); Set(c + 2 * ldc, c20, c21);
            Set(c + 3 * ldc, c30, c31); Set(c + 4 * ldc, c40, c41); Set(c + 5 * ldc, c50, c51);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(float* c, Vector256<float> v0, Vector256<float> v1)
    {
        Avx.Store(c, Avx.Add(Avx.LoadVector256(c), v0));
        Avx.Store(c + 8, Avx.Add(Avx.LoadVector256(c + 8), v1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Set(float* c, Vector256<float> v0, Vector256<float> v1)
    {
        Avx.Store(c, v0);
        Avx.Store(c + 8, v1);
    }

    /// <summary>Fallback for 128-bit SIMD without FMA: the tile in two 6x8 halves of 12 accumulators each.</summary>
    private static void V128(int kc, float* a0, float* b0, float* c, long ldc, bool accumulate)
    {
        for (int half = 0; half < 2; half++)
        {
            Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector128<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            float* a = a0, b = b0 + half * 8;
            for (int k = 0; k < kc; k++, a += MR, b += NR)
            {
                var x0 = Vector128.Load(b);
                var x1 = Vector128.Load(b + 4);
                var av = Vector128.Create(a[0]); c00 += av * x0; c01 += av * x1;
                av = Vector128.Create(a[1]); c10 += av * x0; c11 += av * x1;
                av = Vector128.Create(a[2]); c20 += av * x0; c21 += av * x1;
                av = Vector128.Create(a[3]); c30 += av * x0; c31 += av * x1;
                av = Vector128.Create(a[4]); c40 += av * x0; c41 += av * x1;
                av = Vector128.Create(a[5]); c50 += av * x0; c51 += av * x1;
            }
            float* ch = c + half * 8;
            Store128(ch, c00, c01, accumulate); Store128(ch + ldc, c10, c11, accumulate);
            Store128(ch + 2 * ldc, c20, c21, accumulate); Store128(ch + 3 * ldc, c30, c31, accumulate);
            Store128(ch + 4 * ldc, c40, c41, accumulate); Store128(ch + 5 * ldc, c50, c51, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store128(float* c, Vector128<float> v0, Vector128<float> v1, bool accumulate)
    {
        if (accumulate) { v0 += Vector128.Load(c); v1 += Vector128.Load(c + 4); }
        Vector128.Store(v0, c);
        Vector128.Store(v1, c + 4);
    }

    private static void Scalar(int kc, float* a, float* b, float* c, long ldc, bool accumulate)
    {
        float* acc = stackalloc float[MR * NR];
        new Span<float>(acc, MR * NR).Clear();
        for (int k = 0; k < kc; k++, a += MR, b += NR)
            for (int r = 0; r < MR; r++)
            {
                float ar = a[r];
                for (int j = 0; j < NR; j++) acc[r * NR + j] += ar * b[j];
            }
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r * NR + j] : acc[r * NR + j];
    }
}
