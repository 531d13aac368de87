using System.Text.Json;
using System.Text.Json.Nodes;

namespace BridgeTower.Model.Config;

/// <summary>Bridge between uni-modal layer outputs and the previous cross-modal output (<c>link_tower_type</c>).</summary>
public enum LinkTowerType
{
    /// <summary>LayerNorm(a + b)</summary>
    Add,
    /// <summary>LayerNorm(a·scaled_factor + b), scaled_factor learned</summary>
    ScaledAdd,
    /// <summary>LayerNorm(a·(1-beta) + b·beta), beta learned</summary>
    Interpolate,
}

/// <summary>
/// A BridgeTower config.json: the cross-modal settings plus <see cref="Text"/> and <see cref="Vision"/>.
/// Defaults are Hugging Face's <c>BridgeTowerConfig</c> ones; unknown keys are kept in <see cref="Extra"/>
/// and written back by <see cref="ToJson"/>, so load + save gives equivalent JSON.
/// </summary>
public sealed class BridgeTowerConfig
{
    public const string ModelType = "bridgetower";

    public bool ShareCrossModalTransformerLayers { get; set; } = true;
    /// <summary>Used only by the MLM head's transform.</summary>
    public string HiddenAct { get; set; } = "gelu";
    /// <summary>Cross-modal hidden size; must equal the text hidden size (the cross layers are built from text_config).</summary>
    public int HiddenSize { get; set; } = 768;
    public double InitializerFactor { get; set; } = 1;
    /// <summary>Used by cross_modal_{text,image}_layernorm, the link towers and the MLM transform.</summary>
    public double LayerNormEps { get; set; } = 1e-5;
    public bool ShareLinkTowerLayers { get; set; }
    public string LinkTowerType { get; set; } = "add";
    /// <summary>Unused by the reference's forward (the cross layers take text_config's heads); kept for fidelity.</summary>
    public int NumAttentionHeads { get; set; } = 12;
    /// <summary>Number of cross-modal layers.</summary>
    public int NumHiddenLayers { get; set; } = 6;
    public bool TieWordEmbeddings { get; set; }
    public bool InitLayernormFromVisionEncoder { get; set; }
    public int ContrastiveHiddenSize { get; set; } = 512;
    public double LogitScaleInitValue { get; set; } = 2.6592;

    public BridgeTowerTextConfig Text { get; set; } = new();
    public BridgeTowerVisionConfig Vision { get; set; } = new();

    public JsonObject Extra { get; set; } = new();

    /// <summary>Uni-modal layers each tower runs before the first cross-modal layer: text layers - cross layers + 1.</summary>
    public int SplitIndex => Text.NumHiddenLayers - NumHiddenLayers + 1;

    public LinkTowerType LinkTower => LinkTowerType switch
    {
        "add" => Config.LinkTowerType.Add,
        "scaled_add" => Config.LinkTowerType.ScaledAdd,
        "interpolate" => Config.LinkTowerType.Interpolate,
        _ => throw new ConfigException("link_tower_type", $"'{LinkTowerType}' is not implemented (expected add, scaled_add or interpolate)"),
    };

    // ---- presets (the hub checkpoints' shapes) ---------------------------------------------------

    /// <summary>BridgeTower/bridgetower-base(-itm-mlm): ViT-B/16 at 288 px + RoBERTa-base, 6 cross layers.</summary>
    public static BridgeTowerConfig Base => new();

    /// <summary>BridgeTower/bridgetower-large-itm-mlm(-itc): ViT-L/14 at 294 px + RoBERTa-large, 6 cross layers.</summary>
    public static BridgeTowerConfig Large => new()
    {
        HiddenSize = 1024,
        NumAttentionHeads = 16,
        Text = new BridgeTowerTextConfig { HiddenSize = 1024, NumHiddenLayers = 24, NumAttentionHeads = 16, IntermediateSize = 4096 },
        Vision = new BridgeTowerVisionConfig { HiddenSize = 1024, NumHiddenLayers = 24, PatchSize = 14, ImageSize = 294 },
    };

    // ---- JSON ------------------------------------------------------------------------------------

    public static BridgeTowerConfig Load(string pathOrDirectory)
    {
        string path = Directory.Exists(pathOrDirectory) ? Path.Combine(pathOrDirectory, "config.json") : pathOrDirectory;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such config file", path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (ConfigException e)
        {
            throw new ConfigException(e.Key, $"{e.Message[(e.Key.Length + 2)..]} (in {path})");
        }
    }

