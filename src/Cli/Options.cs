namespace BridgeTower.Cli;

/// <summary>
/// A small GNU-style option parser: --name value, --name=value, --flag, and repeated options
/// collecting several values (--image a.jpg b.jpg). Unknown options are errors.
/// </summary>
public sealed class Options
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    public List<string> Positional { get; } = [];

    /// <param name="args">arguments after the command name</param>
    /// <param name="valued">options that take one or more values</param>
    /// <param name="flags">options that take none</param>
    public static Options Parse(string[] args, IEnumerable<string> valued, IEnumerable<string> flags)
    {
        var valuedSet = valued.ToHashSet(StringComparer.Ordinal);
        var flagSet = flags.ToHashSet(StringComparer.Ordinal);
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--")
            {
                o.Positional.Add(a);
                continue;
            }
            string name = a, inline = "";
            bool hasInline = false;
            int eq = a.IndexOf('=');
            if (eq > 0) { name = a[..eq]; inline = a[(eq + 1)..]; hasInline = true; }
            if (flagSet.Contains(name))
            {
                if (hasInline) throw new CliException($"option {name} takes no value", CommandLine.ExitUsage);
                o._flags.Add(name);
            }
            else if (valuedSet.Contains(name))
            {
                var list = o._values.TryGetValue(name, out var l) ? l : o._values[name] = [];
                if (hasInline) { list.Add(inline); continue; }
                int start = i;
                while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) list.Add(args[++i]);
                if (i == start) throw new CliException($"option {name} needs a value", CommandLine.ExitUsage);
            }
            else throw new CliException($"unknown option {name}", CommandLine.ExitUsage);
        }
        return o;
    }

    public bool Flag(string name) => _flags.Contains(name);

    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var l) ? l : [];

    public string? Get(string name)
    {
        var all = All(name);
        if (all.Count > 1) throw new CliException($"option {name} given {all.Count} values, expected one", CommandLine.ExitUsage);
        return all.Count == 1 ? all[0] : null;
    }

    public string Require(string name) => Get(name) ?? throw new CliException($"missing required option {name}", CommandLine.ExitUsage);

    public int GetInt(string name, int fallback, int min = int.MinValue)
    {
        string? s = Get(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v) || v < min)
            throw new CliException($"option {name}: '{s}' is not an integer{(min > int.MinValue ? $" >= {min}" : "")}", CommandLine.ExitUsage);
        return v;
    }
}
