using BridgeTower.Tensors;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// The fp32 CPU backend: packed, register-blocked SIMD GEMM with fused epilogues, fused
/// online-softmax attention and vectorised row kernels, all sharing one persistent worker pool.
/// The instruction set (AVX2+FMA, 128-bit, scalar) is chosen at run time; tests may lower it.
/// </summary>
public sealed unsafe class CpuBackend : IBackend
{
    private readonly WorkerPool _pool;

    public string Name => $"cpu ({Simd}, {Threads} threads)";
    public int Threads => _pool.Threads;
    public SimdLevel Simd { get; }

    /// <param name="threads">Worker count including the caller; 0 or less means Environment.ProcessorCount.</param>
    /// <param name="simd">Highest instruction set to use (clamped to the hardware); null means the best available.</param>
    public CpuBackend(int threads = 0, SimdLevel? simd = null)
    {
        _pool = new WorkerPool(threads > 0 ? threads : Environment.ProcessorCount);
        Simd = SimdSupport.Clamp(simd ?? SimdSupport.Detected);
    }

    public LinearWeights PrepareLinear(Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2) throw new ArgumentException($"weight: expected rank 2 (out, in), got {weight.ShapeString}", nameof(weight));
        bias?.EnsureShape("bias", weight.Dim(0));
        return new PackedLinear(_pool, GemmBlocking.For(Simd), weight, bias);
    }

    public Tensor Linear(Tensor x, LinearWeights weights, Activation activation = Activation.None, Tensor? residual = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var w = Packed(weights, x);
        var outShape = OutShape(x, w);
        residual?.EnsureShape("residual", outShape);
        return RunLinear(x, w, outShape, activation, residual, 0, null, null, 0);
    }

    public Tensor LinearLayerNorm(Tensor x, LinearWeights weights, Tensor? residual, Tensor gamma, Tensor beta, float eps)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(gamma);
        ArgumentNullException.ThrowIfNull(beta);
        var w = Packed(weights, x);
        var outShape = OutShape(x, w);
        gamma.EnsureShape("gamma", w.OutFeatures);
        beta.EnsureShape("beta", w.OutFeatures);
        int residualRows = residual is null ? 0 : SuffixRows(outShape, "y", residual, w.OutFeatures);
        return RunLinear(x, w, outShape, Activation.None, residual, residualRows, gamma, beta, eps);
    }

    private PackedLinear Packed(LinearWeights weights, Tensor x)
    {
        if (weights is not PackedLinear w)
            throw new ArgumentException($"weights: prepared by another backend ({weights?.GetType().Name ?? "null"}); call this backend's PrepareLinear", nameof(weights));
        if (w.Blocking != GemmBlocking.For(Simd))
            throw new ArgumentException($"weights: packed for another SIMD level's GEMM layout; call this backend's PrepareLinear", nameof(weights));
        if (x.Rank < 1 || x.Dim(-1) != w.InFeatures)
            throw new ArgumentException($"x: expected last dimension {w.InFeatures}, got shape {x.ShapeString}", nameof(x));
        return w;
    }

    private static int[] OutShape(Tensor x, PackedLinear w)
    {
        var outShape = x.ShapeArray();
        outShape[^1] = w.OutFeatures;
        return outShape;
    }

    /// <summary>
    /// The GEMM x·Wᵀ with its epilogue (bias, activation, residual of y's shape) or, given gamma, bias then a row LayerNorm of
    /// the sum with the residual (of residualRows rows, repeated).
    /// </summary>
    private Tensor RunLinear(Tensor x, PackedLinear w, int[] outShape, Activation activation, Tensor? residual, int residualRows,
        Tensor? gamma, Tensor? beta, float eps)
    {
        var xs = x.ToF32();
        var rs = residual?.ToF32();
        var g = gamma?.ToF32(); var bt = beta?.ToF32();
        // Written in full by the GEMM (its first K block stores, later ones accumulate; K = 0 clears).
        var y = Tensor.Rent(outShape);
        int rows = checked((int)(x.ElementCount / Math.Max(1, w.InFeatures)));
        if (w.InFeatures == 0) rows = checked((int)(y.ElementCount / Math.Max(1, w.OutFeatures)));
        float* rp = rs is null ? null : (float*)rs.DataPointer;
        var epilogue = new GemmEpilogue(w.Bias, activation, g is null ? rp : null, w.OutFeatures);
        var norm = g is null ? default : new GemmRowLayerNorm((float*)g.DataPointer, (float*)bt!.DataPointer, eps, rp, residualRows);
        Gemm.Run(_pool, Simd, 1, rows, w.OutFeatures, w.InFeatures,
            (float*)xs.DataPointer, 0, w.InFeatures, 1, w.Packed, 0, (float*)y.DataPointer, 0, w.OutFeatures, epilogue, rowNorm: norm);
        GC.KeepAlive(w);
        GC.KeepAlive(xs);
        GC.KeepAlive(rs);
        GC.KeepAlive(g); GC.KeepAlive(bt);
        GC.KeepAlive(y.Storage);
        xs.DisposeIfCopyOf(x);
        rs?.DisposeIfCopyOf(residual!);
        g?.DisposeIfCopyOf(gamma!); bt?.DisposeIfCopyOf(beta!);
        return y;
    }

    /// <summary>Up to this many rows of A, MatMul reads a row-major B in place instead of packing it (packing would cost about as much as the product).</summary>
    internal const int InPlaceBMaxRows = 32;

    public Tensor MatMul(Tensor a, Tensor b, bool transposeB = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        bool batched = a.Rank == 3;
        if (a.Rank != b.Rank || (a.Rank != 2 && a.Rank != 3))
            throw new ArgumentException($"matmul: operands must both be rank 2 or 3, got {a.ShapeString} and {b.ShapeString}");
        var a3 = AsF32(batched ? a : a.Unsqueeze(0));
        var bConverted = AsF32(batched ? b : b.Unsqueeze(0));
        var b3 = transposeB ? bConverted.Transpose(1, 2) : bConverted;
        int bt = a3.Dim(0), m = a3.Dim(1), k = a3.Dim(2), n = b3.Dim(2);
        if (b3.Dim(0) != bt || b3.Dim(1) != k)
            throw new ArgumentException($"matmul: shapes {a.ShapeString} and {b.ShapeString}{(transposeB ? "ᵀ" : "")} do not chain");
        // Rented in the result's own shape so the caller gets the owning tensor, not a view of it.
        var y = batched ? Tensor.Rent(bt, m, n) : Tensor.Rent(m, n);
        if (bt > 0 && m > 0 && n > 0 && k > 0)
        {
            var bs = b3.Strides;
            float* bp = (float*)b3.DataPointer;
            var st = a3.Strides;
            if (m <= InPlaceBMaxRows && bs[2] == 1 && bs[1] > 0)
                Gemm.Run(_pool, Simd, bt, m, n, k, (float*)a3.DataPointer, st[0], st[1], st[2],
                    bp, bs[0], (float*)y.DataPointer, (long)m * n, n, default, bRowStride: bs[1]);
            else
            {
                Gemm.RunPackingB(_pool, Simd, bt, m, n, k, (float*)a3.DataPointer, st[0], st[1], st[2],
                    bp, bs[0], bs[1], bs[2], (float*)y.DataPointer, (long)m * n, n, default);
            }
        }
        GC.KeepAlive(a3);
        GC.KeepAlive(b3);
        GC.KeepAlive(y.Storage);
        if (a.DType != DType.F32) a3.Dispose(); // conversions made here
        if (b.DType != DType.F32) bConverted.Dispose();
        return y;
    }

    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? additiveKeyMask,
        bool returnProbabilities, out Tensor? probabilities)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3)
            throw new ArgumentException($"attention: q, k, v must be rank 3, got {q.ShapeString}, {k.ShapeString}, {v.ShapeString}");
        if (heads <= 0) throw new ArgumentOutOfRangeException(nameof(heads), heads, "attention needs at least one head");
        int b = q.Dim(0), tq = q.Dim(1), hd = q.Dim(2), tk = k.Dim(1);
        if (hd % heads != 0) throw new ArgumentException($"attention: width {hd} of q {q.ShapeString} is not divisible by {heads} heads");
        k.EnsureShape("k", b, tk, hd);
        v.EnsureShape("v", b, tk, hd);
        additiveKeyMask?.EnsureShape("additiveKeyMask", b, tk);
        if (tk == 0 && tq > 0) throw new ArgumentException($"attention: k {k.ShapeString} has no keys to attend to", nameof(k));
        var qf = UnitLastStride(q); var kf = UnitLastStride(k); var vf = UnitLastStride(v);
        var mask = additiveKeyMask?.ToF32();
        // Both written in full: every (query, head) row of the output and every probability row.
        var output = Tensor.Rent(b, tq, hd);
        probabilities = returnProbabilities ? Tensor.Rent(b, heads, tq, tk) : null;
        AttentionKernel.Run(_pool, Simd, new AttentionKernel.Args
        {
            Batch = b, Heads = heads, Tq = tq, Tk = tk, D = hd / heads, Scale = scale,
            Q = (nint)qf.DataPointer, QBatch = qf.Strides[0], QRow = qf.Strides[1],
            K = (nint)kf.DataPointer, KBatch = kf.Strides[0], KRow = kf.Strides[1],
            V = (nint)vf.DataPointer, VBatch = vf.Strides[0], VRow = vf.Strides[1],
            Mask = mask is null ? 0 : (nint)mask.DataPointer,
            Output = (nint)output.DataPointer,
            Probabilities = probabilities is null ? 0 : (nint)probabilities.DataPointer,
        });
        GC.KeepAlive(qf); GC.KeepAlive(kf); GC.KeepAlive(vf); GC.KeepAlive(mask);
        // Without this, background GC has been seen to free the output's pinned array mid-kernel
        // (AccessViolation writing output; gone with DOTNET_gcConcurrent=0). Every op keeps its output storage alive explicitly.
        GC.KeepAlive(output.Storage); GC.KeepAlive(probabilities?.Storage);
        qf.DisposeIfCopyOf(q); kf.DisposeIfCopyOf(k); vf.DisposeIfCopyOf(v); mask?.DisposeIfCopyOf(additiveKeyMask!);
        return output;
    }

    public Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor? residual = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 1) throw new ArgumentException($"x: LayerNorm needs rank >= 1, got {x.ShapeString}", nameof(x));
        int n = x.Dim(-1);
        gamma.EnsureShape("gamma", n);
        beta.EnsureShape("beta", n);
        int residualRows = residual is null ? 0 : SuffixRows(x, residual, n);
        var xs = x.ToF32(); var rs = residual?.ToF32(); var g = gamma.ToF32(); var bt = beta.ToF32();
        var y = Tensor.Rent(x.ShapeArray());
        float* xp = (float*)xs.DataPointer, rp = rs is null ? null : (float*)rs.DataPointer;
        float* yp = (float*)y.DataPointer, gp = (float*)g.DataPointer, bp = (float*)bt.DataPointer;
        nint xi = (nint)xp, ri = (nint)rp, yi = (nint)yp, gi = (nint)gp, bi = (nint)bp;
        var simd = Simd;
        int rows = Rows(y, n);
        if (ri == 0 || residualRows == rows)
            RowParallel.Run(_pool, rows, n, (r0, r1) =>
                LayerNormKernel.Rows((float*)xi, (float*)ri, (float*)yi, (float*)gi, (float*)bi, n, eps, r0, r1, simd));
        else
            RowParallel.Run(_pool, rows, n, (r0, r1) =>
            {
                // Row r reads residual row r mod R: each stretch within one repetition gets the residual shifted back to it.
                for (int s0 = r0; s0 < r1;)
                {
                    int rep = s0 / residualRows, s1 = Math.Min(r1, (rep + 1) * residualRows);
                    float* shifted = (float*)ri - (long)rep * residualRows * n;
                    LayerNormKernel.Rows((float*)xi, shifted, (float*)yi, (float*)gi, (float*)bi, n, eps, s0, s1, simd);
                    s0 = s1;
                }
            });
        GC.KeepAlive(xs); GC.KeepAlive(rs); GC.KeepAlive(g); GC.KeepAlive(bt); GC.KeepAlive(y.Storage);
        xs.DisposeIfCopyOf(x); rs?.DisposeIfCopyOf(residual!); g.DisposeIfCopyOf(gamma); bt.DisposeIfCopyOf(beta);
        return y;
    }

    public Tensor LayerNormProjected(Tensor x, Tensor? residual, float eps, Tensor projected, Tensor? projectedShared,
        Tensor columnSums, Tensor bias, Activation activation)
    {
        var shape = LayerNormProjectedShapes.Check(x, residual, projected, projectedShared, columnSums, bias);
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        int n = x.Dim(-1), m = projected.Dim(-1);
        var xs = x.ToF32(); var rs = residual?.ToF32(); var ps = projected.ToF32(); var ss = projectedShared?.ToF32();
        var us = columnSums.ToF32(); var cs = bias.ToF32();
        var y = Tensor.Rent(shape);
        int rows = Rows(y, m);
        int residualRows = rs is null ? 1 : Math.Max(1, Rows(rs, n)), sharedRows = ss is null ? 1 : Math.Max(1, Rows(ss, m));
        nint xi = Pointer(xs), ri = Pointer(rs), pi = Pointer(ps), si = Pointer(ss), ui = Pointer(us), ci = Pointer(cs), yi = Pointer(y);
        var simd = Simd;
        RowParallel.Run(_pool, rows, n + m, (r0, r1) => LayerNormProjectedKernel.Rows(activation, (float*)xi, (float*)ri, residualRows,
            (float*)pi, (float*)si, sharedRows, (float*)ui, (float*)ci, (float*)yi, n, m, eps, r0, r1, simd));
        GC.KeepAlive(xs); GC.KeepAlive(rs); GC.KeepAlive(ps); GC.KeepAlive(ss); GC.KeepAlive(us); GC.KeepAlive(cs); GC.KeepAlive(y.Storage);
        xs.DisposeIfCopyOf(x); rs?.DisposeIfCopyOf(residual!); ps.DisposeIfCopyOf(projected); ss?.DisposeIfCopyOf(projectedShared!);
        us.DisposeIfCopyOf(columnSums); cs.DisposeIfCopyOf(bias);
        return y;
    }

    private static nint Pointer(Tensor? t) => t is null ? 0 : (nint)t.DataPointer;

    public Tensor Activate(Tensor x, Activation activation)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        var y = x.ToF32();
        if (ReferenceEquals(y, x)) y = x.Copy(); // a conversion already is a private copy
        int n = x.Rank == 0 ? 1 : Math.Max(1, x.Dim(-1));
        nint yi = (nint)y.DataPointer;
        var simd = Simd;
        RowParallel.Run(_pool, Rows(y, n), n, (r0, r1) =>
            VectorMath.Apply((float*)yi + (long)r0 * n, (r1 - r0) * n, activation, simd));
        GC.KeepAlive(y.Storage);
        return y;
    }

    public Tensor Softmax(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 1) throw new ArgumentException($"x: softmax needs rank >= 1, got {x.ShapeString}", nameof(x));
        var xs = x.ToF32();
        var y = Tensor.Rent(x.ShapeArray());
        int n = x.Dim(-1);
        nint xi = (nint)xs.DataPointer, yi = (nint)y.DataPointer;
        var simd = Simd;
        RowParallel.Run(_pool, Rows(y, n), n, (r0, r1) => SoftmaxKernel.Rows((float*)xi, (float*)yi, n, r0, r1, simd));
        GC.KeepAlive(xs); GC.KeepAlive(y.Storage);
        xs.DisposeIfCopyOf(x);
        return y;
    }

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 1) throw new ArgumentException($"x: L2Normalize needs rank >= 1, got {x.ShapeString}", nameof(x));
        var xs = x.ToF32();
        var y = Tensor.Rent(x.ShapeArray());
        int n = x.Dim(-1);
        nint xi = (nint)xs.DataPointer, yi = (nint)y.DataPointer;
        var simd = Simd;
        RowParallel.Run(_pool, Rows(y, n), n, (r0, r1) => L2NormalizeKernel.Rows((float*)xi, (float*)yi, n, eps, r0, r1, simd));
        GC.KeepAlive(xs); GC.KeepAlive(y.Storage);
        xs.DisposeIfCopyOf(x);
        return y;
    }

    public Tensor AddScaled(Tensor a, Tensor b, float alpha = 1f, float beta = 1f)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ShapeChecks.EnsureSuffix(b, nameof(b), a.Shape, nameof(a), allowScalar: true);
        var af = a.ToF32(); var bf = b.ToF32();
        var y = Tensor.Rent(a.ShapeArray());
        long total = y.ElementCount;
        if (total == 0) { af.DisposeIfCopyOf(a); bf.DisposeIfCopyOf(b); return y; }
        long bLen = bf.ElementCount;
        // Same shape: rows of a's last dimension, b advancing with a. Suffix: rows of b's length, b repeating.
        int n = bLen == total ? Math.Max(1, a.Rank == 0 ? 1 : a.Dim(-1)) : checked((int)bLen);
        long bStride = bLen == total ? n : 0;
        nint ai = (nint)af.DataPointer, bi = (nint)bf.DataPointer, yi = (nint)y.DataPointer;
        var simd = Simd;
        RowParallel.Run(_pool, checked((int)(total / n)), n, (r0, r1) =>
            AddScaledKernel.Rows((float*)ai, (float*)bi, bStride, (float*)yi, n, alpha, beta, r0, r1, simd));
        GC.KeepAlive(af); GC.KeepAlive(bf); GC.KeepAlive(y.Storage);
        af.DisposeIfCopyOf(a); bf.DisposeIfCopyOf(b);
        return y;
    }

    public Tensor Embedding(Tensor table, Tensor ids) => EmbeddingKernel.Gather(table, ids);

    public void Dispose() => _pool.Dispose();

    /// <summary>Rows of last-dimension width n in <paramref name="residual"/>, whose shape must equal x's or be a suffix of it.</summary>
    private static int SuffixRows(Tensor x, Tensor residual, int n) => SuffixRows(x.ShapeArray(), "x", residual, n);

    private static int SuffixRows(int[] shape, string shapeName, Tensor residual, int n)
    {
        ShapeChecks.EnsureSuffix(residual, nameof(residual), shape, shapeName);
        return Rows(residual, n);
    }

    private static int Rows(Tensor y, int n) => n == 0 ? 0 : checked((int)(y.ElementCount / n));

    private static Tensor AsF32(Tensor t) => t.DType == DType.F32 ? t : t.ToF32();

    /// <summary>An F32 view with unit stride in the last dimension (copied only when it is not).</summary>
    private static Tensor UnitLastStride(Tensor t)
    {
        if (t.DType != DType.F32) return t.ToF32();
        return t.Strides[^1] == 1 || t.Dim(-1) <= 1 ? t : t.Contiguous();
    }
}
