using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// The AVX-512 attention path keeps queries in vector lanes (16 or 32 per group) instead of rows:
/// Sᵀ[key][query] = Σ_e K[key][e]·Qᵀ[e][query] broadcasts K straight from its (strided) rows and
/// Oᵀ[e][query] += V[key][e]·Pᵀ[key][query] broadcasts V the same way, so K and V are never
/// transposed or copied (only Q is transposed, once per group), and the online softmax is purely
/// vertical: the running max, exp and sum of 16 queries are one vector each, with no horizontal
/// reduction per row. The exp is a float-only polynomial with vscalefps (exact 0 below the
/// float range, exactly 1 at 0, a few ulp elsewhere); Vector512.Exp widens to double and costs
/// several times more for precision the tolerance does not need.
/// </summary>
internal static unsafe partial class AttentionKernel
{
    private const int LanesKeys = 8, LanesBlock = 64, LanesCols = 8;
    /// <summary>Below this many queries the row kernel wastes less of a 16-lane vector.</summary>
    private const int LanesMinQueries = 1;

    /// <summary>Marker types selecting 16 (one vector) or 32 (two vectors) queries per group at JIT time.</summary>
    private struct OneVector;
    private struct TwoVectors;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunLanes(Args a, int b, int h, int q0, int qn)
    {
        int d = a.D, tk = a.Tk, dc = (d + LanesCols - 1) / LanesCols * LanesCols;
        int tkPad = (tk + LanesKeys - 1) / LanesKeys * LanesKeys;
        bool copyV = d % LanesCols != 0; // the PV loop reads whole 8-column groups of each V row
        // Scratch: Qᵀ [d][32], Sᵀ/Pᵀ [KB][32], Oᵀ [dc][32], mask [tkPad], padded V [tk][dc] when copied.
        long vLen = copyV ? (long)tk * dc : 0;
        float* qt = Scratch.Get(Scratch.Attention, 32L * (d + LanesBlock + dc) + tkPad + vLen);
        float* st = qt + 32 * d, ot = st + 32 * LanesBlock, mask = ot + 32 * dc, vp = mask + tkPad;
        float* maskSrc = a.Mask == 0 ? null : (float*)a.Mask + (long)b * tk;
        for (int j = 0; j < tkPad; j++)
            mask[j] = j >= tk ? float.NegativeInfinity : maskSrc == null ? 0f : MathF.Max(maskSrc[j], float.MinValue);
        float* vSrc = (float*)a.V + b * a.VBatch + h * d;
        long vRow = a.VRow;
        if (copyV)
        {
            for (int j = 0; j < tk; j++)
            {
                new ReadOnlySpan<float>(vSrc + j * a.VRow, d).CopyTo(new Span<float>(vp + (long)j * dc, d));
                new Span<float>(vp + (long)j * dc + d, dc - d).Clear();
            }
            vSrc = vp;
            vRow = dc;
        }
        var frame = new LanesFrame
        {
            D = d, Dc = dc, Tk = tk, Scale = a.Scale, Masked = maskSrc != null,
            Prescaled = a.Scale <= 1f && float.IsNormal(a.Scale) && (BitConverter.SingleToInt32Bits(a.Scale) & 0x807FFFFF) == 0, Qt = qt, St = st, Ot = ot, Mask = mask,
            K = (float*)a.K + b * a.KBatch + h * d, KRow = a.KRow, V = vSrc, VRow = vRow,
        };
        float* qSrc = (float*)a.Q + b * a.QBatch + (long)q0 * a.QRow + h * d;
        float* outRow = (float*)a.Output + ((long)b * a.Tq + q0) * a.Heads * d + h * d;
        long outStride = (long)a.Heads * d;
        for (int g = 0; g < qn; g += 32)
        {
            int rows = Math.Min(32, qn - g);
            if (rows > 16) LanesGroup<TwoVectors>(frame, qSrc + g * a.QRow, a.QRow, rows, outRow + g * outStride, outStride);
            else LanesGroup<OneVector>(frame, qSrc + g * a.QRow, a.QRow, rows, outRow + g * outStride, outStride);
        }
    }

