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
/// The first Forward that can use it also keeps cross-modal layer 0's text-independent image work here
/// (<see cref="CrossModalImageLayer0"/>, 2·B·L·H floats: 2 MB per image at base), so later calls skip it.
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

    /// <summary>Filled by the first Forward that reads it; see <see cref="GetOrAddCrossModalImageLayer0"/>.</summary>
    private CrossModalImageLayer0? _crossModalImageLayer0;

    /// <summary>
    /// Layer 0's image work, computed by <paramref name="compute"/> on first use and kept: it depends on the image
    /// alone, and a re-ranking loop scores one text per call against the same encoding. Two calls racing to fill it
    /// both compute; one result is kept and the other given back, so concurrent readers stay safe.
    /// </summary>
    internal CrossModalImageLayer0 GetOrAddCrossModalImageLayer0(Func<ImageEncoding, CrossModalImageLayer0> compute)
    {
        var kept = Volatile.Read(ref _crossModalImageLayer0);
        if (kept is not null) return kept;
        var made = compute(this);
        kept = Interlocked.CompareExchange(ref _crossModalImageLayer0, made, null);
        if (kept is null) return made;
        made.Dispose();
        return kept;
    }

    /// <summary>Gives back the bridge inputs, the last block output, the hidden states and layer 0's kept image work; reading them afterwards throws.</summary>
    public void Dispose() => Release(keepHiddenStates: false);

    /// <summary>
    /// For an encoding the model made inside one call: gives back what that call's outputs do not hold
    /// (the hidden states, when asked for, include the last block output).
    /// </summary>
    internal void Release(bool keepHiddenStates)
    {
        foreach (var t in BridgeInputs) t.Dispose();
        _crossModalImageLayer0?.Dispose(); // never part of an output: hidden states hold layer outputs only
        if (keepHiddenStates) return;
        if (!ReferenceEquals(LastBlockOutput, _borrowed)) LastBlockOutput.Dispose();
        if (HiddenStates is not null)
            foreach (var t in HiddenStates)
                if (!ReferenceEquals(t, _borrowed)) t.Dispose();
    }
}

/// <summary>
/// What cross_modal_image_layers.0 computes without the text, for an encoding's B images: its input
/// <paramref name="Input"/> = cross_modal_image_layernorm(bridge input 0), which the text stream's layer 0 also
/// cross-attends to, and its self-attention output <paramref name="Attention"/> (attention.output.LayerNorm;
/// ~1.85 GFLOP per image at base), from which the layer's cross-attention and feed-forward go on per text.
/// </summary>
internal sealed record CrossModalImageLayer0(Tensor Input, Tensor Attention) : IDisposable
{
    public void Dispose()
    {
        Input.Dispose();
        Attention.Dispose();
    }
}
