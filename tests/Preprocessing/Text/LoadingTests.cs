using BridgeTower.Preprocessing.Text;

namespace BridgeTower.Tests.Preprocessing.Text;

/// <summary>The three file forms give the same tokenizer; bad files fail with the file named.</summary>
public sealed class LoadingTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("bt-tokenizer-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static string RobertaFile(string name) => SharedData.Path("data", "roberta-base", name);

    [SharedFact]
    public void TokenizerJsonStringsPairsAndMergesTxtAgreeOnEveryCase()
    {
        var fromTxt = TokenizerFixtures.Tokenizer;
        var fromStrings = RobertaTokenizer.FromTokenizerJson(RobertaFile("tokenizer.json"));
        var fromPairs = RobertaTokenizer.FromTokenizerJson(RobertaFile("tokenizer.pairs.json"));
        Assert.Equal(fromTxt.Bpe.MergeCount, fromStrings.Bpe.MergeCount);
        Assert.Equal(fromTxt.Bpe.MergeCount, fromPairs.Bpe.MergeCount);
        foreach (var r in TokenizerFixtures.Records("cases.jsonl"))
        {
            string text = r.GetProperty("text").GetString()!;
            int[] expected = TokenizerFixtures.Ints(r.GetProperty("ids"));
            Assert.Equal(expected, fromStrings.Encode(text).InputIds);
            Assert.Equal(expected, fromPairs.Encode(text).InputIds);
        }
    }

    [SharedFact]
    public void HubSnapshotWithoutMergesTxtUsesTokenizerJson()
    {
        File.Copy(RobertaFile("tokenizer.json"), Path.Combine(_temp, "tokenizer.json"));
        File.Copy(RobertaFile("vocab.json"), Path.Combine(_temp, "vocab.json"));
        var tok = RobertaTokenizer.FromDirectory(_temp);
        Assert.Equal([0, 250, 6, 50264, 3823, 487, 21992, 3645, 4, 2], tok.Encode("A, <mask> AllenNLP sentence.").InputIds);
    }

    [SharedFact]
    public void VocabAndMergesDirectoryAndProcessorDirectory()
    {
        var plain = RobertaTokenizer.FromDirectory(SharedData.Path("data", "roberta-base"));
        var processor = RobertaTokenizer.FromDirectory(SharedData.Path("fixtures", "processor"));
        foreach (var tok in new[] { plain, processor })
        {
            Assert.Equal(512, tok.ModelMaxLength);
            Assert.Equal((0, 2, 1, 3, 50264), (tok.ClsTokenId, tok.SepTokenId, tok.PadTokenId, tok.UnkTokenId, tok.MaskTokenId));
            Assert.Equal([0, 102, 50264, 546, 2], tok.Encode("a <mask> looking").InputIds);
        }
        Assert.True(processor.CleanUpTokenizationSpaces);
        Assert.False(processor.AddPrefixSpace);
    }

    [SharedFact]
    public void ConfigFilesOverrideTheDefaults()
    {
        File.Copy(RobertaFile("vocab.json"), Path.Combine(_temp, "vocab.json"));
        File.Copy(RobertaFile("merges.txt"), Path.Combine(_temp, "merges.txt"));
        // model_max_length 1e30 means "no limit" in Hugging Face: the default 512 stays.
        File.WriteAllText(Path.Combine(_temp, "tokenizer_config.json"),
            "{\"model_max_length\": 1e30, \"clean_up_tokenization_spaces\": false, \"add_prefix_space\": true}");
        // A <mask> without lstrip keeps the space before it as a lone \"Ġ\".
        File.WriteAllText(Path.Combine(_temp, "special_tokens_map.json"),
            "{\"mask_token\": {\"content\": \"<mask>\", \"lstrip\": false, \"rstrip\": false}}");
        var tok = RobertaTokenizer.FromDirectory(_temp);
        Assert.Equal(512, tok.ModelMaxLength);
        Assert.Equal(["Ġa", "Ġ", "<mask>"], tok.Tokenize("a <mask>"));
        Assert.Equal("Hello .", tok.Decode(tok.EncodeToIds("Hello .")).TrimStart());
    }

    [Fact]
    public void MissingDirectoryAndMissingFilesAreNamed()
    {
        string missing = Path.Combine(_temp, "nope");
        Assert.Contains(missing, Assert.Throws<DirectoryNotFoundException>(() => RobertaTokenizer.FromDirectory(missing)).Message);

        var e = Assert.Throws<FileNotFoundException>(() => RobertaTokenizer.FromDirectory(_temp));
        Assert.Contains("tokenizer.json", e.Message);
        File.WriteAllText(Path.Combine(_temp, "vocab.json"), "{\"a\": 0}");
        Assert.Contains("vocab.json without merges.txt", Assert.Throws<FileNotFoundException>(() => RobertaTokenizer.FromDirectory(_temp)).Message);
    }

    [Fact]
    public void BadTokenizerJsonNamesTheFileAndTheProblem()
    {
        string path = Path.Combine(_temp, "tokenizer.json");
        void Expect(string json, string fragment)
        {
            File.WriteAllText(path, json);
            var e = Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromDirectory(_temp));
            Assert.Contains(path, e.Message);
            Assert.Contains(fragment, e.Message);
        }
        Expect("{not json", "not valid JSON");
        Expect("[]", "JSON object");
        Expect("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "WordPiece");
        Expect("{\"model\": {\"vocab\": {\"a\": -1}, \"merges\": [\"a b\"]}}", "\"a\"");
        Expect("{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}", "model.merges[0]");
        Expect("{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", "model.merges[0]");
        Expect("{\"model\": {\"vocab\": {\"a\": 0}}}", "model.merges");
        // Valid BPE, but the special tokens are nowhere.
        Expect("{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}}", "<s>");
    }

    [Fact]
    public void BadMergesTxtNamesFileAndLine()
    {
        string vocab = Path.Combine(_temp, "vocab.json"), merges = Path.Combine(_temp, "merges.txt");
        File.WriteAllText(vocab, "{\"a\": 0}");
        File.WriteAllText(merges, "#version: 0.2\na b\nab\n");
        var e = Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromVocabAndMerges(vocab, merges));
        Assert.Contains(merges, e.Message);
        Assert.Contains("line 3", e.Message);
    }

    [Fact]
    public void SmallHandMadeVocabularyWorks()
    {
        // Every byte-level character of "ab c" plus the RoBERTa specials; merges build "Ġc" and "ab".
        File.WriteAllText(Path.Combine(_temp, "vocab.json"),
            "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"a\": 4, \"b\": 5, \"c\": 6, \"Ġ\": 7, \"ab\": 8, \"Ġc\": 9, \"<mask>\": 10}");
        File.WriteAllText(Path.Combine(_temp, "merges.txt"), "#version: 0.2\na b\nĠ c\n");
        var tok = RobertaTokenizer.FromDirectory(_temp);
        Assert.Equal([0, 8, 9, 2], tok.Encode("ab c").InputIds);
        // A byte without a vocabulary entry becomes <unk>.
        Assert.Equal([0, 3, 2], tok.Encode("z").InputIds);
        Assert.Equal("ab c", tok.Decode([0, 8, 9, 2], skipSpecialTokens: true));
    }
}
