using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BridgeTower.Model.Config;

/// <summary>
/// Reads typed fields out of a config JSON object, removing each one it reads so that what is left are
/// the keys this library does not interpret (kept verbatim and written back on save).
/// </summary>
internal sealed class JsonFields(JsonObject remaining, string path)
{
    public JsonObject Remaining { get; } = remaining;

    private string Key(string name) => path.Length == 0 ? name : $"{path}.{name}";

    private JsonNode? Take(string name)
    {
        if (!Remaining.TryGetPropertyValue(name, out var node)) return null;
        Remaining.Remove(name);
        return node;
    }

    public int Int(string name, int fallback) => IntOrNull(name, fallback) ?? fallback;

    /// <summary>An integer field; JSON null gives null, absence gives <paramref name="fallback"/>.</summary>
    public int? IntOrNull(string name, int? fallback)
    {
        if (!Remaining.ContainsKey(name)) return fallback;
        var node = Take(name);
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            double d = Number(v);
            if (d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        }
        throw new ConfigException(Key(name), $"expected an integer, got {node.ToJsonString()}");
    }

    public double Double(string name, double fallback)
    {
        var node = Take(name);
        if (node is null) return fallback;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number) return Number(v);
        throw new ConfigException(Key(name), $"expected a number, got {node.ToJsonString()}");
    }

    public bool Bool(string name, bool fallback)
    {
        var node = Take(name);
        if (node is null) return fallback;
        if (node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False) return v.GetValue<bool>();
        throw new ConfigException(Key(name), $"expected true or false, got {node.ToJsonString()}");
    }

    public string String(string name, string fallback)
    {
        var node = Take(name);
        if (node is null) return fallback;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        throw new ConfigException(Key(name), $"expected a string, got {node.ToJsonString()}");
    }

    public JsonObject? Object(string name)
    {
        var node = Take(name);
        if (node is null) return null;
        if (node is JsonObject o) return o;
        throw new ConfigException(Key(name), $"expected an object, got {node.ToJsonString()}");
    }

    /// <summary>A number node as double, whether it came from parsed text or from a CLR value.</summary>
    private static double Number(JsonValue v) =>
        double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    public static string Format(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
