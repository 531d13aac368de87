namespace BridgeTower.Preprocessing.Text;

/// <summary>One encoded text: input ids, attention mask (1 = token, 0 = padding) and the tokens.</summary>
public sealed class TokenizedText
{
    private readonly RobertaTokenizer _tokenizer;
    private string[]? _tokens;

    internal TokenizedText(RobertaTokenizer tokenizer, int[] ids, int[] attentionMask)
    {
        _tokenizer = tokenizer;
        InputIds = ids;
        AttentionMask = attentionMask;
    }

    public int[] InputIds { get; }
    public int[] AttentionMask { get; }
    public int Length => InputIds.Length;

    /// <summary>Byte-level token strings (e.g. "Ġthe"), as convert_ids_to_tokens.</summary>
    public string[] Tokens => _tokens ??= _tokenizer.ConvertIdsToTokens(InputIds);
}

/// <summary>A batch of encoded texts; <see cref="InputIdsTensor"/> and <see cref="AttentionMaskTensor"/> need equal lengths (padding).</summary>
public sealed class TokenizedBatch
{
    internal TokenizedBatch(TokenizedText[] items) => Items = items;

    public IReadOnlyList<TokenizedText> Items { get; }
    public int Count => Items.Count;
    public int[][] InputIds => Items.Select(t => t.InputIds).ToArray();
    public int[][] AttentionMask => Items.Select(t => t.AttentionMask).ToArray();

    /// <summary>input_ids as an I64 tensor [batch, length] (the reference's dtype).</summary>
    public BridgeTower.Tensors.Tensor InputIdsTensor() => ToTensor(t => t.InputIds, "input_ids");

    /// <summary>attention_mask as an I64 tensor [batch, length].</summary>
    public BridgeTower.Tensors.Tensor AttentionMaskTensor() => ToTensor(t => t.AttentionMask, "attention_mask");

    private BridgeTower.Tensors.Tensor ToTensor(Func<TokenizedText, int[]> select, string name)
    {
        if (Count == 0) throw new InvalidOperationException($"{name}: the batch is empty");
        int length = select(Items[0]).Length;
        for (int b = 1; b < Count; b++)
        {
            if (select(Items[b]).Length != length)
                throw new InvalidOperationException(
                    $"{name}: sequences have different lengths ({length} and {select(Items[b]).Length} at item {b}); encode with padding to make a tensor");
        }
        var data = new long[checked(Count * length)];
        for (int b = 0; b < Count; b++)
        {
            var row = select(Items[b]);
            for (int i = 0; i < length; i++) data[b * length + i] = row[i];
        }
        return BridgeTower.Tensors.Tensor.FromArray(data, Count, length);
    }
}
