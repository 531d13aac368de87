using System.Text.Json.Nodes;
using BridgeTower.Model.Config;

namespace BridgeTower.Tests.Model;

public class ConfigTests
{
    public static TheoryData<string> Variants()
    {
        var data = new TheoryData<string>();
        foreach (string v in SharedData.ModelVariants()) data.Add(v);
        if (data.Count == 0) data.Add("tiny-base"); // keeps the theory non-empty; skipped without ../shared
        return data;
    }

    [SharedTheory]
    [MemberData(nameof(Variants))]
    public void Every_fixture_config_loads_validates_and_round_trips(string variant)
    {
        string path = Path.Combine(SharedData.Models(variant), "config.json");
        var original = JsonNode.Parse(File.ReadAllText(path))!;
        var config = BridgeTowerConfig.Load(path);
        config.ValidateForInference();

        Assert.Equal(original["hidden_size"]!.GetValue<int>(), config.HiddenSize);
        Assert.Equal(original["text_config"]!["num_hidden_layers"]!.GetValue<int>(), config.Text.NumHiddenLayers);
        Assert.Equal(original["vision_config"]!["patch_size"]!.GetValue<int>(), config.Vision.PatchSize);
        Assert.Equal(original["link_tower_type"]!.GetValue<string>(), config.LinkTowerType);
        // Unknown keys survive (id2label is not interpreted here).
        Assert.True(config.Extra.ContainsKey("id2label"));
        Assert.True(config.Text.Extra.ContainsKey("tie_word_embeddings"));

        var saved = JsonNode.Parse(config.ToJsonString())!;
        Assert.True(JsonNode.DeepEquals(original, saved), $"{variant}: saved config differs from the original");

        string tmp = Path.Combine(Path.GetTempPath(), $"bt-config-{Guid.NewGuid():N}.json");
        try
        {
            config.Save(tmp);
            Assert.True(JsonNode.DeepEquals(original, JsonNode.Parse(File.ReadAllText(tmp))));
        }
        finally { File.Delete(tmp); }
    }

    [SharedFact]
    public void Fixture_flags_are_read()
    {
        var c = BridgeTowerConfig.Load(SharedData.Models("tiny-flags"));
        Assert.False(c.Vision.ShareLayernorm);
        Assert.True(c.Vision.RemoveLastLayer);
        Assert.Equal(4, c.Vision.NumResblocks);
        Assert.Equal(1e-3, c.LayerNormEps);
        Assert.Equal(1e-6, c.Text.LayerNormEps);
        Assert.Equal(1e-4, c.Vision.LayerNormEps);
        Assert.Equal(2, c.Text.TypeVocabSize);
        Assert.Equal(2, c.SplitIndex);
        Assert.Equal(LinkTowerType.Interpolate, BridgeTowerConfig.Load(SharedData.Models("tiny-interpolate")).LinkTower);
        Assert.Equal(1, BridgeTowerConfig.Load(SharedData.Models("tiny-interpolate")).SplitIndex);
    }

    [Fact]
    public void Empty_json_gives_the_documented_base_defaults()
    {
        var c = BridgeTowerConfig.Parse("{}");
        c.ValidateForInference();
        Assert.Equal(768, c.HiddenSize);
        Assert.Equal(6, c.NumHiddenLayers);
        Assert.Equal("add", c.LinkTowerType);
        Assert.Equal(512, c.ContrastiveHiddenSize);
        Assert.Equal(2.6592, c.LogitScaleInitValue);
        Assert.Equal(1e-5, c.LayerNormEps);
        Assert.Equal((768, 12, 12, 3072, 50265, 514, 1, 1), (c.Text.HiddenSize, c.Text.NumHiddenLayers, c.Text.NumAttentionHeads,
            c.Text.IntermediateSize, c.Text.VocabSize, c.Text.MaxPositionEmbeddings, c.Text.TypeVocabSize, c.Text.PadTokenId!.Value));
        Assert.Equal((768, 12, 16, 288, 3, 12), (c.Vision.HiddenSize, c.Vision.NumHiddenLayers, c.Vision.PatchSize,
            c.Vision.ImageSize, c.Vision.NumChannels, c.Vision.NumAttentionHeads));
        Assert.Equal(7, c.SplitIndex);
        Assert.True(JsonNode.DeepEquals(BridgeTowerConfig.Base.ToJson(), c.ToJson()));
    }

