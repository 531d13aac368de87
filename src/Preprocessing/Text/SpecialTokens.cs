using System.Text.Json;

namespace BridgeTower.Preprocessing.Text;

/// <summary>The special-token roles of a RoBERTa tokenizer, by content (RobertaTokenizer's defaults).</summary>
public sealed record SpecialTokens
{
    public string Bos { get; init; } = "<s>";
    public string Eos { get; init; } = "</s>";
    public string Unk { get; init; } = "<unk>";
    public string Sep { get; init; } = "</s>";
    public string Pad { get; init; } = "<pad>";
    public string Cls { get; init; } = "<s>";
    public string Mask { get; init; } = "<mask>";

    /// <summary>Strip flags a config gave for a role token (content -> (lstrip, rstrip)); missing = the default.</summary>
    public IReadOnlyDictionary<string, (bool LStrip, bool RStrip)> Flags { get; init; } =
        new Dictionary<string, (bool, bool)>(StringComparer.Ordinal);

    public IEnumerable<(string Role, string Content)> Roles =>
    [
        ("bos_token", Bos), ("eos_token", Eos), ("unk_token", Unk), ("sep_token", Sep),
        ("pad_token", Pad), ("cls_token", Cls), ("mask_token", Mask),
    ];

    /// <summary>
    /// The flags of a role token that is not listed among the added tokens: as configured, else
    /// RobertaTokenizer's defaults (&lt;mask&gt; has lstrip, the others strip nothing).
    /// </summary>
    public (bool LStrip, bool RStrip) FlagsOf(string content) =>
        Flags.TryGetValue(content, out var f) ? f : (content == Mask, false);

    /// <summary>Overrides from tokenizer_config.json / special_tokens_map.json ("x_token": "..." or {"content": ..., "lstrip": ...}).</summary>
    internal SpecialTokens With(JsonElement config, string path)
    {
        if (config.ValueKind != JsonValueKind.Object) throw TokenizerFiles.Bad(path, "expected a JSON object at the top level");
        var result = this;
        var flags = new Dictionary<string, (bool, bool)>(Flags, StringComparer.Ordinal);
        string? Read(string role)
        {
            if (!config.TryGetProperty(role, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.String) return NonEmpty(v.GetString(), role);
            if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
            {
                string content = NonEmpty(c.GetString(), role);
                flags[content] = (TokenizerFiles.Bool(v, "lstrip", false), TokenizerFiles.Bool(v, "rstrip", false));
                return content;
            }
            throw TokenizerFiles.Bad(path, $"\"{role}\" must be a string or an object with \"content\"");
        }
        string NonEmpty(string? s, string role) =>
            string.IsNullOrEmpty(s) ? throw TokenizerFiles.Bad(path, $"\"{role}\" is empty") : s;

        result = result with
        {
            Bos = Read("bos_token") ?? Bos, Eos = Read("eos_token") ?? Eos, Unk = Read("unk_token") ?? Unk,
            Sep = Read("sep_token") ?? Sep, Pad = Read("pad_token") ?? Pad, Cls = Read("cls_token") ?? Cls,
            Mask = Read("mask_token") ?? Mask,
        };
        return result with { Flags = flags };
    }
}
