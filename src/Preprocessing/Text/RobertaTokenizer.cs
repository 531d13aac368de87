using System.Buffers;
using System.Text;

namespace BridgeTower.Preprocessing.Text;

/// <summary>
/// RoBERTa's byte-level BPE tokenizer, reproducing Hugging Face's slow <c>RobertaTokenizer</c>:
/// added/special tokens typed in the text are matched first (with their lstrip/rstrip), the rest
/// is pre-tokenized with the GPT-2 pattern, byte-mapped and BPE-merged; sequences are wrapped in
/// &lt;s&gt; ... &lt;/s&gt;, truncated and padded on the right. Thread-safe.
/// </summary>
public sealed class RobertaTokenizer
{
    public const int DefaultModelMaxLength = 512;
    private const int SpecialTokensPerSequence = 2;

    private readonly BpeModel _bpe;
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _addedById = [];
    private readonly HashSet<int> _specialIds = [];
    // Added tokens by first character, longest first, so the scan finds the longest match at each position.
    private readonly Dictionary<char, AddedToken[]> _addedByFirstChar;
    private readonly SearchValues<char> _addedFirstChars;

    public RobertaTokenizer(BpeModel bpe, IEnumerable<AddedToken> addedTokens, SpecialTokens? specialTokens = null,
                            int modelMaxLength = DefaultModelMaxLength, bool addPrefixSpace = false,
                            bool cleanUpTokenizationSpaces = true)
    {
        ArgumentNullException.ThrowIfNull(bpe);
        ArgumentNullException.ThrowIfNull(addedTokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(modelMaxLength, SpecialTokensPerSequence);
        _bpe = bpe;
        SpecialTokens = specialTokens ??= new SpecialTokens();
        foreach (var token in addedTokens)
        {
            ArgumentException.ThrowIfNullOrEmpty(token.Content, nameof(addedTokens));
            ArgumentOutOfRangeException.ThrowIfNegative(token.Id, nameof(addedTokens));
            _addedByContent[token.Content] = token;
            _addedById[token.Id] = token;
        }
        // Every role token is an added special token (the slow tokenizer adds them at construction).
        foreach (var (role, content) in specialTokens.Roles)
        {
            if (!_addedByContent.TryGetValue(content, out var token))
            {
                if (!bpe.TryGetId(content, out int id))
                    throw new ArgumentException($"special token \"{content}\" ({role}) is neither an added token nor in the vocabulary", nameof(specialTokens));
                var (lstrip, rstrip) = specialTokens.FlagsOf(content);
                token = new AddedToken(content, id, true, lstrip, rstrip);
                _addedByContent[content] = token;
                _addedById[id] = token;
            }
            _specialIds.Add(token.Id);
        }
        foreach (var token in _addedById.Values)
            if (token.Special) _specialIds.Add(token.Id);

        _addedByFirstChar = _addedByContent.Values.GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _addedFirstChars = SearchValues.Create(_addedByFirstChar.Keys.ToArray());

        BosTokenId = _addedByContent[specialTokens.Bos].Id;
        EosTokenId = _addedByContent[specialTokens.Eos].Id;
        UnkTokenId = _addedByContent[specialTokens.Unk].Id;
        SepTokenId = _addedByContent[specialTokens.Sep].Id;
        PadTokenId = _addedByContent[specialTokens.Pad].Id;
        ClsTokenId = _addedByContent[specialTokens.Cls].Id;
        MaskTokenId = _addedByContent[specialTokens.Mask].Id;
        ModelMaxLength = modelMaxLength;
        AddPrefixSpace = addPrefixSpace;
        CleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
    }

    // ---- loading --------------------------------------------------------------------------------

    /// <summary>
    /// Loads a model or tokenizer directory: tokenizer.json when present (what hub repos ship), else
    /// vocab.json + merges.txt; tokenizer_config.json and special_tokens_map.json when present.
    /// </summary>
    public static RobertaTokenizer FromDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: tokenizer directory not found");
        string tokenizerJson = Path.Combine(directory, TokenizerFiles.TokenizerJson);
        string vocabJson = Path.Combine(directory, TokenizerFiles.VocabJson);
        string mergesTxt = Path.Combine(directory, TokenizerFiles.MergesTxt);
        if (File.Exists(tokenizerJson)) return FromTokenizerJson(tokenizerJson, directory);
        if (File.Exists(vocabJson) && File.Exists(mergesTxt)) return FromVocabAndMerges(vocabJson, mergesTxt, directory);
        string found = File.Exists(vocabJson) ? " (vocab.json without merges.txt)" : File.Exists(mergesTxt) ? " (merges.txt without vocab.json)" : "";
        throw new FileNotFoundException(
            $"{directory}: no tokenizer files: expected {TokenizerFiles.TokenizerJson}, or {TokenizerFiles.VocabJson} + {TokenizerFiles.MergesTxt}{found}");
    }

