using System.Text.Json;
using BridgeTower.Cli;
using BridgeTower.Cli.Commands;

namespace BridgeTower.Tests.Preprocessing.Text;

public class TokenizeCommandTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        var writer = new StringWriter();
        int code = new TokenizeCommand { Out = writer }.Run(args, CancellationToken.None);
        return (code, writer.ToString());
    }

    [SharedFact]
    public void PrintsIdsAndTokens()
    {
        var (code, output) = Run("--model", SharedData.Path("fixtures", "processor"), "--text", "a <mask> looking");
        Assert.Equal(0, code);
        Assert.Contains("input_ids: [0, 102, 50264, 546, 2]", output);
        Assert.Contains("tokens:    [\"<s>\",\"a\",\"<mask>\",\"Ġlooking\",\"</s>\"]", output);
    }

    [SharedFact]
    public void JsonHasOneObjectPerText()
    {
        var (code, output) = Run("--model", SharedData.Path("data", "roberta-base"), "--text", "Hello world!", "Hello", "--json", "--max-length", "3");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("Hello world!", first.RootElement.GetProperty("text").GetString());
        Assert.Equal([0, 31414, 2], first.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["<s>", "Hello", "</s>"], first.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void BadArgumentsAndMissingModelGiveErrorCodes()
    {
        Assert.Equal(CommandLine.ExitUsage, Assert.Throws<CliException>(() => Run("--text", "a")).ExitCode);
        Assert.Equal(CommandLine.ExitUsage, Assert.Throws<CliException>(() => Run("--model", "x")).ExitCode);
        Assert.Equal(CommandLine.ExitUsage, Assert.Throws<CliException>(() => Run("--model", "x", "--text", "a", "--max-length", "1")).ExitCode);
        string missing = Path.Combine(Path.GetTempPath(), "bt-no-such-model-dir");
        // Through the dispatcher: one line on stderr and exit code 1, no stack trace.
        Assert.Equal(CommandLine.ExitError, CommandLine.Dispatch(["tokenize", "--model", missing, "--text", "a"], [new TokenizeCommand()]));
    }
}
