namespace BridgeTower.Tests.Support;

/// <summary>
/// Finds the ground-truth folder ../shared (beside the repository root) or the folder named by
/// BRIDGETOWER_SHARED. Tests that need it use <see cref="SharedFactAttribute"/> /
/// <see cref="SharedTheoryAttribute"/> and are skipped with a clear message when it is absent.
/// </summary>
public static class SharedData
{
    public const string EnvironmentVariable = "BRIDGETOWER_SHARED";

    private static readonly Lazy<string?> Root = new(Locate);

    public static string? RootOrNull => Root.Value;

    public static bool Available => Root.Value is not null;

    public static string SkipReason =>
        $"ground truth not found: set {EnvironmentVariable} or place the shared/ folder beside the repository root (../shared)";

    /// <summary>Absolute path of <paramref name="relative"/> under shared/ (throws when absent: guard with the attributes).</summary>
    public static string Path(params string[] relative) =>
        System.IO.Path.Combine([Root.Value ?? throw new InvalidOperationException(SkipReason), .. relative]);

    public static string Models(string variant) => Path("fixtures", "models", variant);

    /// <summary>Every model fixture variant (directories under fixtures/models).</summary>
    public static IEnumerable<string> ModelVariants() =>
        Available
            ? Directory.GetDirectories(Path("fixtures", "models")).Select(System.IO.Path.GetFileName).Order().Cast<string>()
            : [];

    private static string? Locate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv))
            return Directory.Exists(fromEnv) ? System.IO.Path.GetFullPath(fromEnv) : null;
        // Walk up from the test binaries to the repository root (the folder with the .sln).
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "BridgeTower.Native.sln")))
            {
                string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared"));
                return Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }
}

/// <summary>A fact that needs ../shared; skipped with the reason when it is absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute()
    {
        if (!SharedData.Available) Skip = SharedData.SkipReason;
    }
}

/// <summary>A theory that needs ../shared; skipped with the reason when it is absent.</summary>
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute()
    {
        if (!SharedData.Available) Skip = SharedData.SkipReason;
    }
}
