using System.Text.Json;

namespace BridgeTower.Preprocessing.Text;

/// <summary>
/// Readers for the files of a Hugging Face tokenizer directory. Every error is an
/// <see cref="InvalidDataException"/> (or <see cref="FileNotFoundException"/>) naming the file.
/// </summary>
public static class TokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string VocabJson = "vocab.json";
    public const string MergesTxt = "merges.txt";
    public const string TokenizerConfigJson = "tokenizer_config.json";
    public const string SpecialTokensMapJson = "special_tokens_map.json";

    /// <summary>Tokenizer files are a few MB; anything far larger is not one.</summary>
    public const long MaxFileBytes = 512L << 20;

    /// <summary>What tokenizer.json holds that the tokenizer uses.</summary>
    public sealed record TokenizerJsonContent(
        Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges, List<AddedToken> AddedTokens,
        bool? AddPrefixSpace, string? UnkToken);

    public static Dictionary<string, int> ReadVocabJson(string path)
    {
        using var doc = ParseJson(path);
        return ReadVocab(doc.RootElement, path, "the top level");
    }

    /// <summary>merges.txt: an optional "#version" header line, then one "left right" rule per line in rank order.</summary>
    public static List<(string Left, string Right)> ReadMergesTxt(string path)
    {
        string text = System.Text.Encoding.UTF8.GetString(ReadBytes(path));
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            merges.Add(ParseMerge(line, path, $"line {lineNumber}"));
        }
        if (merges.Count == 0) throw new InvalidDataException($"{path}: holds no merge rules");
        return merges;
    }

    public static TokenizerJsonContent ReadTokenizerJson(string path)
    {
        using var doc = ParseJson(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw Bad(path, "expected a JSON object at the top level");
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw Bad(path, "has no \"model\" object");
        if (model.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "BPE")
            throw Bad(path, $"model type \"{type.GetString()}\" is not supported (a byte-level BPE tokenizer is expected)");
        if (!model.TryGetProperty("vocab", out var vocabElement)) throw Bad(path, "has no model.vocab");
        var vocab = ReadVocab(vocabElement, path, "model.vocab");

        if (!model.TryGetProperty("merges", out var mergesElement) || mergesElement.ValueKind != JsonValueKind.Array)
            throw Bad(path, "model.merges is missing or not an array");
        var merges = new List<(string, string)>(mergesElement.GetArrayLength());
        int index = 0;
        foreach (var m in mergesElement.EnumerateArray())
        {
            string where = $"model.merges[{index++}]";
            if (m.ValueKind == JsonValueKind.String) merges.Add(ParseMerge(m.GetString()!, path, where));
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                     && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                merges.Add((m[0].GetString()!, m[1].GetString()!));
            else throw Bad(path, $"{where} is neither \"a b\" nor [\"a\", \"b\"]");
        }
        if (merges.Count == 0) throw Bad(path, "model.merges is empty");

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedElement) && addedElement.ValueKind == JsonValueKind.Array)
        {
            index = 0;
            foreach (var a in addedElement.EnumerateArray())
            {
                string where = $"added_tokens[{index++}]";
                if (a.ValueKind != JsonValueKind.Object || !a.TryGetProperty("id", out var id) || !id.TryGetInt32(out int idValue) || idValue < 0
                    || !a.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String || content.GetString()!.Length == 0)
                    throw Bad(path, $"{where} needs a non-negative \"id\" and a non-empty \"content\"");
                added.Add(new AddedToken(content.GetString()!, idValue, Bool(a, "special", false), Bool(a, "lstrip", false), Bool(a, "rstrip", false)));
            }
        }

        bool? addPrefixSpace = null;
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object
            && pre.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind is JsonValueKind.True or JsonValueKind.False)
            addPrefixSpace = aps.GetBoolean();
        string? unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        return new TokenizerJsonContent(vocab, merges, added, addPrefixSpace, unk);
    }

    /// <summary>Reads a JSON file that may be absent (null then).</summary>
    internal static JsonDocument? ParseJsonIfExists(string path) => File.Exists(path) ? ParseJson(path) : null;

    internal static JsonDocument ParseJson(string path)
    {
        byte[] bytes = ReadBytes(path);
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64, AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw Bad(path, $"is not valid JSON ({e.Message})");
        }
    }

    internal static bool Bool(JsonElement obj, string name, bool fallback) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    internal static InvalidDataException Bad(string path, string what) => new($"{path}: {what}");

    private static byte[] ReadBytes(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        if (info.Length > MaxFileBytes)
            throw Bad(path, $"is {info.Length} bytes, more than the {MaxFileBytes} a tokenizer file may have");
        return File.ReadAllBytes(path);
    }

    private static Dictionary<string, int> ReadVocab(JsonElement element, string path, string where)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Bad(path, $"{where} must be an object of token -> id");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw Bad(path, $"{where}: the id of token \"{p.Name}\" is not a non-negative integer");
            vocab[p.Name] = id;
        }
        if (vocab.Count == 0) throw Bad(path, $"{where} is empty");
        return vocab;
    }

    private static (string, string) ParseMerge(string rule, string path, string where)
    {
        int space = rule.IndexOf(' ');
        if (space <= 0 || space == rule.Length - 1 || rule.IndexOf(' ', space + 1) >= 0)
            throw Bad(path, $"{where}: merge rule \"{rule}\" is not two symbols separated by one space");
        return (rule[..space], rule[(space + 1)..]);
    }
}
