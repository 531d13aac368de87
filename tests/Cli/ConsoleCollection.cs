namespace BridgeTower.Tests.Cli;

/// <summary>
/// Tests that redirect Console.Out/Error (process-wide state) join this collection, which runs
/// alone, so no other test's output lands in their capture.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "Console output";
}

/// <summary>Runs a command line in-process and captures what it prints.</summary>
public static class CliRunner
{
    public static IReadOnlyList<BridgeTower.Cli.ICommand> DiscoverCommands() =>
        typeof(BridgeTower.Cli.ICommand).Assembly.GetTypes()
            .Where(t => typeof(BridgeTower.Cli.ICommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (BridgeTower.Cli.ICommand)Activator.CreateInstance(t)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();

    public static (int ExitCode, string Out, string Error) Run(params string[] args)
    {
        var (oldOut, oldError) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = BridgeTower.Cli.CommandLine.Dispatch(args, DiscoverCommands());
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }
}
