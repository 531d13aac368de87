using BridgeTower.Kernels;
using BridgeTower.Model.Modules;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Weights;

/// <summary>
/// Hands out checkpoint tensors by their Hugging Face key, checking shape and dtype, and remembers
/// which keys were bound or deliberately ignored so that <see cref="Finish"/> can reject a checkpoint
/// that holds anything else.
/// </summary>
internal sealed class WeightBinder(IWeightSource source, IBackend backend)
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly List<Func<string, bool>> _ignored = [];

    public IBackend Backend { get; } = backend;
    public IWeightSource Source { get; } = source;

    /// <summary>The raw tensor under <paramref name="key"/> (any float dtype), shape-checked.</summary>
    public Tensor Raw(string key, params int[] shape) => Raw(key, shape, forCopy: false);

    /// <summary>As <see cref="Raw(string, int[])"/> for a caller that copies the tensor and drops it (see <see cref="IWeightSource.TryGetForCopy"/>).</summary>
    public Tensor RawForCopy(string key, params int[] shape) => Raw(key, shape, forCopy: true);

    private Tensor Raw(string key, int[] shape, bool forCopy)
    {
        if (!(forCopy ? Source.TryGetForCopy(key, out var t) : Source.TryGet(key, out t)))
            throw new WeightLoadException($"{Source.Description}: missing tensor '{key}' (expected shape {Format(shape)})");
        if (!t.Shape.SequenceEqual(shape))
            throw new WeightLoadException($"{Source.Description}: tensor '{key}' has shape {t.ShapeString}, expected {Format(shape)}");
        if (!t.DType.IsFloatingPoint())
            throw new WeightLoadException($"{Source.Description}: tensor '{key}' has dtype {t.DType}, expected a float type (F32, F16, BF16, F64)");
        _used.Add(key);
        return t;
    }

    /// <summary>The tensor as contiguous float32 (zero-copy for memory-mapped F32).</summary>
    public Tensor F32(string key, params int[] shape) => Raw(key, shape).ToF32();

    /// <summary>A 0-d parameter (scaled_factor, beta, logit_scale); some converters store it as shape [1].</summary>
    public float Scalar(string key)
    {
        bool found = Source.TryGet(key, out var probe);
        var raw = found && probe.Rank == 1 && probe.Dim(0) == 1 ? Raw(key, 1) : Raw(key);
        if (found && !ReferenceEquals(probe, raw)) Source.Release(key, probe);
        var f = raw.ToF32();
        float value = f.ReadOnlySpan<float>()[0];
        f.DisposeIfCopyOf(raw);
        Source.Release(key, raw);
        return value;
    }

    /// <summary>Backends copy (pack, convert, upload) a Linear's weights, so they are read for a copy.</summary>
    public Linear Linear(string prefix, int inFeatures, int outFeatures, bool bias = true) =>
        Linear(prefix, $"{prefix}.weight", bias ? $"{prefix}.bias" : null, inFeatures, outFeatures);

    /// <summary>A Linear whose weight (out, in) and bias (out) sit under other keys (packed in_proj, the MLM decoder).</summary>
    public Linear Linear(string name, string weightKey, string? biasKey, int inFeatures, int outFeatures)
    {
        var weight = RawForCopy(weightKey, outFeatures, inFeatures);
        var bias = biasKey is null ? null : RawForCopy(biasKey, outFeatures);
        var prepared = Backend.PrepareLinear(weight, bias);
        // The backend keeps its own prepared copy: the source's tensors are no longer needed.
        Release(weightKey, weight);
        if (bias is not null) Release(biasKey!, bias);
        return new Linear(Backend, name, prepared);
    }

    /// <summary>Tells the source a tensor it handed out is not kept by the model (see <see cref="IWeightSource.Release"/>).</summary>
    public void Release(string key, Tensor tensor) => Source.Release(key, tensor);

    public LayerNorm LayerNorm(string prefix, int size, double eps) =>
        new(Backend, F32($"{prefix}.weight", size), F32($"{prefix}.bias", size), (float)eps);

    public void Ignore(string key) => _ignored.Add(k => k == key);

    public void IgnorePrefix(string prefix) => _ignored.Add(k => k.StartsWith(prefix, StringComparison.Ordinal));

    public void Ignore(Func<string, bool> rule) => _ignored.Add(rule);

    /// <summary>Keys neither bound nor ignored; with <paramref name="strict"/> any such key is an error.</summary>
    public IReadOnlyList<string> Finish(bool strict)
    {
        var unknown = Source.Names.Where(k => !_used.Contains(k) && !_ignored.Any(rule => rule(k))).Order(StringComparer.Ordinal).ToList();
        if (strict && unknown.Count > 0)
            throw new WeightLoadException(
                $"{Source.Description}: {unknown.Count} tensor(s) not used by this model: {string.Join(", ", unknown.Take(10))}{(unknown.Count > 10 ? ", ..." : "")} " +
                "(does the config match the checkpoint? load with Strict = false to ignore them)");
        return unknown;
    }

    private static string Format(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