    [Fact]
    public void Large_preset_has_the_large_checkpoint_shapes()
    {
        var c = BridgeTowerConfig.Large;
        c.ValidateForInference();
        Assert.Equal((1024, 16, 6), (c.HiddenSize, c.NumAttentionHeads, c.NumHiddenLayers));
        Assert.Equal((1024, 24, 16, 4096), (c.Text.HiddenSize, c.Text.NumHiddenLayers, c.Text.NumAttentionHeads, c.Text.IntermediateSize));
        Assert.Equal((1024, 24, 14, 294, 16), (c.Vision.HiddenSize, c.Vision.NumHiddenLayers, c.Vision.PatchSize, c.Vision.ImageSize, c.Vision.NumAttentionHeads));
        Assert.Equal(19, c.SplitIndex);
        var back = BridgeTowerConfig.FromJson(c.ToJson());
        Assert.True(JsonNode.DeepEquals(c.ToJson(), back.ToJson()));
    }

    [Fact]
    public void Legacy_sub_config_dict_keys_are_read_and_kept()
    {
        var c = BridgeTowerConfig.Parse("""{"text_config_dict": {"hidden_size": 16, "num_attention_heads": 2}, "hidden_size": 16}""");
        Assert.Equal(16, c.Text.HiddenSize);
        Assert.True(c.Extra.ContainsKey("text_config_dict"));
    }

