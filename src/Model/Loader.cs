using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Model;

/// <summary>A model that can take ownership of the checkpoint mapping its weights view.</summary>
internal interface IOwnsResources
{
    void Own(IDisposable resource);
}

internal static class Loader
{
    public const string BackbonePrefix = "bridgetower.";

    /// <param name="backend">null: a <see cref="CpuBackend"/> on every core, owned (disposed) by the model</param>
    public static T Load<T>(string directory, IBackend? backend, LoadOptions? options,
        Func<BridgeTowerConfig, WeightBinder, string, T> build) where T : IOwnsResources, IDisposable
    {
        var config = BridgeTowerConfig.Load(directory);
        var checkpoint = Checkpoint.Open(directory);
        var ownedBackend = backend is null ? new CpuBackend() : null;
        try
        {
            var model = Bind(config, new CheckpointWeights(checkpoint), backend ?? ownedBackend!, options, build);
            model.Own(ownedBackend is null ? checkpoint : new Owned(checkpoint, ownedBackend));
            return model;
        }
        catch
        {
            checkpoint.Dispose();
            ownedBackend?.Dispose();
            throw;
        }
    }

    /// <summary>The mapped checkpoint and the backend a model created for itself, disposed in that order.</summary>
    private sealed class Owned(Checkpoint checkpoint, IBackend backend) : IDisposable
    {
        public void Dispose()
        {
            checkpoint.Dispose();
            backend.Dispose();
        }
    }

    /// <summary>
    /// Builds the model from the source. Head checkpoints hold the backbone under "bridgetower.";
    /// a bare BridgeTowerModel checkpoint holds it at the root.
    /// </summary>
    public static T Bind<T>(BridgeTowerConfig config, IWeightSource source, IBackend backend, LoadOptions? options,
        Func<BridgeTowerConfig, WeightBinder, string, T> build) where T : IDisposable
    {
        options ??= new LoadOptions();
        config.ValidateForInference();
        string prefix = source.Names.Any(n => n.StartsWith(BackbonePrefix, StringComparison.Ordinal)) ? BackbonePrefix : "";
        var binder = new WeightBinder(source, backend);
        var model = build(config, binder, prefix);
        try
        {
            binder.Finish(options.Strict);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }
}

/// <summary>Checkpoint key families of the task heads (one checkpoint may hold several).</summary>
internal static class Heads
{
    public const string Itm = "itm_score.";
    public const string Mlm = "mlm_score.";
    public static readonly string[] Itc = ["itc_text_head.", "itc_image_head.", "itc_cross_modal_head.", "logit_scale"];

    /// <summary>Ignores every head family except <paramref name="keep"/>.</summary>
    public static void IgnoreAll(WeightBinder w, params string[] keep)
    {
        foreach (var family in Itc.Append(Itm).Append(Mlm))
            if (!keep.Contains(family)) w.IgnorePrefix(family);
    }
}
