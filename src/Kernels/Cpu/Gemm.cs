namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// Blocked SGEMM driver, C[z] = A[z]·B[z] (+ epilogue), B already packed (<see cref="GemmPacking"/>).
/// Work is split into (batch, MC-row block, NC-column block) tasks on the shared pool; each task
/// walks the KC blocks, packs its A block into a per-thread buffer that stays in L2, and sweeps
/// NR-column B micro-panels (in L1) against MR-row A micro-panels with the register-blocked kernel.
/// B must have been packed with <see cref="GemmBlocking.For"/>(simd), or, with bPacked null, be row-major
/// (unit column stride, rows bRowStride apart) and read in place: for a few rows of A, packing B would
/// cost as much as the product, so full-width micro-panels are read straight from B and only the
/// ragged last panel is packed (zero-padded) per task.
/// </summary>
internal static unsafe class Gemm
{
    private const int MaxNC = 1024;
    /// <summary>Below this many flops the whole GEMM runs on the calling thread (waking workers costs more).</summary>
    private const long InlineFlops = 1L << 20;

    public static void Run(WorkerPool pool, SimdLevel simd, int batch, int m, int n, int k,
        float* a, long aBatch, long ars, long acs,
        float* bPacked, long bPackedBatch,
        float* c, long cBatch, long ldc, in GemmEpilogue epilogue, long bRowStride = 0)
    {
        if (batch <= 0 || m <= 0 || n <= 0) return;
        var epi = epilogue;
        var bl = GemmBlocking.For(simd);
        int MR = bl.MR, NR = bl.NR, KC = bl.KC, MC = bl.MC;
        if (k == 0)
        {
            for (int z = 0; z < batch; z++)
                for (int i = 0; i < m; i++)
                {
                    new Span<float>(c + z * cBatch + i * ldc, n).Clear();
                    if (!epi.IsNone) epi.Apply(c + z * cBatch + i * ldc, ldc, i, 0, 1, n, simd);
                }
            return;
        }
        long flops = 2L * batch * m * n * k;
        int threads = flops < InlineFlops ? 1 : pool.Threads;
        // Equal row blocks (multiples of MR, at most MC) so no thread is left with a sliver at the end.
        int icBlocks = (m + MC - 1) / MC;
        int mcBlock = Math.Min(MC, GemmPacking.RoundUp((m + icBlocks - 1) / icBlocks, MR));
        icBlocks = (m + mcBlock - 1) / mcBlock;
        int jcBlocks = Math.Max((n + MaxNC - 1) / MaxNC, (threads * 8 + batch * icBlocks - 1) / (batch * icBlocks));
        if (threads == 1) jcBlocks = (n + MaxNC - 1) / MaxNC;
        int nct = GemmPacking.RoundUp((n + jcBlocks - 1) / jcBlocks, NR);
        jcBlocks = (n + nct - 1) / nct;
        long npad = GemmPacking.RoundUp(n, NR);
        int tasks = batch * icBlocks * jcBlocks;
        nint ap = (nint)a, bp = (nint)bPacked, cp = (nint)c;
        bool inPlace = bRowStride > 0;
        // When N is split, every column task of a row block would pack the same A block (6x over for
        // 325x3072·3072x768); then A is packed once, in parallel, as [z][KC-block][MR-panel] (kc x MR each).
        bool sharedA = jcBlocks > 1;
        long mpad = GemmPacking.RoundUp(m, MR), aPackedBatch = mpad * k;
        nint shared = sharedA ? (nint)Scratch.Get(Scratch.SharedA, checked(batch * aPackedBatch)) : 0;
        if (sharedA)
        {
            int kBlocks = (k + KC - 1) / KC;
            void PackTask(int t)
            {
                int z = t / (kBlocks * icBlocks), rest = t % (kBlocks * icBlocks);
                int k0 = rest / icBlocks * KC, i0 = rest % icBlocks * mcBlock;
                GemmPacking.PackA((float*)ap + z * aBatch, ars, acs, i0, Math.Min(mcBlock, m - i0), k0, Math.Min(KC, k - k0), MR,
                    (float*)shared + z * aPackedBatch + k0 * mpad + (long)i0 * Math.Min(KC, k - k0));
            }
            pool.Run(batch * kBlocks * icBlocks, PackTask);
        }

        void Task(int t)
        {
            int z = t / (icBlocks * jcBlocks), rest = t % (icBlocks * jcBlocks);
            int ib = rest / jcBlocks, jb = rest % jcBlocks;
            int i0 = ib * mcBlock, mc = Math.Min(mcBlock, m - i0);
            int j0 = jb * nct, nc = Math.Min(nct, n - j0);
            float* az = (float*)ap + z * aBatch;
            float* bz = (float*)bp + z * bPackedBatch;
            float* cz = (float*)cp + z * cBatch;
            float* aPack = sharedA ? null : Scratch.Get(Scratch.PackA, (long)MC * KC);
            float* tile = Scratch.Get(Scratch.Tile, MR * NR);
            float* edgeB = inPlace ? Scratch.Get(Scratch.EdgeB, (long)KC * NR) : null;
            for (int k0 = 0; k0 < k; k0 += KC)
            {
                int kc = Math.Min(KC, k - k0);
                bool accumulate = k0 > 0, last = k0 + kc == k;
                if (sharedA) aPack = (float*)shared + z * aPackedBatch + k0 * mpad + (long)i0 * kc;
                else GemmPacking.PackA(az, ars, acs, i0, mc, k0, kc, MR, aPack);
                float* bBlock = bz + k0 * npad;
                for (int jr = j0; jr < j0 + nc; jr += NR)
                {
                    int nr = Math.Min(NR, n - jr);
                    float* bPanel = bBlock + (long)(jr / NR) * NR * kc;
                    long ldb = NR;
                    if (inPlace)
                    {
                        if (nr == NR) { bPanel = bz + k0 * bRowStride + jr; ldb = bRowStride; }
                        else { GemmPacking.PackBPanel(bz, bRowStride, 1, n, k0, kc, jr / NR, NR, edgeB); bPanel = edgeB; }
                    }
                    for (int ir = 0; ir < mc; ir += MR)
                    {
                        int mr = Math.Min(MR, mc - ir);
                        float* cTile = cz + (i0 + ir) * ldc + jr;
                        float* aPanel = aPack + ir * kc;
                        if (mr == MR && nr == NR && simd >= SimdLevel.Avx512)
                        {
                            // While the last A panel runs, pull the next B panel toward L2 (it comes from L3).
                            float* pf = ir + MR >= mc ? bPanel + (inPlace ? NR : (long)NR * kc) : bPanel;
                            GemmMicroKernels.Avx512x12x32(kc, aPanel, bPanel, ldb, cTile, ldc, accumulate, pf);
                        }
                        else if (mr == MR && nr == NR)
                            GemmMicroKernels.Run(simd, kc, aPanel, bPanel, ldb, cTile, ldc, accumulate);
                        else if (simd >= SimdLevel.Avx512 && mr < MR)
                        {
                            for (int r0 = 0; r0 < mr; r0 += 4)
                            {
                                int rows = Math.Min(4, mr - r0);
                                if (rows == 4 && nr == NR)
                                    GemmMicroKernels.Avx512x4x32(kc, aPanel + r0, bPanel, ldb, cTile + r0 * ldc, ldc, accumulate);
                                else
                                {
                                    GemmMicroKernels.Avx512x4x32(kc, aPanel + r0, bPanel, ldb, tile, NR, false);
                                    CopyTile(tile, NR, cTile + r0 * ldc, ldc, rows, nr, accumulate);
                                }
                            }
                        }
                        else
                        {
                            GemmMicroKernels.Run(simd, kc, aPanel, bPanel, ldb, tile, NR, false);
                            CopyTile(tile, NR, cTile, ldc, mr, nr, accumulate);
                        }
                        if (last && !epi.IsNone) epi.Apply(cTile, ldc, i0 + ir, jr, mr, nr, simd);
                    }
                }
            }
        }

        if (threads == 1 || tasks == 1) { for (int t = 0; t < tasks; t++) Task(t); }
        else pool.Run(tasks, Task);
    }

    private static void CopyTile(float* tile, int ldt, float* c, long ldc, int rows, int cols, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            float* dst = c + r * ldc;
            float* src = tile + r * ldt;
            if (accumulate) for (int j = 0; j < cols; j++) dst[j] += src[j];
            else for (int j = 0; j < cols; j++) dst[j] = src[j];
        }
    }
}
