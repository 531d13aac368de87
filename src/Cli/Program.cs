using System.Reflection;
using BridgeTower.Cli;

// Every ICommand in this assembly is a subcommand; adding a command is adding a file.
var commands = typeof(ICommand).Assembly.GetTypes()
    .Where(t => typeof(ICommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (ICommand)Activator.CreateInstance(t)!)
    .OrderBy(c => c.Name, StringComparer.Ordinal)
    .ToList();

return CommandLine.Dispatch(args, commands);
