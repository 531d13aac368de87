using BridgeTower.Cli;
using BridgeTower.Cli.Commands;
using BridgeTower.Tensors.Safetensors;
using BridgeTower.Tests.Tensors;

namespace BridgeTower.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public sealed class InspectCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [SharedFact]
    public void Prints_the_config_and_every_tensor_of_tiny_base()
    {
        string model = SharedData.Models("tiny-base");
        var (code, stdout, stderr) = CliRunner.Run("inspect", model);
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);

        Assert.Contains("model_type", stdout);
        Assert.Matches(@"link_tower_type\s+add", stdout);
        Assert.Matches(@"vocab_size\s+50265", stdout);
        Assert.Matches(@"image_size\s+32", stdout);
        Assert.Matches(@"patch_size\s+8", stdout);

        using var checkpoint = Checkpoint.Open(model);
        var lines = stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        long parameters = 0, bytes = 0;
        foreach (string name in checkpoint.Names)
        {
            var t = checkpoint[name];
            string row = Assert.Single(lines, l => l.StartsWith(name + " ", StringComparison.Ordinal));
            Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(name)}\s+{t.DType}\s+{System.Text.RegularExpressions.Regex.Escape(t.ShapeString)}\s+{t.ByteCount}$", row);
            parameters += t.ElementCount;
            bytes += t.ByteCount;
        }
        Assert.Contains($"total: {checkpoint.Names.Count()} tensors", stdout);
        Assert.Contains($"{parameters} parameters, {bytes} bytes", stdout);
    }

    [SharedFact]
    public void Sharded_checkpoint_totals_match_its_index()
    {
        var writer = new StringWriter();
        int code = new InspectCommand(writer).Run([SharedData.Path("fixtures", "checkpoints", "sharded"), "--no-tensors"], default);
        Assert.Equal(0, code);
        // total_size in model.safetensors.index.json is 4275712 bytes.
        Assert.Contains("294 tensors (F32 294)", writer.ToString());
        Assert.Contains("4275712 bytes", writer.ToString());
        Assert.DoesNotContain("bridgetower.", writer.ToString());
    }

    [Fact]
    public void A_directory_without_config_prints_the_tensors()
    {
        SafetensorsWriter.Write(_dir.File("model.safetensors"), [new("w", Tensor.Zeros(DType.BF16, 2, 3))]);
        var writer = new StringWriter();
        Assert.Equal(0, new InspectCommand(writer).Run([_dir.Path], default));
        Assert.Contains("config.json: absent", writer.ToString());
        Assert.Matches(@"\nw\s+BF16\s+\[2, 3\]\s+12\r?\n", writer.ToString());
        Assert.Contains("total: 1 tensors (BF16 1), 6 parameters, 12 bytes", writer.ToString());
    }

    [Fact]
    public void A_missing_directory_is_one_line_naming_it_and_a_failing_exit_code()
    {
        string missing = _dir.File("no-such-model");
        var (code, stdout, stderr) = CliRunner.Run("inspect", missing);
        Assert.Equal(CommandLine.ExitError, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(missing, stderr);
    }

    [Fact]
    public void A_corrupt_checkpoint_is_one_line_naming_the_file()
    {
        string path = RawSafetensors.Write(_dir, "model.safetensors",
            RawSafetensors.Build("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}""", 8));
        var (code, stdout, stderr) = CliRunner.Run("inspect", _dir.Path);
        Assert.Equal(CommandLine.ExitError, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(path, stderr);
        Assert.Contains("'w'", stderr);
    }

    [Fact]
    public void A_corrupt_config_is_one_line_naming_it()
    {
        SafetensorsWriter.Write(_dir.File("model.safetensors"), [new("w", Tensor.Zeros(1))]);
        File.WriteAllText(_dir.File("config.json"), "{\"hidden_size\": ");
        var (code, stdout, stderr) = CliRunner.Run("inspect", _dir.Path);
        Assert.Equal(CommandLine.ExitError, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(_dir.File("config.json"), stderr);
    }

    [Fact]
    public void Wrong_argument_count_is_a_usage_error()
    {
        var (code, _, stderr) = CliRunner.Run("inspect");
        Assert.Equal(CommandLine.ExitUsage, code);
        Assert.Contains("expected one model directory", stderr);
        Assert.Equal(CommandLine.ExitUsage, CliRunner.Run("inspect", "a", "b").ExitCode);
        Assert.Equal(CommandLine.ExitUsage, CliRunner.Run("inspect", "a", "--bogus").ExitCode);
    }

    [Fact]
    public void Inspect_is_discovered_and_listed()
    {
        Assert.Contains(CliRunner.DiscoverCommands(), c => c is InspectCommand);
        var (code, stdout, _) = CliRunner.Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("inspect", stdout);
    }
}

[Collection(ConsoleCollection.Name)]
public sealed class InspectPyTorchTests
{
    [SharedFact]
    public void A_pytorch_model_bin_directory_is_inspected_too()
    {
        var writer = new StringWriter();
        int code = new InspectCommand(writer).Run([SharedData.Path("fixtures", "checkpoints", "bin-views")], default);
        Assert.Equal(0, code);
        string text = writer.ToString();
        Assert.Contains("pytorch_model.bin", text);
        Assert.Matches(@"extra\.transposed_view\s+F32\s+\[", text);
        Assert.Contains("total: 296 tensors", text);
    }

    [SharedFact]
    public void A_hostile_pickle_is_one_line_naming_the_file()
    {
        string path = SharedData.Path("fixtures", "checkpoints", "hostile", "os_system.bin");
        var (code, stdout, stderr) = CliRunner.Run("inspect", path);
        Assert.Equal(BridgeTower.Cli.CommandLine.ExitError, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains(path, stderr);
        Assert.Contains("refusing global", stderr);
    }
}
