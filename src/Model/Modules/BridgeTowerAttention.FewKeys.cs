using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// Many queries over a few keys (325 image tokens cross-attending to a 16-token text) without projecting
/// the queries or the attention output. Per head h, with W_h the head's rows of W_q and columns of W_o:
///   scale·(W_q,h x_i + b_q,h)·k_j,h = x_i·(scale·W_q,hᵀ k_j,h) + scale·b_q,h·k_j,h   = x_i·g_j,h + c_j,h
///   output.dense(context)_i = Σ_h Σ_j p_ij,h (W_o,h v_j,h) + b_o                      = Σ_(h,j) p_ij,h z_j,h + b_o
/// so the keys and values move into the queries' space (H·Tk rows g and z of width H_in) and the 325 rows meet
/// them in two products of depth H·Tk instead of the W_q and W_o projections of every row. Returns what
/// output.dense returns (before the residual LayerNorm). Used only where that is fewer FLOPs; the result is the
/// same up to fp32 summation order (scale = 1/8 is folded into W_q exactly).
/// </summary>
public sealed partial class BridgeTowerAttention
{
    /// <summary>scale·W_q as (H, d, H_in), scale·b_q as (H, d, 1), W_o's column blocks as (H, d, H_out), b_o.</summary>
    private Tensor? _fewKeysQuery, _fewKeysQueryBias, _fewKeysOutput, _fewKeysOutputBias;

    private void KeepFewKeysWeights(WeightBinder w, string prefix, int hidden)
    {
        int d = hidden / _heads;
        _fewKeysQuery = ScaledCopy(w.F32($"{prefix}.self.query.weight", hidden, hidden), _heads, d, hidden);
        _fewKeysQueryBias = ScaledCopy(w.F32($"{prefix}.self.query.bias", hidden), _heads, d, 1);
        // W_o is (out, in): head h's block is columns [h·d, (h+1)·d), wanted as rows (d, out).
        _fewKeysOutput = w.F32($"{prefix}.output.dense.weight", hidden, hidden).Reshape(hidden, _heads, d).Permute(1, 2, 0).Contiguous();
        _fewKeysOutputBias = w.F32($"{prefix}.output.dense.bias", hidden);
    }

    private bool FewKeysIsCheaper(int bq, int tq, int bs, int tk, int batch, int hidden)
    {
        // Both ways project keys and values; they differ in the query and output projections and the attention.
        double projected = 2.0 * bq * tq * hidden * hidden + 4.0 * batch * tq * tk * hidden + 2.0 * batch * tq * hidden * hidden;
        double absorbed = 4.0 * bs * tk * hidden * hidden + 4.0 * batch * tq * _heads * tk * hidden;
        return absorbed < projected;
    }

    /// <summary>output.dense(attention) (B, Tq, H_out) by the few-keys route, or null where it does not apply or costs more.</summary>
    internal Tensor? FewKeysDense(Tensor x, Tensor source, Tensor? mask, bool wantProbabilities, int batch)
    {
        if (_fewKeysQuery is null || wantProbabilities) return null;
        int bq = x.Dim(0), tq = x.Dim(1), bs = source.Dim(0), tk = source.Dim(1), hidden = x.Dim(2);
        if (!FewKeysIsCheaper(bq, tq, bs, tk, batch, hidden)) return null;
        int h = _heads, d = hidden / h;
        using var temps = new Temporaries();
        if (bq == 1 && batch > 1) return SharedQueriesDenseWithFactors(temps, x, source, mask)?.Dense;
        var (keys, _, z) = KeysValuesAndZ(temps, source);
        // g and c alike.
        var k = keys.Reshape(bs * tk, h, d).Permute(1, 0, 2);
        var g = PerSourceRow(temps, temps.Add(_backend.MatMul(k, _fewKeysQuery!)), h, bs, tk);
        var c = PerSourceRow(temps, temps.Add(_backend.MatMul(k, _fewKeysQueryBias!)), h, bs, tk).Reshape(bs, h * tk);

        // scores (B, Tq, H·Tk) = x·gᵀ + c + mask, the constant terms laid out per query row (x has all B rows here:
        // a shared x took the route above).
        var products = temps.Add(bs == 1
            ? _backend.MatMul(x.Reshape(batch * tq, hidden), g.Select(0, 0), transposeB: true)
            : _backend.MatMul(x, g, transposeB: true)).Reshape(batch, tq, h * tk);
        var scores = temps.Add(_backend.AddScaled(products, temps.Add(TensorOps.ScoreOffsets(c, mask, batch, tq, h, tk))));
        var p = temps.Add(_backend.Softmax(scores.Reshape(batch, tq, h, tk))).Reshape(batch, tq, h * tk);
        var dense = temps.Add(bs == 1
            ? _backend.MatMul(p.Reshape(batch * tq, h * tk), z.Select(0, 0))
            : _backend.MatMul(p, z)).Reshape(batch, tq, hidden);
        return _backend.AddScaled(dense, _fewKeysOutputBias!);
    }