    private readonly struct LanesFrame
    {
        public required int D { get; init; }
        public required int Dc { get; init; }
        public required int Tk { get; init; }
        public required float Scale { get; init; }
        /// <summary>Scale is a power of two ≤ 1: Qᵀ is pre-multiplied, exactly the rounding of (q·k)·scale.</summary>
        public required bool Prescaled { get; init; }
        public required bool Masked { get; init; }
        public required float* Qt { get; init; }
        public required float* St { get; init; }
        public required float* Ot { get; init; }
        public required float* Mask { get; init; }
        public required float* K { get; init; }
        public required long KRow { get; init; }
        public required float* V { get; init; }
        public required long VRow { get; init; }
    }

    /// <summary>One group of up to 16·NV queries against every key; writes the normalised output rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LanesGroup<TW>(in LanesFrame f, float* q, long qRow, int rows, float* output, long outStride) where TW : struct
    {
        bool two = typeof(TW) == typeof(TwoVectors);
        int qs = two ? 32 : 16; // floats per key (or per head column) row of Qᵀ, Sᵀ and Oᵀ
        int d = f.D, tk = f.Tk;
        float* qt = f.Qt, st = f.St, ot = f.Ot;
        // Qᵀ by 16x16 register transposes; missing queries repeat the last row (their lanes are computed and dropped).
        int d16 = d & ~15;
        for (int v = 0; v < qs; v += 16)
        {
            int vr = Math.Max(1, Math.Min(16, rows - v));
            float* qv = q + (long)Math.Min(v, rows - 1) * qRow;
            for (int e = 0; e < d16; e += 16) Transpose16(qv + e, qRow, vr, qt + e * qs + v, qs, 16);
            for (int r = 0; r < 16; r++)
            {
                float* qr = qv + Math.Min(r, vr - 1) * qRow;
                for (int e = d16; e < d; e++) qt[e * qs + v + r] = qr[e];
            }
        }
        var scale = Vector512.Create(f.Scale);
        if (f.Prescaled)
            for (int i = 0; i < d * qs; i += 16) Vector512.Store(Vector512.Load(qt + i) * scale, qt + i);
        var m0 = Vector512.Create(float.NegativeInfinity); var m1 = m0;
        Vector512<float> l0 = default, l1 = default;
        for (int j0 = 0; j0 < tk; j0 += LanesBlock)
        {
            int kn = Math.Min(LanesBlock, tk - j0), kPad = (kn + LanesKeys - 1) / LanesKeys * LanesKeys;
            // Sᵀ = Q·Kᵀ·scale + mask: 8 keys x NV query vectors per pass (8 or 16 independent FMA chains).
            var bm0 = Vector512.Create(float.NegativeInfinity); var bm1 = bm0;
            for (int c = 0; c < kPad; c += LanesKeys)
            {
                int j = j0 + c, last = tk - 1;
                // Keys past the end read the last row again; their mask is -inf, so they weigh 0.
                float* k0 = f.K + Math.Min(j, last) * f.KRow, k1 = f.K + Math.Min(j + 1, last) * f.KRow;
                float* k2 = f.K + Math.Min(j + 2, last) * f.KRow, k3 = f.K + Math.Min(j + 3, last) * f.KRow;
                float* k4 = f.K + Math.Min(j + 4, last) * f.KRow, k5 = f.K + Math.Min(j + 5, last) * f.KRow;
                float* k6 = f.K + Math.Min(j + 6, last) * f.KRow, k7 = f.K + Math.Min(j + 7, last) * f.KRow;
                Vector512<float> s00 = default, s10 = default, s20 = default, s30 = default, s40 = default, s50 = default, s60 = default, s70 = default;
                Vector512<float> s01 = default, s11 = default, s21 = default, s31 = default, s41 = default, s51 = default, s61 = default, s71 = default;
                float* qe = qt;
                for (int e = 0; e < d; e++, qe += qs)
                {
                    var x0 = Vector512.Load(qe);
                    var x1 = two ? Vector512.Load(qe + 16) : default;
                    var kv = Vector512.Create(k0[e]); s00 = Avx512F.FusedMultiplyAdd(kv, x0, s00); if (two) s01 = Avx512F.FusedMultiplyAdd(kv, x1, s01);
                    kv = Vector512.Create(k1[e]); s10 = Avx512F.FusedMultiplyAdd(kv, x0, s10); if (two) s11 = Avx512F.FusedMultiplyAdd(kv, x1, s11);
                    kv = Vector512.Create(k2[e]); s20 = Avx512F.FusedMultiplyAdd(kv, x0, s20); if (two) s21 = Avx512F.FusedMultiplyAdd(kv, x1, s21);
                    kv = Vector512.Create(k3[e]); s30 = Avx512F.FusedMultiplyAdd(kv, x0, s30); if (two) s31 = Avx512F.FusedMultiplyAdd(kv, x1, s31);
                    kv = Vector512.Create(k4[e]); s40 = Avx512F.FusedMultiplyAdd(kv, x0, s40); if (two) s41 = Avx512F.FusedMultiplyAdd(kv, x1, s41);
                    kv = Vector512.Create(k5[e]); s50 = Avx512F.FusedMultiplyAdd(kv, x0, s50); if (two) s51 = Avx512F.FusedMultiplyAdd(kv, x1, s51);
                    kv = Vector512.Create(k6[e]); s60 = Avx512F.FusedMultiplyAdd(kv, x0, s60); if (two) s61 = Avx512F.FusedMultiplyAdd(kv, x1, s61);
                    kv = Vector512.Create(k7[e]); s70 = Avx512F.FusedMultiplyAdd(kv, x0, s70); if (two) s71 = Avx512F.FusedMultiplyAdd(kv, x1, s71);
                }
                float* sc = st + c * qs;
                float* mk = f.Mask + j;
                // fp32 semantics of the reference: (score·scale) rounded, then + mask (skipped where it is 0 and
                // the scale was folded into Qᵀ; the last chunk's padded keys always take their -inf).
                if (f.Prescaled && !f.Masked && j + LanesKeys <= tk)
                {
                    Keep(s00, s01, sc, qs, two, ref bm0, ref bm1); Keep(s10, s11, sc + qs, qs, two, ref bm0, ref bm1);
                    Keep(s20, s21, sc + 2 * qs, qs, two, ref bm0, ref bm1); Keep(s30, s31, sc + 3 * qs, qs, two, ref bm0, ref bm1);
                    Keep(s40, s41, sc + 4 * qs, qs, two, ref bm0, ref bm1); Keep(s50, s51, sc + 5 * qs, qs, two, ref bm0, ref bm1);
                    Keep(s60, s61, sc + 6 * qs, qs, two, ref bm0, ref bm1); Keep(s70, s71, sc + 7 * qs, qs, two, ref bm0, ref bm1);
                }
                else
                {
                    bool sv = !f.Prescaled;
                    Score(s00, s01, scale, sv, mk[0], sc, qs, two, ref bm0, ref bm1);
                    Score(s10, s11, scale, sv, mk[1], sc + qs, qs, two, ref bm0, ref bm1);
                    Score(s20, s21, scale, sv, mk[2], sc + 2 * qs, qs, two, ref bm0, ref bm1);
                    Score(s30, s31, scale, sv, mk[3], sc + 3 * qs, qs, two, ref bm0, ref bm1);
                    Score(s40, s41, scale, sv, mk[4], sc + 4 * qs, qs, two, ref bm0, ref bm1);
                    Score(s50, s51, scale, sv, mk[5], sc + 5 * qs, qs, two, ref bm0, ref bm1);
                    Score(s60, s61, scale, sv, mk[6], sc + 6 * qs, qs, two, ref bm0, ref bm1);
                    Score(s70, s71, scale, sv, mk[7], sc + 7 * qs, qs, two, ref bm0, ref bm1);
                }
            }
            // Online softmax, all vertical: new max, correction of the old sum and output, P = exp(S - max).
            var n0 = Vector512.Max(m0, bm0); var n1 = two ? Vector512.Max(m1, bm1) : default;
            var corr0 = Exp(m0 - n0); var corr1 = two ? Exp(m1 - n1) : default; // m = -inf on the first block: corr = 0
            m0 = n0; m1 = n1;
            Vector512<float> sum0 = default, sum1 = default;
            float* sp = st;
            for (int c = 0; c < kPad; c++, sp += qs)
            {
                var p0 = Exp(Vector512.Load(sp) - n0); Vector512.Store(p0, sp); sum0 += p0;
                if (two) { var p1 = Exp(Vector512.Load(sp + 16) - n1); Vector512.Store(p1, sp + 16); sum1 += p1; }
            }
            l0 = l0 * corr0 + sum0; if (two) l1 = l1 * corr1 + sum1;
            // Oᵀ = Oᵀ·corr + Vᵀ·Pᵀ: 8 head columns x NV query vectors per pass, V broadcast from its rows.
            bool first = j0 == 0;
            for (int e0 = 0; e0 < f.Dc; e0 += LanesCols)
            {
                float* oc = ot + e0 * qs;
                Vector512<float> o00, o10, o20, o30, o40, o50, o60, o70;
                Vector512<float> o01 = default, o11 = default, o21 = default, o31 = default, o41 = default, o51 = default, o61 = default, o71 = default;
                if (first)
                {
                    o00 = o10 = o20 = o30 = o40 = o50 = o60 = o70 = default;
                }
                else
                {
                    o00 = Vector512.Load(oc) * corr0; o10 = Vector512.Load(oc + qs) * corr0;
                    o20 = Vector512.Load(oc + 2 * qs) * corr0; o30 = Vector512.Load(oc + 3 * qs) * corr0;
                    o40 = Vector512.Load(oc + 4 * qs) * corr0; o50 = Vector512.Load(oc + 5 * qs) * corr0;
                    o60 = Vector512.Load(oc + 6 * qs) * corr0; o70 = Vector512.Load(oc + 7 * qs) * corr0;
                    if (two)
                    {
                        o01 = Vector512.Load(oc + 16) * corr1; o11 = Vector512.Load(oc + qs + 16) * corr1;
                        o21 = Vector512.Load(oc + 2 * qs + 16) * corr1; o31 = Vector512.Load(oc + 3 * qs + 16) * corr1;
                        o41 = Vector512.Load(oc + 4 * qs + 16) * corr1; o51 = Vector512.Load(oc + 5 * qs + 16) * corr1;
                        o61 = Vector512.Load(oc + 6 * qs + 16) * corr1; o71 = Vector512.Load(oc + 7 * qs + 16) * corr1;
                    }
                }
                float* vr = f.V + j0 * f.VRow + e0;
                sp = st;
                for (int j = 0; j < kn; j++, vr += f.VRow, sp += qs)
                {
                    var p0 = Vector512.Load(sp);
                    var p1 = two ? Vector512.Load(sp + 16) : default;
                    var vv = Vector512.Create(vr[0]); o00 = Avx512F.FusedMultiplyAdd(vv, p0, o00); if (two) o01 = Avx512F.FusedMultiplyAdd(vv, p1, o01);
                    vv = Vector512.Create(vr[1]); o10 = Avx512F.FusedMultiplyAdd(vv, p0, o10); if (two) o11 = Avx512F.FusedMultiplyAdd(vv, p1, o11);
                    vv = Vector512.Create(vr[2]); o20 = Avx512F.FusedMultiplyAdd(vv, p0, o20); if (two) o21 = Avx512F.FusedMultiplyAdd(vv, p1, o21);
                    vv = Vector512.Create(vr[3]); o30 = Avx512F.FusedMultiplyAdd(vv, p0, o30); if (two) o31 = Avx512F.FusedMultiplyAdd(vv, p1, o31);
                    vv = Vector512.Create(vr[4]); o40 = Avx512F.FusedMultiplyAdd(vv, p0, o40); if (two) o41 = Avx512F.FusedMultiplyAdd(vv, p1, o41);
                    vv = Vector512.Create(vr[5]); o50 = Avx512F.FusedMultiplyAdd(vv, p0, o50); if (two) o51 = Avx512F.FusedMultiplyAdd(vv, p1, o51);
                    vv = Vector512.Create(vr[6]); o60 = Avx512F.FusedMultiplyAdd(vv, p0, o60); if (two) o61 = Avx512F.FusedMultiplyAdd(vv, p1, o61);
                    vv = Vector512.Create(vr[7]); o70 = Avx512F.FusedMultiplyAdd(vv, p0, o70); if (two) o71 = Avx512F.FusedMultiplyAdd(vv, p1, o71);
                }
                Vector512.Store(o00, oc); Vector512.Store(o10, oc + qs); Vector512.Store(o20, oc + 2 * qs); Vector512.Store(o30, oc + 3 * qs);
                Vector512.Store(o40, oc + 4 * qs); Vector512.Store(o50, oc + 5 * qs); Vector512.Store(o60, oc + 6 * qs); Vector512.Store(o70, oc + 7 * qs);
                if (two)
                {
                    Vector512.Store(o01, oc + 16); Vector512.Store(o11, oc + qs + 16); Vector512.Store(o21, oc + 2 * qs + 16); Vector512.Store(o31, oc + 3 * qs + 16);
                    Vector512.Store(o41, oc + 4 * qs + 16); Vector512.Store(o51, oc + 5 * qs + 16); Vector512.Store(o61, oc + 6 * qs + 16); Vector512.Store(o71, oc + 7 * qs + 16);
                }
            }
        }
        // O = Oᵀ / l, transposed back into the query rows.
        var inv0 = Vector512<float>.One / l0; var inv1 = two ? Vector512<float>.One / l1 : default;
        for (int e = 0; e < d; e++)
        {
            Vector512.Store(Vector512.Load(ot + e * qs) * inv0, ot + e * qs);
            if (two) Vector512.Store(Vector512.Load(ot + e * qs + 16) * inv1, ot + e * qs + 16);
        }
        for (int v = 0; v < rows; v += 16)
        {
            int vr = Math.Min(16, rows - v);
            for (int e = 0; e < d16; e += 16) Transpose16(ot + e * qs + v, qs, 16, output + v * outStride + e, outStride, vr);
            for (int r = 0; r < vr; r++)
                for (int e = d16; e < d; e++) output[(v + r) * outStride + e] = ot[e * qs + v + r];
        }
    }

