using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Tensors;

namespace BridgeTower.Bench;

/// <summary>Short runs: the machine is shared, so medians over a few iterations are what we quote anyway.</summary>
public sealed class KernelConfig : ManualConfig
{
    public KernelConfig()
    {
        AddJob(BenchmarkDotNet.Jobs.Job.ShortRun);
        AddColumn(new GflopsColumn());
        WithOptions(ConfigOptions.DisableOptimizationsValidator);
    }
}

internal static class Data
{
    public static Tensor Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var data = new float[ShapeMath.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return Tensor.FromArray(data, shape);
    }

    public static int Threads => int.TryParse(Environment.GetEnvironmentVariable("BRIDGETOWER_THREADS"), out int t) ? t : Environment.ProcessorCount;
}

/// <summary>Linear with a prepacked weight (the model's call) and MatMul packing B each call (a BLAS-like sgemm).</summary>
[Config(typeof(KernelConfig))]
public class GemmBenchmarks
{
    private CpuBackend _cpu = null!;
    private Tensor _x = null!, _b = null!, _bias = null!;
    private LinearWeights _w = null!;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    public static IEnumerable<GemmShape> Shapes() => BridgeTowerShapes.Gemm();

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuBackend(Data.Threads);
        _x = Data.Random(1, Shape.M, Shape.K);
        _b = Data.Random(2, Shape.K, Shape.N);
        _bias = Data.Random(3, Shape.N);
        _w = _cpu.PrepareLinear(Data.Random(2, Shape.N, Shape.K), _bias);
    }

    [Benchmark(Baseline = true)] public void Linear() => _cpu.Linear(_x, _w).Dispose();
    [Benchmark] public void LinearGelu() => _cpu.Linear(_x, _w, Activation.Gelu).Dispose();
    [Benchmark] public void MatMul() => _cpu.MatMul(_x, _b).Dispose();

    [GlobalCleanup] public void Cleanup() => _cpu.Dispose();
}

[Config(typeof(KernelConfig))]
public class AttentionBenchmarks
{
    private CpuBackend _cpu = null!;
    private Tensor _q = null!, _k = null!, _v = null!, _mask = null!;

    [ParamsSource(nameof(Shapes))]
    public AttentionShape Shape { get; set; } = null!;

    public static IEnumerable<AttentionShape> Shapes() => BridgeTowerShapes.Attention();

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuBackend(Data.Threads);
        int w = Shape.H * Shape.D;
        _q = Data.Random(1, Shape.B, Shape.Tq, w);
        _k = Data.Random(2, Shape.B, Shape.Tk, w);
        _v = Data.Random(3, Shape.B, Shape.Tk, w);
        _mask = Tensor.Zeros(Shape.B, Shape.Tk);
    }

    [Benchmark] public void Attention() => _cpu.Attention(_q, _k, _v, Shape.H, 0.125f, _mask, false, out _).Dispose();
    [Benchmark]
    public void AttentionWithProbabilities()
    {
        _cpu.Attention(_q, _k, _v, Shape.H, 0.125f, _mask, true, out var probabilities).Dispose();
        probabilities!.Dispose();
    }

    [GlobalCleanup] public void Cleanup() => _cpu.Dispose();
}

/// <summary>Memory-bound row kernels; GFLOP/s here is indicative (5 flops per element).</summary>
[Config(typeof(KernelConfig))]
public class RowKernelBenchmarks
{
    private CpuBackend _cpu = null!;
    private Tensor _x = null!, _r = null!, _g = null!, _b = null!;

    [ParamsSource(nameof(Shapes))]
    public RowShape Shape { get; set; } = null!;

    public static IEnumerable<RowShape> Shapes() => BridgeTowerShapes.Rows();

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuBackend(Data.Threads);
        _x = Data.Random(1, Shape.Rows, Shape.Width);
        _r = Data.Random(2, Shape.Rows, Shape.Width);
        _g = Data.Random(3, Shape.Width);
        _b = Data.Random(4, Shape.Width);
    }

    [Benchmark] public Tensor LayerNorm() => _cpu.LayerNorm(_x, _g, _b, 1e-5f);
    [Benchmark] public Tensor ResidualLayerNorm() => _cpu.LayerNorm(_x, _g, _b, 1e-5f, _r);
    [Benchmark] public Tensor Gelu() => _cpu.Activate(_x, Activation.Gelu);
    [Benchmark] public Tensor QuickGelu() => _cpu.Activate(_x, Activation.QuickGelu);
    [Benchmark] public Tensor Softmax() => _cpu.Softmax(_x);
    [Benchmark] public Tensor Add() => _cpu.AddScaled(_x, _r);

    [GlobalCleanup] public void Cleanup() => _cpu.Dispose();
}
