using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// C[MR x NR] (+)= Apanel[kc x MR]ᵀ · Bpanel[kc x NR] on packed micro-panels (tile sizes from
/// <see cref="GemmBlocking.For"/>). The AVX-512 kernel keeps a 12x32 tile in 24 zmm accumulators:
/// 24 FMAs per 2 loads + 12 broadcasts. The AVX2 kernel keeps 6x16 in 12 ymm: 12 FMAs per 2 loads
/// + 6 broadcasts, which leaves Zen 4's front end little slack. accumulate=false overwrites C (first KC block).
/// B's rows are ldb floats apart: NR in a packed panel, the row stride when B is read in place.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    private const int MR = 6, NR = 16, WideMR = 12, WideNR = 32;

    public static void Run(SimdLevel simd, int kc, float* a, float* b, long ldb, float* c, long ldc, bool accumulate)
    {
        switch (simd)
        {
            case SimdLevel.Avx512: Avx512x12x32(kc, a, b, ldb, c, ldc, accumulate, b); break;
            case SimdLevel.Avx2Fma: Avx6x16(kc, a, b, ldb, c, ldc, accumulate); break;
            case SimdLevel.Vector128: V128(kc, a, b, ldb, c, ldc, accumulate); break;
            default: Scalar(kc, a, b, ldb, c, ldc, accumulate); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512x12x32(int kc, float* a, float* b, long ldb, float* c, long ldc, bool accumulate, float* prefetch)
    {
        // C's rows are ldc apart (often a multiple of 4 KB): fetch them now so the final update does not wait on misses.
        for (int r = 0; r < WideMR; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + 16); }
        Vector512<float> c0a = default, c0b = default;
        Vector512<float> c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default;
        Vector512<float> c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default;
        Vector512<float> c5a = default, c5b = default;
        Vector512<float> c6a = default, c6b = default;
        Vector512<float> c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default;
        Vector512<float> c9a = default, c9b = default;
        Vector512<float> c10a = default, c10b = default;
        Vector512<float> c11a = default, c11b = default;
        for (int k = 0; k < kc; k++, a += WideMR, b += ldb, prefetch += ldb)
        {
            Sse.Prefetch1(prefetch);
            Sse.Prefetch1(prefetch + 16);
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var av = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(av, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(av, b1, c0b);
            av = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(av, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(av, b1, c1b);
            av = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(av, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(av, b1, c2b);
            av = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(av, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(av, b1, c3b);
            av = Vector512.Create(a[4]); c4a = Avx512F.FusedMultiplyAdd(av, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(av, b1, c4b);
            av = Vector512.Create(a[5]); c5a = Avx512F.FusedMultiplyAdd(av, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(av, b1, c5b);
            av = Vector512.Create(a[6]); c6a = Avx512F.FusedMultiplyAdd(av, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(av, b1, c6b);
            av = Vector512.Create(a[7]); c7a = Avx512F.FusedMultiplyAdd(av, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(av, b1, c7b);
            av = Vector512.Create(a[8]); c8a = Avx512F.FusedMultiplyAdd(av, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(av, b1, c8b);
            av = Vector512.Create(a[9]); c9a = Avx512F.FusedMultiplyAdd(av, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(av, b1, c9b);
            av = Vector512.Create(a[10]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
            av = Vector512.Create(a[11]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
        }
        if (accumulate)
        {
            Add512(c + 0 * ldc, c0a, c0b);
            Add512(c + 1 * ldc, c1a, c1b);
            Add512(c + 2 * ldc, c2a, c2b);
            Add512(c + 3 * ldc, c3a, c3b);
            Add512(c + 4 * ldc, c4a, c4b);
            Add512(c + 5 * ldc, c5a, c5b);
            Add512(c + 6 * ldc, c6a, c6b);
            Add512(c + 7 * ldc, c7a, c7b);
            Add512(c + 8 * ldc, c8a, c8b);
            Add512(c + 9 * ldc, c9a, c9b);
            Add512(c + 10 * ldc, c10a, c10b);
            Add512(c + 11 * ldc, c11a, c11b);
        }
        else
        {
            Set512(c + 0 * ldc, c0a, c0b);
            Set512(c + 1 * ldc, c1a, c1b);
            Set512(c + 2 * ldc, c2a, c2b);
            Set512(c + 3 * ldc, c3a, c3b);
            Set512(c + 4 * ldc, c4a, c4b);
            Set512(c + 5 * ldc, c5a, c5b);
            Set512(c + 6 * ldc, c6a, c6b);
            Set512(c + 7 * ldc, c7a, c7b);
            Set512(c + 8 * ldc, c8a, c8b);
            Set512(c + 9 * ldc, c9a, c9b);
            Set512(c + 10 * ldc, c10a, c10b);
            Set512(c + 11 * ldc, c11a, c11b);
        }
    }

    /// <summary>
    /// <see cref="Avx512x12x32"/> with A read in place: 12 rows lda floats apart, unit stride along k (no packed panel).
    /// For a product with few B panels, packing A would cost about as much as using it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512x12x32RowsA(int kc, float* a, long lda, float* b, long ldb, float* c, long ldc, bool accumulate)
    {
        for (int r = 0; r < WideMR; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + 16); }
        Vector512<float> c0a = default, c0b = default;
        Vector512<float> c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default;
        Vector512<float> c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default;
        Vector512<float> c5a = default, c5b = default;
        Vector512<float> c6a = default, c6b = default;
        Vector512<float> c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default;
        Vector512<float> c9a = default, c9b = default;
        Vector512<float> c10a = default, c10b = default;
        Vector512<float> c11a = default, c11b = default;
        // Rows 0-2, 3-5, 6-8, 9-11 from four pointers at offsets 0, lda, 2·lda (base + index·scale addressing).
        float* a0 = a, a3 = a + 3 * lda, a6 = a + 6 * lda, a9 = a + 9 * lda;
        long l2 = 2 * lda;
        for (int k = 0; k < kc; k++, a0++, a3++, a6++, a9++, b += ldb)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var av = Vector512.Create(a0[0]); c0a = Avx512F.FusedMultiplyAdd(av, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(av, b1, c0b);
            av = Vector512.Create(a0[lda]); c1a = Avx512F.FusedMultiplyAdd(av, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(av, b1, c1b);
            av = Vector512.Create(a0[l2]); c2a = Avx512F.FusedMultiplyAdd(av, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(av, b1, c2b);
            av = Vector512.Create(a3[0]); c3a = Avx512F.FusedMultiplyAdd(av, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(av, b1, c3b);
            av = Vector512.Create(a3[lda]); c4a = Avx512F.FusedMultiplyAdd(av, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(av, b1, c4b);
            av = Vector512.Create(a3[l2]); c5a = Avx512F.FusedMultiplyAdd(av, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(av, b1, c5b);
            av = Vector512.Create(a6[0]); c6a = Avx512F.FusedMultiplyAdd(av, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(av, b1, c6b);
            av = Vector512.Create(a6[lda]); c7a = Avx512F.FusedMultiplyAdd(av, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(av, b1, c7b);
            av = Vector512.Create(a6[l2]); c8a = Avx512F.FusedMultiplyAdd(av, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(av, b1, c8b);
            av = Vector512.Create(a9[0]); c9a = Avx512F.FusedMultiplyAdd(av, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(av, b1, c9b);
            av = Vector512.Create(a9[lda]); c10a = Avx512F.FusedMultiplyAdd(av, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(av, b1, c10b);
            av = Vector512.Create(a9[l2]); c11a = Avx512F.FusedMultiplyAdd(av, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(av, b1, c11b);
        }
        if (accumulate)
        {
            Add512(c + 0 * ldc, c0a, c0b);
            Add512(c + 1 * ldc, c1a, c1b);
            Add512(c + 2 * ldc, c2a, c2b);
            Add512(c + 3 * ldc, c3a, c3b);
            Add512(c + 4 * ldc, c4a, c4b);
            Add512(c + 5 * ldc, c5a, c5b);
            Add512(c + 6 * ldc, c6a, c6b);
            Add512(c + 7 * ldc, c7a, c7b);
            Add512(c + 8 * ldc, c8a, c8b);
            Add512(c + 9 * ldc, c9a, c9b);
            Add512(c + 10 * ldc, c10a, c10b);
            Add512(c + 11 * ldc, c11a, c11b);
        }
        else
        {
            Set512(c + 0 * ldc, c0a, c0b);
            Set512(c + 1 * ldc, c1a, c1b);
            Set512(c + 2 * ldc, c2a, c2b);
            Set512(c + 3 * ldc, c3a, c3b);
            Set512(c + 4 * ldc, c4a, c4b);
            Set512(c + 5 * ldc, c5a, c5b);
            Set512(c + 6 * ldc, c6a, c6b);
            Set512(c + 7 * ldc, c7a, c7b);
            Set512(c + 8 * ldc, c8a, c8b);
            Set512(c + 9 * ldc, c9a, c9b);
            Set512(c + 10 * ldc, c10a, c10b);
            Set512(c + 11 * ldc, c11a, c11b);
        }
    }

    /// <summary>
    /// The wide kernel's ragged M edge: C[4x32] from rows r..r+3 of a 12-row packed A panel (a points at
    /// row r, panel stride 12), so a 16-row GEMM computes 16 rows instead of 24.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512x4x32(int kc, float* a, float* b, long ldb, float* c, long ldc, bool accumulate)
    {
        Vector512<float> c0a = default, c0b = default;
        Vector512<float> c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default;
        Vector512<float> c3a = default, c3b = default;
        for (int k = 0; k < kc; k++, a += WideMR, b += ldb)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var av = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(av, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(av, b1, c0b);
            av = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(av, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(av, b1, c1b);
            av = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(av, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(av, b1, c2b);
            av = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(av, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(av, b1, c3b);
        }
        if (accumulate)
        {
            Add512(c + 0 * ldc, c0a, c0b);
            Add512(c + 1 * ldc, c1a, c1b);
            Add512(c + 2 * ldc, c2a, c2b);
            Add512(c + 3 * ldc, c3a, c3b);
        }
        else
        {
            Set512(c + 0 * ldc, c0a, c0b);
            Set512(c + 1 * ldc, c1a, c1b);
            Set512(c + 2 * ldc, c2a, c2b);
            Set512(c + 3 * ldc, c3a, c3b);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add512(float* c, Vector512<float> v0, Vector512<float> v1)
    {
        Avx512F.Store(c, Avx512F.Add(Avx512F.LoadVector512(c), v0));
        Avx512F.Store(c + 16, Avx512F.Add(Avx512F.LoadVector512(c + 16), v1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Set512(float* c, Vector512<float> v0, Vector512<float> v1)
    {
        Avx512F.Store(c, v0);
        Avx512F.Store(c + 16, v1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx6x16(int kc, float* a, float* b, long ldb, float* c, long ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++, a += MR, b += ldb)
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
    private static void V128(int kc, float* a0, float* b0, long ldb, float* c, long ldc, bool accumulate)
    {
        for (int half = 0; half < 2; half++)
        {
            Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector128<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            float* a = a0, b = b0 + half * 8;
            for (int k = 0; k < kc; k++, a += MR, b += ldb)
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

    private static void Scalar(int kc, float* a, float* b, long ldb, float* c, long ldc, bool accumulate)
    {
        float* acc = stackalloc float[MR * NR];
        new Span<float>(acc, MR * NR).Clear();
        for (int k = 0; k < kc; k++, a += MR, b += ldb)
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
