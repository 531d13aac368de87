using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Tensors;

namespace BridgeTower.Bench;

/// <summary>
/// Script-friendly measurements that finish in seconds and end with one parsable line
/// "GFLOP/s: X" (the median over repeated calls after a warm-up).
///   quick gemm M N K [--threads T]       C = A(M,K)·B(K,N) by MatMul, B packed on every call (like BLAS sgemm); each result
///                                        is disposed, so its pooled buffer serves the next call (as the model's do)
///   quick gemm M N K --into              the same GEMM path as MatMul, into one preallocated C (as numpy's matmul(a, b, out=c))
///   (gemm, linear and attention also take --simd LEVEL to force a lower SimdLevel)
///   quick linear M N K [--threads T]     y = x(M,K)·Wᵀ, W (N,K) packed once (the model's Linear); --act gelu|quickgelu|tanh
///                                        adds a bias and that activation in the epilogue
///   quick attention B H TQ TK D [--threads T]
///   quick peak [--threads T]             independent FMA chains on T threads (Vector256, and Vector512 where accelerated)
///   quick kernel [256|512]               the GEMM micro-kernel alone on cache-resident panels, one thread
///   quick parts M N K [--threads T]      where a MatMul's time goes: output allocation, packing B, the blocked GEMM
///   quick lnfuse M N K [--threads T]     LayerNorm(x(M,K)·Wᵀ + b + residual): Linear then LayerNorm against LinearLayerNorm
///                                        (calls interleaved; the post-LN blocks' output projection)
///   quick lnproj B T N M [--act A]       LayerNormProjected on (B,T,N) rows, a (T,N) residual, a (T,M) shared projection
///   quick matmul BATCH M N K [--transb] [--perma] [--threads T]
///                                        the backend's batched MatMul (BATCH,M,K)·(BATCH,K,N) as the model calls it;
///                                        --transb passes B as (BATCH,N,K) with transposeB, --perma passes A as a
///                                        (M,BATCH,K) tensor permuted to (BATCH,M,K) (a per-head view)
/// </summary>
public static class Quick
{
    private const double TargetSeconds = 2.0;
    /// <summary>--simd Avx2Fma|Avx512|Vector128|Scalar forces a lower level for gemm/linear/attention (default: detected).</summary>
    private static SimdLevel? s_simd;
    /// <summary>--into: gemm writes into one preallocated C instead of MatMul's pooled output tensor.</summary>
    /// <summary>--act Gelu|QuickGelu|Tanh: linear applies it with a bias in its epilogue, as the model's FFN does.</summary>
    private static Activation s_activation = Activation.None;
    private static bool s_into;
    /// <summary>--transb / --perma: matmul's B transposed, A a permuted per-head view.</summary>
    private static bool s_transB, s_permA;

