using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// Fused multi-head attention with an online (flash-style) softmax. A task is one (batch, head,
/// chunk of up to MaxQC queries); it copies Kᵀ in KB-key blocks and V with the head width padded to 16 into
/// a per-thread buffer (the copies are ~1/chunk of the work), then for each group of R queries walks
/// the key blocks: scores = q·Kᵀ·scale + mask for KB keys, running max/sum update, O += P·V.
/// Scores never leave L1. A row whose keys are all float.MinValue has equal scores, so it gets
/// uniform weights exactly as the reference does; masks below float.MinValue (e.g. -inf) are
/// clamped to it so no row can become NaN.
/// </summary>
internal static unsafe partial class AttentionKernel
{
    private const int MaxQC = 256, R = 6, KB = 64;

    public readonly struct Args
    {
        public required int Batch { get; init; }
        public required int Heads { get; init; }
        public required int Tq { get; init; }
        public required int Tk { get; init; }
        public required int D { get; init; }
        public required float Scale { get; init; }
        public required nint Q { get; init; }
        public required long QBatch { get; init; }
        public required long QRow { get; init; }
        public required nint K { get; init; }
        public required long KBatch { get; init; }
        public required long KRow { get; init; }
        public required nint V { get; init; }
        public required long VBatch { get; init; }
        public required long VRow { get; init; }
        /// <summary>(Batch, Tk) contiguous, or 0.</summary>
        public required nint Mask { get; init; }
        /// <summary>(Batch, Tq, Heads·D) contiguous.</summary>
        public required nint Output { get; init; }
        /// <summary>(Batch, Heads, Tq, Tk) contiguous, or 0.</summary>
        public required nint Probabilities { get; init; }
    }

    public static void Run(WorkerPool pool, SimdLevel simd, Args args)
    {
        if (args.Batch == 0 || args.Tq == 0 || args.Heads == 0) return;
        bool lanes = simd >= SimdLevel.Avx512 && args.Probabilities == 0 && args.Tq >= LanesMinQueries;
        int chunks, qc;
        if (lanes)
        {
            // Nothing is copied per task, so small tasks cost nothing: ~24 per thread, 32-query aligned, let the
            // pool's dynamic hand-out absorb threads running at uneven speed (12 head-sized tasks: ~157 -> ~179 GFLOP/s).
            int groups = (args.Tq + 31) / 32;
            // Each task keeps >= ~4 MFLOP so short-key shapes (325x16) do not drown in hand-out overhead.
            long headFlops = 4L * args.Tq * args.Tk * args.D;
            int byWork = (int)Math.Clamp(headFlops / (4 << 20), 1, groups);
            chunks = Math.Clamp((24 * pool.Threads + args.Batch * args.Heads - 1) / (args.Batch * args.Heads), 1, byWork);
            qc = (groups + chunks - 1) / chunks * 32;
            chunks = (args.Tq + qc - 1) / qc;
        }
        else
        {
            // Few, large query chunks: the Kᵀ/V copies are paid once per chunk.
            chunks = (args.Tq + MaxQC - 1) / MaxQC;
            qc = (args.Tq + chunks - 1) / chunks;
        }
        int tasks = args.Batch * args.Heads * chunks;
        long flops = 4L * args.Batch * args.Heads * args.Tq * args.Tk * args.D;
        void Task(int t)
        {
            int b = t / (args.Heads * chunks), rest = t % (args.Heads * chunks);
            int h = rest / chunks, q0 = rest % chunks * qc, qn = Math.Min(qc, args.Tq - q0);
            if (lanes) RunLanes(args, b, h, q0, qn);
            else if (simd >= SimdLevel.Avx2Fma) RunAvx(args, b, h, q0, qn);
            else Scalar(args, b, h, q0, qn);
        }
        if (flops < 1 << 20 || tasks == 1) { for (int t = 0; t < tasks; t++) Task(t); }
        else pool.Run(tasks, Task);
    }

