using System.Text.RegularExpressions;
using BridgeTower.Cli;
using BridgeTower.Cli.Commands;
using BridgeTower.Tests.Model;

namespace BridgeTower.Tests.Cli;

/// <summary>`bridgetower bench` on tiny configs: it runs, reports, and ends with the parsable line (no timing is asserted).</summary>
public class BenchCommandTests
{
    private static (int Code, string[] Lines) Bench(params string[] args)
    {
        var output = new StringWriter();
        int code = CommandLine.Dispatch(["bench", .. args], [new BenchCommand(output, TextWriter.Null)]);
        return (code, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static void AssertReport(string[] lines)
    {
        Assert.Matches(new Regex(@"^median_ms: \d+\.\d$"), lines[^1]);
        Assert.Contains(lines, l => l.StartsWith("peak memory: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("GFLOP/s", StringComparison.Ordinal));
    }

    [SharedFact]
    public void Bench_on_a_fixture_config_dir_ends_with_the_median_line()
    {
        var (code, lines) = Bench("--config", SharedData.Models("tiny-base"), "--task", "itm", "--runs", "1", "--warmup", "0", "--threads", "1");
        Assert.Equal(0, code);
        AssertReport(lines);
    }

    [Theory]
    [InlineData("contrastive", "--batch", "2")]
    [InlineData("mlm", "--texts-per-image", "2")]
    public void Bench_on_a_generated_config(string task, string option, string value)
    {
        string dir = Directory.CreateTempSubdirectory("bt-bench-").FullName;
        try
        {
            RandomWeightsTests.TinyConfig().Save(Path.Combine(dir, "config.json"));
            var (code, lines) = Bench("--config", dir, "--task", task, option, value, "--text-len", "5", "--runs", "2", "--warmup", "0", "--profile");
            Assert.Equal(0, code);
            AssertReport(lines);
            if (option == "--texts-per-image")
            {
                Assert.Contains(lines, l => l.StartsWith("cache speed-up: ", StringComparison.Ordinal));
                Assert.Contains(lines, l => l.StartsWith("cache speed-up, image encoded beforehand: ", StringComparison.Ordinal));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Bench_from_file_loads_the_weights_it_wrote_and_deletes_them()
    {
        string dir = Directory.CreateTempSubdirectory("bt-bench-").FullName;
        var before = Directory.GetDirectories(Path.GetTempPath(), "bridgetower-bench-*").ToHashSet();
        try
        {
            RandomWeightsTests.TinyConfig().Save(Path.Combine(dir, "config.json"));
            var (code, lines) = Bench("--config", dir, "--task", "itm", "--text-len", "5", "--runs", "1", "--warmup", "0", "--from-file");
            Assert.Equal(0, code);
            AssertReport(lines);
            Assert.Contains(lines, l => l.Contains("loaded from a memory-mapped safetensors file", StringComparison.Ordinal));
            Assert.Subset(before, Directory.GetDirectories(Path.GetTempPath(), "bridgetower-bench-*").ToHashSet());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("--config", "base", "--task", "vqa")]
    [InlineData("--config", "/no/such/dir", "--task", "itm")]
    [InlineData("--config", "base", "--task", "itm", "--text-len", "600")]
    [InlineData("--config", "base", "--task", "itm", "--batch", "0")]
    [InlineData("--config", "base", "--task", "itm", "--runs", "x")]
    [InlineData("--config", "base", "--task", "itm", "--texts-per-image", "4", "--batch", "4")]
    [InlineData("--config", "base", "--task", "contrastive", "--texts-per-image", "4")]
    [InlineData("--task", "itm")]
    public void Bad_arguments_fail_before_building_anything(params string[] args)
    {
        var (code, lines) = Bench(args);
        Assert.NotEqual(0, code);
        Assert.Empty(lines);
    }
}
