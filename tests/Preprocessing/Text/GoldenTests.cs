using System.Text.Json;
using BridgeTower.Preprocessing.Text;

namespace BridgeTower.Tests.Preprocessing.Text;

/// <summary>Every record of cases.jsonl, truncation.jsonl and batch.jsonl, one theory row each.</summary>
public class GoldenTests
{
    public static IEnumerable<object[]> Cases() =>
        TokenizerFixtures.Rows("cases.jsonl", r => $"{r.GetProperty("category").GetString()}: {r.GetProperty("text").GetString()}");

    public static IEnumerable<object[]> Truncations() =>
        TokenizerFixtures.Rows("truncation.jsonl", r => $"{r.GetProperty("category").GetString()} max_length={r.GetProperty("max_length")}: {r.GetProperty("text").GetString()}");

    public static IEnumerable<object[]> Batches() =>
        TokenizerFixtures.Rows("batch.jsonl", r => r.GetProperty("name").GetString()!);

    [SharedTheory]
    [MemberData(nameof(Cases))]
    public void Case(int index, string label)
    {
        _ = label;
        var r = TokenizerFixtures.Records("cases.jsonl")[index];
        var tok = TokenizerFixtures.Tokenizer;
        string text = r.GetProperty("text").GetString()!;
        int[] expectedIds = TokenizerFixtures.Ints(r.GetProperty("ids"));

        var encoded = tok.Encode(text);
        Assert.Equal(expectedIds, encoded.InputIds);
        Assert.Equal(Enumerable.Repeat(1, expectedIds.Length), encoded.AttentionMask);
        Assert.Equal(TokenizerFixtures.Strings(r.GetProperty("tokens")), encoded.Tokens);
        Assert.Equal(r.GetProperty("decoded").GetString(), tok.Decode(expectedIds, skipSpecialTokens: true));
        Assert.Equal(r.GetProperty("decoded_with_special").GetString(), tok.Decode(expectedIds));
        Assert.Equal(r.GetProperty("decoded_no_cleanup").GetString(),
                     tok.Decode(expectedIds, skipSpecialTokens: true, cleanUpTokenizationSpaces: false));
    }

    [SharedTheory]
    [MemberData(nameof(Truncations))]
    public void Truncation(int index, string label)
    {
        _ = label;
        var r = TokenizerFixtures.Records("truncation.jsonl")[index];
        int maxLength = r.GetProperty("max_length").GetInt32();
        var encoded = TokenizerFixtures.Tokenizer.Encode(r.GetProperty("text").GetString()!,
            new EncodeOptions { Truncation = true, MaxLength = maxLength });
        Assert.Equal(TokenizerFixtures.Ints(r.GetProperty("ids")), encoded.InputIds);
        Assert.Equal(TokenizerFixtures.Ints(r.GetProperty("attention_mask")), encoded.AttentionMask);
        Assert.Equal(r.GetProperty("full_length").GetInt32(), TokenizerFixtures.Tokenizer.Encode(r.GetProperty("text").GetString()!).Length);
    }

    [SharedTheory]
    [MemberData(nameof(Batches))]
    public void Batch(int index, string label)
    {
        _ = label;
        var r = TokenizerFixtures.Records("batch.jsonl")[index];
        var texts = TokenizerFixtures.Strings(r.GetProperty("texts"));
        var batch = TokenizerFixtures.Tokenizer.EncodeBatch(texts, OptionsOf(r.GetProperty("kwargs")));
        var expectedIds = r.GetProperty("input_ids").EnumerateArray().Select(TokenizerFixtures.Ints).ToArray();
        var expectedMask = r.GetProperty("attention_mask").EnumerateArray().Select(TokenizerFixtures.Ints).ToArray();
        Assert.Equal(expectedIds, batch.InputIds);
        Assert.Equal(expectedMask, batch.AttentionMask);

        var ids = batch.InputIdsTensor();
        Assert.Equal(DType.I64, ids.DType);
        Assert.Equal([texts.Length, expectedIds[0].Length], ids.ShapeArray());
        Assert.Equal(expectedIds.SelectMany(x => x).Select(x => (long)x), ids.ToInt64Array());
        Assert.Equal(expectedMask.SelectMany(x => x).Select(x => (long)x), batch.AttentionMaskTensor().ToInt64Array());
    }

    [SharedFact]
    public void PublishedCrosschecks()
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(SharedData.Path("fixtures", "tokenizer", "meta.json")));
        foreach (var check in meta.RootElement.GetProperty("published_crosschecks").EnumerateArray())
            Assert.Equal(TokenizerFixtures.Ints(check.GetProperty("ids")),
                         TokenizerFixtures.Tokenizer.Encode(check.GetProperty("text").GetString()!).InputIds);
    }

    /// <summary>The kwargs of batch.jsonl (padding True/"max_length", truncation, max_length).</summary>
    private static EncodeOptions OptionsOf(JsonElement kwargs)
    {
        var o = new EncodeOptions();
        foreach (var p in kwargs.EnumerateObject())
        {
            o = p.Name switch
            {
                "padding" => o with
                {
                    Padding = p.Value.ValueKind switch
                    {
                        JsonValueKind.True => Padding.Longest,
                        JsonValueKind.False => Padding.None,
                        _ => p.Value.GetString() switch
                        {
                            "longest" => Padding.Longest,
                            "max_length" => Padding.MaxLength,
                            "do_not_pad" => Padding.None,
                            var s => throw new NotSupportedException($"padding={s}"),
                        },
                    },
                },
                "truncation" => o with { Truncation = p.Value.GetBoolean() },
                "max_length" => o with { MaxLength = p.Value.GetInt32() },
                _ => throw new NotSupportedException($"batch.jsonl kwarg {p.Name}"),
            };
        }
        return o;
    }
}
