using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Modules;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>
/// Masked language modelling (HF BridgeTowerForMaskedLM): <c>mlm_score</c> = transform (dense, hidden_act,
/// LayerNorm) then an untied decoder plus <c>mlm_score.bias</c>, on text_features, for every position.
/// </summary>
public sealed class BridgeTowerForMaskedLM : IDisposable, IOwnsResources
{
    public BridgeTowerModel BridgeTower { get; }
    public Linear TransformDense { get; }
    public LayerNorm TransformLayerNorm { get; }
    /// <summary><c>mlm_score.decoder.weight</c> with <c>mlm_score.bias</c> as its bias.</summary>
    public Linear Decoder { get; }
    private readonly Activation _activation;
    private IDisposable? _owned;

    private BridgeTowerForMaskedLM(BridgeTowerConfig config, WeightBinder w, string prefix)
    {
        Heads.IgnoreAll(w, Heads.Mlm);
        BridgeTower = new BridgeTowerModel(config, w, prefix);
        int h = config.HiddenSize, vocab = config.Text.VocabSize;
        _activation = Activations.Parse(config.HiddenAct, "hidden_act");
        TransformDense = w.Linear("mlm_score.transform.dense", h, h);
        TransformLayerNorm = w.LayerNorm("mlm_score.transform.LayerNorm", h, config.LayerNormEps);
        Decoder = w.Linear("mlm_score.decoder", "mlm_score.decoder.weight", "mlm_score.bias", h, vocab);
    }

    public static BridgeTowerForMaskedLM Load(string directory, IBackend? backend = null, LoadOptions? options = null) =>
        Loader.Load(directory, backend, options, (c, w, p) => new BridgeTowerForMaskedLM(c, w, p));

    public static BridgeTowerForMaskedLM FromWeights(BridgeTowerConfig config, IWeightSource weights, IBackend backend, LoadOptions? options = null) =>
        Loader.Bind(config, weights, backend, options, (c, w, p) => new BridgeTowerForMaskedLM(c, w, p));

    /// <summary>Logits (B, T, vocab); with (B, T) labels (-100 ignored), the mean cross-entropy loss.</summary>
    public BridgeTowerHeadOutput Forward(BridgeTowerInputs inputs)
    {
        HeadChecks.NoImageTokenType(inputs, nameof(BridgeTowerForMaskedLM));
        var outputs = BridgeTower.Run(inputs, 1, BackboneUse.TextFeatures);
        var dense = TransformDense.Forward(outputs.TextFeatures, _activation);
        var transformed = TransformLayerNorm.Forward(dense);
        dense.Dispose();
        if (inputs.Trace is not null) inputs.Trace["debug.mlm.transform"] = transformed;
        var logits = Decoder.Forward(transformed);
        if (inputs.Trace is null) transformed.Dispose();
        HeadChecks.ReleaseBackboneOutputs(inputs, outputs);
        Tensor? loss = null;
        if (inputs.Labels is not null)
        {
            if (!inputs.Labels.Shape.SequenceEqual(inputs.InputIds.Shape) || inputs.Labels.DType.IsFloatingPoint())
                throw new ArgumentException($"labels: MLM expects integer labels shaped like input_ids {inputs.InputIds.ShapeString}, got {inputs.Labels.DType} {inputs.Labels.ShapeString}");
            var flat = logits.Reshape(-1, logits.Dim(-1));
            loss = TensorOps.ScalarTensor(TensorOps.CrossEntropy(flat, inputs.Labels.ToInt64Array(), "labels"));
        }
        return new BridgeTowerHeadOutput(logits, loss, outputs.HiddenStates, outputs.Attentions);
    }

    void IOwnsResources.Own(IDisposable resource) => _owned = resource;

    public void Dispose()
    {
        BridgeTower.Dispose();
        TransformDense.Dispose();
        Decoder.Dispose();
        _owned?.Dispose();
    }
}