    /// <summary>Each rule: the mutation, and the key the error must name.</summary>
    public static TheoryData<string, string> Invalid() => new()
    {
        { """{"text_config": {"hidden_size": 64, "num_attention_heads": 5}, "hidden_size": 64}""", "text_config.num_attention_heads" },
        { """{"text_config": {"hidden_size": 64, "num_attention_heads": 4}, "hidden_size": 128}""", "hidden_size" },
        { """{"link_tower_type": "concat"}""", "link_tower_type" },
        { """{"vision_config": {"hidden_size": 32}}""", "vision_config.hidden_size" },
        { """{"vision_config": {"hidden_size": 129}}""", "vision_config.hidden_size" },
        { """{"vision_config": {"num_hidden_layers": 11}}""", "vision_config.num_hidden_layers" },
        { """{"vision_config": {"remove_last_layer": true}}""", "vision_config.num_hidden_layers" },
        { """{"num_hidden_layers": 14}""", "num_hidden_layers" },
        { """{"num_hidden_layers": 0}""", "num_hidden_layers" },
        { """{"text_config": {"num_hidden_layers": -1}}""", "text_config.num_hidden_layers" },
        { """{"layer_norm_eps": 0}""", "layer_norm_eps" },
        { """{"text_config": {"pad_token_id": null}}""", "text_config.pad_token_id" },
        { """{"vision_config": {"patch_size": 0}}""", "vision_config.patch_size" },
        { """{"contrastive_hidden_size": 0}""", "contrastive_hidden_size" },
        { """{"share_cross_modal_transformer_layers": false}""", "share_cross_modal_transformer_layers" },
        { """{"share_link_tower_layers": true}""", "share_link_tower_layers" },
        { """{"init_layernorm_from_vision_encoder": true, "vision_config": {"share_layernorm": false}}""", "init_layernorm_from_vision_encoder" },
        { """{"hidden_act": "swish"}""", "hidden_act" },
        { """{"text_config": {"hidden_act": "relu6"}}""", "text_config.hidden_act" },
        { """{"text_config": {"position_embedding_type": "relative_key"}}""", "text_config.position_embedding_type" },
        { """{"text_config": {"is_decoder": true}}""", "text_config.is_decoder" },
        { """{"hidden_size": "wide"}""", "hidden_size" },
        { """{"text_config": {"vocab_size": 1.5}}""", "text_config.vocab_size" },
        { """{"vision_config": []}""", "vision_config" },
        { """[1, 2]""", "(root)" },
        { """{"hidden_size": """, "(root)" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_configs_are_rejected_naming_the_key(string json, string key)
    {
        var e = Assert.Throws<ConfigException>(() => BridgeTowerConfig.Parse(json).ValidateForInference());
        Assert.Equal(key, e.Key);
        Assert.StartsWith(key + ":", e.Message);
    }

    [Fact]
    public void Split_index_zero_and_no_op_flags_are_accepted()
    {
        BridgeTowerConfig.Parse("""{"num_hidden_layers": 13}""").ValidateForInference();
        BridgeTowerConfig.Parse("""{"init_layernorm_from_vision_encoder": true}""").ValidateForInference();
        BridgeTowerConfig.Parse("""{"vision_config": {"share_layernorm": false, "stop_gradient": true}}""").ValidateForInference();
        BridgeTowerConfig.Parse("""{"vision_config": {"num_hidden_layers": 13, "remove_last_layer": true}}""").ValidateForInference();
    }

    /// <summary>
    /// flag_errors.json, case by case: what the reference cannot run is rejected here with the flag named;
    /// what it runs is accepted (except split index -1, which it runs meaninglessly and we reject).
    /// </summary>
    [SharedFact]
    public void Flag_error_cases_from_the_fixtures()
    {
        var expectedKey = new Dictionary<string, string?>
        {
            ["share_cross_modal_transformer_layers=False"] = "share_cross_modal_transformer_layers",
            ["share_link_tower_layers=True"] = "share_link_tower_layers",
            ["vision share_layernorm=False + init_layernorm_from_vision_encoder=True"] = "init_layernorm_from_vision_encoder",
            ["vision share_layernorm=True + init_layernorm_from_vision_encoder=True (no-op)"] = null,
            ["config.hidden_size (128) != text_config.hidden_size (64)"] = "hidden_size",
            ["vision hidden_size 32 (< 64: heads = hidden_size // 64 = 0)"] = "vision_config.hidden_size",
            ["vision hidden_size 128 != config.hidden_size 64"] = null, // only the contrastive head fails (checked at its forward)
            ["vision resblocks (2) < text layers (3)"] = "vision_config.num_hidden_layers",
            ["vision remove_last_layer=True leaving 2 resblocks < 3 text layers"] = "vision_config.num_hidden_layers",
            ["config.num_hidden_layers = text layers + 1 (split_index 0)"] = null,
            ["config.num_hidden_layers = text layers + 2 (split_index -1)"] = "num_hidden_layers",
            ["link_tower_type='concat'"] = "link_tower_type",
            ["text hidden 64 with 5 heads"] = "text_config.num_attention_heads",
        };
        var cases = JsonNode.Parse(File.ReadAllText(SharedData.Path("fixtures", "models", "flag_errors.json")))!.AsArray();
        Assert.Equal(expectedKey.Count, cases.Count);
        // The cases were generated against a 3-layer text tower; tiny-base's tower has 4, so the layer
        // counts are applied relative to the case's own description by using a 3-layer base.
        var baseJson = JsonNode.Parse(File.ReadAllText(Path.Combine(SharedData.Models("tiny-base"), "config.json")))!.AsObject();
        baseJson["text_config"]!["num_hidden_layers"] = 3;
        baseJson["vision_config"]!["num_hidden_layers"] = 3;
        baseJson["num_hidden_layers"] = 3;
        foreach (var c in cases)
        {
            string name = c!["case"]!.GetValue<string>();
            var json = (JsonObject)baseJson.DeepClone();
            var overrides = c["config_overrides"]!;
            foreach (var (k, v) in overrides["top"]!.AsObject()) json[k] = v?.DeepClone();
            foreach (var (k, v) in overrides["text_config"]!.AsObject()) json["text_config"]![k] = v?.DeepClone();
            foreach (var (k, v) in overrides["vision_config"]!.AsObject()) json["vision_config"]![k] = v?.DeepClone();
            Assert.True(expectedKey.ContainsKey(name), $"unknown flag_errors case '{name}'");
            string? key = expectedKey[name];
            var config = BridgeTowerConfig.FromJson(json);
            if (key is null) config.ValidateForInference();
            else Assert.Equal(key, Assert.Throws<ConfigException>(config.ValidateForInference).Key);
        }
    }
}
