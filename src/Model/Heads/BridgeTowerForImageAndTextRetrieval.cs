using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Modules;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>Image-text matching (HF BridgeTowerForImageAndTextRetrieval): <c>itm_score.fc</c> on pooler_output; logits[:, 1] is "match".</summary>
public sealed class BridgeTowerForImageAndTextRetrieval : IDisposable, IOwnsResources
{
    public BridgeTowerModel BridgeTower { get; }
    public Linear ItmScore { get; }
    private IDisposable? _owned;

    private BridgeTowerForImageAndTextRetrieval(BridgeTowerConfig config, WeightBinder w, string prefix)
    {
        Heads.IgnoreAll(w, Heads.Itm);
        BridgeTower = new BridgeTowerModel(config, w, prefix);
        ItmScore = w.Linear("itm_score.fc", 2 * config.HiddenSize, 2);
    }

    public static BridgeTowerForImageAndTextRetrieval Load(string directory, IBackend? backend = null, LoadOptions? options = null) =>
        Loader.Load(directory, backend, options, (c, w, p) => new BridgeTowerForImageAndTextRetrieval(c, w, p));

    public static BridgeTowerForImageAndTextRetrieval FromWeights(BridgeTowerConfig config, IWeightSource weights, IBackend backend, LoadOptions? options = null) =>
        Loader.Bind(config, weights, backend, options, (c, w, p) => new BridgeTowerForImageAndTextRetrieval(c, w, p));

    /// <summary>Logits (B, 2); with (B,) labels, the mean cross-entropy loss.</summary>
    public BridgeTowerHeadOutput Forward(BridgeTowerInputs inputs)
    {
        HeadChecks.NoImageTokenType(inputs, nameof(BridgeTowerForImageAndTextRetrieval));
        var outputs = BridgeTower.Run(inputs, 1, BackboneUse.Pooled);
        var logits = ItmScore.Forward(outputs.PoolerOutput!);
        HeadChecks.ReleaseBackboneOutputs(inputs, outputs);
        Tensor? loss = null;
        if (inputs.Labels is not null)
        {
            int b = logits.Dim(0);
            if (inputs.Labels.ElementCount != b || inputs.Labels.DType.IsFloatingPoint())
                throw new ArgumentException($"labels: ITM expects {b} integer labels (B,), got {inputs.Labels.DType} {inputs.Labels.ShapeString}");
            loss = TensorOps.ScalarTensor(TensorOps.CrossEntropy(logits, inputs.Labels.ToInt64Array(), "labels"));
        }
        return new BridgeTowerHeadOutput(logits, loss, outputs.HiddenStates, outputs.Attentions);
    }

    void IOwnsResources.Own(IDisposable resource) => _owned = resource;

    public void Dispose()
    {
        BridgeTower.Dispose();
        ItmScore.Dispose();
        _owned?.Dispose();
    }
}

internal static class HeadChecks
{
    /// <summary>The reference's heads do not take image_token_type_idx (they always use 1).</summary>
    public static void NoImageTokenType(BridgeTowerInputs inputs, string head)
    {
        if (inputs.ImageTokenTypeIdx is int idx && idx is not (0 or 1))
            throw new ArgumentException($"ImageTokenTypeIdx: {head} always uses image token type 1 (only BridgeTowerModel takes image_token_type_idx)");
    }

    /// <summary>
    /// A head's output does not include the backbone's features and pooler output: once the head has read
    /// them they go back to the arena, except the features the hidden states hold (the last cross-modal pair).
    /// </summary>
    public static void ReleaseBackboneOutputs(BridgeTowerInputs inputs, BackboneOutputs outputs)
    {
        outputs.PoolerOutput?.Dispose();
        if (inputs.OutputHiddenStates) return;
        outputs.TextFeatures.Dispose();
        outputs.ImageFeatures?.Dispose();
    }
}
