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
/// A row LayerNorm, when given, runs after the epilogue: inside the task that owns a complete row block (N not split),
/// else as one row-parallel pass over C afterwards.
/// </summary>
internal static unsafe class Gemm
{
    private const int MaxNC = 1024;
    /// <summary>Below this many flops the whole GEMM runs on the calling thread (waking workers costs more).</summary>
    private const long InlineFlops = 1L << 20;

    public static void Run(WorkerPool pool, SimdLevel simd, int batch, int m, int n, int k,
        float* a, long aBatch, long ars, long acs,
        float* bPacked, long bPackedBatch,
        float* c, long cBatch, long ldc, in GemmEpilogue epilogue, long bRowStride = 0, in GemmRowLayerNorm rowNorm = default)
    {
        if (batch <= 0 || m <= 0 || n <= 0) return;
        var epi = epilogue;
        var norm = rowNorm;
        var bl = GemmBlocking.For(simd);
        int MR = bl.MR, NR = bl.NR, KC = bl.KC, MC = bl.MC;
        if (k == 0)
        {
            for (int z = 0; z < batch; z++)
                for (int i = 0; i < m; i++)
                {
                    new Span<float>(c + z * cBatch + i * ldc, n).Clear();
                    if (!epi.IsNone) epi.Apply(c + z * cBatch + i * ldc, ldc, i, 0, 1, n, simd);
                    if (!norm.IsNone) norm.Apply(c + z * cBatch + i * ldc, ldc, n, 0, 1, simd);
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
        // A task owning whole rows normalises them while they are in its L2; split rows wait for a pass after the GEMM.
        bool normInTask = !norm.IsNone && jcBlocks == 1;
        long mpad = GemmPacking.RoundUp(m, MR), aPackedBatch = mpad * k;
        nint shared = sharedA ? (nint)PackAllA(pool, batch, m, k, a, aBatch, ars, acs, bl, mcBlock) : 0;

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
                        // While the last A panel runs, pull the next B panel toward L2 (it comes from L3).
                        float* pf = ir + MR >= mc ? bPanel + (inPlace ? NR : (long)NR * kc) : bPanel;
                        MicroTile(simd, kc, mr, nr, aPack + ir * kc, bPanel, ldb, cTile, ldc, accumulate, tile, pf);
                        if (last && !epi.IsNone) epi.Apply(cTile, ldc, i0 + ir, jr, mr, nr, simd);
                    }
                }
            }
            if (normInTask) norm.Apply(cz, ldc, n, i0, i0 + mc, simd);
        }

        if (threads == 1 || tasks == 1) { for (int t = 0; t < tasks; t++) Task(t); }
        else pool.Run(tasks, Task);
        if (!norm.IsNone && !normInTask)
        {
            for (int z = 0; z < batch; z++)
            {
                float* cz = c + z * cBatch;
                nint ci = (nint)cz;
                RowParallel.Run(pool, m, n, (r0, r1) => norm.Apply((float*)ci, ldc, n, r0, r1, simd));
            }
        }
    }

    /// <summary>Up to this many rows, <see cref="RunPackingB"/> gives each task all rows and a private slice of B.</summary>
    private const int PrivateBMaxRows = 512;
    /// <summary>
    /// Columns of B a task packs per KC block on the private-B path (kc x 768 floats = 768 KB, in L2). Few wide tasks
    /// (rounded to a multiple of the thread count) beat many narrow ones, since every task streams all of packed A:
    /// 8 tasks of 96 columns ran 325x3072·3072x768 8% slower than 2 of 384.
    /// </summary>
    private const int PrivateBColumns = 768;
    /// <summary>
    /// Up to this many B micro-panels per task, the wide kernel reads an A of unit stride along k in place instead of
    /// packing it (N = 64, 192 and 325 of the absorbed-attention products: packing A cost up to a tenth of the product;
    /// at 24 panels both ways measured alike).
    /// </summary>
    private const int RowsAMaxPanels = 12;

    /// <summary>
    /// C[z] = A[z]·B[z] with B[z][k, n] = b[z·bBatch + k·brs + n·bcs] in its caller's layout, packed here (MatMul:
    /// B is new on every call). For at most <see cref="PrivateBMaxRows"/> rows (the model's 325-token shapes),
    /// A is packed once, in parallel, and each task owns a slice of columns: per KC block it packs its kc x ~768
    /// slice of B into a private buffer that stays in its core's L2 and sweeps all rows against it. So each B
    /// element is read from memory once and its packed copy never leaves L2, where packing all of B first wrote a
    /// B-sized buffer and re-read it once per row block (with the wide slices below, 3-13% faster on the
    /// 325-row shapes, `quick parts`). Taller A keeps the shared packed B: there a private slice would be packed once per row
    /// block, re-reading B from memory (6% slower at 2048³). A is read in place by the wide kernel when a task has at most
    /// <see cref="RowsAMaxPanels"/> B panels, packed by its one task when N is one column block, else packed once up front.
    /// </summary>
    public static void RunPackingB(WorkerPool pool, SimdLevel simd, int batch, int m, int n, int k,
        float* a, long aBatch, long ars, long acs,
        float* b, long bBatch, long brs, long bcs,
        float* c, long cBatch, long ldc, in GemmEpilogue epilogue)
    {
        if (batch <= 0 || m <= 0 || n <= 0) return;
        var bl = GemmBlocking.For(simd);
        if (k == 0 || m > PrivateBMaxRows)
        {
            long packedLen = GemmPacking.PackedBLength(k, n, bl);
            float* packed = Scratch.Get(Scratch.PackB, checked(Math.Max(1, packedLen * batch)));
            for (int z = 0; z < batch && k > 0; z++)
                GemmPacking.PackB(pool, b + z * bBatch, brs, bcs, k, n, bl, packed + z * packedLen);
            Run(pool, simd, batch, m, n, k, a, aBatch, ars, acs, packed, packedLen, c, cBatch, ldc, epilogue);
            return;
        }
        var epi = epilogue;
        int MR = bl.MR, NR = bl.NR, KC = bl.KC, MC = bl.MC;
        int threads = 2L * batch * m * n * k < InlineFlops ? 1 : pool.Threads;
        int panels = (n + NR - 1) / NR;
        int colBlocks = Math.Max(1, (panels * NR + PrivateBColumns / 2) / PrivateBColumns);
        if (threads > 1)
        {
            // Equal shares: a multiple of the thread count when N allows.
            while ((long)batch * colBlocks % threads != 0 && colBlocks < panels) colBlocks++;
        }
        colBlocks = Math.Min(colBlocks, panels);
        int maxPanels = (panels + colBlocks - 1) / colBlocks;
        // Equal KC blocks (325 = 163 + 162, not 256 + 69): a shallow last block pays C's loads and stores for little work.
        int kBlocks = (k + KC - 1) / KC, kcb = (k + kBlocks - 1) / kBlocks;
        // A is read in place for few panels (rows unit-stride along k); else, with one column block per task, each A
        // block has one user, which packs it where it is used so the packed copy stays in L2; with several column
        // blocks A is packed once, in parallel, for all of them.
        bool rowsA = simd >= SimdLevel.Avx512 && acs == 1 && maxPanels <= RowsAMaxPanels;
        bool ownA = !rowsA && colBlocks == 1;
        int fullRows = m / MR * MR;
        long mpad = GemmPacking.RoundUp(m, MR), aPackedBatch = mpad * k;
        nint ap = ownA || rowsA ? 0 : (nint)PackAllA(threads > 1 ? pool : null, batch, m, k, a, aBatch, ars, acs, bl, GemmPacking.RoundUp(Math.Min(m, 8 * MR), MR), kcb);
        nint aRaw = (nint)a, bp = (nint)b, cp = (nint)c;
        int tasks = batch * colBlocks;

        void Task(int t)
        {
            int z = t / colBlocks, jb = t % colBlocks;
            // Columns split by whole panels as evenly as they go (72 panels in 4 blocks: 18 each).
            int p0 = (int)((long)jb * panels / colBlocks), p1 = (int)((long)(jb + 1) * panels / colBlocks);
            float* bBlock = Scratch.Get(Scratch.PrivateB, (long)kcb * maxPanels * NR);
            float* aPack = ownA ? Scratch.Get(Scratch.PackA, (long)MC * kcb) : rowsA ? Scratch.Get(Scratch.PackA, (long)MR * kcb) : null;
            float* tile = Scratch.Get(Scratch.Tile, MR * NR);
            float* az = (float*)aRaw + z * aBatch;
            float* bz = (float*)bp + z * bBatch;
            float* cz = (float*)cp + z * cBatch;
            for (int k0 = 0; k0 < k; k0 += kcb)
            {
                int kc = Math.Min(kcb, k - k0);
                bool accumulate = k0 > 0, last = k0 + kc == k;
                GemmPacking.PackBBlock(bz, brs, bcs, n, k0, kc, p0, p1, NR, bBlock);
                // Read in place, A's ragged last rows are still packed (zero-padded) once per K block.
                if (rowsA && fullRows < m) GemmPacking.PackA(az, ars, 1, fullRows, m - fullRows, k0, kc, MR, aPack);
                // A in L2-sized row blocks; each B micro-panel (L1) sweeps a block's MR-row micro-panels.
                for (int i0 = 0; i0 < m; i0 += MC)
                {
                    int mc = Math.Min(MC, m - i0);
                    float* aBlock;
                    if (rowsA) aBlock = aPack - (long)fullRows * kc;
                    else if (ownA) { GemmPacking.PackA(az, ars, acs, i0, mc, k0, kc, MR, aPack); aBlock = aPack - (long)i0 * kc; }
                    else aBlock = (float*)ap + z * aPackedBatch + k0 * mpad;
                    for (int p = p0; p < p1; p++)
                    {
                        int jr = p * NR, nr = Math.Min(NR, n - jr);
                        float* bPanel = bBlock + (long)(p - p0) * NR * kc;
                        for (int ir = i0; ir < i0 + mc; ir += MR)
                        {
                            int mr = Math.Min(MR, m - ir);
                            float* cTile = cz + ir * ldc + jr;
                            if (rowsA && ir < fullRows)
                            {
                                float* aRows = az + ir * ars + k0;
                                if (nr == NR) GemmMicroKernels.Avx512x12x32RowsA(kc, aRows, ars, bPanel, NR, cTile, ldc, accumulate);
                                else
                                {
                                    GemmMicroKernels.Avx512x12x32RowsA(kc, aRows, ars, bPanel, NR, tile, NR, false);
                                    CopyTile(tile, NR, cTile, ldc, MR, nr, accumulate);
                                }
                            }
                            else MicroTile(simd, kc, mr, nr, aBlock + ir * kc, bPanel, NR, cTile, ldc, accumulate, tile, bPanel);
                            if (last && !epi.IsNone) epi.Apply(cTile, ldc, ir, jr, mr, nr, simd);
                        }
                    }
                }
            }
        }

        if (threads == 1 || tasks == 1) { for (int t = 0; t < tasks; t++) Task(t); }
        else pool.Run(tasks, Task);
    }

    /// <summary>
    /// C[mr x nr] (+)= the MR-row A micro-panel times the NR-column B micro-panel: the full tile straight into C, the
    /// wide kernel's ragged rows in 4-row strips, any other ragged tile through the tile buffer.
    /// </summary>
    private static void MicroTile(SimdLevel simd, int kc, int mr, int nr, float* aPanel, float* bPanel, long ldb,
        float* cTile, long ldc, bool accumulate, float* tile, float* prefetch)
    {
        if (simd >= SimdLevel.Avx512)
        {
            if (mr == GemmBlocking.Wide.MR && nr == GemmBlocking.Wide.NR)
            {
                GemmMicroKernels.Avx512x12x32(kc, aPanel, bPanel, ldb, cTile, ldc, accumulate, prefetch);
                return;
            }
            for (int r0 = 0; r0 < mr; r0 += 4)
            {
                int rows = Math.Min(4, mr - r0);
                if (rows == 4 && nr == GemmBlocking.Wide.NR)
                    GemmMicroKernels.Avx512x4x32(kc, aPanel + r0, bPanel, ldb, cTile + r0 * ldc, ldc, accumulate);
                else
                {
                    GemmMicroKernels.Avx512x4x32(kc, aPanel + r0, bPanel, ldb, tile, GemmBlocking.Wide.NR, false);
                    CopyTile(tile, GemmBlocking.Wide.NR, cTile + r0 * ldc, ldc, rows, nr, accumulate);
                }
            }
            return;
        }
        var bl = GemmBlocking.For(simd);
        if (mr == bl.MR && nr == bl.NR)
            GemmMicroKernels.Run(simd, kc, aPanel, bPanel, ldb, cTile, ldc, accumulate);
        else
        {
            GemmMicroKernels.Run(simd, kc, aPanel, bPanel, ldb, tile, bl.NR, false);
            CopyTile(tile, bl.NR, cTile, ldc, mr, nr, accumulate);
        }
    }

    /// <summary>
    /// Packs all of A[z] (m x k) once, in parallel, as [z][KC-block][MR-panel] (kc x MR each, rows zero-padded to
    /// a multiple of MR), into the calling thread's shared-A scratch; tasks are (z, KC-block, mcBlock rows).
    /// </summary>
    private static float* PackAllA(WorkerPool? pool, int batch, int m, int k, float* a, long aBatch, long ars, long acs,
        GemmBlocking bl, int mcBlock, int kcBlock = 0)
    {
        int MR = bl.MR, KC = kcBlock > 0 ? kcBlock : bl.KC;
        long mpad = GemmPacking.RoundUp(m, MR), aPackedBatch = mpad * k;
        float* shared = Scratch.Get(Scratch.SharedA, checked(batch * aPackedBatch));
        int kBlocks = (k + KC - 1) / KC, icBlocks = (m + mcBlock - 1) / mcBlock;
        nint ap = (nint)a, sp = (nint)shared;
        void PackTask(int t)
        {
            int z = t / (kBlocks * icBlocks), rest = t % (kBlocks * icBlocks);
            int k0 = rest / icBlocks * KC, i0 = rest % icBlocks * mcBlock, kc = Math.Min(KC, k - k0);
            GemmPacking.PackA((float*)ap + z * aBatch, ars, acs, i0, Math.Min(mcBlock, m - i0), k0, kc, MR,
                (float*)sp + z * aPackedBatch + k0 * mpad + (long)i0 * kc);
        }
        if (pool is null) { for (int t = 0; t < batch * kBlocks * icBlocks; t++) PackTask(t); }
        else pool.Run(batch * kBlocks * icBlocks, PackTask);
        return shared;
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
