using BridgeTower.Kernels;
using BridgeTower.Model.Weights;
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
    /// <summary>G (H_in, I); W_o,h·G per head (H, d, I); 1ᵀG and β·W₁ᵀ + b₁ (I); null when not kept for this layer.</summary>
    private Tensor? _sharedG, _sharedOutputG, _sharedColumnSums, _sharedBias;
    private IBackend? _backend;

    private void KeepSharedInputWeights(WeightBinder w, string prefix)
    {
        var blocks = CrossAttention.FewKeysOutputBlocks
            ?? throw new InvalidOperationException($"{prefix}: the shared-input route needs the cross-attention's few-keys route");
        var gamma = CrossAttention.OutputLayerNorm.Weight.ToFloatArray();
        var beta = CrossAttention.OutputLayerNorm.Bias.ToFloatArray();
        int hidden = gamma.Length, inter = FeedForward.IntermediateDense.Weights.OutFeatures;
        var w1 = w.F32($"{prefix}.intermediate.dense.weight", inter, hidden).ToFloatArray(); // (I, H_in)
        var b1 = w.F32($"{prefix}.intermediate.dense.bias", inter).ToFloatArray();
        var g = new float[hidden * inter];
        var columnSums = new float[inter];
        var bias = new float[inter];
        for (int n = 0; n < inter; n++)
        {
            double sum = 0, shift = b1[n];
            for (int k = 0; k < hidden; k++)
            {
                float gk = gamma[k] * w1[n * hidden + k];
                g[k * inter + n] = gk;
                sum += gk;
                shift += (double)beta[k] * w1[n * hidden + k];
            }
            columnSums[n] = (float)sum;
            bias[n] = (float)shift;
        }
        _backend = w.Backend;
        _sharedG = Tensor.FromArray(g, hidden, inter);
        _sharedColumnSums = Tensor.FromArray(columnSums, inter);
        _sharedBias = Tensor.FromArray(bias, inter);
        int heads = blocks.Dim(0), d = blocks.Dim(1);
        using var outputG = w.Backend.MatMul(blocks.Reshape(heads * d, hidden), _sharedG);
        _sharedOutputG = Tensor.FromArray(outputG.ToFloatArray(), heads, d, inter);
    }

    /// <summary>
    /// <see cref="CrossAndFeedForward"/> through the factors above, or null where it does not apply (attended not one
    /// shared row set, the cross-attention not on its shared-queries few-keys route) or costs more.
    /// </summary>
    internal Tensor? SharedInputCrossAndFeedForward(Tensor attended, Tensor other, Tensor? otherMask)
    {
        if (_sharedG is null || attended.Dim(0) != 1 || other.Dim(0) <= 1) return null;
        int batch = other.Dim(0), tq = attended.Dim(1), hidden = attended.Dim(2), tk = other.Dim(1);
        int heads = _sharedOutputG!.Dim(0), d = _sharedOutputG.Dim(1), inter = _sharedG.Dim(1);
        // Per column of W₁ᵀ: (a + b_o)·G once, v·(W_o·G) and p·(z·G) per text, against Tq·H_in per text.
        double shared = (double)tq * hidden + (double)batch * heads * tk * d + (double)batch * tq * heads * tk;
        if (shared >= (double)batch * tq * hidden) return null;

        var backend = _backend!;
        using var temps = new Temporaries();
        var parts = CrossAttention.SharedQueriesDenseWithFactors(temps, attended, other, otherMask);
        if (parts is null) return null;
        var (dense, factors) = parts.Value;
        temps.Add(dense);
        var a = attended.Select(0, 0);
        var crossed = temps.Add(CrossAttention.OutputLayerNorm.Forward(dense, a));

        var sharedPart = temps.Add(backend.MatMul(temps.Add(backend.AddScaled(a, CrossAttention.FewKeysOutputBias!)), _sharedG));
        // The per-text tensors are up to B·Tq·I floats (64 MB at base, 16 texts): each goes back to the pool as soon as it
        // is read, so two are alive at a time (fresh ones would cost page faults on every call).
        Tensor perText;
        using (var perHead = backend.MatMul(factors.Values, _sharedOutputG))
        using (var zG = perHead.Reshape(heads, batch, tk, inter).Permute(1, 0, 2, 3).Contiguous())
            perText = backend.MatMul(factors.Probabilities, zG.Reshape(batch, heads * tk, inter));
        Tensor intermediate;
        using (perText)
            intermediate = backend.LayerNormProjected(dense, a, CrossAttention.OutputLayerNorm.Eps, perText, sharedPart,
                _sharedColumnSums!, _sharedBias!, FeedForward.Activation);
        using (intermediate) return FeedForward.ForwardFromIntermediate(intermediate, crossed);
    }
}