    public static int Run(string[] args)
    {
        try
        {
            int threads = Environment.ProcessorCount;
            var rest = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--threads" && i + 1 < args.Length) threads = int.Parse(args[++i]);
                else if (args[i] == "--into") s_into = true;
                else if (args[i] == "--transb") s_transB = true;
                else if (args[i] == "--perma") s_permA = true;
                else if (args[i] == "--simd" && i + 1 < args.Length) s_simd = Enum.Parse<SimdLevel>(args[++i], ignoreCase: true);
                else if (args[i] == "--act" && i + 1 < args.Length) s_activation = Enum.Parse<Activation>(args[++i], ignoreCase: true);
                else rest.Add(args[i]);
            }
            if (rest.Count == 0) return Usage();
            int[] n = rest.Skip(1).Select(int.Parse).ToArray();
            double gflops = rest[0] switch
            {
                "gemm" when n.Length == 3 && s_into => GemmInto(n[0], n[1], n[2], threads),
                "gemm" when n.Length == 3 => Gemm(n[0], n[1], n[2], threads, prepacked: false),
                "linear" when n.Length == 3 => Gemm(n[0], n[1], n[2], threads, prepacked: true),
                "attention" when n.Length == 5 => Attention(n[0], n[1], n[2], n[3], n[4], threads),
                "peak" when n.Length == 0 => Peak(threads),
                "lnproj" when n.Length == 4 => LayerNormProjected(n[0], n[1], n[2], n[3], threads),
                "parts" when n.Length == 3 => Parts(n[0], n[1], n[2], threads),
                "lnfuse" when n.Length == 3 => LayerNormFusion(n[0], n[1], n[2], threads),
                "matmul" when n.Length == 4 => BatchedMatMul(n[0], n[1], n[2], n[3], threads),
                "kernel" when n.Length == 0 => MicroKernel(SimdSupport.Detected),
                "kernel" when n.Length == 1 && n[0] is 256 or 512 => MicroKernel(SimdSupport.Clamp(n[0] == 512 ? SimdLevel.Avx512 : SimdLevel.Avx2Fma)),
                _ => double.NaN,
            };
            if (double.IsNaN(gflops)) return Usage();
            Console.WriteLine($"GFLOP/s: {gflops:F1}");
            return 0;
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"quick: {e.Message}");
            return Usage();
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: quick gemm|linear|parts|lnfuse M N K [--threads T] [--into] [--act gelu|quickgelu|tanh] | quick lnproj B T N M [--act A] | quick matmul BATCH M N K [--transb] [--perma] | quick attention B H TQ TK D [--threads T] | quick peak [--threads T] | quick kernel [256|512]");
        return 2;
    }

    /// <summary>LayerNormProjected on (B, T, N) rows with a (T, N) residual and a (T, M) shared projection; reports GB/s of the rows read and written.</summary>
    private static double LayerNormProjected(int b, int t, int n, int m, int threads)
    {
        using var cpu = new CpuBackend(threads, s_simd);
        var x = Random(1, b, t, n); var residual = Random(2, t, n);
        var projected = Random(3, b, t, m); var shared = Random(4, t, m);
        var u = Random(5, m); var c = Random(6, m);
        var act = s_activation;
        Console.WriteLine($"layernorm projected ({b}, {t}, {n}) -> ({b}, {t}, {m}) {act}, {cpu.Name}; 'GFLOP/s' below are GB/s");
        return Measure(4.0 * b * t * (n + 2L * m) / 2, () => cpu.LayerNormProjected(x, residual, 1e-5f, projected, shared, u, c, act).Dispose());
    }

    private static Tensor Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var data = new float[ShapeMath.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return Tensor.FromArray(data, shape);
    }

    private static double Gemm(int m, int n, int k, int threads, bool prepacked)
    {
        using var cpu = new CpuBackend(threads, s_simd);
        var a = Random(1, m, k);
        Action call;
        if (prepacked)
        {
            var w = cpu.PrepareLinear(Random(2, n, k), s_activation == Activation.None ? null : Random(3, n));
            call = () => cpu.Linear(a, w, s_activation).Dispose(); // results go back to the pool, as the model gives back its intermediates
        }
        else
        {
            var b = Random(2, k, n);
            call = () => cpu.MatMul(a, b).Dispose();
        }
        Console.WriteLine($"{(prepacked ? "linear (prepacked weight)" : "gemm")} {m}x{k}·{k}x{n}, {cpu.Name}");
        return Measure(2.0 * m * n * k, call);
    }

    /// <summary>Median ms of the unfused pair and of LinearLayerNorm, calls interleaved; returns the fused rate.</summary>
    private static double LayerNormFusion(int m, int n, int k, int threads)
    {
        using var cpu = new CpuBackend(threads, s_simd);
        var x = Random(1, m, k);
        using var w = cpu.PrepareLinear(Random(2, n, k), Random(3, n));
        var residual = Random(4, m, n);
        var gamma = Random(5, n); var beta = Random(6, n);
        Console.WriteLine($"linear {m}x{k}->{n} + residual + layernorm, {cpu.Name} (median ms, calls interleaved)");
        (string Name, Action Call)[] ways =
        [
            ("Linear, then LayerNorm", () =>
            {
                var dense = cpu.Linear(x, w);
                cpu.LayerNorm(dense, gamma, beta, 1e-12f, residual).Dispose();
                dense.Dispose();
            }),
            ("LinearLayerNorm", () => cpu.LinearLayerNorm(x, w, residual, gamma, beta, 1e-12f).Dispose()),
            ("Linear alone (no residual)", () => cpu.Linear(x, w).Dispose()),
        ];
        var times = ways.Select(_ => new List<double>()).ToArray();
        foreach (var way in ways) { way.Call(); way.Call(); }
        var total = Stopwatch.StartNew();
        while (times[0].Count < 5 || (total.Elapsed.TotalSeconds < 3 * TargetSeconds && times[0].Count < 10_000))
            for (int i = 0; i < ways.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                ways[i].Call();
                times[i].Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
        double flops = 2.0 * m * n * k, fused = 0;
        for (int i = 0; i < ways.Length; i++)
        {
            times[i].Sort();
            double med = times[i][times[i].Count / 2];
            if (i == 1) fused = med;
            Console.WriteLine($"{ways[i].Name,-28} {med * 1e3,8:F3} ms  ({flops / med / 1e9,6:F1} GFLOP/s, {times[i].Count} calls)");
        }
        return flops / fused / 1e9;
    }

    /// <summary>The backend's batched MatMul on (batch, m, k)·(batch, k, n), each result given back to the pool.</summary>
    private static double BatchedMatMul(int batch, int m, int n, int k, int threads)
    {
        using var cpu = new CpuBackend(threads, s_simd);
        var a = s_permA ? Random(1, m, batch, k).Permute(1, 0, 2) : Random(1, batch, m, k);
        var b = s_transB ? Random(2, batch, n, k) : Random(2, batch, k, n);
        Console.WriteLine($"matmul {batch}x {m}x{k}·{k}x{n}{(s_transB ? " (B transposed)" : "")}{(s_permA ? " (A per-head view)" : "")}, {cpu.Name}");
        return Measure(2.0 * batch * m * n * k, () => cpu.MatMul(a, b, s_transB).Dispose());
    }

    /// <summary>
    /// Times the phases of MatMul(M,K · K,N) separately, one call of each in turn (so load from other processes
    /// hits all alike), and prints the median ms of each; returns the rate of MatMul.
    /// </summary>
    private static unsafe double Parts(int m, int n, int k, int threads)
    {
        using var pool = new WorkerPool(threads);
        var simd = s_simd is { } s ? SimdSupport.Clamp(s) : SimdSupport.Detected;
        using var cpu = new CpuBackend(threads, simd);
        var bl = GemmBlocking.For(simd);
        var a = Random(1, m, k);
        var b = Random(2, k, n);
        var c = Tensor.Zeros(m, n);
        float* packed = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(GemmPacking.PackedBLength(k, n, bl) * 4), 64);
        float* ap = (float*)a.DataPointer, bp = (float*)b.DataPointer, cp = (float*)c.DataPointer;
        Console.WriteLine($"parts of {m}x{k}·{k}x{n}, {simd}, {threads} threads (median ms, calls interleaved)");
        (string Name, Action Call)[] parts =
        [
            ("output Tensor.Zeros", () => Tensor.Zeros(m, n)),
            ("pack B alone", () => GemmPacking.PackB(pool, bp, n, 1, k, n, bl, packed)),
            ("GEMM on prepacked B", () => BridgeTower.Kernels.Cpu.Gemm.Run(pool, simd, 1, m, n, k, ap, 0, k, 1, packed, 0, cp, 0, n, default)),
            ("pack all B, then GEMM (M > 512)", () =>
            {
                GemmPacking.PackB(pool, bp, n, 1, k, n, bl, packed);
                BridgeTower.Kernels.Cpu.Gemm.Run(pool, simd, 1, m, n, k, ap, 0, k, 1, packed, 0, cp, 0, n, default);
            }),
            ("RunPackingB (MatMul's path)", () => BridgeTower.Kernels.Cpu.Gemm.RunPackingB(pool, simd, 1, m, n, k, ap, 0, k, 1, bp, 0, n, 1, cp, 0, n, default)),
            ("MatMul (pooled output, given back)", () => cpu.MatMul(a, b).Dispose()),
        ];
        var times = parts.Select(_ => new List<double>()).ToArray();
        foreach (var p in parts) { p.Call(); p.Call(); }
        var total = Stopwatch.StartNew();
        while (times[0].Count < 5 || (total.Elapsed.TotalSeconds < 2 * TargetSeconds && times[0].Count < 10_000))
            for (int i = 0; i < parts.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                parts[i].Call();
                times[i].Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
        double flops = 2.0 * m * n * k;
        for (int i = 0; i < parts.Length; i++)
        {
            times[i].Sort();
            double med = times[i][times[i].Count / 2];
            Console.WriteLine($"{parts[i].Name,-32} {med * 1e3,8:F3} ms  ({flops / med / 1e9,6:F1} GFLOP/s-equivalent, {times[i].Count} calls)");
        }
        System.Runtime.InteropServices.NativeMemory.AlignedFree(packed);
        GC.KeepAlive(a); GC.KeepAlive(b); GC.KeepAlive(c);
        return flops / times[^1][times[^1].Count / 2] / 1e9;
    }

    /// <summary>MatMul's GEMM dispatch (B read in place up to InPlaceBMaxRows rows, else packed per call) into a reused C.</summary>
    private static unsafe double GemmInto(int m, int n, int k, int threads)
    {
        using var pool = new WorkerPool(threads);
        var simd = s_simd is { } s ? SimdSupport.Clamp(s) : SimdSupport.Detected;
        var a = Random(1, m, k);
        var b = Random(2, k, n);
        var c = Tensor.Zeros(m, n);
        float* ap = (float*)a.DataPointer, bp = (float*)b.DataPointer, cp = (float*)c.DataPointer;
        Action call = m <= CpuBackend.InPlaceBMaxRows
            ? () => BridgeTower.Kernels.Cpu.Gemm.Run(pool, simd, 1, m, n, k, ap, 0, k, 1, bp, 0, cp, 0, n, default, bRowStride: n)
            : () => BridgeTower.Kernels.Cpu.Gemm.RunPackingB(pool, simd, 1, m, n, k, ap, 0, k, 1, bp, 0, n, 1, cp, 0, n, default);
        Console.WriteLine($"gemm into a preallocated C {m}x{k}·{k}x{n}, cpu ({simd}, {threads} threads)");
        double rate = Measure(2.0 * m * n * k, call);
        GC.KeepAlive(a); GC.KeepAlive(b); GC.KeepAlive(c);
        return rate;
    }

    private static double Attention(int b, int h, int tq, int tk, int d, int threads)
    {
        using var cpu = new CpuBackend(threads, s_simd);
        var q = Random(1, b, tq, h * d);
        var k = Random(2, b, tk, h * d);
        var v = Random(3, b, tk, h * d);
        var mask = Tensor.Zeros(b, tk);
        float scale = 1f / MathF.Sqrt(d);
        Console.WriteLine($"attention B={b} H={h} Tq={tq} Tk={tk} D={d}, {cpu.Name}");
        return Measure(4.0 * b * h * tq * tk * d, () => cpu.Attention(q, k, v, h, scale, mask, false, out _).Dispose());
    }

    /// <summary>Runs call until TargetSeconds have passed (at least 5 timed calls) and returns the median rate.</summary>
    internal static double Measure(double flops, Action call)
    {
        call(); call();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < TargetSeconds && times.Count < 10_000))
        {
            long t0 = Stopwatch.GetTimestamp();
            call();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        times.Sort();
        double median = times[times.Count / 2];
        Console.WriteLine($"calls: {times.Count}, median {median * 1e3:F3} ms, best {times[0] * 1e3:F3} ms ({flops / times[0] / 1e9:F1} GFLOP/s)");
        return flops / median / 1e9;
    }

    /// <summary>
    /// One thread calling the micro-kernel on the same packed panels (A and B in L1/L2, C tile in L1):
    /// the ceiling of the blocked GEMM, so the gap to it is the driver's (packing, C traffic, threading).
    /// </summary>
    private static unsafe double MicroKernel(SimdLevel simd)
    {
        var bl = GemmBlocking.For(simd);
        int kc = bl.KC, panels = 8;
        float* a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(bl.MR * kc * panels * 4), 64);
        float* b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(bl.NR * kc * 4), 64);
        float* c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(bl.MR * bl.NR * 4), 64);
        for (int i = 0; i < bl.MR * kc * panels; i++) a[i] = 1e-3f * (i % 7);
        for (int i = 0; i < bl.NR * kc; i++) b[i] = 1e-3f * (i % 5);
        Console.WriteLine($"micro-kernel {simd} {bl.MR}x{bl.NR}, kc={kc}, {panels} A panels against one B panel per call");
        const int reps = 2000;
        double rate = Measure(2.0 * bl.MR * bl.NR * kc * panels * reps, () =>
        {
            for (int rep = 0; rep < reps; rep++)
                for (int p = 0; p < panels; p++)
                    GemmMicroKernels.Run(simd, kc, a + p * bl.MR * kc, b, bl.NR, c, bl.NR, p > 0);
        });
        System.Runtime.InteropServices.NativeMemory.AlignedFree(a);
        System.Runtime.InteropServices.NativeMemory.AlignedFree(b);
        System.Runtime.InteropServices.NativeMemory.AlignedFree(c);
        return rate;
    }

    /// <summary>
    /// The FMA throughput ceiling: per thread, 12 independent FMA chains (enough to cover latency × 2 pipes),
    /// measured at 256 bits and, where accelerated, 512 bits; returns the width the GEMM micro-kernel uses.
    /// </summary>
    internal static double Peak(int threads)
    {
        if (!Fma.IsSupported) throw new PlatformNotSupportedException("quick peak needs AVX2+FMA");
        double p256 = PeakOf(threads, FmaLoop);
        Console.WriteLine($"peak 256-bit: {p256:F1} GFLOP/s ({threads} threads x 12 independent Vector256 FMA chains, best of 3)");
        if (SimdSupport.Detected < SimdLevel.Avx512) return p256;
        double p512 = PeakOf(threads, FmaLoop512);
        Console.WriteLine($"peak 512-bit: {p512:F1} GFLOP/s ({threads} threads x 12 independent Vector512 FMA chains, best of 3)");
        Console.WriteLine("reported: the 512-bit peak (the GEMM runs its 12x32 Vector512 kernel here)");
        return p512;
    }

    /// <summary>loop(iterations) runs iterations x 12 FMAs and returns its lane count; the best rate of 3 rounds.</summary>
    private static double PeakOf(int threads, Func<long, (float, int)> loop)
    {
        const long iterations = 20_000_000;
        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            using var barrier = new Barrier(threads + 1);
            int lanes = 0;
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
            {
                barrier.SignalAndWait();
                lanes = loop(iterations).Item2;
                barrier.SignalAndWait();
            })).ToList();
            workers.ForEach(w => w.Start());
            barrier.SignalAndWait();
            long t0 = Stopwatch.GetTimestamp();
            barrier.SignalAndWait();
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            workers.ForEach(w => w.Join());
            best = Math.Max(best, threads * iterations * 12.0 * 2 * lanes / seconds / 1e9);
        }
        return best;
    }

    private static (float, int) FmaLoop512(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector512<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, c); a1 = Avx512F.FusedMultiplyAdd(a1, m, c); a2 = Avx512F.FusedMultiplyAdd(a2, m, c);
            a3 = Avx512F.FusedMultiplyAdd(a3, m, c); a4 = Avx512F.FusedMultiplyAdd(a4, m, c); a5 = Avx512F.FusedMultiplyAdd(a5, m, c);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, c); a7 = Avx512F.FusedMultiplyAdd(a7, m, c); a8 = Avx512F.FusedMultiplyAdd(a8, m, c);
            a9 = Avx512F.FusedMultiplyAdd(a9, m, c); a10 = Avx512F.FusedMultiplyAdd(a10, m, c); a11 = Avx512F.FusedMultiplyAdd(a11, m, c);
        }
        return (Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11), 16);
    }

    private static (float, int) FmaLoop(long iterations)
    {
        var m = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector256<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Fma.MultiplyAdd(a0, m, c); a1 = Fma.MultiplyAdd(a1, m, c); a2 = Fma.MultiplyAdd(a2, m, c);
            a3 = Fma.MultiplyAdd(a3, m, c); a4 = Fma.MultiplyAdd(a4, m, c); a5 = Fma.MultiplyAdd(a5, m, c);
            a6 = Fma.MultiplyAdd(a6, m, c); a7 = Fma.MultiplyAdd(a7, m, c); a8 = Fma.MultiplyAdd(a8, m, c);
            a9 = Fma.MultiplyAdd(a9, m, c); a10 = Fma.MultiplyAdd(a10, m, c); a11 = Fma.MultiplyAdd(a11, m, c);
        }
        return (Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11), 8);
    }
}
