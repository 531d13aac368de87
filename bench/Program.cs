using BenchmarkDotNet.Running;

// `dotnet run -c Release --project bench -- [BenchmarkDotNet args]` runs the suites;
// `... -- quick <what> ...` runs the script-friendly quick mode.
if (args.Length > 0 && args[0] == "quick")
    return BridgeTower.Bench.Quick.Run(args[1..]);

BenchmarkSwitcher.FromAssembly(typeof(BridgeTower.Bench.Quick).Assembly).Run(args);
return 0;
