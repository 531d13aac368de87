namespace BridgeTower.Preprocessing.Text;

public enum Padding
{
    /// <summary>No padding (Hugging Face padding=False).</summary>
    None,
    /// <summary>Pad to the longest sequence of the batch (padding=True / "longest").</summary>
    Longest,
    /// <summary>Pad to <see cref="EncodeOptions.MaxLength"/> (padding="max_length").</summary>
    MaxLength,
}

/// <summary>The arguments of a Hugging Face tokenizer call, with the same defaults.</summary>
public sealed record EncodeOptions
{
    public static readonly EncodeOptions Default = new();

    /// <summary>Wrap each sequence in &lt;s&gt; ... &lt;/s&gt;.</summary>
    public bool AddSpecialTokens { get; init; } = true;

    public Padding Padding { get; init; } = Padding.None;

    /// <summary>
    /// Truncate to <see cref="MaxLength"/> (or the model's maximum when it is null). Null means "not
    /// specified": then, as in Hugging Face, a MaxLength without padding turns truncation on.
    /// </summary>
    public bool? Truncation { get; init; }

    /// <summary>Length limit for truncation and for <see cref="Padding.MaxLength"/>; null = the model's maximum.</summary>
    public int? MaxLength { get; init; }
}
