using BridgeTower.Preprocessing.Text;

namespace BridgeTower.Tests.Preprocessing.Text;

/// <summary>Options, errors, pre-tokenization and thread safety beyond the golden files.</summary>
public class BehaviourTests
{
    private static RobertaTokenizer Tok => TokenizerFixtures.Tokenizer;

    [Theory]
    [InlineData("a  b", new[] { "a", " ", " b" })]
    [InlineData("I'M", new[] { "I", "'", "M" })]
    [InlineData("it's they're we'll", new[] { "it", "'s", " they", "'re", " we", "'ll" })]
    [InlineData("x .'s", new[] { "x", " .'", "s" })]
    [InlineData("a \n b", new[] { "a", " \n", " b" })]
    [InlineData("trailing  ", new[] { "trailing", "  " })]
    [InlineData("\U0001D400\U0001D401 \U0001D7CE2", new[] { "\U0001D400\U0001D401", " \U0001D7CE2" })]
    [InlineData("a\u001cb", new[] { "a", "\u001c", "b" })]
    [InlineData("", new string[0])]
    public void PreTokenizerMatchesThePythonRegex(string text, string[] pieces) =>
        Assert.Equal(pieces, PreTokenizer.Split(text));

    [SharedFact]
    public void PaddingMaxLengthWithoutTruncationLeavesLongerSequencesAlone()
    {
        var batch = Tok.EncodeBatch(["a b c d e f g h", "a"], new EncodeOptions { Padding = Padding.MaxLength, MaxLength = 5, Truncation = false });
        Assert.Equal(10, batch.Items[0].Length);
        Assert.Equal([0, 102, 2, 1, 1], batch.Items[1].InputIds);
        Assert.Equal([1, 1, 1, 0, 0], batch.Items[1].AttentionMask);
        Assert.Contains("different lengths", Assert.Throws<InvalidOperationException>(() => batch.InputIdsTensor()).Message);
    }

    [SharedFact]
    public void MaxLengthAloneTruncatesAndDefaultTruncationIsTheModelMaximum()
    {
        string text = string.Join(" ", Enumerable.Repeat("word", 600));
        Assert.Equal(8, Tok.Encode(text, new EncodeOptions { MaxLength = 8 }).Length);
        Assert.Equal(602, Tok.Encode(text).Length);
        var truncated = Tok.Encode(text, new EncodeOptions { Truncation = true });
        Assert.Equal(512, truncated.Length);
        Assert.Equal(2, truncated.InputIds[^1]);
        var noSpecials = Tok.Encode(text, new EncodeOptions { AddSpecialTokens = false, MaxLength = 3 });
        Assert.Equal(Tok.EncodeToIds("word word word"), noSpecials.InputIds);
    }

    [SharedFact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Encode("a", new EncodeOptions { MaxLength = 0 }));
        Assert.Contains("special tokens", Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Encode("a", new EncodeOptions { MaxLength = 1, Truncation = true })).Message);
        Assert.Throws<ArgumentNullException>(() => Tok.Encode(null!));
        Assert.Throws<ArgumentNullException>(() => Tok.EncodeBatch(["a", null!]));
        Assert.Contains("99999", Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([0, 99999])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([-1]));
        Assert.Throws<InvalidOperationException>(() => Tok.EncodeBatch([], new EncodeOptions { Padding = Padding.Longest }).InputIdsTensor());
    }

    [SharedFact]
    public void DecodeReplacesInvalidUtf8LikePython()
    {
        // "âĢ" (17) is the first two bytes of a three-byte character: Python's errors="replace" gives one U+FFFD.
        Assert.Equal("\uFFFD", Tok.Decode([17]));
        Assert.Equal("é", Tok.Decode(Tok.EncodeToIds("é")));
    }

    [SharedFact]
    public void ConcurrentEncodingEqualsSerialEncoding()
    {
        var texts = TokenizerFixtures.Records("cases.jsonl").Select(r => r.GetProperty("text").GetString()!).ToArray();
        // A fresh tokenizer, so that the threads fill its cache together.
        var fresh = RobertaTokenizer.FromTokenizerJson(SharedData.Path("data", "roberta-base", "tokenizer.json"));
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 },
                     i => parallel[i % texts.Length] = fresh.Encode(texts[i % texts.Length]).InputIds);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(Tok.Encode(texts[i]).InputIds, parallel[i]);
        Assert.True(fresh.Bpe.CachedPieces > 0);
    }

    [SharedFact]
    public void TokensAndIdsConvertBothWays()
    {
        Assert.Equal(["Hello", "Ġworld", "!"], Tok.Tokenize("Hello world!"));
        Assert.Equal(50264, Tok.TokenToId("<mask>"));
        Assert.Equal(5, Tok.TokenToId("Ġthe"));
        Assert.Equal(Tok.UnkTokenId, Tok.TokenToId("not-a-token-at-all"));
        Assert.True(Tok.IsSpecial(0) && Tok.IsSpecial(50264) && !Tok.IsSpecial(5));
    }
}