    /// <summary>
    /// Transposes a 16x16 tile: row i of dst = column i of src. Source rows past srcRows repeat the
    /// last one; only the first dstRows rows are stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* src, long srcStride, int srcRows, float* dst, long dstStride, int dstRows)
    {
        int last = srcRows - 1;
        var r0 = Vector512.Load(src); var r1 = Vector512.Load(src + Math.Min(1, last) * srcStride);
        var r2 = Vector512.Load(src + Math.Min(2, last) * srcStride); var r3 = Vector512.Load(src + Math.Min(3, last) * srcStride);
        var r4 = Vector512.Load(src + Math.Min(4, last) * srcStride); var r5 = Vector512.Load(src + Math.Min(5, last) * srcStride);
        var r6 = Vector512.Load(src + Math.Min(6, last) * srcStride); var r7 = Vector512.Load(src + Math.Min(7, last) * srcStride);
        var r8 = Vector512.Load(src + Math.Min(8, last) * srcStride); var r9 = Vector512.Load(src + Math.Min(9, last) * srcStride);
        var r10 = Vector512.Load(src + Math.Min(10, last) * srcStride); var r11 = Vector512.Load(src + Math.Min(11, last) * srcStride);
        var r12 = Vector512.Load(src + Math.Min(12, last) * srcStride); var r13 = Vector512.Load(src + Math.Min(13, last) * srcStride);
        var r14 = Vector512.Load(src + Math.Min(14, last) * srcStride); var r15 = Vector512.Load(src + Math.Min(15, last) * srcStride);
        // Interleave 32-bit pairs, then 64-bit pairs within 128-bit lanes, then 128-bit lanes twice.
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);
        r0 = Avx512F.Shuffle(t0, t2, 0x44); r1 = Avx512F.Shuffle(t0, t2, 0xEE);
        r2 = Avx512F.Shuffle(t1, t3, 0x44); r3 = Avx512F.Shuffle(t1, t3, 0xEE);
        r4 = Avx512F.Shuffle(t4, t6, 0x44); r5 = Avx512F.Shuffle(t4, t6, 0xEE);
        r6 = Avx512F.Shuffle(t5, t7, 0x44); r7 = Avx512F.Shuffle(t5, t7, 0xEE);
        r8 = Avx512F.Shuffle(t8, t10, 0x44); r9 = Avx512F.Shuffle(t8, t10, 0xEE);
        r10 = Avx512F.Shuffle(t9, t11, 0x44); r11 = Avx512F.Shuffle(t9, t11, 0xEE);
        r12 = Avx512F.Shuffle(t12, t14, 0x44); r13 = Avx512F.Shuffle(t12, t14, 0xEE);
        r14 = Avx512F.Shuffle(t13, t15, 0x44); r15 = Avx512F.Shuffle(t13, t15, 0xEE);
        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88);
        t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD); t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD);
        t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD); t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88); t9 = Avx512F.Shuffle4x128(r9, r13, 0x88);
        t10 = Avx512F.Shuffle4x128(r10, r14, 0x88); t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xDD); t13 = Avx512F.Shuffle4x128(r9, r13, 0xDD);
        t14 = Avx512F.Shuffle4x128(r10, r14, 0xDD); t15 = Avx512F.Shuffle4x128(r11, r15, 0xDD);
        Store(Avx512F.Shuffle4x128(t0, t8, 0x88), 0); Store(Avx512F.Shuffle4x128(t1, t9, 0x88), 1);
        Store(Avx512F.Shuffle4x128(t2, t10, 0x88), 2); Store(Avx512F.Shuffle4x128(t3, t11, 0x88), 3);
        Store(Avx512F.Shuffle4x128(t4, t12, 0x88), 4); Store(Avx512F.Shuffle4x128(t5, t13, 0x88), 5);
        Store(Avx512F.Shuffle4x128(t6, t14, 0x88), 6); Store(Avx512F.Shuffle4x128(t7, t15, 0x88), 7);
        Store(Avx512F.Shuffle4x128(t0, t8, 0xDD), 8); Store(Avx512F.Shuffle4x128(t1, t9, 0xDD), 9);
        Store(Avx512F.Shuffle4x128(t2, t10, 0xDD), 10); Store(Avx512F.Shuffle4x128(t3, t11, 0xDD), 11);
        Store(Avx512F.Shuffle4x128(t4, t12, 0xDD), 12); Store(Avx512F.Shuffle4x128(t5, t13, 0xDD), 13);
        Store(Avx512F.Shuffle4x128(t6, t14, 0xDD), 14); Store(Avx512F.Shuffle4x128(t7, t15, 0xDD), 15);

        void Store(Vector512<float> row, int i) { if (i < dstRows) Vector512.Store(row, dst + i * dstStride); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Keep(Vector512<float> s0, Vector512<float> s1, float* dst, int qs, bool two, ref Vector512<float> max0, ref Vector512<float> max1)
    {
        Vector512.Store(s0, dst);
        max0 = Vector512.Max(max0, s0);
        if (two) { Vector512.Store(s1, dst + 16); max1 = Vector512.Max(max1, s1); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Score(Vector512<float> s0, Vector512<float> s1, Vector512<float> scale, bool multiply, float mask, float* dst, int qs, bool two,
        ref Vector512<float> max0, ref Vector512<float> max1)
    {
        var mv = Vector512.Create(mask);
        var x0 = (multiply ? s0 * scale : s0) + mv;
        Vector512.Store(x0, dst);
        max0 = Vector512.Max(max0, x0);
        if (two)
        {
            var x1 = (multiply ? s1 * scale : s1) + mv;
            Vector512.Store(x1, dst + 16);
            max1 = Vector512.Max(max1, x1);
        }
    }

    /// <summary>
    /// e^x for x ≤ 0 (and -inf) as 2^t, t = x·log2(e) = n + f with |f| ≤ 1/2: a degree-5 fit of 2^f (relative
    /// error under 2e-7, exactly 1 at 0) scaled by vscalefps, which flushes to an exact 0 below the float range.
    /// Rounding t costs |x|·6e-8 relative, i.e. at most 2.2e-8 absolute on e^x ≤ 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Exp(Vector512<float> x)
    {
        var t = Vector512.Max(x * Vector512.Create(1.44269504088896341f), Vector512.Create(-160f));
        var n = Vector512.Round(t);
        var f = t - n;
        var q = Vector512.Create(1.3265067245811224e-3f);
        q = Avx512F.FusedMultiplyAdd(q, f, Vector512.Create(9.671509265899658e-3f));
        q = Avx512F.FusedMultiplyAdd(q, f, Vector512.Create(5.550732463598251e-2f));
        q = Avx512F.FusedMultiplyAdd(q, f, Vector512.Create(0.24022242426872253f));
        q = Avx512F.FusedMultiplyAdd(q, f, Vector512.Create(0.6931470036506653f));
        return Avx512F.Scale(Avx512F.FusedMultiplyAdd(q, f, Vector512<float>.One), n);
    }
}
