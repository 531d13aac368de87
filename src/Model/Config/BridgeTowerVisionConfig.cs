using System.Text.Json.Nodes;

namespace BridgeTower.Model.Config;

/// <summary>
/// The CLIP ViT vision tower's configuration (<c>vision_config</c>). Defaults are those of Hugging Face's
/// <c>BridgeTowerVisionConfig</c> (BridgeTower/bridgetower-base: ViT-B/16 at 288 px).
/// </summary>
public sealed class BridgeTowerVisionConfig
{
    public const string ModelType = "bridgetower_vision_model";

    /// <summary>The reference hard-codes the vision head width: heads = hidden_size // 64.</summary>
    public const int HeadWidth = 64;

    public int HiddenSize { get; set; } = 768;
    public int NumHiddenLayers { get; set; } = 12;
    public int NumChannels { get; set; } = 3;
    public int PatchSize { get; set; } = 16;
    public int ImageSize { get; set; } = 288;
    public double InitializerFactor { get; set; } = 1;
    public double LayerNormEps { get; set; } = 1e-5;
    public bool StopGradient { get; set; }
    public bool ShareLayernorm { get; set; } = true;
    public bool RemoveLastLayer { get; set; }

    public JsonObject Extra { get; set; } = new();

    public int NumAttentionHeads => HiddenSize / HeadWidth;
    /// <summary>Residual blocks the checkpoint holds (remove_last_layer drops one).</summary>
    public int NumResblocks => RemoveLastLayer ? NumHiddenLayers - 1 : NumHiddenLayers;
    public int GridSize => ImageSize / PatchSize;
    public int NumPositions => GridSize * GridSize + 1;

    public BridgeTowerVisionConfig Clone() => FromJson(ToJson());

    internal static BridgeTowerVisionConfig FromJson(JsonObject json, string path = "vision_config")
    {
        var f = new JsonFields((JsonObject)json.DeepClone(), path);
        var c = new BridgeTowerVisionConfig
        {
            HiddenSize = f.Int("hidden_size", 768),
            NumHiddenLayers = f.Int("num_hidden_layers", 12),
            NumChannels = f.Int("num_channels", 3),
            PatchSize = f.Int("patch_size", 16),
            ImageSize = f.Int("image_size", 288),
            InitializerFactor = f.Double("initializer_factor", 1),
            LayerNormEps = f.Double("layer_norm_eps", 1e-5),
            StopGradient = f.Bool("stop_gradient", false),
            ShareLayernorm = f.Bool("share_layernorm", true),
            RemoveLastLayer = f.Bool("remove_last_layer", false),
        };
        f.Remaining.Remove("model_type");
        c.Extra = f.Remaining;
        return c;
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_channels"] = NumChannels,
            ["patch_size"] = PatchSize,
            ["image_size"] = ImageSize,
            ["initializer_factor"] = InitializerFactor,
            ["layer_norm_eps"] = LayerNormEps,
            ["stop_gradient"] = StopGradient,
            ["share_layernorm"] = ShareLayernorm,
            ["remove_last_layer"] = RemoveLastLayer,
            ["model_type"] = ModelType,
        };
        foreach (var (k, v) in Extra) o[k] = v?.DeepClone();
        return o;
    }

    public void Validate(string path = "vision_config")
    {
        BridgeTowerTextConfig.Positive(path, "num_hidden_layers", NumHiddenLayers);
        BridgeTowerTextConfig.Positive(path, "num_channels", NumChannels);
        BridgeTowerTextConfig.Positive(path, "patch_size", PatchSize);
        BridgeTowerTextConfig.Positive(path, "image_size", ImageSize);
        if (HiddenSize < HeadWidth)
            throw new ConfigException($"{path}.hidden_size",
                $"{HiddenSize} gives {HiddenSize} // {HeadWidth} = 0 attention heads (the reference fixes the head count at hidden_size // {HeadWidth}); use at least {HeadWidth}");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ConfigException($"{path}.hidden_size",
                $"{HiddenSize} is not divisible by its {NumAttentionHeads} attention heads (hidden_size // {HeadWidth})");
        if (ImageSize < PatchSize)
            throw new ConfigException($"{path}.image_size", $"{ImageSize} is smaller than patch_size {PatchSize}");
        if (NumResblocks < 1)
            throw new ConfigException($"{path}.num_hidden_layers", $"{NumHiddenLayers} with remove_last_layer leaves no residual block");
        if (!(LayerNormEps > 0)) throw new ConfigException($"{path}.layer_norm_eps", $"must be positive, got {LayerNormEps}");
    }
}