    /// <summary>Loads tokenizer.json (merges as "a b" or ["a", "b"]); configs are read from <paramref name="configDirectory"/> when given.</summary>
    public static RobertaTokenizer FromTokenizerJson(string path, string? configDirectory = null)
    {
        var content = TokenizerFiles.ReadTokenizerJson(path);
        var config = DirectoryConfig.Read(configDirectory);
        var special = config.SpecialTokens;
        // tokenizers' model.unk_token is null for RoBERTa; a non-null one names the unknown token.
        if (content.UnkToken is not null && !config.UnkConfigured) special = special with { Unk = content.UnkToken };
        return Build(content.Vocab, content.Merges, content.AddedTokens, special, config,
                     config.AddPrefixSpace ?? content.AddPrefixSpace ?? false, path);
    }

    /// <summary>Loads vocab.json + merges.txt (the slow tokenizer's files); configs from <paramref name="configDirectory"/> when given.</summary>
    public static RobertaTokenizer FromVocabAndMerges(string vocabPath, string mergesPath, string? configDirectory = null)
    {
        var vocab = TokenizerFiles.ReadVocabJson(vocabPath);
        var merges = TokenizerFiles.ReadMergesTxt(mergesPath);
        var config = DirectoryConfig.Read(configDirectory);
        return Build(vocab, merges, config.AddedTokens, config.SpecialTokens, config, config.AddPrefixSpace ?? false, vocabPath);
    }

