using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// Register tile (MR x NR) and cache blocks of the GEMM for one SIMD level. KC·NR floats of a B
/// micro-panel stay in L1 while the MC x KC block of A stays in L2 (Zen 4: 32 KB L1D, 1 MB L2).
/// </summary>
internal readonly record struct GemmBlocking(int MR, int NR, int KC, int MC)
{
    /// <summary>
    /// 12x32 in 24 zmm accumulators for AVX-512, 6x16 in 12 ymm/xmm-pairs otherwise. KC=384 measured
    /// within noise of 256 on Zen 4 but makes each fp32 chain longer (C is summed per KC block, which
    /// bounds the rounding walk), and it pushed a K=385 GEMM past the tests' error bound; so 256.
    /// </summary>
    public static GemmBlocking For(SimdLevel simd) => simd >= SimdLevel.Avx512 ? Wide : Narrow;

    public static readonly GemmBlocking Wide = new(12, 32, 256, 144);
    public static readonly GemmBlocking Narrow = new(6, 16, 256, 144);
}

/// <summary>
/// Packed operand layouts of the GEMM. A is packed per (KC-block, MR-row micro-panel) as kc x MR
/// floats, B per (KC-block, NR-column micro-panel) as kc x NR floats, both zero-padded, so the
/// micro-kernel reads two unit-stride streams. Packed B for block p starts at p·KC·Npad and its
/// micro-panel j at j·NR·kc inside that block. The layout depends on the blocking, so B packed for
/// one SIMD level is only valid for GEMMs run at a level with the same blocking.
/// </summary>
internal static unsafe class GemmPacking
{
    public static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    public static long PackedBLength(int k, int n, in GemmBlocking bl) => (long)RoundUp(n, bl.NR) * k;

    /// <summary>Packs micro-panel j (columns j·NR..) of KC-block starting at k0 of B[k, n] = b[k·ks + n·ns].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // loops run once per weight at load: no tier-0 pass
    public static void PackBPanel(float* b, long ks, long ns, int n, int k0, int kc, int panel, int NR, float* dst)
    {
        int n0 = panel * NR, nr = Math.Min(NR, n - n0);
        float* src = b + k0 * ks + n0 * ns;
        if (ns == 1 && nr == NR)
        {
            for (int k = 0; k < kc; k++, src += ks, dst += NR)
                for (int j = 0; j < NR; j += 8)
                    Vector256.Store(Vector256.Load(src + j), dst + j);
            return;
        }
        if (nr < NR) new Span<float>(dst, kc * NR).Clear();
        if (ks == 1)
        {
            // B is (N, K) row-major (a PyTorch Linear weight, or MatMul's transposeB): each column of B is a
            // contiguous row, so 4 columns at a time are A's row-panel transpose (MatMul packs such a B on every call).
            int j = 0;
            if (Sse.IsSupported)
                for (; j + 4 <= nr; j += 4) Transpose4Rows(src + j * ns, ns, kc, NR, dst + j);
            for (; j < nr; j++)
            {
                float* col = src + j * ns;
                for (int k = 0; k < kc; k++) dst[k * NR + j] = col[k];
            }
            return;
        }
        for (int k = 0; k < kc; k++)
            for (int j = 0; j < nr; j++) dst[k * NR + j] = src[k * ks + j * ns];
    }

    /// <summary>
    /// Packs micro-panels p0..p1 of KC-block k0 of B[k, n] = b[k·ks + n·ns] into dst, panel after panel (kc x NR
    /// each). A row-major B is copied row by row across the whole block, so each source row is read as one
    /// contiguous run (hardware prefetch follows it) rather than in 128-byte pieces a row apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackBBlock(float* b, long ks, long ns, int n, int k0, int kc, int p0, int p1, int NR, float* dst)
    {
        int full = Math.Min(p1, n / NR);
        if (ns != 1 || NR % 16 != 0 || !Vector512.IsHardwareAccelerated)
        {
            for (int p = p0; p < p1; p++) PackBPanel(b, ks, ns, n, k0, kc, p, NR, dst + (long)(p - p0) * NR * kc);
            return;
        }
        long panelSize = (long)NR * kc;
        for (int k = 0; k < kc; k++)
        {
            float* src = b + (k0 + k) * ks + (long)p0 * NR;
            float* d = dst + k * NR;
            for (int p = p0; p < full; p++, src += NR, d += panelSize)
                for (int j = 0; j < NR; j += 16)
                    Vector512.Store(Vector512.Load(src + j), d + j);
        }
        for (int p = Math.Max(p0, full); p < p1; p++) PackBPanel(b, ks, ns, n, k0, kc, p, NR, dst + (long)(p - p0) * panelSize);
    }

