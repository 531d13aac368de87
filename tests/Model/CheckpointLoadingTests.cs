using BridgeTower.Kernels.Reference;
using BridgeTower.Model;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Model;

public class CheckpointLoadingTests
{
    private static string Checkpoints(string name) => SharedData.Path("fixtures", "checkpoints", name);

    private static BridgeTowerHeadOutput Itm(BridgeTowerForImageAndTextRetrieval model, ModelFixture f) =>
        model.Forward(f.Base() with { Labels = f.Input("itm_labels") });

    private static Dictionary<string, Tensor> AllTensors(Checkpoint c) => c.Names.ToDictionary(n => n, n => c[n]);

    [SharedFact]
    public void Sharded_checkpoint_gives_the_single_file_numbers()
    {
        using var f = new ModelFixture("tiny-interpolate");
        using var single = BridgeTowerForImageAndTextRetrieval.Load(f.Directory, f.Backend);
        using var sharded = BridgeTowerForImageAndTextRetrieval.Load(Checkpoints("sharded"), f.Backend);
        var a = Itm(single, f);
        var b = Itm(sharded, f);
        Assert.Equal(a.Logits.ToFloatArray(), b.Logits.ToFloatArray());
        Parity.AssertClose(f.Expected, [("itm.logits", b.Logits), ("itm.loss", b.Loss!)]);
    }

    /// <summary>
    /// F16 / BF16 checkpoints are computed in fp32 from the stored values, so they must give exactly what
    /// the F32 original gives once its weights are rounded the same way (round to nearest even).
    /// </summary>
    [SharedTheory]
    [InlineData("f16", DType.F16)]
    [InlineData("bf16", DType.BF16)]
    public void Half_precision_checkpoints_equal_the_original_rounded_the_same_way(string folder, DType dtype)
    {
        using var f = new ModelFixture("tiny-interpolate");
        using var original = Checkpoint.Open(f.Directory);
        using var half = Checkpoint.Open(Checkpoints(folder));
        var rounded = new Dictionary<string, Tensor>();
        foreach (string name in original.Names)
        {
            var t = original[name];
            Assert.Equal(dtype, half[name].DType);
            rounded[name] = t.To(dtype);
            Assert.True(rounded[name].ToFloatArray().SequenceEqual(half[name].ToFloatArray()), $"{folder}: {name} is not the original rounded to {dtype}");
        }

        var config = BridgeTowerConfig.Load(f.Directory);
        using var fromFile = BridgeTowerForMaskedLM.Load(Checkpoints(folder), f.Backend);
        using var fromRounded = BridgeTowerForMaskedLM.FromWeights(config, new DictionaryWeights(rounded), f.Backend);
        var inputs = f.Base() with { Labels = f.Input("mlm_labels") };
        var a = fromFile.Forward(inputs);
        var b = fromRounded.Forward(inputs);
        Assert.Equal(b.Logits.ToFloatArray(), a.Logits.ToFloatArray());
        Assert.Equal(b.Loss!.ToFloatArray(), a.Loss!.ToFloatArray());

        // Measured drift of the rounded weights from the fp32 reference (documented in README, ## Model).
        double drift = Parity.MaxAbsDiff(a.Logits.Narrow(-1, 0, 512), f.Expected["mlm.logits_first512"]);
        Assert.True(drift < (dtype == DType.F16 ? 2e-2 : 1e-1), $"{folder}: max |logit - fp32 reference| = {drift}");
    }

    [SharedFact]
    public void Bare_backbone_checkpoint_without_prefix_loads_into_BridgeTowerModel()
    {
        using var f = new ModelFixture("tiny-base");
        using var c = Checkpoint.Open(f.Directory);
        var bare = c.Names.Where(n => n.StartsWith("bridgetower.", StringComparison.Ordinal))
            .ToDictionary(n => n["bridgetower.".Length..], n => c[n]);
        using var model = BridgeTowerModel.FromWeights(BridgeTowerConfig.Load(f.Directory), new DictionaryWeights(bare), f.Backend);
        var o = model.Forward(f.Base());
        Parity.AssertClose(f.Expected, [("model.pooler_output", o.PoolerOutput)]);
    }

