using System.Diagnostics;
using System.Globalization;
using BridgeTower.Model;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Cli.Commands;

/// <summary>
/// `bridgetower bench`: latency, throughput and peak memory of one task's forward at a real configuration,
/// with deterministic random weights made in memory (nothing to download) and random inputs.
/// </summary>
public sealed class BenchCommand : ICommand
{
    private readonly TextWriter? _out, _progress;

    public BenchCommand() { }

    /// <summary>Writes results to <paramref name="output"/> and progress to <paramref name="progress"/> instead of stdout / stderr.</summary>
    public BenchCommand(TextWriter output, TextWriter progress)
    {
        _out = output;
        _progress = progress;
    }

    public string Name => "bench";
    public string Summary => "time a forward at a real configuration with random weights (latency, throughput, peak memory)";
    public string Usage => """
        usage: bridgetower bench --config base|large|DIR --task itm|contrastive|mlm [--batch B] [--text-len T]
                                 [--threads N] [--runs R] [--warmup W] [--texts-per-image N] [--seed S] [--from-file] [--profile]

          --config          base or large (the hub checkpoints' shapes) or a directory holding a config.json
                            (only its config is read: weights are random, generated in memory)
          --batch           image-text pairs per forward (default 1)
          --text-len        tokens per text (default 16)
          --threads         worker threads (default: one per core)
          --runs            timed runs after the warm-up (default 5); --warmup untimed runs first (default 1)
          --texts-per-image one image against N texts (itm, mlm): times N uncached pairs in one batch, the same
                            pairs one at a time, the cached path (vision tower once, then N texts) and the N
                            texts against an image encoded before the runs, in the same run; median_ms is the
                            cached path's (encoding included)
          --from-file       write the random weights to a temporary model.safetensors and load the model from it
                            (memory-mapped, as a downloaded checkpoint is); the file is deleted afterwards
          --profile         time per backend operation (to stderr)
        prints median, min and max latency, throughput, GFLOP/s, peak working set and fp32 weight bytes;
        the last line is `median_ms: X`.
        """;

    private static readonly string[] Tasks = ["itm", "contrastive", "mlm"];

