namespace BridgeTower.Cli;

/// <summary>One `bridgetower` subcommand. Implementations need a public parameterless constructor.</summary>
public interface ICommand
{
    string Name { get; }
    /// <summary>One line for the command list.</summary>
    string Summary { get; }
    /// <summary>Full usage text, printed for --help and on argument errors.</summary>
    string Usage { get; }
    /// <summary>Runs with the arguments after the command name; returns the process exit code.</summary>
    int Run(string[] args, CancellationToken cancellationToken);
}

/// <summary>A problem with the command line or the user's inputs: printed as one line, exit code 2 (usage) or 1 (input).</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