    private static RobertaTokenizer Build(Dictionary<string, int> vocab, List<(string, string)> merges, IEnumerable<AddedToken> added,
                                          SpecialTokens special, DirectoryConfig config, bool addPrefixSpace, string source)
    {
        int unkId = vocab.TryGetValue(special.Unk, out int u) ? u
            : added.FirstOrDefault(a => a.Content == special.Unk)?.Id ?? -1;
        var bpe = new BpeModel(vocab, merges, unkId, source);
        try
        {
            return new RobertaTokenizer(bpe, added, special, config.ModelMaxLength, addPrefixSpace, config.CleanUpTokenizationSpaces);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    // ---- properties -----------------------------------------------------------------------------

    public SpecialTokens SpecialTokens { get; }
    public int BosTokenId { get; }
    public int EosTokenId { get; }
    public int UnkTokenId { get; }
    public int SepTokenId { get; }
    public int PadTokenId { get; }
    public int ClsTokenId { get; }
    public int MaskTokenId { get; }
    /// <summary>The default truncation length (tokenizer_config.json's model_max_length, else 512).</summary>
    public int ModelMaxLength { get; }
    public bool AddPrefixSpace { get; }
    public bool CleanUpTokenizationSpaces { get; }
    /// <summary>Base vocabulary size (without added tokens outside it).</summary>
    public int VocabSize => _bpe.VocabSize;
    public IReadOnlyCollection<AddedToken> AddedTokens => _addedById.Values;
    public BpeModel Bpe => _bpe;

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    // ---- encoding -------------------------------------------------------------------------------

    /// <summary>The ids of a text without special tokens, truncation or padding.</summary>
    public int[] EncodeToIds(string text)
    {
        var ids = new List<int>();
        AppendIds(text, ids);
        return ids.ToArray();
    }

    /// <summary>The byte-level tokens of a text without special tokens (Hugging Face's tokenize()).</summary>
    public string[] Tokenize(string text) => ConvertIdsToTokens(EncodeToIds(text));

    /// <summary>One text, as tokenizer(text, ...).</summary>
    public TokenizedText Encode(string text, EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        options ??= EncodeOptions.Default;
        var (truncateTo, padTo) = Resolve(options);
        var item = EncodeOne(text, options.AddSpecialTokens, truncateTo);
        return padTo is int p ? Pad(item, p) : item;
    }

    /// <summary>Several texts, as tokenizer(texts, ...): Padding.Longest pads to the longest of the batch.</summary>
    public TokenizedBatch EncodeBatch(IReadOnlyList<string> texts, EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= EncodeOptions.Default;
        var (truncateTo, padTo) = Resolve(options);
        var items = new TokenizedText[texts.Count];
        for (int i = 0; i < items.Length; i++)
            items[i] = EncodeOne(texts[i] ?? throw new ArgumentNullException(nameof(texts), $"texts[{i}] is null"), options.AddSpecialTokens, truncateTo);
        if (options.Padding == Padding.Longest && items.Length > 0) padTo = items.Max(t => t.Length);
        if (padTo is int p)
            for (int i = 0; i < items.Length; i++) items[i] = Pad(items[i], p);
        return new TokenizedBatch(items);
    }

    /// <summary>Truncation length and fixed padding length implied by the options (Hugging Face's rules).</summary>
    private (int? TruncateTo, int? PadTo) Resolve(EncodeOptions o)
    {
        if (o.MaxLength is int m && m <= 0)
            throw new ArgumentOutOfRangeException(nameof(o.MaxLength), m, "max_length must be positive");
        bool truncation = o.Truncation ?? (o.MaxLength is not null && o.Padding == Padding.None);
        int? truncateTo = truncation ? o.MaxLength ?? ModelMaxLength : null;
        if (truncateTo is int t && o.AddSpecialTokens && t < SpecialTokensPerSequence)
            throw new ArgumentOutOfRangeException(nameof(o.MaxLength), t,
                $"max_length {t} leaves no room for the {SpecialTokensPerSequence} special tokens <s> and </s>");
        int? padTo = o.Padding == Padding.MaxLength ? o.MaxLength ?? ModelMaxLength : null;
        return (truncateTo, padTo);
    }

    private TokenizedText EncodeOne(string text, bool addSpecialTokens, int? truncateTo)
    {
        var ids = new List<int>();
        if (addSpecialTokens) ids.Add(ClsTokenId);
        AppendIds(text, ids);
        if (addSpecialTokens) ids.Add(SepTokenId);
        if (truncateTo is int limit && ids.Count > limit)
        {
            // Keep the first tokens of the text; the closing </s> stays.
            int keep = addSpecialTokens ? limit - 1 : limit;
            ids.RemoveRange(keep, ids.Count - keep - (addSpecialTokens ? 1 : 0));
        }
        var mask = new int[ids.Count];
        Array.Fill(mask, 1);
        return new TokenizedText(this, ids.ToArray(), mask);
    }

    private TokenizedText Pad(TokenizedText item, int length)
    {
        if (item.Length >= length) return item;
        var ids = new int[length];
        var mask = new int[length];
        item.InputIds.CopyTo(ids, 0);
        item.AttentionMask.CopyTo(mask, 0);
        Array.Fill(ids, PadTokenId, item.Length, length - item.Length);
        return new TokenizedText(this, ids, mask);
    }

    private void AppendIds(string text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (AddPrefixSpace && text.Length > 0 && !PreTokenizer.IsPythonSpace(text[0])) text = " " + text;
        var segments = SplitOnAddedTokens(text);
        foreach (var (start, length, token) in segments)
        {
            if (token is not null) { ids.Add(token.Id); continue; }
            if (length == 0) continue;
            var state = (Bpe: _bpe, Text: text, Offset: start, Ids: ids);
            PreTokenizer.Split(text.AsSpan(start, length), ref state,
                static (ref (BpeModel Bpe, string Text, int Offset, List<int> Ids) s, int pieceStart, int pieceLength) =>
                    s.Bpe.EncodePiece(s.Text.AsSpan(s.Offset + pieceStart, pieceLength), s.Ids));
        }
    }

    /// <summary>
    /// Splits the text on added tokens (leftmost, then longest match, like the slow tokenizer's trie)
    /// and applies their strips: lstrip trims Python whitespace (str.isspace) at the end of the text
    /// before the token, rstrip at the start of the text after it.
    /// </summary>
    private List<(int Start, int Length, AddedToken? Token)> SplitOnAddedTokens(string text)
    {
        var segments = new List<(int Start, int Length, AddedToken? Token)>();
        int textStart = 0, i = 0;
        while (i < text.Length)
        {
            int at = text.AsSpan(i).IndexOfAny(_addedFirstChars);
            if (at < 0) break;
            i += at;
            AddedToken? match = null;
            foreach (var candidate in _addedByFirstChar[text[i]])
                if (text.AsSpan(i).StartsWith(candidate.Content, StringComparison.Ordinal)) { match = candidate; break; }
            if (match is null) { i++; continue; }
            if (i > textStart) segments.Add((textStart, i - textStart, null));
            segments.Add((i, match.Content.Length, match));
            i += match.Content.Length;
            textStart = i;
        }
        if (textStart < text.Length) segments.Add((textStart, text.Length - textStart, null));

        for (int k = 0; k < segments.Count; k++)
        {
            var token = segments[k].Token;
            if (token is null) continue;
            if (token.RStrip && k + 1 < segments.Count && segments[k + 1].Token is null)
            {
                var (s, l, _) = segments[k + 1];
                while (l > 0 && PreTokenizer.IsPythonSpace(text[s])) { s++; l--; }
                segments[k + 1] = (s, l, null);
            }
            if (token.LStrip && k > 0 && segments[k - 1].Token is null)
            {
                var (s, l, _) = segments[k - 1];
                while (l > 0 && PreTokenizer.IsPythonSpace(text[s + l - 1])) l--;
                segments[k - 1] = (s, l, null);
            }
        }
        return segments;
    }

    // ---- ids <-> tokens, decoding ---------------------------------------------------------------

    public string IdToToken(int id)
    {
        if (_addedById.TryGetValue(id, out var added)) return added.Content;
        return _bpe.IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(id), id,
            $"token id {id} is not in the vocabulary (ids 0..{_bpe.IdLimit - 1} and the added tokens)");
    }

    public string[] ConvertIdsToTokens(ReadOnlySpan<int> ids)
    {
        var tokens = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++) tokens[i] = IdToToken(ids[i]);
        return tokens;
    }