    private static void RunAvx(Args a, int b, int h, int q0, int qn)
    {
        int d = a.D, tk = a.Tk, dp = (d + 15) & ~15;
        int blocks = (tk + KB - 1) / KB, tkPad = blocks * KB;
        // Scratch: Kᵀ blocks [blocks][d][KB], V [tk][dp], mask [tkPad], Q [R][dp], S [R][KB], O [R][dp].
        long ktLen = (long)tkPad * d, vLen = (long)tk * dp;
        float* kt = Scratch.Get(Scratch.Attention, ktLen + vLen + tkPad + 2L * R * dp + R * KB);
        float* vp = kt + ktLen, mask = vp + vLen, qb = mask + tkPad, s = qb + R * dp, o = s + R * KB;
        float* kSrc = (float*)a.K + b * a.KBatch + h * d;
        float* vSrc = (float*)a.V + b * a.VBatch + h * d;
        for (int blk = 0; blk < blocks; blk++)
        {
            float* dst = kt + (long)blk * d * KB;
            int j0 = blk * KB, kn = Math.Min(KB, tk - j0);
            for (int e = 0; e < d; e++, dst += KB)
            {
                float* kr = kSrc + j0 * a.KRow + e;
                for (int j = 0; j < kn; j++) dst[j] = kr[j * a.KRow];
                for (int j = kn; j < KB; j++) dst[j] = 0f;
            }
        }
        for (int j = 0; j < tk; j++)
        {
            new ReadOnlySpan<float>(vSrc + j * a.VRow, d).CopyTo(new Span<float>(vp + (long)j * dp, d));
            new Span<float>(vp + (long)j * dp + d, dp - d).Clear();
        }
        float* maskSrc = a.Mask == 0 ? null : (float*)a.Mask + (long)b * tk;
        for (int j = 0; j < tkPad; j++)
            mask[j] = j >= tk ? float.NegativeInfinity : maskSrc == null ? 0f : MathF.Max(maskSrc[j], float.MinValue);

        var scale = Vector256.Create(a.Scale);
        float* m = stackalloc float[R];
        float* l = stackalloc float[R];
        for (int g = 0; g < qn; g += R)
        {
            int rows = Math.Min(R, qn - g);
            for (int r = 0; r < R; r++)
            {
                float* qd = qb + r * dp;
                if (r < rows)
                {
                    float* qs = (float*)a.Q + b * a.QBatch + (q0 + g + r) * a.QRow + h * d;
                    new ReadOnlySpan<float>(qs, d).CopyTo(new Span<float>(qd, d));
                    new Span<float>(qd + d, dp - d).Clear();
                }
                else new Span<float>(qd, dp).Clear();
                m[r] = float.NegativeInfinity;
                l[r] = 0f;
            }
            new Span<float>(o, R * dp).Clear();
            float* probs = a.Probabilities == 0 ? null
                : (float*)a.Probabilities + (((long)b * a.Heads + h) * a.Tq + q0 + g) * tk;

            for (int blk = 0; blk < blocks; blk++)
            {
                float* ktb = kt + (long)blk * d * KB;
                int j0 = blk * KB, kn = Math.Min(KB, tk - j0), kw = (kn + 15) & ~15; // short key rows: no work on padding beyond 16
                // S[R][KB] = Q·Kᵀ: 6 rows x 16 keys per pass = 12 independent FMA chains (covers FMA latency x 2 pipes).
                for (int c = 0; c < kw; c += 16)
                {
                    Vector256<float> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
                    Vector256<float> s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
                    float* kc = ktb + c;
                    for (int e = 0; e < d; e++, kc += KB)
                    {
                        var k0 = Vector256.Load(kc);
                        var k1 = Vector256.Load(kc + 8);
                        var q = Vector256.Create(qb[e]);
                        s00 = Fma.MultiplyAdd(q, k0, s00); s01 = Fma.MultiplyAdd(q, k1, s01);
                        q = Vector256.Create(qb[dp + e]);
                        s10 = Fma.MultiplyAdd(q, k0, s10); s11 = Fma.MultiplyAdd(q, k1, s11);
                        q = Vector256.Create(qb[2 * dp + e]);
                        s20 = Fma.MultiplyAdd(q, k0, s20); s21 = Fma.MultiplyAdd(q, k1, s21);
                        q = Vector256.Create(qb[3 * dp + e]);
                        s30 = Fma.MultiplyAdd(q, k0, s30); s31 = Fma.MultiplyAdd(q, k1, s31);
                        q = Vector256.Create(qb[4 * dp + e]);
                        s40 = Fma.MultiplyAdd(q, k0, s40); s41 = Fma.MultiplyAdd(q, k1, s41);
                        q = Vector256.Create(qb[5 * dp + e]);
                        s50 = Fma.MultiplyAdd(q, k0, s50); s51 = Fma.MultiplyAdd(q, k1, s51);
                    }
                    var m0 = Vector256.Load(mask + j0 + c);
                    var m1 = Vector256.Load(mask + j0 + c + 8);
                    // fp32 semantics of the reference: (score·scale) rounded, then + mask.
                    float* sc = s + c;
                    Vector256.Store(s00 * scale + m0, sc); Vector256.Store(s01 * scale + m1, sc + 8);
                    Vector256.Store(s10 * scale + m0, sc + KB); Vector256.Store(s11 * scale + m1, sc + KB + 8);
                    Vector256.Store(s20 * scale + m0, sc + 2 * KB); Vector256.Store(s21 * scale + m1, sc + 2 * KB + 8);
                    Vector256.Store(s30 * scale + m0, sc + 3 * KB); Vector256.Store(s31 * scale + m1, sc + 3 * KB + 8);
                    Vector256.Store(s40 * scale + m0, sc + 4 * KB); Vector256.Store(s41 * scale + m1, sc + 4 * KB + 8);
                    Vector256.Store(s50 * scale + m0, sc + 5 * KB); Vector256.Store(s51 * scale + m1, sc + 5 * KB + 8);
                }
                for (int r = 0; r < rows; r++)
                {
                    float* sr = s + r * KB;
                    if (probs != null) new ReadOnlySpan<float>(sr, kn).CopyTo(new Span<float>(probs + (long)r * tk + j0, kn));
                    float blockMax = RowReductions.Max(sr, kw, SimdLevel.Avx2Fma);
                    float mNew = MathF.Max(m[r], blockMax);
                    float corr = MathF.Exp(m[r] - mNew); // m = -inf on the first block: corr = 0
                    l[r] = l[r] * corr + RowReductions.ExpShifted(sr, sr, kw, mNew, SimdLevel.Avx2Fma);
                    m[r] = mNew;
                    if (corr != 1f) RowReductions.Scale(o + r * dp, dp, corr, SimdLevel.Avx2Fma);
                }
                for (int r = rows; r < R; r++) new Span<float>(s + r * KB, kw).Clear();
                // O[R][dp] += P[R][kn]·V[kn][dp]: 6 rows x 16 columns per pass = 12 chains.
                float* vb = vp + (long)j0 * dp;
                for (int c = 0; c < dp; c += 16)
                {
                    float* oc = o + c;
                    var o00 = Vector256.Load(oc); var o01 = Vector256.Load(oc + 8);
                    var o10 = Vector256.Load(oc + dp); var o11 = Vector256.Load(oc + dp + 8);
                    var o20 = Vector256.Load(oc + 2 * dp); var o21 = Vector256.Load(oc + 2 * dp + 8);
                    var o30 = Vector256.Load(oc + 3 * dp); var o31 = Vector256.Load(oc + 3 * dp + 8);
                    var o40 = Vector256.Load(oc + 4 * dp); var o41 = Vector256.Load(oc + 4 * dp + 8);
                    var o50 = Vector256.Load(oc + 5 * dp); var o51 = Vector256.Load(oc + 5 * dp + 8);
                    float* vr = vb + c;
                    for (int j = 0; j < kn; j++, vr += dp)
                    {
                        var v0 = Vector256.Load(vr);
                        var v1 = Vector256.Load(vr + 8);
                        var p = Vector256.Create(s[j]);
                        o00 = Fma.MultiplyAdd(p, v0, o00); o01 = Fma.MultiplyAdd(p, v1, o01);
                        p = Vector256.Create(s[KB + j]);
                        o10 = Fma.MultiplyAdd(p, v0, o10); o11 = Fma.MultiplyAdd(p, v1, o11);
                        p = Vector256.Create(s[2 * KB + j]);
                        o20 = Fma.MultiplyAdd(p, v0, o20); o21 = Fma.MultiplyAdd(p, v1, o21);
                        p = Vector256.Create(s[3 * KB + j]);
                        o30 = Fma.MultiplyAdd(p, v0, o30); o31 = Fma.MultiplyAdd(p, v1, o31);
                        p = Vector256.Create(s[4 * KB + j]);
                        o40 = Fma.MultiplyAdd(p, v0, o40); o41 = Fma.MultiplyAdd(p, v1, o41);
                        p = Vector256.Create(s[5 * KB + j]);
                        o50 = Fma.MultiplyAdd(p, v0, o50); o51 = Fma.MultiplyAdd(p, v1, o51);
                    }
                    Vector256.Store(o00, oc); Vector256.Store(o01, oc + 8);
                    Vector256.Store(o10, oc + dp); Vector256.Store(o11, oc + dp + 8);
                    Vector256.Store(o20, oc + 2 * dp); Vector256.Store(o21, oc + 2 * dp + 8);
                    Vector256.Store(o30, oc + 3 * dp); Vector256.Store(o31, oc + 3 * dp + 8);
                    Vector256.Store(o40, oc + 4 * dp); Vector256.Store(o41, oc + 4 * dp + 8);
                    Vector256.Store(o50, oc + 5 * dp); Vector256.Store(o51, oc + 5 * dp + 8);
                }
            }
            for (int r = 0; r < rows; r++)
            {
                float inv = 1f / l[r];
                float* dst = (float*)a.Output + ((long)b * a.Tq + q0 + g + r) * a.Heads * d + h * d;
                for (int e = 0; e < d; e++) dst[e] = o[r * dp + e] * inv;
                if (probs != null)
                {
                    float* pr = probs + (long)r * tk;
                    RowReductions.ExpShifted(pr, pr, tk, m[r], SimdLevel.Avx2Fma);
                    RowReductions.Scale(pr, tk, inv, SimdLevel.Avx2Fma);
                }
            }
        }
    }

