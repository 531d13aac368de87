using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// <c>text_model.embeddings</c> (RoBERTa): word + position + token_type[0], then LayerNorm. Position
/// ids start at pad+1 and skip padding: cumsum(ids != pad) * (ids != pad) + pad. Token types are
/// always 0: the reference calls the embeddings with input_ids only.
/// </summary>
public sealed class TextEmbeddings
{
    private readonly IBackend _backend;
    private readonly BridgeTowerTextConfig _config;
    public Tensor WordEmbeddings { get; }
    public Tensor PositionEmbeddings { get; }
    public Tensor TokenTypeEmbeddings { get; }
    public LayerNorm LayerNorm { get; }

    internal TextEmbeddings(WeightBinder w, string prefix, BridgeTowerTextConfig c)
    {
        _backend = w.Backend;
        _config = c;
        WordEmbeddings = w.F32($"{prefix}.word_embeddings.weight", c.VocabSize, c.HiddenSize);
        PositionEmbeddings = w.F32($"{prefix}.position_embeddings.weight", c.MaxPositionEmbeddings, c.HiddenSize);
        TokenTypeEmbeddings = w.F32($"{prefix}.token_type_embeddings.weight", c.TypeVocabSize, c.HiddenSize);
        LayerNorm = w.LayerNorm($"{prefix}.LayerNorm", c.HiddenSize, c.LayerNormEps);
        // Non-persistent buffers some older checkpoints still carry.
        w.Ignore($"{prefix}.position_ids");
        w.Ignore($"{prefix}.token_type_ids");
    }

    /// <summary>RoBERTa position ids (B, T) as I64.</summary>
    public Tensor PositionIds(Tensor inputIds)
    {
        int pad = _config.PadTokenId!.Value;
        int b = inputIds.Dim(0), t = inputIds.Dim(1);
        var ids = inputIds.ToInt64Array();
        var pos = new long[ids.Length];
        for (int i = 0; i < b; i++)
        {
            long count = 0;
            for (int j = 0; j < t; j++)
            {
                bool real = ids[i * t + j] != pad;
                if (real) count++;
                pos[i * t + j] = (real ? count : 0) + pad;
                if (pos[i * t + j] >= _config.MaxPositionEmbeddings)
                    throw new ArgumentException(
                        $"input_ids: row {i} has {count}+ non-padding tokens, which needs position {pos[i * t + j]} but text_config.max_position_embeddings is {_config.MaxPositionEmbeddings} (at most {_config.MaxPositionEmbeddings - pad - 1} tokens)");
            }
        }
        return Tensor.FromArray(pos, b, t);
    }

    public Tensor Forward(Tensor inputIds, IDictionary<string, Tensor>? trace)
    {
        var positionIds = PositionIds(inputIds);
        if (trace is not null) trace["debug.text.position_ids"] = positionIds;
        var words = _backend.Embedding(WordEmbeddings, inputIds);
        using var withType = _backend.AddScaled(words, TokenTypeEmbeddings.Select(0, 0));
        words.Dispose();
        using var positions = _backend.Embedding(PositionEmbeddings, positionIds);
        return LayerNorm.Forward(withType, positions);
    }
}