    /// <summary>The id of a token string: added tokens first, then the vocabulary, else the unknown token.</summary>
    public int TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedByContent.TryGetValue(token, out var added)) return added.Id;
        return _bpe.TryGetId(token, out int id) ? id : UnkTokenId;
    }

    /// <summary>
    /// Hugging Face's decode: byte-level tokens are joined and decoded as UTF-8 (invalid bytes become
    /// U+FFFD), non-special added tokens stand alone joined by spaces, and the clean-up removes the
    /// space before . ? ! , and contractions.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null)
    {
        var parts = new List<string>();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && _specialIds.Contains(id)) continue;
            string token = IdToToken(id);
            if (_addedById.TryGetValue(id, out var added) && !_specialIds.Contains(added.Id))
            {
                Flush();
                parts.Add(token);
                continue;
            }
            foreach (char c in token)
            {
                int b = ByteLevel.CharToByte(c);
                if (b >= 0) bytes.Add((byte)b);
                else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString())); // not a byte-level character: keep it as text
            }
        }
        Flush();
        string text = string.Join(" ", parts);
        return cleanUpTokenizationSpaces ?? CleanUpTokenizationSpaces ? CleanUp(text) : text;

        void Flush()
        {
            if (bytes.Count == 0) return;
            parts.Add(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }

    /// <summary>Hugging Face's clean_up_tokenization, replacements in the same order.</summary>
    public static string CleanUp(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}
