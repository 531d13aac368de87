using BridgeTower.Kernels.Reference;
using BridgeTower.Model;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Model;

/// <summary>The parameter list behind random-weight benchmarks: exactly what the model binds, at the checkpoints' shapes.</summary>
public class RandomWeightsTests
{
    public static TheoryData<string> Variants() => new(SharedData.ModelVariants());

    [SharedTheory]
    [MemberData(nameof(Variants))]
    public void Every_listed_parameter_is_in_the_fixture_checkpoint_with_its_shape(string variant)
    {
        var dir = SharedData.Models(variant);
        var config = BridgeTowerConfig.Load(dir);
        try { config.ValidateForInference(); }
        catch (ConfigException) { return; } // variants the reference cannot run have no model to list
        using var checkpoint = Checkpoint.Open(dir);
        foreach (var head in new[] { BridgeTowerHead.Itm, BridgeTowerHead.Mlm, BridgeTowerHead.Contrastive })
            foreach (var spec in BridgeTowerParameters.For(config, head))
            {
                Assert.True(checkpoint.TryGet(spec.Key, out var t), $"{variant}: {spec.Key} not in the checkpoint");
                Assert.Equal(spec.Shape, t.ShapeArray());
            }
    }

    [Theory]
    [InlineData(BridgeTowerHead.None)]
    [InlineData(BridgeTowerHead.Itm)]
    [InlineData(BridgeTowerHead.Mlm)]
    [InlineData(BridgeTowerHead.Contrastive)]
    public void A_model_binds_every_random_tensor_and_nothing_else(BridgeTowerHead head)
    {
        var config = TinyConfig();
        var weights = new RandomWeights(config, head);
        using var backend = new ReferenceBackend();
        // Strict binding fails on any listed tensor the model leaves unused; a missing one fails too.
        IDisposable model = head switch
        {
            BridgeTowerHead.None => BridgeTowerModel.FromWeights(config, weights, backend),
            BridgeTowerHead.Itm => BridgeTowerForImageAndTextRetrieval.FromWeights(config, weights, backend),
            BridgeTowerHead.Mlm => BridgeTowerForMaskedLM.FromWeights(config, weights, backend),
            _ => BridgeTowerForContrastiveLearning.FromWeights(config, weights, backend),
        };
        model.Dispose();
    }

    [Fact]
    public void Values_depend_on_seed_and_key_only()
    {
        var config = TinyConfig();
        var a = new RandomWeights(config, BridgeTowerHead.Itm, seed: 7);
        var b = new RandomWeights(config, BridgeTowerHead.Itm, seed: 7);
        var c = new RandomWeights(config, BridgeTowerHead.Itm, seed: 8);
        const string key = "bridgetower.text_model.embeddings.word_embeddings.weight";
        Assert.True(a.TryGet(key, out var ta));
        Assert.True(b.TryGet(key, out var tb));
        Assert.True(c.TryGet(key, out var tc));
        Assert.Equal(ta.ToFloatArray(), tb.ToFloatArray());
        Assert.NotEqual(ta.ToFloatArray(), tc.ToFloatArray());
        var values = ta.ToFloatArray();
        double mean = values.Average(v => (double)v), std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(std, 0.018, 0.022);
        Assert.True(a.TryGet("bridgetower.text_model.embeddings.LayerNorm.weight", out var gamma));
        Assert.All(gamma.ToFloatArray(), v => Assert.Equal(1f, v));
        Assert.True(new RandomWeights(config, BridgeTowerHead.Contrastive).TryGet("logit_scale", out var scale));
        Assert.Equal((float)config.LogitScaleInitValue, scale.ToFloatArray()[0]);
        Assert.False(a.TryGet("itc_text_head.fc.weight", out _));
    }

    [Fact]
    public void Base_preset_has_the_hub_checkpoints_parameter_count()
    {
        // bridgetower-base-itm-mlm: the ITM model binds about 326M parameters (HF counts ~326M with both heads' extra tensors).
        long itm = BridgeTowerParameters.Count(BridgeTowerConfig.Base, BridgeTowerHead.Itm);
        Assert.InRange(itm, 280_000_000, 340_000_000);
        Assert.True(BridgeTowerParameters.Count(BridgeTowerConfig.Large, BridgeTowerHead.Itm) > 2 * itm);
    }

    internal static BridgeTowerConfig TinyConfig(string linkTower = "scaled_add") => new()
    {
        HiddenSize = 64,
        NumHiddenLayers = 2,
        ContrastiveHiddenSize = 16,
        LinkTowerType = linkTower,
        Text = new BridgeTowerTextConfig { HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 2, IntermediateSize = 64, VocabSize = 100, MaxPositionEmbeddings = 40 },
        Vision = new BridgeTowerVisionConfig { HiddenSize = 64, NumHiddenLayers = 3, PatchSize = 8, ImageSize = 16 },
    };
}