    public int Run(string[] args, CancellationToken cancellationToken)
    {
        var output = _out ?? Console.Out;
        var progress = _progress ?? Console.Error;
        var o = Options.Parse(args,
            ["--config", "--task", "--batch", "--text-len", "--threads", "--runs", "--warmup", "--texts-per-image", "--seed"], ["--profile", "--from-file"]);
        if (o.Positional.Count > 0) throw new CliException($"unexpected argument '{o.Positional[0]}'", CommandLine.ExitUsage);
        string configArg = o.Require("--config"), task = o.Require("--task");
        if (!Tasks.Contains(task)) throw new CliException($"--task '{task}': expected one of {string.Join(", ", Tasks)}", CommandLine.ExitUsage);
        int textsPerImage = o.GetInt("--texts-per-image", 0, min: 1);
        bool cacheMode = o.Get("--texts-per-image") is not null;
        if (cacheMode && task == "contrastive")
            throw new CliException("--texts-per-image applies to itm and mlm (the contrastive head compares a batch of images with a batch of texts)", CommandLine.ExitUsage);
        if (cacheMode && o.Get("--batch") is not null)
            throw new CliException("--texts-per-image N sets the batch to N texts; leave out --batch", CommandLine.ExitUsage);
        int batch = cacheMode ? textsPerImage : o.GetInt("--batch", 1, min: 1);
        int textLength = o.GetInt("--text-len", 16, min: 1);
        int threads = o.GetInt("--threads", Environment.ProcessorCount, min: 1);
        int runs = o.GetInt("--runs", 5, min: 1), warmup = o.GetInt("--warmup", 1, min: 0);
        int seed = o.GetInt("--seed", 0, min: 0);
        bool profile = o.Flag("--profile");
        bool fromFile = o.Flag("--from-file");

        var config = configArg switch
        {
            "base" => BridgeTowerConfig.Base,
            "large" => BridgeTowerConfig.Large,
            _ when Directory.Exists(configArg) || File.Exists(configArg) => BridgeTowerConfig.Load(configArg),
            _ => throw new CliException($"--config {configArg}: expected base, large or a directory holding config.json", CommandLine.ExitUsage),
        };
        config.ValidateForInference();
        int pad = config.Text.PadTokenId ?? 1, maxTokens = config.Text.MaxPositionEmbeddings - pad - 1;
        if (textLength > maxTokens)
            throw new CliException($"--text-len {textLength}: text_config.max_position_embeddings {config.Text.MaxPositionEmbeddings} allows at most {maxTokens} tokens", CommandLine.ExitUsage);
        if (config.Text.VocabSize < 2)
            throw new CliException($"--config {configArg}: text_config.vocab_size {config.Text.VocabSize} leaves no token besides padding");

        var head = task switch { "itm" => BridgeTowerHead.Itm, "mlm" => BridgeTowerHead.Mlm, _ => BridgeTowerHead.Contrastive };
        var weights = new RandomWeights(config, head, (ulong)seed);
        long weightBytes = 4 * weights.ParameterCount;
        int imageSize = config.Vision.ImageSize;
        using var file = fromFile ? TemporaryCheckpoint.Write(weights, progress, cancellationToken) : null;
        progress.WriteLine($"bench: building {configArg} {task} ({weights.ParameterCount:N0} parameters) with random weights{(file is null ? "" : " from " + file.Path)}...");

        var build = Stopwatch.StartNew();
        using var backend = new ProfilingBackend(Backends.Create(threads));
        using var model = TaskModel.Create(task, config, file?.Weights ?? (IWeightSource)weights, backend);
        build.Stop();
        cancellationToken.ThrowIfCancellationRequested();
        progress.WriteLine(string.Format(CultureInfo.InvariantCulture, "bench: built in {0:F1} s; working set {1:F2} GB, peak so far {2:F2} GB",
            build.Elapsed.TotalSeconds, Environment.WorkingSet / 1e9, PeakWorkingSetBytes() / 1e9));

        var random = new Random(seed);
        var (inputIds, attentionMask) = RandomText(random, config, batch, textLength);
        var pixels = RandomPixels(random, cacheMode ? 1 : batch, config.Vision.NumChannels, imageSize);
        var batchInputs = new BridgeTowerInputs
        {
            InputIds = inputIds,
            AttentionMask = attentionMask,
            PixelValues = cacheMode ? RepeatBatch(pixels, batch) : pixels,
        };
        // The cached path: the vision tower once for the image, then every text against its encoding.
        void Cached()
        {
            using var image = model.Backbone.EncodeImage(pixels);
            model.Forward(batchInputs with { PixelValues = null, Image = image });
        }
        // A cache's point is reuse: an image encoded once (at indexing time, say) is scored against texts later.
        // That scoring alone is timed too, against an encoding made before the runs.
        using var encoded = cacheMode ? model.Backbone.EncodeImage(pixels) : null;
        void Scoring() => model.Forward(batchInputs with { PixelValues = null, Image = encoded });
        void Uncached() => model.Forward(batchInputs);
        // Without the cache a caller may also score the pairs one by one, each a batch-1 forward.
        var pairs = Enumerable.Range(0, batch).Select(b => new BridgeTowerInputs
        {
            InputIds = inputIds.Narrow(0, b, 1),
            AttentionMask = attentionMask.Narrow(0, b, 1),
            PixelValues = pixels,
        }).ToList();
        void OneAtATime() { foreach (var pair in pairs) model.Forward(pair); }

        var measured = new List<(string Label, Action Forward, List<double> Ms, List<double> CpuMs)> { ("uncached", Uncached, [], []) };
        if (cacheMode)
        {
            measured.Add(("one at a time", OneAtATime, [], []));
            measured.Add(("cached", Cached, [], []));
            measured.Add(("scoring", Scoring, [], []));
        }
        using var process = Process.GetCurrentProcess();
        var flops = new double[measured.Count];
        var arena = new Dictionary<int, (long Rents, long Reuses, long FreshBytes)>();
        for (int r = -warmup; r < runs; r++)
        {
            for (int m = 0; m < measured.Count; m++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                backend.Timing = profile && r >= 0;
                backend.Section = measured[m].Label;
                // FLOPs of the first timed run: the warm-up also builds what the model makes once (route factors).
                bool counted = r == 0;
                if (counted) backend.ResetFlops();
                var cpuBefore = process.TotalProcessorTime;
                var pool = PinnedBufferPool.Current;
                long rentsBefore = pool.RentCount, reusesBefore = pool.ReuseCount, allocatedBefore = pool.AllocatedBytes;
                var watch = Stopwatch.StartNew();
                measured[m].Forward();
                watch.Stop();
                process.Refresh();
                if (counted) flops[m] = backend.Flops;
                if (r >= 0)
                {
                    // Fresh arrays in a timed run mean page faults the arena was meant to avoid.
                    var (rents, reuses, fresh) = arena.GetValueOrDefault(m);
                    arena[m] = (rents + pool.RentCount - rentsBefore, reuses + pool.ReuseCount - reusesBefore, fresh + pool.AllocatedBytes - allocatedBefore);
                    measured[m].Ms.Add(watch.Elapsed.TotalMilliseconds);
                    measured[m].CpuMs.Add((process.TotalProcessorTime - cpuBefore).TotalMilliseconds);
                }
                progress.WriteLine($"bench: {(r < 0 ? "warm-up" : $"run {r + 1}/{runs}")}{(cacheMode ? " " + measured[m].Label : "")}: {watch.Elapsed.TotalMilliseconds:F1} ms");
            }
        }

        long peak = PeakWorkingSetBytes();
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Format(c, "model: {0} {1}, batch {2}, text {3} tokens, image {4}x{4}, backend {5}, {6} thread(s)",
            configArg, task, batch, textLength, imageSize, backend.Name, threads));
        output.WriteLine(string.Format(c, "weights: {0:N0} parameters, fp32 {1:F2} GB (random, {2} in {3:F1} s)",
            weights.ParameterCount, weightBytes / 1e9, file is null ? "built" : "loaded from a memory-mapped safetensors file", build.Elapsed.TotalSeconds));
        output.WriteLine(string.Format(c, "runs: {0} after {1} warm-up", runs, warmup));
        double median = 0;
        for (int m = 0; m < measured.Count; m++)
        {
            var ms = measured[m].Ms.Order().ToList();
            if (measured[m].Label != "scoring") median = Median(ms); // median_ms: the forward or the cached path (encoding included)
            string label = !cacheMode ? "" : measured[m].Label switch
            {
                "cached" => $"cached ({batch} texts, 1 image encoding): ",
                "scoring" => $"cached, image encoded beforehand ({batch} texts): ",
                "one at a time" => $"uncached ({batch} pairs one at a time): ",
                _ => $"uncached ({batch} pairs in one batch): ",
            };
            double own = Median(ms);
            output.WriteLine(string.Format(c, "{0}latency: median {1:F1} ms, min {2:F1} ms, max {3:F1} ms", label, own, ms[0], ms[^1]));
            output.WriteLine(string.Format(c, "{0}throughput: {1:F3} pairs/s, {2:F1} GFLOP per forward, {3:F1} GFLOP/s",
                label, batch / (own / 1000), flops[m] / 1e9, flops[m] / 1e9 / (own / 1000)));
            // CPU time shows whether the threads had their cores: on a shared machine wall time exceeds CPU time / threads.
            double cpu = Median(measured[m].CpuMs.Order().ToList());
            output.WriteLine(string.Format(c, "{0}cpu time: median {1:F1} ms per forward ({2:F2} cores busy on average)",
                label, cpu, cpu / own));
        }
        if (cacheMode)
        {
            double MedianOf(int m) => Median(measured[m].Ms.Order().ToList());
            output.WriteLine(string.Format(c, "cache speed-up: {0:F2}x against one uncached batch, {1:F2}x against the pairs one at a time (uncached median / cached median)",
                MedianOf(0) / MedianOf(2), MedianOf(1) / MedianOf(2)));
            output.WriteLine(string.Format(c, "cache speed-up, image encoded beforehand: {0:F2}x against one uncached batch, {1:F2}x against the pairs one at a time",
                MedianOf(0) / MedianOf(3), MedianOf(1) / MedianOf(3)));
        }
        output.WriteLine(string.Format(c, "peak memory: {0:F2} GB working set ({1:F2}x the fp32 weights)", peak / 1e9, peak / (double)weightBytes));
        if (profile)
            for (int m = 0; m < measured.Count; m++)
            {
                WriteProfile(progress, backend, runs, cacheMode ? measured[m].Label : null, measured[m].Label, measured[m].Ms.Sum());
                var (rents, reuses, fresh) = arena[m];
                progress.WriteLine(string.Format(c, "  activation arena: {0} rents, {1} served by returned buffers, {2:F1} MB freshly allocated (per run)",
                    rents / runs, reuses / runs, fresh / 1e6 / runs));
            }
        output.WriteLine(string.Format(c, "median_ms: {0:F1}", median));
        return CommandLine.ExitOk;
    }

    private static double Median(List<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    /// <param name="title">the forward's label in cache mode, else null</param>
    private static void WriteProfile(TextWriter w, ProfilingBackend backend, int runs, string? title, string section, double totalMs)
    {
        w.WriteLine($"profile{(title is null ? "" : $" of the {title} forward")} (per run, {runs} runs):");
        double inOps = 0;
        foreach (var (op, calls, time, flops) in backend.Report(section))
        {
            inOps += time.TotalMilliseconds;
            w.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-36} {1,6} calls {2,10:F1} ms {3}",
                op, calls / runs, time.TotalMilliseconds / runs, flops > 0 ? $"{flops / 1e9 / time.TotalSeconds,8:F1} GFLOP/s" : ""));
        }
        w.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-36} {1,6}       {2,10:F1} ms", "model-side (outside the backend)", "", (totalMs - inOps) / runs));
    }

    /// <summary>Random non-padding token ids (BOS first, EOS last when the text has room), all attended.</summary>
    private static (Tensor Ids, Tensor Mask) RandomText(Random random, BridgeTowerConfig config, int batch, int length)
    {
        int vocab = config.Text.VocabSize, pad = config.Text.PadTokenId ?? 1;
        var ids = new long[batch * length];
        for (int i = 0; i < ids.Length; i++)
        {
            int id = random.Next(vocab);
            ids[i] = id == pad ? (id + 1) % vocab : id;
        }
        for (int b = 0; b < batch && length >= 2; b++)
        {
            if (config.Text.BosTokenId is int bos && bos != pad && bos < vocab) ids[b * length] = bos;
            if (config.Text.EosTokenId is int eos && eos != pad && eos < vocab) ids[b * length + length - 1] = eos;
        }
        return (Tensor.FromArray(ids, batch, length), Tensor.FromArray(Enumerable.Repeat(1L, ids.Length).ToArray(), batch, length));
    }

    /// <summary>Values in the range of normalized pixels.</summary>
    private static Tensor RandomPixels(Random random, int batch, int channels, int size)
    {
        var values = new float[batch * channels * size * size];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        return Tensor.FromArray(values, batch, channels, size, size);
    }

    private static Tensor RepeatBatch(Tensor x, int n)
    {
        var one = x.ReadOnlySpan<float>();
        var all = new float[one.Length * n];
        for (int i = 0; i < n; i++) one.CopyTo(all.AsSpan(i * one.Length));
        var shape = x.ShapeArray();
        shape[0] = n;
        return Tensor.FromArray(all, shape);
    }

    /// <summary>The process's peak resident set (VmHWM on Linux), in bytes.</summary>
    private static long PeakWorkingSetBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    /// <summary>One task's model behind a common face.</summary>
    private sealed class TaskModel(IDisposable model, BridgeTowerModel backbone, Action<BridgeTowerInputs> forward) : IDisposable
    {
        public BridgeTowerModel Backbone { get; } = backbone;
        public void Forward(BridgeTowerInputs inputs) => forward(inputs);
        public void Dispose() => model.Dispose();

        public static TaskModel Create(string task, BridgeTowerConfig config, IWeightSource weights, Kernels.IBackend backend)
        {
            switch (task)
            {
                case "itm":
                    var itm = BridgeTowerForImageAndTextRetrieval.FromWeights(config, weights, backend);
                    return new TaskModel(itm, itm.BridgeTower, i => itm.Forward(i));
                case "mlm":
                    var mlm = BridgeTowerForMaskedLM.FromWeights(config, weights, backend);
                    return new TaskModel(mlm, mlm.BridgeTower, i => mlm.Forward(i));
                default:
                    var itc = BridgeTowerForContrastiveLearning.FromWeights(config, weights, backend);
                    return new TaskModel(itc, itc.BridgeTower, i => itc.Forward(i));
            }
        }
    }
}
