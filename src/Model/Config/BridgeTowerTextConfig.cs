using System.Text.Json.Nodes;

namespace BridgeTower.Model.Config;

/// <summary>
/// The RoBERTa text tower's configuration (<c>text_config</c> of config.json). Defaults are those of
/// Hugging Face's <c>BridgeTowerTextConfig</c> (BridgeTower/bridgetower-base). The cross-modal layers
/// are built from this config too.
/// </summary>
public sealed class BridgeTowerTextConfig
{
    public const string ModelType = "bridgetower_text_model";

    public int VocabSize { get; set; } = 50265;
    public int HiddenSize { get; set; } = 768;
    public int NumHiddenLayers { get; set; } = 12;
    public int NumAttentionHeads { get; set; } = 12;
    public int IntermediateSize { get; set; } = 3072;
    public string HiddenAct { get; set; } = "gelu";
    public double HiddenDropoutProb { get; set; } = 0.1;
    public double AttentionProbsDropoutProb { get; set; } = 0.1;
    public int MaxPositionEmbeddings { get; set; } = 514;
    public int TypeVocabSize { get; set; } = 1;
    public double InitializerFactor { get; set; } = 1;
    public double LayerNormEps { get; set; } = 1e-5;
    public int? PadTokenId { get; set; } = 1;
    public int? BosTokenId { get; set; } = 0;
    public int? EosTokenId { get; set; } = 2;
    public string PositionEmbeddingType { get; set; } = "absolute";
    public bool UseCache { get; set; } = true;
    public bool IsDecoder { get; set; }
    public bool AddCrossAttention { get; set; }

    /// <summary>Keys this library does not interpret, kept verbatim for <see cref="ToJson"/>.</summary>
    public JsonObject Extra { get; set; } = new();

    public int HeadDim => HiddenSize / NumAttentionHeads;

    public BridgeTowerTextConfig Clone() => FromJson(ToJson());

    internal static BridgeTowerTextConfig FromJson(JsonObject json, string path = "text_config")
    {
        var f = new JsonFields((JsonObject)json.DeepClone(), path);
        var c = new BridgeTowerTextConfig
        {
            VocabSize = f.Int("vocab_size", 50265),
            HiddenSize = f.Int("hidden_size", 768),
            NumHiddenLayers = f.Int("num_hidden_layers", 12),
            NumAttentionHeads = f.Int("num_attention_heads", 12),
            IntermediateSize = f.Int("intermediate_size", 3072),
            HiddenAct = f.String("hidden_act", "gelu"),
            HiddenDropoutProb = f.Double("hidden_dropout_prob", 0.1),
            AttentionProbsDropoutProb = f.Double("attention_probs_dropout_prob", 0.1),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", 514),
            TypeVocabSize = f.Int("type_vocab_size", 1),
            InitializerFactor = f.Double("initializer_factor", 1),
            LayerNormEps = f.Double("layer_norm_eps", 1e-5),
            PadTokenId = f.IntOrNull("pad_token_id", 1),
            BosTokenId = f.IntOrNull("bos_token_id", 0),
            EosTokenId = f.IntOrNull("eos_token_id", 2),
            PositionEmbeddingType = f.String("position_embedding_type", "absolute"),
            UseCache = f.Bool("use_cache", true),
            IsDecoder = f.Bool("is_decoder", false),
            AddCrossAttention = f.Bool("add_cross_attention", false),
        };
        f.Remaining.Remove("model_type");
        c.Extra = f.Remaining;
        return c;
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["intermediate_size"] = IntermediateSize,
            ["hidden_act"] = HiddenAct,
            ["hidden_dropout_prob"] = HiddenDropoutProb,
            ["attention_probs_dropout_prob"] = AttentionProbsDropoutProb,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["type_vocab_size"] = TypeVocabSize,
            ["initializer_factor"] = InitializerFactor,
            ["layer_norm_eps"] = LayerNormEps,
            ["pad_token_id"] = PadTokenId,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["position_embedding_type"] = PositionEmbeddingType,
            ["use_cache"] = UseCache,
            ["is_decoder"] = IsDecoder,
            ["add_cross_attention"] = AddCrossAttention,
            ["model_type"] = ModelType,
        };
        foreach (var (k, v) in Extra) o[k] = v?.DeepClone();
        return o;
    }

    /// <summary>Structural checks: every message names the offending key.</summary>
    public void Validate(string path = "text_config")
    {
        Positive(path, "vocab_size", VocabSize);
        Positive(path, "hidden_size", HiddenSize);
        Positive(path, "num_hidden_layers", NumHiddenLayers);
        Positive(path, "num_attention_heads", NumAttentionHeads);
        Positive(path, "intermediate_size", IntermediateSize);
        Positive(path, "max_position_embeddings", MaxPositionEmbeddings);
        Positive(path, "type_vocab_size", TypeVocabSize);
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ConfigException($"{path}.num_attention_heads",
                $"the hidden size ({HiddenSize}, {path}.hidden_size) is not a multiple of the number of attention heads ({NumAttentionHeads})");
        if (!(LayerNormEps > 0)) throw new ConfigException($"{path}.layer_norm_eps", $"must be positive, got {LayerNormEps}");
        if (PadTokenId is null || PadTokenId < 0 || PadTokenId >= VocabSize)
            throw new ConfigException($"{path}.pad_token_id",
                $"RoBERTa position ids need a padding id inside the vocabulary (0..{VocabSize - 1}), got {PadTokenId?.ToString() ?? "null"}");
        if (MaxPositionEmbeddings <= PadTokenId + 1)
            throw new ConfigException($"{path}.max_position_embeddings",
                $"{MaxPositionEmbeddings} leaves no position after the padding offset pad_token_id + 1 = {PadTokenId + 1}");
    }

    /// <summary>Settings the reference accepts but whose forward this library does not reproduce.</summary>
    public void ValidateForInference(string path = "text_config")
    {
        Activations.Parse(HiddenAct, $"{path}.hidden_act");
        if (PositionEmbeddingType != "absolute")
            throw new ConfigException($"{path}.position_embedding_type",
                $"'{PositionEmbeddingType}' is not supported (only 'absolute', the value of every BridgeTower checkpoint)");
        if (IsDecoder)
            throw new ConfigException($"{path}.is_decoder", "a decoder (causal) text tower is not supported; BridgeTower's text tower is an encoder");
        if (AddCrossAttention)
            throw new ConfigException($"{path}.add_cross_attention", "text-tower cross-attention (decoder use) is not supported");
    }

    internal static void Positive(string path, string key, int value)
    {
        if (value <= 0) throw new ConfigException(path.Length == 0 ? key : $"{path}.{key}", $"must be positive, got {value}");
    }
}