    public static BridgeTowerConfig Parse(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ConfigException("(root)", $"not valid JSON ({e.Message})");
        }
        if (root is not JsonObject obj) throw new ConfigException("(root)", "expected a JSON object");
        return FromJson(obj);
    }

    public static BridgeTowerConfig FromJson(JsonObject json)
    {
        var f = new JsonFields((JsonObject)json.DeepClone(), "");
        var c = new BridgeTowerConfig
        {
            ShareCrossModalTransformerLayers = f.Bool("share_cross_modal_transformer_layers", true),
            HiddenAct = f.String("hidden_act", "gelu"),
            HiddenSize = f.Int("hidden_size", 768),
            InitializerFactor = f.Double("initializer_factor", 1),
            LayerNormEps = f.Double("layer_norm_eps", 1e-5),
            ShareLinkTowerLayers = f.Bool("share_link_tower_layers", false),
            LinkTowerType = f.String("link_tower_type", "add"),
            NumAttentionHeads = f.Int("num_attention_heads", 12),
            NumHiddenLayers = f.Int("num_hidden_layers", 6),
            TieWordEmbeddings = f.Bool("tie_word_embeddings", false),
            InitLayernormFromVisionEncoder = f.Bool("init_layernorm_from_vision_encoder", false),
            ContrastiveHiddenSize = f.Int("contrastive_hidden_size", 512),
            LogitScaleInitValue = f.Double("logit_scale_init_value", 2.6592),
        };
        // Older hub files carry the sub-configs as text_config_dict / vision_config_dict only; those
        // keys stay in Extra (written back untouched) and are read when the modern key is absent.
        var text = f.Object("text_config") ?? f.Remaining["text_config_dict"] as JsonObject;
        var vision = f.Object("vision_config") ?? f.Remaining["vision_config_dict"] as JsonObject;
        c.Text = text is null ? new BridgeTowerTextConfig() : BridgeTowerTextConfig.FromJson(text);
        c.Vision = vision is null ? new BridgeTowerVisionConfig() : BridgeTowerVisionConfig.FromJson(vision);
        f.Remaining.Remove("model_type");
        c.Extra = f.Remaining;
        return c;
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["share_cross_modal_transformer_layers"] = ShareCrossModalTransformerLayers,
            ["hidden_act"] = HiddenAct,
            ["hidden_size"] = HiddenSize,
            ["initializer_factor"] = InitializerFactor,
            ["layer_norm_eps"] = LayerNormEps,
            ["share_link_tower_layers"] = ShareLinkTowerLayers,
            ["link_tower_type"] = LinkTowerType,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["init_layernorm_from_vision_encoder"] = InitLayernormFromVisionEncoder,
            ["contrastive_hidden_size"] = ContrastiveHiddenSize,
            ["logit_scale_init_value"] = LogitScaleInitValue,
            ["text_config"] = Text.ToJson(),
            ["vision_config"] = Vision.ToJson(),
            ["model_type"] = ModelType,
        };
        foreach (var (k, v) in Extra) o[k] = v?.DeepClone();
        return o;
    }

    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public void Save(string path) => File.WriteAllText(path, ToJsonString() + "\n");

    public BridgeTowerConfig Clone() => FromJson(ToJson());

    // ---- validation ------------------------------------------------------------------------------

    /// <summary>Structural consistency; each message names the key (JSON path) at fault.</summary>
    public void Validate()
    {
        Text.Validate();
        Vision.Validate();
        BridgeTowerTextConfig.Positive("", "hidden_size", HiddenSize);
        BridgeTowerTextConfig.Positive("", "num_hidden_layers", NumHiddenLayers);
        BridgeTowerTextConfig.Positive("", "contrastive_hidden_size", ContrastiveHiddenSize);
        if (HiddenSize != Text.HiddenSize)
            throw new ConfigException("hidden_size",
                $"the cross-modal hidden size ({HiddenSize}) must equal text_config.hidden_size ({Text.HiddenSize}): the cross-modal layers are built from the text config");
        _ = LinkTower;
        if (!(LayerNormEps > 0)) throw new ConfigException("layer_norm_eps", $"must be positive, got {LayerNormEps}");
        if (SplitIndex < 0)
            throw new ConfigException("num_hidden_layers",
                $"{NumHiddenLayers} cross-modal layers need at most text_config.num_hidden_layers + 1 = {Text.NumHiddenLayers + 1} (split index {SplitIndex} is negative)");
        if (Vision.NumResblocks < Text.NumHiddenLayers)
            throw new ConfigException("vision_config.num_hidden_layers",
                $"the vision tower has {Vision.NumResblocks} residual blocks{(Vision.RemoveLastLayer ? " (remove_last_layer drops one)" : "")} but the text depth ({Text.NumHiddenLayers}, text_config.num_hidden_layers) drives both towers and needs as many");
    }

    /// <summary>
    /// <see cref="Validate"/> plus the flags whose forward the reference cannot run
    /// (shared/fixtures/models/flag_errors.json) and settings this library does not implement.
    /// </summary>
    public void ValidateForInference()
    {
        Validate();
        Text.ValidateForInference();
        Activations.Parse(HiddenAct, "hidden_act");
        if (!ShareCrossModalTransformerLayers)
            throw new ConfigException("share_cross_modal_transformer_layers",
                "false is not supported: the reference's forward calls the per-layer transform list as a module and fails (NotImplementedError)");
        if (ShareLinkTowerLayers)
            throw new ConfigException("share_link_tower_layers",
                "true is not supported: the reference's forward indexes the single shared link tower and fails (TypeError)");
        if (InitLayernormFromVisionEncoder && !Vision.ShareLayernorm)
            throw new ConfigException("init_layernorm_from_vision_encoder",
                "true together with vision_config.share_layernorm = false is not supported: the reference fails at construction (no cross_modal_ln_separate)");
    }
}
