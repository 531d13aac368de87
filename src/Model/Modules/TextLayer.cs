using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary><c>text_model.encoder.layer.N</c>: post-LN self-attention then feed-forward.</summary>
public sealed class TextLayer : IDisposable
{
    public BridgeTowerAttention Attention { get; }
    public BridgeTowerFeedForward FeedForward { get; }

    internal TextLayer(WeightBinder w, string prefix, BridgeTowerTextConfig c)
    {
        var act = Activations.Parse(c.HiddenAct, "text_config.hidden_act");
        Attention = new BridgeTowerAttention(w, $"{prefix}.attention", c.HiddenSize, c.NumAttentionHeads, c.LayerNormEps);
        FeedForward = new BridgeTowerFeedForward(w, prefix, c.HiddenSize, c.IntermediateSize, act, c.LayerNormEps);
    }

    public Tensor Forward(Tensor x, Tensor? mask)
    {
        var attended = Attention.Forward(x, mask, null, false, out _);
        var y = FeedForward.Forward(attended);
        attended.Dispose();
        return y;
    }

    public void Dispose() { Attention.Dispose(); FeedForward.Dispose(); }
}

/// <summary>
/// <c>cross_modal_{text,image}_layers.K</c> (BridgeTowerBertCrossLayer, built from text_config):
/// self-attention over its own stream, cross-attention to the other stream's input to this layer,
/// feed-forward. Only the self-attention probabilities are returned, as in the reference.
/// </summary>
public sealed partial class CrossLayer : IDisposable
{
    public BridgeTowerAttention Attention { get; }
    public BridgeTowerAttention CrossAttention { get; }
    public BridgeTowerFeedForward FeedForward { get; }

    /// <param name="selfRoutes">absorbed routes of the self-attention (FewQueries where <see cref="ForwardCls"/> runs)</param>
    /// <param name="crossRoutes">absorbed routes of the cross-attention (text over image tokens: FewQueries; the reverse: FewKeys)</param>
    /// <param name="sharedInputRoute">may take <see cref="SharedInputCrossAndFeedForward"/>, its factors built on first use (a layer whose input may be one
    /// image's rows shared by many texts: the image stream's layer 0); needs <paramref name="crossRoutes"/> FewKeys</param>
    internal CrossLayer(WeightBinder w, string prefix, BridgeTowerTextConfig c, AbsorbedRoutes selfRoutes = AbsorbedRoutes.None,
        AbsorbedRoutes crossRoutes = AbsorbedRoutes.None, bool sharedInputRoute = false)
    {
        var act = Activations.Parse(c.HiddenAct, "text_config.hidden_act");
        Attention = new BridgeTowerAttention(w, $"{prefix}.attention", c.HiddenSize, c.NumAttentionHeads, c.LayerNormEps, selfRoutes);
        CrossAttention = new BridgeTowerAttention(w, $"{prefix}.crossattention", c.HiddenSize, c.NumAttentionHeads, c.LayerNormEps, crossRoutes);
        FeedForward = new BridgeTowerFeedForward(w, prefix, c.HiddenSize, c.IntermediateSize, act, c.LayerNormEps);
        _backend = w.Backend;
        _sharedInputRoute = sharedInputRoute && CrossAttention.FewKeysOutputBlocks is not null;
    }

    public Tensor Forward(Tensor x, Tensor other, Tensor? mask, Tensor? otherMask, bool wantProbabilities, out Tensor? selfProbabilities)
    {
        var attended = Attention.Forward(x, mask, null, wantProbabilities, out selfProbabilities);
        return CrossAndFeedForward(attended, other, otherMask);
    }

    /// <summary>
    /// <see cref="Forward"/> from the self-attention's output <paramref name="attended"/> (the caller's, kept): for an
    /// image stream whose self-attention does not depend on the text, computed once and reused by every text.
    /// </summary>
    public Tensor ForwardFromAttention(Tensor attended, Tensor other, Tensor? otherMask) =>
        CrossAndFeedForward(attended, other, otherMask, giveBackAttended: false);

    /// <summary>
    /// The CLS row (B, 1, H) of <see cref="Forward"/> alone: every sub-layer is row-wise except the
    /// self-attention's keys and values, which still come from all of <paramref name="x"/>. For a last
    /// layer whose only consumer is the pooler, this skips the other rows' work.
    /// </summary>
    public Tensor ForwardCls(Tensor x, Tensor other, Tensor? mask, Tensor? otherMask)
    {
        var cls = TensorOps.Cls(x); // a copy, or a view of x (whose Dispose does nothing)
        var attended = Attention.Forward(cls.Unsqueeze(1), mask, x, false, out _);
        cls.Dispose();
        return CrossAndFeedForward(attended, other, otherMask);
    }

    /// <summary>Cross-attention then feed-forward; <paramref name="attended"/> is given back when it is this layer's own temporary.</summary>
    private Tensor CrossAndFeedForward(Tensor attended, Tensor other, Tensor? otherMask, bool giveBackAttended = true)
    {
        if (SharedInputCrossAndFeedForward(attended, other, otherMask) is { } shared)
        {
            if (giveBackAttended) attended.Dispose();
            return shared;
        }
        var crossed = CrossAttention.Forward(attended, otherMask, other, false, out _);
        if (giveBackAttended) attended.Dispose();
        var y = FeedForward.Forward(crossed);
        crossed.Dispose();
        return y;
    }

    public void Dispose() { Attention.Dispose(); CrossAttention.Dispose(); FeedForward.Dispose(); }
}

/// <summary><c>cross_modal_{text,image}_pooler</c>: tanh(dense(x[:, 0])).</summary>
public sealed class Pooler(Linear dense) : IDisposable
{
    public Linear Dense { get; } = dense;

    public Tensor Forward(Tensor x)
    {
        using var cls = TensorOps.Cls(x);
        return Dense.Forward(cls, Kernels.Activation.Tanh);
    }

    public void Dispose() => Dense.Dispose();
}