    [SharedFact]
    public void Missing_tensor_is_named_with_its_expected_shape()
    {
        using var f = new ModelFixture("tiny-base");
        using var c = Checkpoint.Open(f.Directory);
        var tensors = AllTensors(c);
        tensors.Remove("bridgetower.cross_modal_text_layers.1.crossattention.self.key.weight");
        var e = Assert.Throws<WeightLoadException>(() =>
            BridgeTowerModel.FromWeights(BridgeTowerConfig.Load(f.Directory), new DictionaryWeights(tensors), f.Backend));
        Assert.Contains("missing tensor 'bridgetower.cross_modal_text_layers.1.crossattention.self.key.weight'", e.Message);
        Assert.Contains("[64, 64]", e.Message);
    }

    [SharedFact]
    public void Wrong_shape_is_named_with_both_shapes()
    {
        using var f = new ModelFixture("tiny-base");
        using var c = Checkpoint.Open(f.Directory);
        var tensors = AllTensors(c);
        tensors["itm_score.fc.weight"] = Tensor.Zeros(2, 64);
        var e = Assert.Throws<WeightLoadException>(() =>
            BridgeTowerForImageAndTextRetrieval.FromWeights(BridgeTowerConfig.Load(f.Directory), new DictionaryWeights(tensors), f.Backend));
        Assert.Contains("'itm_score.fc.weight' has shape [2, 64], expected [2, 128]", e.Message);

        tensors = AllTensors(c);
        tensors["bridgetower.vision_model.visual.transformer.resblocks.0.attn.in_proj_weight"] = Tensor.Zeros(DType.I32, 192, 64);
        var dtypeError = Assert.Throws<WeightLoadException>(() =>
            BridgeTowerModel.FromWeights(BridgeTowerConfig.Load(f.Directory), new DictionaryWeights(tensors), f.Backend));
        Assert.Contains("dtype I32", dtypeError.Message);
    }

    [SharedFact]
    public void Unknown_tensors_are_rejected_unless_not_strict()
    {
        using var f = new ModelFixture("tiny-base");
        using var c = Checkpoint.Open(f.Directory);
        var tensors = AllTensors(c);
        tensors["bridgetower.cross_modal_text_layers.7.output.dense.weight"] = Tensor.Zeros(64, 128);
        var config = BridgeTowerConfig.Load(f.Directory);
        var e = Assert.Throws<WeightLoadException>(() => BridgeTowerModel.FromWeights(config, new DictionaryWeights(tensors), f.Backend));
        Assert.Contains("bridgetower.cross_modal_text_layers.7.output.dense.weight", e.Message);
        using var lenient = BridgeTowerModel.FromWeights(config, new DictionaryWeights(tensors), f.Backend, new LoadOptions { Strict = false });
    }

    [SharedFact]
    public void Every_fixture_checkpoint_binds_strictly_into_every_class()
    {
        using var backend = new ReferenceBackend();
        foreach (string variant in SharedData.ModelVariants())
        {
            string dir = SharedData.Models(variant);
            BridgeTowerModel.Load(dir, backend).Dispose();
            BridgeTowerForImageAndTextRetrieval.Load(dir, backend).Dispose();
            BridgeTowerForMaskedLM.Load(dir, backend).Dispose();
            BridgeTowerForContrastiveLearning.Load(dir, backend).Dispose();
        }
    }

    [SharedFact]
    public void Config_inconsistent_with_the_checkpoint_is_reported()
    {
        using var f = new ModelFixture("tiny-base");
        using var c = Checkpoint.Open(f.Directory);
        var config = BridgeTowerConfig.Load(f.Directory);
        config.Text.IntermediateSize = 96;
        var e = Assert.Throws<WeightLoadException>(() => BridgeTowerModel.FromWeights(config, new CheckpointWeights(c), f.Backend));
        Assert.Contains("intermediate.dense.weight' has shape [128, 64], expected [96, 64]", e.Message);
    }
}
