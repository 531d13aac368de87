using System.Diagnostics;
using BridgeTower.Kernels;
using BridgeTower.Tensors;

namespace BridgeTower.Cli.Commands;

/// <summary>
/// Wraps a backend to count the floating-point work of the matrix operations (2 per multiply-add:
/// Linear, MatMul, the two products of Attention) and, when asked, the time spent per operation kind
/// and Linear shape, so `bench --profile` can say where a forward's time goes.
/// </summary>
internal sealed class ProfilingBackend(IBackend inner) : IBackend
{
    private readonly Dictionary<(string Section, string Op), (long Calls, long Ticks, double Flops)> _ops = [];

    public IBackend Inner { get; } = inner;
    public string Name => Inner.Name;
    /// <summary>Floating-point operations counted since the last <see cref="Reset"/>.</summary>
    public double Flops { get; private set; }
    /// <summary>Record per-operation timings (a Stopwatch read around each call).</summary>
    public bool Timing { get; set; }
    /// <summary>Timings are kept apart per section (the bench's uncached, one-at-a-time and cached forwards).</summary>
    public string Section { get; set; } = "";

    public void ResetFlops() => Flops = 0;

    /// <summary>Operation kinds of one section by total time, longest first.</summary>
    public IEnumerable<(string Op, long Calls, TimeSpan Time, double Flops)> Report(string section = "") =>
        _ops.Where(kv => kv.Key.Section == section).OrderByDescending(kv => kv.Value.Ticks)
            .Select(kv => (kv.Key.Op, kv.Value.Calls, TimeSpan.FromSeconds(kv.Value.Ticks / (double)Stopwatch.Frequency), kv.Value.Flops));

    private T Measure<T>(string op, double flops, Func<T> call)
    {
        Flops += flops;
        if (!Timing) return call();
        long start = Stopwatch.GetTimestamp();
        var result = call();
        long ticks = Stopwatch.GetTimestamp() - start;
        var (calls, total, f) = _ops.GetValueOrDefault((Section, op));
        _ops[(Section, op)] = (calls + 1, total + ticks, f + flops);
        return result;
    }

    public LinearWeights PrepareLinear(Tensor weight, Tensor? bias) => Inner.PrepareLinear(weight, bias);

    public Tensor Linear(Tensor x, LinearWeights weights, Activation activation = Activation.None, Tensor? residual = null)
    {
        double rows = x.ElementCount / Math.Max(1, weights.InFeatures);
        string op = $"linear {weights.InFeatures}->{weights.OutFeatures}{(activation == Activation.None ? "" : " " + activation)}{(residual is null ? "" : " +res")}";
        return Measure(op, 2.0 * rows * weights.InFeatures * weights.OutFeatures, () => Inner.Linear(x, weights, activation, residual));
    }

    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? additiveKeyMask, bool returnProbabilities, out Tensor? probabilities)
    {
        double flops = 4.0 * q.Dim(0) * q.Dim(1) * k.Dim(1) * q.Dim(2);
        Tensor? probs = null;
        var result = Measure($"attention {q.Dim(1)}x{k.Dim(1)}", flops,
            () => Inner.Attention(q, k, v, heads, scale, additiveKeyMask, returnProbabilities, out probs));
        probabilities = probs;
        return result;
    }

    public Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor? residual = null) =>
        Measure("layernorm", 0, () => Inner.LayerNorm(x, gamma, beta, eps, residual));

    public Tensor LayerNormProjected(Tensor x, Tensor? residual, float eps, Tensor projected, Tensor? projectedShared,
        Tensor columnSums, Tensor bias, Activation activation) =>
        Measure("layernorm projected", 0, () => Inner.LayerNormProjected(x, residual, eps, projected, projectedShared, columnSums, bias, activation));

    public Tensor LinearLayerNorm(Tensor x, LinearWeights weights, Tensor? residual, Tensor gamma, Tensor beta, float eps)
    {
        double rows = x.ElementCount / Math.Max(1, weights.InFeatures);
        return Measure($"linear {weights.InFeatures}->{weights.OutFeatures} +layernorm", 2.0 * rows * weights.InFeatures * weights.OutFeatures,
            () => Inner.LinearLayerNorm(x, weights, residual, gamma, beta, eps));
    }

    public Tensor Activate(Tensor x, Activation activation) => Measure("activate", 0, () => Inner.Activate(x, activation));

    public Tensor Softmax(Tensor x) => Measure("softmax", 0, () => Inner.Softmax(x));

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f) => Measure("l2normalize", 0, () => Inner.L2Normalize(x, eps));

    public Tensor AddScaled(Tensor a, Tensor b, float alpha = 1f, float beta = 1f) => Measure("addscaled", 0, () => Inner.AddScaled(a, b, alpha, beta));

    public Tensor Embedding(Tensor table, Tensor ids) => Measure("embedding", 0, () => Inner.Embedding(table, ids));

    public Tensor MatMul(Tensor a, Tensor b, bool transposeB = false)
    {
        int m = a.Dim(-2), k = a.Dim(-1), n = transposeB ? b.Dim(-2) : b.Dim(-1);
        double batch = a.Rank == 3 ? a.Dim(0) : 1;
        return Measure($"matmul {(a.Rank == 3 ? $"{a.Dim(0)}x " : "")}{m}x{k}·{k}x{n}", 2.0 * batch * m * k * n, () => Inner.MatMul(a, b, transposeB));
    }

    public void Dispose() => Inner.Dispose();
}
