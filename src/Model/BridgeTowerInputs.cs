using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>
/// The inputs of a forward call, under the reference's argument names. Exactly one image source:
/// <see cref="PixelValues"/>, <see cref="ImageEmbeds"/> or a cached <see cref="Image"/>.
/// </summary>
public sealed record BridgeTowerInputs
{
    /// <summary>(B, T) token ids, I64 or I32.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>(B, T) 1 = attend, 0 = padding; all ones when absent.</summary>
    public Tensor? AttentionMask { get; init; }
    /// <summary>Accepted and ignored, as the reference ignores it (text token types are always 0).</summary>
    public Tensor? TokenTypeIds { get; init; }
    /// <summary>(B, C, H, W) normalized images.</summary>
    public Tensor? PixelValues { get; init; }
    /// <summary>Accepted and ignored, as the reference ignores it (every patch is attended).</summary>
    public Tensor? PixelMask { get; init; }
    /// <summary>(B, L, Hv) batch-first replacement for the vision embeddings + ln_pre output.</summary>
    public Tensor? ImageEmbeds { get; init; }
    /// <summary>Vision tower outputs from <see cref="BridgeTowerModel.EncodeImage"/>; a batch of 1 is shared by every text.</summary>
    public ImageEncoding? Image { get; init; }
    /// <summary>Token type row for the image stream (BridgeTowerModel only); null or 0 mean 1, as in the reference.</summary>
    public int? ImageTokenTypeIdx { get; init; }
    /// <summary>Bicubically resize the position grid to the image size instead of requiring the configured size.</summary>
    public bool InterpolatePosEncoding { get; init; }
    /// <summary>ITM: (B,) 0/1; MLM: (B, T) token ids with -100 ignored. BridgeTowerModel ignores it.</summary>
    public Tensor? Labels { get; init; }
    /// <summary>Contrastive head: compute the loss.</summary>
    public bool ReturnLoss { get; init; }
    public bool OutputHiddenStates { get; init; }
    public bool OutputAttentions { get; init; }
    /// <summary>When set, intermediates are recorded under the fixtures' names (debug.*).</summary>
    public IDictionary<string, Tensor>? Trace { get; init; }
}