    /// <summary>Fallback without AVX2/FMA: the same arithmetic, one query row at a time, whole score row materialised.</summary>
    private static void Scalar(in Args a, int b, int h, int q0, int qn)
    {
        int d = a.D, tk = a.Tk;
        float* s = Scratch.Get(Scratch.Attention, tk);
        float* o = stackalloc float[d];
        float* maskSrc = a.Mask == 0 ? null : (float*)a.Mask + (long)b * tk;
        for (int i = q0; i < q0 + qn; i++)
        {
            float* q = (float*)a.Q + b * a.QBatch + i * a.QRow + h * d;
            float max = float.NegativeInfinity;
            for (int j = 0; j < tk; j++)
            {
                float* k = (float*)a.K + b * a.KBatch + j * a.KRow + h * d;
                float dot = 0;
                for (int e = 0; e < d; e++) dot += q[e] * k[e];
                float sc = dot * a.Scale + (maskSrc == null ? 0f : MathF.Max(maskSrc[j], float.MinValue));
                s[j] = sc;
                max = MathF.Max(max, sc);
            }
            float sum = 0;
            for (int j = 0; j < tk; j++) { s[j] = MathF.Exp(s[j] - max); sum += s[j]; }
            float inv = 1f / sum;
            new Span<float>(o, d).Clear();
            for (int j = 0; j < tk; j++)
            {
                float* v = (float*)a.V + b * a.VBatch + j * a.VRow + h * d;
                float p = s[j] * inv;
                s[j] = p;
                for (int e = 0; e < d; e++) o[e] += p * v[e];
            }
            float* dst = (float*)a.Output + ((long)b * a.Tq + i) * a.Heads * d + h * d;
            new ReadOnlySpan<float>(o, d).CopyTo(new Span<float>(dst, d));
            if (a.Probabilities != 0)
                new ReadOnlySpan<float>(s, tk).CopyTo(new Span<float>((float*)a.Probabilities + (((long)b * a.Heads + h) * a.Tq + i) * tk, tk));
        }
    }
}