    /// <summary>Packs all of B (k x n) into dst (length <see cref="PackedBLength"/>); tasks split panels across the pool.</summary>
    public static void PackB(WorkerPool? pool, float* b, long ks, long ns, int k, int n, in GemmBlocking bl, float* dst)
    {
        int NR = bl.NR, KC = bl.KC;
        int panels = (n + NR - 1) / NR, blocks = (k + KC - 1) / KC;
        long npad = (long)panels * NR;
        nint bp = (nint)b, dp = (nint)dst;
        void PackTask(int t)
        {
            int p = t / panels, j = t % panels;
            int k0 = p * KC, kc = Math.Min(KC, k - k0);
            PackBPanel((float*)bp, ks, ns, n, k0, kc, j, NR, (float*)dp + k0 * npad + (long)j * NR * kc);
        }
        if (pool is null || (long)k * n < 1 << 16) { for (int t = 0; t < panels * blocks; t++) PackTask(t); }
        else pool.Run(panels * blocks, PackTask);
    }

    /// <summary>Packs rows i0..i0+mc of A[i, k] = a[i·rs + k·cs], columns k0..k0+kc, into MR-row micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // loops run once per weight at load: no tier-0 pass
    public static void PackA(float* a, long rs, long cs, int i0, int mc, int k0, int kc, int MR, float* dst)
    {
        for (int ip = 0; ip < mc; ip += MR, dst += MR * kc)
        {
            int mr = Math.Min(MR, mc - ip);
            float* src = a + (i0 + ip) * rs + k0 * cs;
            if (cs == 1)
            {
                int r = 0;
                if (Sse.IsSupported)
                    for (; r + 4 <= mr; r += 4) Transpose4Rows(src + r * rs, rs, kc, MR, dst + r);
                for (; r < mr; r++)
                {
                    float* row = src + r * rs;
                    for (int k = 0; k < kc; k++) dst[k * MR + r] = row[k];
                }
            }
            else
            {
                for (int r = 0; r < mr; r++)
                    for (int k = 0; k < kc; k++) dst[k * MR + r] = src[r * rs + k * cs];
            }
            for (int r = mr; r < MR; r++)
                for (int k = 0; k < kc; k++) dst[k * MR + r] = 0f;
        }
    }

    /// <summary>
    /// dst[k·MR + r] = src[r·rs + k] for 4 rows, in 4x4 SSE transposes: the scalar loop's strided single-float
    /// stores made packing A about a tenth of a 325-row GEMM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // loops run once per weight at load: no tier-0 pass
    private static void Transpose4Rows(float* src, long rs, int kc, int MR, float* dst)
    {
        int k = 0;
        for (; k <= kc - 4; k += 4)
        {
            var r0 = Sse.LoadVector128(src + k);
            var r1 = Sse.LoadVector128(src + rs + k);
            var r2 = Sse.LoadVector128(src + 2 * rs + k);
            var r3 = Sse.LoadVector128(src + 3 * rs + k);
            var t0 = Sse.UnpackLow(r0, r1);   // a0 b0 a1 b1
            var t1 = Sse.UnpackLow(r2, r3);   // c0 d0 c1 d1
            var t2 = Sse.UnpackHigh(r0, r1);  // a2 b2 a3 b3
            var t3 = Sse.UnpackHigh(r2, r3);  // c2 d2 c3 d3
            float* d = dst + k * MR;
            Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
            Sse.Store(d + MR, Sse.MoveHighToLow(t1, t0));
            Sse.Store(d + 2 * MR, Sse.MoveLowToHigh(t2, t3));
            Sse.Store(d + 3 * MR, Sse.MoveHighToLow(t3, t2));
        }
        for (; k < kc; k++)
            for (int r = 0; r < 4; r++) dst[k * MR + r] = src[r * rs + k];
    }
}
