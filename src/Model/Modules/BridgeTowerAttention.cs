using BridgeTower.Kernels;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// BERT attention block (<c>attention</c> or <c>crossattention</c>): <c>self.{query,key,value}</c>,
/// softmax(q·kᵀ/√d + mask)·v, then <c>output.dense</c> and LayerNorm(x + ·) (post-LN). With an
/// encoder stream, keys and values come from it and its mask applies (cross-attention).
/// </summary>
public sealed partial class BridgeTowerAttention : IDisposable
{
    private readonly IBackend _backend;
    private readonly int _heads;
    private readonly float _scale;
    public Linear Query { get; }
    public Linear Key { get; }
    public Linear Value { get; }
    public Linear OutputDense { get; }
    public LayerNorm OutputLayerNorm { get; }

    /// <param name="routes">the absorbed routes this attention may take (each keeps two projections unpacked too)</param>
    internal BridgeTowerAttention(WeightBinder w, string prefix, int hidden, int heads, double eps, AbsorbedRoutes routes = AbsorbedRoutes.None)
    {
        _backend = w.Backend;
        _heads = heads;
        _scale = (float)(1.0 / Math.Sqrt(hidden / heads));
        Query = w.Linear($"{prefix}.self.query", hidden, hidden);
        Key = w.Linear($"{prefix}.self.key", hidden, hidden);
        Value = w.Linear($"{prefix}.self.value", hidden, hidden);
        OutputDense = w.Linear($"{prefix}.output.dense", hidden, hidden);
        OutputLayerNorm = w.LayerNorm($"{prefix}.output.LayerNorm", hidden, eps);
        if (routes.HasFlag(AbsorbedRoutes.FewQueries)) KeepFewQueriesWeights(w, prefix, hidden);
        if (routes.HasFlag(AbsorbedRoutes.FewKeys)) KeepFewKeysWeights(w, prefix, hidden);
    }

    /// <param name="mask">additive key mask (B, Tk) of the attended stream, or null for all-visible</param>
    /// <param name="encoder">the stream to cross-attend to. Either stream may have batch 1 against the other's B
    /// (one cached image against B texts): its projections are computed once and shared by every row.</param>
    public Tensor Forward(Tensor x, Tensor? mask, Tensor? encoder, bool wantProbabilities, out Tensor? probabilities)
    {
        var source = encoder ?? x;
        int batch = Math.Max(x.Dim(0), source.Dim(0));
        probabilities = null;
        // A batch-1 x against B rows of the other stream is the residual of every row: the LayerNorm repeats it.
        var residual = x.Dim(0) == batch ? x : x.Select(0, 0);
        var dense = FewKeysDense(x, source, mask, wantProbabilities, batch);
        if (dense is null)
        {
            var context = FewQueriesContext(x, source, mask, wantProbabilities, batch)
                ?? ProjectedContext(x, source, mask, wantProbabilities, batch, out probabilities);
            var projected = OutputDense.ForwardLayerNorm(context, residual, OutputLayerNorm);
            context.Dispose();
            return projected;
        }
        var y = OutputLayerNorm.Forward(dense, residual);
        dense.Dispose();
        return y;
    }

    internal Tensor ProjectedContext(Tensor x, Tensor source, Tensor? mask, bool wantProbabilities, int batch, out Tensor? probabilities)
    {
        var q = Query.Forward(x);
        var k = Key.Forward(source);
        var v = Value.Forward(source);
        // A batch-1 projection serves every batch through a stride-0 view (the kernel reads each batch by its stride).
        var context = _backend.Attention(TensorOps.BroadcastBatch(q, batch), TensorOps.BroadcastBatch(k, batch),
            TensorOps.BroadcastBatch(v, batch), _heads, _scale, mask, wantProbabilities, out probabilities);
        q.Dispose(); k.Dispose(); v.Dispose();
        return context;
    }

    public void Dispose()
    {
        Query.Dispose(); Key.Dispose(); Value.Dispose(); OutputDense.Dispose();
    }
}

/// <summary>BERT feed-forward: <c>intermediate.dense</c> + activation, <c>output.dense</c>, LayerNorm(x + ·).</summary>
public sealed class BridgeTowerFeedForward : IDisposable
{
    private readonly Activation _activation;
    public Linear IntermediateDense { get; }
    public Linear OutputDense { get; }
    public LayerNorm OutputLayerNorm { get; }

    internal BridgeTowerFeedForward(WeightBinder w, string prefix, int hidden, int intermediate, Activation activation, double eps)
    {
        _activation = activation;
        IntermediateDense = w.Linear($"{prefix}.intermediate.dense", hidden, intermediate);
        OutputDense = w.Linear($"{prefix}.output.dense", intermediate, hidden);
        OutputLayerNorm = w.LayerNorm($"{prefix}.output.LayerNorm", hidden, eps);
    }

    internal Activation Activation => _activation;

    public Tensor Forward(Tensor x)
    {
        var intermediate = IntermediateDense.Forward(x, _activation);
        var y = ForwardFromIntermediate(intermediate, x);
        intermediate.Dispose();
        return y;
    }

    /// <summary>The block after intermediate.dense and its activation: output.dense then LayerNorm(· + <paramref name="x"/>).</summary>
    internal Tensor ForwardFromIntermediate(Tensor intermediate, Tensor x) => OutputDense.ForwardLayerNorm(intermediate, x, OutputLayerNorm);

    public void Dispose()
    {
        IntermediateDense.Dispose(); OutputDense.Dispose();
    }
}

/// <summary>
/// Ways an attention may skip projections when one side is short (see BridgeTowerAttention.FewQueries.cs and
/// BridgeTowerAttention.FewKeys.cs); each is taken only where it costs fewer FLOPs than projecting.
/// </summary>
[Flags]
internal enum AbsorbedRoutes
{
    None = 0,
    /// <summary>Few queries over a long unmasked source: W_k and W_v move to the query side.</summary>
    FewQueries = 1,
    /// <summary>Many queries over a few keys: W_q and W_o move to the key side.</summary>
    FewKeys = 2,
}
