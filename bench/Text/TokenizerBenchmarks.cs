using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BridgeTower.Preprocessing.Text;

namespace BridgeTower.Bench.Text;

/// <summary>
/// Tokenization throughput on the 318 texts of shared/fixtures/tokenizer/cases.jsonl (captions,
/// licence and man-page paragraphs, Unicode, long texts; 41,313 UTF-8 bytes). MB/s = that size
/// divided by the mean time of one pass. `Warm` reuses the BPE cache, `NoCache` runs BPE on every piece.
/// Run: dotnet run -c Release --project bench -- --filter '*TokenizerBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private RobertaTokenizer _warm = null!;
    private RobertaTokenizer _noCache = null!;
    private string[] _texts = [];
    private int[][] _ids = [];
    private string _roberta = "";

    [GlobalSetup]
    public void Setup()
    {
        string shared = LocateShared();
        _roberta = Path.Combine(shared, "data", "roberta-base");
        _texts = File.ReadAllLines(Path.Combine(shared, "fixtures", "tokenizer", "cases.jsonl"))
            .Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!).ToArray();
        _warm = RobertaTokenizer.FromDirectory(_roberta);
        var bpe = new BpeModel(TokenizerFiles.ReadVocabJson(Path.Combine(_roberta, "vocab.json")),
                               TokenizerFiles.ReadMergesTxt(Path.Combine(_roberta, "merges.txt")), unkId: 3, "roberta-base", cacheCapacity: 0);
        _noCache = new RobertaTokenizer(bpe, []);
        _ids = _texts.Select(t => _warm.Encode(t).InputIds).ToArray();
    }

    [Benchmark(Baseline = true)]
    public int EncodeWarm()
    {
        int n = 0;
        foreach (var t in _texts) n += _warm.Encode(t).Length;
        return n;
    }

    [Benchmark]
    public int EncodeNoCache()
    {
        int n = 0;
        foreach (var t in _texts) n += _noCache.Encode(t).Length;
        return n;
    }

    [Benchmark]
    public int DecodeAll()
    {
        int n = 0;
        foreach (var ids in _ids) n += _warm.Decode(ids, skipSpecialTokens: true).Length;
        return n;
    }

    [Benchmark]
    public int LoadFromDirectory() => RobertaTokenizer.FromDirectory(_roberta).VocabSize;

    /// <summary>../shared beside the repository root, or BRIDGETOWER_SHARED (as the tests find it).</summary>
    private static string LocateShared()
    {
        string? env = Environment.GetEnvironmentVariable("BRIDGETOWER_SHARED");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "BridgeTower.Native.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        throw new DirectoryNotFoundException("shared/ not found: set BRIDGETOWER_SHARED");
    }
}
