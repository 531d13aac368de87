using BridgeTower.Kernels;
using BridgeTower.Model;
using BridgeTower.Tensors;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Cli.Commands;

/// <summary>`bridgetower run`: one forward of a checkpoint on tensors from a safetensors file, outputs under the reference's names.</summary>
public sealed class RunCommand : ICommand
{
    public string Name => "run";
    public string Summary => "run a model forward on tensors from a .safetensors file, write the outputs";
    public string Usage => """
        usage: bridgetower run --model DIR --task base|itm|mlm|contrastive --inputs IN.safetensors --out OUT.safetensors
                               [--labels NAME] [--return-loss] [--hidden-states] [--threads N]

          IN holds input_ids and optionally attention_mask, and pixel_values or image_embeds (batch-first);
          token_type_ids and pixel_mask are accepted and ignored, as the reference ignores them.
          --labels NAME   the tensor of IN holding the labels (itm: (B,), mlm: (B,T) with -100 ignored)
          --return-loss   contrastive: also write the loss
          --hidden-states also write hidden_states.* (image states sequence-first, as the reference)
          --threads N     worker threads (default: one per core)
        outputs: base: text_features, image_features, pooler_output; itm and mlm: logits (+ loss with labels);
                 contrastive: logits, text_embeds, image_embeds, cross_embeds (+ loss)
        """;

    private static readonly string[] Tasks = ["base", "itm", "mlm", "contrastive"];

    public int Run(string[] args, CancellationToken cancellationToken)
    {
        var o = Options.Parse(args, ["--model", "--task", "--inputs", "--out", "--labels", "--threads"], ["--return-loss", "--hidden-states"]);
        if (o.Positional.Count > 0) throw new CliException($"unexpected argument '{o.Positional[0]}'", CommandLine.ExitUsage);
        string model = o.Require("--model"), task = o.Require("--task"), inputsPath = o.Require("--inputs"), outPath = o.Require("--out");
        string? labelsName = o.Get("--labels");
        int threads = o.GetInt("--threads", 0, min: 1);
        if (!Tasks.Contains(task)) throw new CliException($"--task '{task}': expected one of {string.Join(", ", Tasks)}", CommandLine.ExitUsage);
        if (labelsName is not null && task is not ("itm" or "mlm"))
            throw new CliException($"--labels applies to itm and mlm, not {task}", CommandLine.ExitUsage);
        if (o.Flag("--return-loss") && task != "contrastive")
            throw new CliException("--return-loss applies to the contrastive task (itm and mlm give a loss with --labels)", CommandLine.ExitUsage);
        if (!Directory.Exists(model)) throw new CliException($"--model {model}: no such directory");
        if (!File.Exists(inputsPath)) throw new CliException($"--inputs {inputsPath}: no such file");

        using var file = SafetensorsFile.Open(inputsPath);
        Tensor? Optional(string name) => file.TryGet(name, out var t) ? t : null;
        var ids = Optional("input_ids") ?? throw new CliException($"{inputsPath}: no tensor named input_ids");
        var pixels = Optional("pixel_values");
        var embeds = Optional("image_embeds");
        if (pixels is null && embeds is null) throw new CliException($"{inputsPath}: needs pixel_values or image_embeds");
        if (pixels is not null && embeds is not null) throw new CliException($"{inputsPath}: holds both pixel_values and image_embeds; keep one");
        Tensor? labels = null;
        if (labelsName is not null && !file.TryGet(labelsName, out labels))
            throw new CliException($"--labels {labelsName}: {inputsPath} has no tensor of that name");

        var inputs = new BridgeTowerInputs
        {
            InputIds = ids,
            AttentionMask = Optional("attention_mask"),
            TokenTypeIds = Optional("token_type_ids"),
            PixelValues = pixels,
            PixelMask = Optional("pixel_mask"),
            ImageEmbeds = embeds,
            Labels = labels,
            ReturnLoss = o.Flag("--return-loss"),
            OutputHiddenStates = o.Flag("--hidden-states"),
        };
        using IBackend backend = Backends.Create(threads);
        Dictionary<string, Tensor> outputs = task switch
        {
            "base" => Use(BridgeTowerModel.Load(model, backend), m => m.Forward(inputs).ToDictionary()),
            "itm" => Use(BridgeTowerForImageAndTextRetrieval.Load(model, backend), m => m.Forward(inputs).ToDictionary()),
            "mlm" => Use(BridgeTowerForMaskedLM.Load(model, backend), m => m.Forward(inputs).ToDictionary()),
            _ => Use(BridgeTowerForContrastiveLearning.Load(model, backend), m => m.Forward(inputs).ToDictionary()),
        };
        SafetensorsWriter.Write(outPath, outputs.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Contiguous())));
        Console.WriteLine($"wrote {outputs.Count} tensors to {outPath}: {string.Join(", ", outputs.Select(kv => $"{kv.Key} {kv.Value.ShapeString}").Take(8))}{(outputs.Count > 8 ? ", ..." : "")}");
        return CommandLine.ExitOk;
    }

    /// <summary>Runs <paramref name="run"/> and copies its outputs out of the model's lifetime (weights may be memory-mapped).</summary>
    private static Dictionary<string, Tensor> Use<TModel>(TModel model, Func<TModel, Dictionary<string, Tensor>> run) where TModel : IDisposable
    {
        using (model)
        {
            return run(model).ToDictionary(kv => kv.Key, kv => kv.Value.Copy());
        }
    }
}
