using System.Text.Json;

namespace BridgeTower.Preprocessing.Text;

/// <summary>What tokenizer_config.json and special_tokens_map.json say (both optional).</summary>
internal sealed record DirectoryConfig(SpecialTokens SpecialTokens, bool UnkConfigured, List<AddedToken> AddedTokens,
                                      int ModelMaxLength, bool? AddPrefixSpace, bool CleanUpTokenizationSpaces)
{
    public static DirectoryConfig Read(string? directory)
    {
        var special = new SpecialTokens();
        var added = new List<AddedToken>();
        int maxLength = RobertaTokenizer.DefaultModelMaxLength;
        bool? addPrefixSpace = null;
        bool cleanUp = true, unkConfigured = false;
        if (directory is null) return new(special, false, added, maxLength, null, cleanUp);

        string configPath = Path.Combine(directory, TokenizerFiles.TokenizerConfigJson);
        using (var config = TokenizerFiles.ParseJsonIfExists(configPath))
        {
            if (config is not null)
            {
                var root = config.RootElement;
                special = special.With(root, configPath);
                unkConfigured |= root.TryGetProperty("unk_token", out _);
                // model_max_length is 1e30 when the tokenizer has no limit: keep the default then.
                if (root.TryGetProperty("model_max_length", out var m) && m.ValueKind == JsonValueKind.Number
                    && m.TryGetDouble(out double md) && md >= 2 && md <= 1 << 24)
                    maxLength = (int)md;
                if (root.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind is JsonValueKind.True or JsonValueKind.False)
                    addPrefixSpace = aps.GetBoolean();
                cleanUp = TokenizerFiles.Bool(root, "clean_up_tokenization_spaces", true);
                if (root.TryGetProperty("added_tokens_decoder", out var dec) && dec.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in dec.EnumerateObject())
                    {
                        if (!int.TryParse(p.Name, out int id) || id < 0 || p.Value.ValueKind != JsonValueKind.Object
                            || !p.Value.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String || c.GetString()!.Length == 0)
                            throw TokenizerFiles.Bad(configPath, $"added_tokens_decoder entry \"{p.Name}\" needs an integer id and a non-empty \"content\"");
                        added.Add(new AddedToken(c.GetString()!, id, TokenizerFiles.Bool(p.Value, "special", false),
                                                 TokenizerFiles.Bool(p.Value, "lstrip", false), TokenizerFiles.Bool(p.Value, "rstrip", false)));
                    }
                }
            }
        }
        string mapPath = Path.Combine(directory, TokenizerFiles.SpecialTokensMapJson);
        using (var map = TokenizerFiles.ParseJsonIfExists(mapPath))
        {
            if (map is not null)
            {
                special = special.With(map.RootElement, mapPath);
                unkConfigured |= map.RootElement.TryGetProperty("unk_token", out _);
            }
        }
        return new(special, unkConfigured, added, maxLength, addPrefixSpace, cleanUp);
    }
}
