namespace BridgeTower.Preprocessing.Text;

/// <summary>
/// A token matched in the raw text before pre-tokenization (Hugging Face's AddedToken).
/// <see cref="LStrip"/> swallows the whitespace on its left (RoBERTa's &lt;mask&gt;), <see cref="RStrip"/>
/// the whitespace on its right. Special tokens are dropped by decode(skip_special_tokens).
/// </summary>
public sealed record AddedToken(string Content, int Id, bool Special = true, bool LStrip = false, bool RStrip = false);
