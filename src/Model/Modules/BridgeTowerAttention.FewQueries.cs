using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// Attention of a few queries over a long unmasked source (text tokens over 325 image tokens; a CLS query
/// over its own stream) without projecting the source into keys and values. Per head h, with q_h the
/// query's slice and W_h the rows of a projection:
///   q_h·(W_k,h x_j + b_k,h) = (W_k,hᵀ q_h)·x_j + q_h·b_k,h      (the last term is one constant per row: softmax drops it)
///   Σ_j p_j (W_v,h x_j + b_v,h) = W_v,h (Σ_j p_j x_j) + b_v,h   (the weights sum to 1)
/// so the queries move into the source's input space instead: H·Tq rows of width H_in against Tk source rows,
/// rather than two Tk×H_in·H_in projections. Used only where that is fewer FLOPs (see <see cref="FewQueriesIsCheaper"/>);
/// the result is the same attention up to fp32 summation order. <see cref="FewKeysDense"/> is the mirror image.
/// </summary>
public sealed partial class BridgeTowerAttention
{
    /// <summary>scale·W_k as (H, d, H_in), W_v as (H, d, H_in), b_v (H·d); null when not kept for this layer.</summary>
    private Tensor? _fewQueriesKey, _fewQueriesValue, _fewQueriesValueBias;

    private void KeepFewQueriesWeights(WeightBinder w, string prefix, int hidden)
    {
        int d = hidden / _heads;
        // scale = 1/√64 is a power of two for the hub configs, so folding it into W_k changes no bit.
        _fewQueriesKey = ScaledCopy(w.F32($"{prefix}.self.key.weight", hidden, hidden), _heads, d, hidden);
        _fewQueriesValue = w.F32($"{prefix}.self.value.weight", hidden, hidden).Reshape(_heads, d, hidden);
        _fewQueriesValueBias = w.F32($"{prefix}.self.value.bias", hidden);
    }

    /// <summary>_scale·<paramref name="t"/> as a new tensor of <paramref name="shape"/>: the routes fold the softmax scale into a weight.</summary>
    private Tensor ScaledCopy(Tensor t, params int[] shape)
    {
        var values = t.ToFloatArray();
        for (int i = 0; i < values.Length; i++) values[i] *= _scale;
        return Tensor.FromArray(values, shape);
    }

    /// <summary>
    /// FLOPs of the two ways for queries (Bq, Tq) over a source (Bs, Tk) of width H_in, the output batch B
    /// being the larger: projecting keys and values once per source row, or moving every query into the source's
    /// input space (a source shared by many query batches, as a cached image's layer-0 input, favours projecting).
    /// </summary>
    private bool FewQueriesIsCheaper(int bq, int tq, int bs, int tk, int batch, int hidden)
    {
        double projected = 2.0 * bs * tk * hidden * hidden + 2.0 * batch * tq * tk * hidden;
        double absorbed = 2.0 * bq * tq * hidden * hidden + 2.0 * batch * _heads * tq * tk * hidden;
        return absorbed < projected;
    }

    /// <summary>The attention context (B, Tq, H·d) by the absorbed route, or null where it does not apply or costs more.</summary>
    internal Tensor? FewQueriesContext(Tensor x, Tensor source, Tensor? mask, bool wantProbabilities, int batch)
    {
        if (_fewQueriesKey is null || mask is not null || wantProbabilities) return null;
        int bq = x.Dim(0), tq = x.Dim(1), bs = source.Dim(0), tk = source.Dim(1), hidden = x.Dim(2);
        if (!FewQueriesIsCheaper(bq, tq, bs, tk, batch, hidden)) return null;
        int h = _heads, d = hidden / h;
        using var temps = new Temporaries();

        // u[h, (b,t)] = scale·W_k,hᵀ q[b, t, h]: (H, Bq·Tq, H_in), regrouped per batch row as (Bq, Tq·H, H_in), row (t, h):
        // then every head's rows of the mixed sources below are evenly spaced, a strided view for the W_v product.
        var q = temps.Add(Query.Forward(x));
        var u = temps.Add(_backend.MatMul(q.Reshape(bq * tq, h, d).Permute(1, 0, 2), _fewQueriesKey));
        var uRows = temps.Add(u.Reshape(h, bq, tq, hidden).Permute(1, 2, 0, 3).Contiguous());
        if (bq == 1 && batch > 1) uRows = temps.Add(TensorOps.RepeatBatch(uRows, batch));

        // One source for every query batch: one 2-D product instead of repeating the source.
        Tensor mixed;
        if (bs == 1 && batch > 1)
        {
            var s = source.Select(0, 0);
            var p = temps.Add(_backend.Softmax(temps.Add(_backend.MatMul(uRows.Reshape(batch * h * tq, hidden), s, transposeB: true))));
            mixed = temps.Add(_backend.MatMul(p, s));
        }
        else
        {
            var uMat = uRows.Reshape(batch, tq * h, hidden);
            var p = temps.Add(_backend.Softmax(temps.Add(_backend.MatMul(uMat, source, transposeB: true)))); // (B, Tq·H, Tk)
            mixed = temps.Add(_backend.MatMul(p, source));                                                  // (B, Tq·H, H_in)
        }

        // context[b, t, h] = W_v,h mixed[b, t, h] + b_v,h: per head (H, B·Tq, H_in)·W_v,hᵀ (head h's rows H apart), back to (B, Tq, H·d).
        var perHead = mixed.Reshape(batch * tq, h, hidden).Permute(1, 0, 2);
        var perHeadContext = temps.Add(_backend.MatMul(perHead, _fewQueriesValue!, transposeB: true));
        var context = temps.Add(perHeadContext.Reshape(h, batch, tq, d).Permute(1, 2, 0, 3).Contiguous()).Reshape(batch, tq, hidden);
        return _backend.AddScaled(context, _fewQueriesValueBias!);
    }
}
