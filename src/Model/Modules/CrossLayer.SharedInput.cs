using BridgeTower.Kernels;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// A cross layer whose input a is one row set shared by B batches of the other stream (a cached image's layer 0 against
/// B texts; its self-attention is shared too). The cross-attention's output before its LayerNorm is then a + b_o + p·z,
/// the per-text part p·z of rank H·Tk (192 for 16-token texts) in width H_in (768), and the feed-forward's first product
/// can go through those factors instead of through all Tq rows of every text. With G = diag(γ)·W₁ᵀ (γ, β the
/// cross-attention's LayerNorm, W₁, b₁ intermediate.dense) and μ, r the LayerNorm statistics of each row:
///   LayerNorm(a + b_o + p·z)·W₁ᵀ + b₁ = r ∘ ((a + b_o)·G + p·(z·G) − μ·1ᵀG) + β·W₁ᵀ + b₁
/// and z·G = v·(W_o,h·G) per head h, so each text costs Tq·H·Tk + H·Tk·d products of width I instead of Tq·H_in, and
/// (a + b_o)·G is paid once. Exact algebra; fp32 sums in another order.
/// </summary>
public sealed partial class CrossLayer
{
    /// <summary>G (H_in, I); W_o,h·G per head (H, d, I); 1ᵀG and β·W₁ᵀ + b₁ (I).</summary>
    private sealed record SharedInputFactors(Tensor G, Tensor OutputG, Tensor ColumnSums, Tensor Bias);

    private readonly IBackend _backend;
    private readonly bool _sharedInputRoute;
    private readonly object _sharedInputGate = new();
    /// <summary>Built by the first call that takes the route (19 MB at base), so models that never share an image never pay for it.</summary>
    private SharedInputFactors? _sharedInput;

    /// <summary>
    /// The factors from the layer's prepared weights alone, through the backend: intermediate.dense applied to diag(γ)
    /// gives G + b₁ per row, to β gives β·W₁ᵀ + b₁, to a zero row b₁.
    /// </summary>
    private SharedInputFactors SharedInput()
    {
        if (Volatile.Read(ref _sharedInput) is { } built) return built;
        lock (_sharedInputGate)
        {
            if (_sharedInput is not null) return _sharedInput;
            var norm = CrossAttention.OutputLayerNorm;
            var blocks = CrossAttention.FewKeysOutputBlocks!;
            int hidden = norm.Weight.Dim(0), heads = blocks.Dim(0), d = blocks.Dim(1);
            var gamma = norm.Weight.ToFloatArray();
            var diagonal = new float[hidden * hidden];
            for (int k = 0; k < hidden; k++) diagonal[k * hidden + k] = gamma[k];
            using var temps = new Temporaries();
            var dense = FeedForward.IntermediateDense;
            var b1 = temps.Add(dense.Forward(Tensor.Zeros(1, hidden)));
            var g = temps.Add(_backend.AddScaled(temps.Add(dense.Forward(Tensor.FromArray(diagonal, hidden, hidden))), b1.Reshape(b1.Dim(1)), 1f, -1f));
            var bias = temps.Add(dense.Forward(norm.Bias.Reshape(1, hidden)));
            var columnSums = temps.Add(_backend.MatMul(Tensor.FromArray(Enumerable.Repeat(1f, hidden).ToArray(), 1, hidden), g));
            var outputG = temps.Add(_backend.MatMul(blocks.Reshape(heads * d, hidden), g));
            int inter = g.Dim(1);
            // Kept as plain arrays, not pool buffers: they live as long as the model, whatever pool a caller scopes.
            _sharedInput = new SharedInputFactors(Tensor.FromArray(g.ToFloatArray(), hidden, inter),
                Tensor.FromArray(outputG.ToFloatArray(), heads, d, inter),
                Tensor.FromArray(columnSums.ToFloatArray(), inter), Tensor.FromArray(bias.ToFloatArray(), inter));
            return _sharedInput;
        }
    }

    /// <summary>
    /// <see cref="CrossAndFeedForward"/> through the factors above, or null where it does not apply (attended not one
    /// shared row set, the cross-attention not on its shared-queries few-keys route) or costs more.
    /// </summary>
    internal Tensor? SharedInputCrossAndFeedForward(Tensor attended, Tensor other, Tensor? otherMask)
    {
        if (!_sharedInputRoute || attended.Dim(0) != 1 || other.Dim(0) <= 1) return null;
        int batch = other.Dim(0), tq = attended.Dim(1), hidden = attended.Dim(2), tk = other.Dim(1);
        var blocks = CrossAttention.FewKeysOutputBlocks!;
        int heads = blocks.Dim(0), d = blocks.Dim(1), inter = FeedForward.IntermediateDense.Weights.OutFeatures;
        // Per column of W₁ᵀ: (a + b_o)·G once, v·(W_o·G) and p·(z·G) per text, against Tq·H_in per text.
        double factored = (double)tq * hidden + (double)batch * heads * tk * d + (double)batch * tq * heads * tk;
        if (factored >= (double)batch * tq * hidden) return null;

        using var temps = new Temporaries();
        var parts = CrossAttention.SharedQueriesDenseWithFactors(temps, attended, other, otherMask);
        if (parts is null) return null;
        var (dense, factors) = parts.Value;
        temps.Add(dense);
        var shared = SharedInput();
        var a = attended.Select(0, 0);
        var crossed = temps.Add(CrossAttention.OutputLayerNorm.Forward(dense, a));

        var sharedPart = temps.Add(_backend.MatMul(temps.Add(_backend.AddScaled(a, CrossAttention.FewKeysOutputBias!)), shared.G));
        // The per-text tensors are up to B·Tq·I floats (64 MB at base, 16 texts): each goes back to the pool as soon as it
        // is read, so two are alive at a time (fresh ones would cost page faults on every call).
        Tensor perText;
        using (var perHead = _backend.MatMul(factors.Values, shared.OutputG))
        using (var zG = BridgeTowerAttention.PerSourceRowCopy(perHead, heads, batch, tk))
            perText = _backend.MatMul(factors.Probabilities, zG.Reshape(batch, heads * tk, inter));
        Tensor intermediate;
        using (perText)
            intermediate = _backend.LayerNormProjected(dense, a, CrossAttention.OutputLayerNorm.Eps, perText, sharedPart,
                shared.ColumnSums, shared.Bias, FeedForward.Activation);
        using (intermediate) return FeedForward.ForwardFromIntermediate(intermediate, crossed);
    }
}
