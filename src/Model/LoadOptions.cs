namespace BridgeTower.Model;

/// <summary>How a checkpoint is bound to a model.</summary>
public sealed record LoadOptions
{
    /// <summary>
    /// Reject tensors that are neither bound nor known to be unused (other heads, text_model.pooler,
    /// ln_separate, vision blocks past the text depth, non-persistent buffers). Default true.
    /// </summary>
    public bool Strict { get; init; } = true;
}