    /// <summary>Per head, keys and values of every source row ((H, Bs·Tk, d) views) and z regrouped per source batch row as (Bs, H·Tk, H_out), row (h, j).</summary>
    private (Tensor Keys, Tensor Values, Tensor Z) KeysValuesAndZ(Temporaries temps, Tensor source)
    {
        int bs = source.Dim(0), tk = source.Dim(1), hidden = source.Dim(2), h = _heads, d = hidden / h;
        var keys = temps.Add(Key.Forward(source));
        var v = temps.Add(Value.Forward(source)).Reshape(bs * tk, h, d).Permute(1, 0, 2);
        var z = PerSourceRow(temps, temps.Add(_backend.MatMul(v, _fewKeysOutput!)), h, bs, tk);
        return (keys, v, z);
    }

    /// <summary>
    /// The few-keys route for one query stream x (1, Tq, H_in) shared by B > 1 key batches, with its factors: output.dense
    /// = <see cref="SharedQueriesFactors.Probabilities"/>·<see cref="SharedQueriesFactors.Z"/> + b_o. Null where
    /// <see cref="FewKeysDense"/> would not take that route; the factors belong to <paramref name="temps"/>, the result to the caller.
    /// </summary>
    internal (Tensor Dense, SharedQueriesFactors Factors)? SharedQueriesDenseWithFactors(Temporaries temps, Tensor x, Tensor source, Tensor? mask)
    {
        int batch = source.Dim(0), tq = x.Dim(1), tk = source.Dim(1), hidden = x.Dim(2);
        if (_fewKeysQuery is null || x.Dim(0) != 1 || batch <= 1 || !FewKeysIsCheaper(1, tq, batch, tk, batch, hidden)) return null;
        var (keys, v, z) = KeysValuesAndZ(temps, source);
        var p = SharedQueriesProbabilities(temps, x.Select(0, 0), keys, mask, batch, tk);
        return (SharedQueriesDense(p, z), new SharedQueriesFactors(p, z, v));
    }

    /// <summary>b_o, the bias that <see cref="SharedQueriesDenseWithFactors"/>' product leaves out, and W_o's column blocks (H, d, H_out).</summary>
    internal Tensor? FewKeysOutputBias => _fewKeysOutputBias;
    internal Tensor? FewKeysOutputBlocks => _fewKeysOutput;

    /// <summary>
    /// One query stream (Tq, H_in) shared by B key batches (a cached image's layer-0 rows against B texts): its queries
    /// are projected once, so the scores are the projected route's q·kᵀ, (H, Tq, B·Tk) in one product per head, rather
    /// than B products x·gᵀ of depth H_in; only the output keeps the absorbed p·z (W_o would be B·Tq rows).
    /// Returns the probabilities per batch row, (B, Tq, H·Tk) with columns (h, j) as z's rows.
    /// </summary>
    private Tensor SharedQueriesProbabilities(Temporaries temps, Tensor x, Tensor keys, Tensor? mask, int batch, int tk)
    {
        int tq = x.Dim(0), hidden = x.Dim(1), h = _heads, d = hidden / h;
        var q = temps.Add(Query.Forward(x)).Reshape(tq, h, d).Permute(1, 0, 2);
        var products = temps.Add(_backend.MatMul(q, keys.Reshape(batch * tk, h, d).Permute(1, 0, 2), transposeB: true));
        // scale·q·k + mask (B·Tk) the same for every head and query row: a suffix of (H, Tq, B·Tk).
        Tensor offsets;
        if (mask is null) offsets = temps.Add(Tensor.RentZeroed(batch * tk));
        else if (!ReferenceEquals(offsets = TensorOps.RepeatBatch(mask, batch), mask)) temps.Add(offsets); // never the caller's tensor
        var scores = temps.Add(_backend.AddScaled(products, offsets.Reshape(batch * tk), _scale, 1f));
        var p = temps.Add(_backend.Softmax(scores.Reshape(h, tq, batch, tk)));
        return temps.Add(p.Permute(2, 1, 0, 3).Contiguous()).Reshape(batch, tq, h * tk);
    }

    private Tensor SharedQueriesDense(Tensor p, Tensor z)
    {
        using var dense = _backend.MatMul(p, z);
        return _backend.AddScaled(dense, _fewKeysOutputBias!);
    }

    /// <summary>(H, Bs·Tk, W) per-head rows to (Bs, H·Tk, W): each source batch row's heads one after another.</summary>
    private static Tensor PerSourceRow(Temporaries temps, Tensor perHead, int heads, int bs, int tk) =>
        temps.Add(PerSourceRowCopy(perHead, heads, bs, tk)).Reshape(bs, heads * tk, perHead.Dim(2));

    /// <summary>The copy behind <see cref="PerSourceRow"/>, (Bs, H, Tk, W), for a caller that gives it back itself.</summary>
    internal static Tensor PerSourceRowCopy(Tensor perHead, int heads, int bs, int tk) =>
        perHead.Reshape(heads, bs, tk, perHead.Dim(2)).Permute(1, 0, 2, 3).Contiguous();
}

/// <summary>
/// output.dense of a shared query stream's few-keys attention as factors, output.dense = p·z + b_o: p (B, Tq, H·Tk) the
/// probabilities with columns (h, j), z (B, H·Tk, H_out) the rows W_o,h·v_j,h, values (H, B·Tk, d) the v_j,h per head.
/// </summary>
internal sealed record SharedQueriesFactors(Tensor Probabilities, Tensor Z, Tensor Values);
