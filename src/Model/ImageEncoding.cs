using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>
/// What the cross-modal layers need from the vision tower, computed once per image batch
/// (<see cref="BridgeTowerModel.EncodeImage"/>) and reusable with any number of texts: the image
/// stream's bridge inputs cross_modal_image_transform(ln_post(v_i)) + token_type[idx] for each
/// cross-modal layer, plus the last block's output for the contrastive image embedding.
/// </summary>
/// Disposing it gives its tensors back to the activation arena (optional: an undisposed encoding is
/// collected by the GC); the model never disposes an encoding the caller passed in.
public sealed class ImageEncoding : IDisposable
{
    /// <summary>The caller's image_embeds when they were used as they are (the first hidden state, or the last block output if no block ran): never disposed here.</summary>
    private readonly Tensor? _borrowed;

    internal ImageEncoding(IReadOnlyList<Tensor> bridgeInputs, Tensor lastBlockOutput, int imageTokenTypeIdx,
        IReadOnlyList<Tensor>? hiddenStates, Tensor? borrowed = null)
    {
        BridgeInputs = bridgeInputs;
        LastBlockOutput = lastBlockOutput;
        ImageTokenTypeIdx = imageTokenTypeIdx;
        HiddenStates = hiddenStates;
        _borrowed = borrowed;
    }

    /// <summary>One (B, L, H) tensor per cross-modal layer (before the layer-0 LayerNorm / the link tower).</summary>
    public IReadOnlyList<Tensor> BridgeInputs { get; }
    /// <summary>(B, L, Hv) output of the last vision block that runs (batch-first).</summary>
    public Tensor LastBlockOutput { get; }
    public int ImageTokenTypeIdx { get; }
    /// <summary>Vision hidden states, batch-first (B, L, Hv), when asked for at encoding time.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; }
    public int BatchSize => LastBlockOutput.Dim(0);
    public int SequenceLength => LastBlockOutput.Dim(1);

    /// <summary>Gives back the bridge inputs, the last block output and the hidden states; reading them afterwards throws.</summary>
    public void Dispose() => Release(keepHiddenStates: false);

    /// <summary>
    /// For an encoding the model made inside one call: gives back what that call's outputs do not hold
    /// (the hidden states, when asked for, include the last block output).
    /// </summary>
    internal void Release(bool keepHiddenStates)
    {
        foreach (var t in BridgeInputs) t.Dispose();
        if (keepHiddenStates) return;
        if (!ReferenceEquals(LastBlockOutput, _borrowed)) LastBlockOutput.Dispose();
        if (HiddenStates is not null)
            foreach (var t in HiddenStates)
                if (!ReferenceEquals(t, _borrowed)) t.Dispose();
    }
}
