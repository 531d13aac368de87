using System.Text.Json;
using BridgeTower.Preprocessing.Text;

namespace BridgeTower.Tests.Preprocessing.Text;

/// <summary>The golden vectors of ../shared/fixtures/tokenizer and a tokenizer built as they were (vocab.json + merges.txt).</summary>
public static class TokenizerFixtures
{
    private static readonly Lazy<RobertaTokenizer> LazyTokenizer = new(() =>
        RobertaTokenizer.FromVocabAndMerges(SharedData.Path("data", "roberta-base", "vocab.json"),
                                            SharedData.Path("data", "roberta-base", "merges.txt")));

    private static readonly Dictionary<string, Lazy<JsonElement[]>> Files = new()
    {
        ["cases.jsonl"] = new(() => Load("cases.jsonl")),
        ["truncation.jsonl"] = new(() => Load("truncation.jsonl")),
        ["batch.jsonl"] = new(() => Load("batch.jsonl")),
    };

    public static RobertaTokenizer Tokenizer => LazyTokenizer.Value;

    public static JsonElement[] Records(string file) => Files[file].Value;

    /// <summary>Theory rows (index, label) for every record of a file; one placeholder row when shared/ is absent (the theory is skipped then).</summary>
    public static IEnumerable<object[]> Rows(string file, Func<JsonElement, string> label)
    {
        if (!SharedData.Available) return [[-1, "shared/ absent"]];
        return Records(file).Select((r, i) => new object[] { i, Shorten(label(r)) });
    }

    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();

    private static string Shorten(string s)
    {
        // Labels only help to find a row: keep them short and printable.
        var chars = s.Take(40).Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '·' : c).ToArray();
        return new string(chars) + (s.Length > 40 ? "…" : "");
    }

    private static JsonElement[] Load(string file)
    {
        string path = SharedData.Path("fixtures", "tokenizer", file);
        return File.ReadAllLines(path).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
    }
}
