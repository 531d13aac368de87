using BridgeTower.Cli;
using BridgeTower.Cli.Commands;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Model;

/// <summary>`bridgetower run` end to end on the tiny-base fixture.</summary>
public class RunCommandTests
{
    private static int Run(params string[] args) => CommandLine.Dispatch(["run", .. args], [new RunCommand()]);

    /// <summary>Writes the named fixture inputs to a temporary in.safetensors and runs <paramref name="body"/>(dir, input, output).</summary>
    private static void WithInputs(ModelFixture f, string[] names, Action<string, string, string> body)
    {
        string dir = Directory.CreateTempSubdirectory("bt-run-").FullName;
        try
        {
            string input = Path.Combine(dir, "in.safetensors"), output = Path.Combine(dir, "out.safetensors");
            SafetensorsWriter.Write(input, names.ToDictionary(n => n, f.Input));
            body(dir, input, output);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SharedTheory]
    [InlineData("itm", "itm_labels", "itm.logits", "itm.loss")]
    [InlineData("mlm", "mlm_labels", "mlm.logits", "mlm.loss")]
    [InlineData("base", null, "model.pooler_output", null)]
    public void Run_writes_the_reference_outputs(string task, string? labels, string logitsName, string? lossName)
    {
        using var f = new ModelFixture("tiny-base");
        WithInputs(f, ["input_ids", "attention_mask", "pixel_values", "pixel_mask", "itm_labels", "mlm_labels"], (_, input, output) =>
        {
            string[] args = ["--model", f.Directory, "--task", task, "--inputs", input, "--out", output];
            if (labels is not null) args = [.. args, "--labels", labels];
            Assert.Equal(0, Run(args));
            using var result = SafetensorsFile.Open(output);
            string ours = task == "base" ? "pooler_output" : "logits";
            var pairs = new List<(string, Tensor)> { (logitsName, result[ours]) };
            if (lossName is not null) pairs.Add((lossName, result["loss"]));
            Parity.AssertClose(f.Expected, pairs);
        });
    }

    [SharedFact]
    public void Contrastive_run_writes_embeddings_and_loss()
    {
        using var f = new ModelFixture("tiny-base");
        WithInputs(f, ["input_ids", "attention_mask", "pixel_values"], (_, input, output) =>
        {
            Assert.Equal(0, Run("--model", f.Directory, "--task", "contrastive", "--inputs", input, "--out", output, "--return-loss", "--hidden-states"));
            using var result = SafetensorsFile.Open(output);
            Parity.AssertClose(f.Expected,
            [
                ("itc.logits", result["logits"]), ("itc.text_embeds", result["text_embeds"]), ("itc.image_embeds", result["image_embeds"]),
                ("itc.cross_embeds", result["cross_embeds"]), ("itc.loss", result["loss"]), ("hidden.image.4", result["hidden_states.image.4"]),
            ]);
        });
    }

    [SharedFact]
    public void Bad_invocations_exit_non_zero()
    {
        using var f = new ModelFixture("tiny-base");
        WithInputs(f, ["pixel_values"], (dir, input, output) =>
        {
            Assert.Equal(CommandLine.ExitUsage, Run("--task", "itm", "--inputs", input, "--out", output));
            Assert.Equal(CommandLine.ExitUsage, Run("--model", f.Directory, "--task", "vqa", "--inputs", input, "--out", output));
            Assert.Equal(CommandLine.ExitError, Run("--model", f.Directory, "--task", "itm", "--inputs", input, "--out", output));
            Assert.Equal(CommandLine.ExitError, Run("--model", f.Directory, "--task", "itm", "--inputs", Path.Combine(dir, "none"), "--out", output));
            Assert.False(File.Exists(output));
        });
    }
}
