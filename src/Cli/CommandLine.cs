namespace BridgeTower.Cli;

public static class CommandLine
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    public static int Dispatch(string[] args, IReadOnlyList<ICommand> commands)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine("usage: bridgetower <command> [options]   (bridgetower <command> --help for details)");
            Console.WriteLine();
            foreach (var c in commands) Console.WriteLine($"  {c.Name,-12} {c.Summary}");
            return args.Length == 0 ? ExitUsage : ExitOk;
        }
        var command = commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            Console.Error.WriteLine($"bridgetower: unknown command '{args[0]}' (known: {string.Join(", ", commands.Select(c => c.Name))})");
            return ExitUsage;
        }
        var rest = args[1..];
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            Console.WriteLine(command.Usage);
            return ExitOk;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        try
        {
            return command.Run(rest, cts.Token);
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"bridgetower {command.Name}: {e.Message}");
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"bridgetower {command.Name}: cancelled");
            return 130;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException
                                      or InvalidDataException or FormatException or KeyNotFoundException
                                      or NotSupportedException or InvalidOperationException)
        {
            // Errors from the libraries already name the file, tensor or argument; print them as one line.
            Console.Error.WriteLine($"bridgetower {command.Name}: {e.Message.ReplaceLineEndings(" ")}");
            return ExitError;
        }
    }
}
