using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>
/// What the cross-modal layers need from the vision tower, computed once per image batch
/// (<see cref="BridgeTowerModel.EncodeImage"/>) and reusable with any number of texts: the image
/// stream's bridge inputs cross_modal_image_transform(ln_post(v_i)) + token_type[idx] for each
/// cross-modal layer, plus the last block's output for the contrastive image embedding.
/// </summary>
public sealed class ImageEncoding
{
    internal ImageEncoding(IReadOnlyList<Tensor> bridgeInputs, Tensor lastBlockOutput, int imageTokenTypeIdx,
        IReadOnlyList<Tensor>? hiddenStates)
    {
        BridgeInputs = bridgeInputs;
        LastBlockOutput = lastBlockOutput;
        ImageTokenTypeIdx = imageTokenTypeIdx;
        HiddenStates = hiddenStates;
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
}
