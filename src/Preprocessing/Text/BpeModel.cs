using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace BridgeTower.Preprocessing.Text;

/// <summary>
/// Byte-level BPE (GPT-2's <c>bpe()</c>): a piece's UTF-8 bytes become byte-level symbols, then the
/// adjacent pair with the lowest merge rank is merged everywhere, left to right, until no pair has a
/// rank. Symbols are small integers (every merge result gets one, in the vocabulary or not); a
/// finished symbol maps to its vocabulary id, or to the unknown token's id when it has none.
/// Immutable after construction except for the thread-safe piece cache.
/// </summary>
public sealed class BpeModel
{
    /// <summary>Pieces longer than this are not cached (they are rare and would bloat the cache).</summary>
    private const int MaxCachedPieceLength = 100;

    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly int[] _byteSymbol = new int[256];
    private readonly int[] _symbolToId;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private readonly int _cacheCapacity;
    // ConcurrentDictionary.Count takes every lock; an approximate count is enough for the capacity limit.
    private int _cachedCount;

    public int MergeCount { get; }

    /// <param name="vocab">token -> id (ids must be non-negative)</param>
    /// <param name="merges">merge rules in rank order (rank = index)</param>
    /// <param name="unkId">id given to a symbol outside the vocabulary, or -1 to make that an error</param>
    /// <param name="source">file name used in error messages</param>
    /// <param name="cacheCapacity">most pieces kept in the cache</param>
    public BpeModel(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, int unkId,
                    string source, int cacheCapacity = 100_000)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        ArgumentNullException.ThrowIfNull(merges);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheCapacity);
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        int maxId = -1;
        foreach (var (token, id) in _vocab)
        {
            if (id < 0) throw new InvalidDataException($"{source}: vocabulary id {id} of token '{token}' is negative");
            maxId = Math.Max(maxId, id);
        }
        if (maxId >= 16 * Math.Max(_vocab.Count, 1024))
            throw new InvalidDataException($"{source}: vocabulary id {maxId} is far above its {_vocab.Count} entries");
        _idToToken = new string?[maxId + 1];
        foreach (var (token, id) in _vocab) _idToToken[id] ??= token;

        var symbols = new Dictionary<string, int>(StringComparer.Ordinal);
        var symbolNames = new List<string>();
        int Symbol(string s)
        {
            if (!symbols.TryGetValue(s, out int sym)) { sym = symbolNames.Count; symbols.Add(s, sym); symbolNames.Add(s); }
            return sym;
        }
        for (int b = 0; b < 256; b++) _byteSymbol[b] = Symbol(ByteLevel.ByteToChar((byte)b).ToString());

        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (string.IsNullOrEmpty(left) || string.IsNullOrEmpty(right))
                throw new InvalidDataException($"{source}: merge {rank} has an empty side");
            int l = Symbol(left), r = Symbol(right), m = Symbol(left + right);
            // A repeated rule takes its last rank, as Python's dict(zip(merges, range(n))) does.
            _merges[Key(l, r)] = (rank, m);
        }
        MergeCount = merges.Count;

        _symbolToId = new int[symbolNames.Count];
        for (int s = 0; s < symbolNames.Count; s++)
            _symbolToId[s] = _vocab.TryGetValue(symbolNames[s], out int id) ? id : unkId;
        _cacheCapacity = cacheCapacity;
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int VocabSize => _vocab.Count;

    /// <summary>One more than the largest id.</summary>
    public int IdLimit => _idToToken.Length;

    public bool TryGetId(string token, out int id) => _vocab.TryGetValue(token, out id);

    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>Appends the vocabulary ids of one pre-tokenized piece (raw text, before the byte mapping).</summary>
    public void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (piece.IsEmpty) return;
        if (_cacheLookup.TryGetValue(piece, out int[]? cached))
        {
            ids.AddRange(cached);
            return;
        }
        int[] result = Compute(piece);
        if (piece.Length <= MaxCachedPieceLength && Volatile.Read(ref _cachedCount) < _cacheCapacity
            && _cacheLookup.TryAdd(piece, result))
            Interlocked.Increment(ref _cachedCount);
        ids.AddRange(result);
    }

    /// <summary>Number of pieces in the cache (for tests and diagnostics).</summary>
    public int CachedPieces => Volatile.Read(ref _cachedCount);

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// long.GetHashCode is high ^ low, which for two small symbol ids collides heavily (every pair
    /// with the same XOR); a multiplicative mix spreads the pairs over the buckets.
    /// </summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    private int[] Compute(ReadOnlySpan<char> piece)
    {
        // Lone surrogates become U+FFFD's bytes (Python would refuse to encode them).
        int maxBytes = piece.Length * 3;
        int[]? rented = null;
        byte[]? rentedBytes = null;
        Span<byte> bytes = maxBytes <= 512 ? stackalloc byte[maxBytes] : (rentedBytes = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            int byteCount = Encoding.UTF8.GetBytes(piece, bytes);
            Span<int> word = byteCount <= 256 ? stackalloc int[byteCount] : (rented = ArrayPool<int>.Shared.Rent(byteCount)).AsSpan(0, byteCount);
            for (int i = 0; i < byteCount; i++) word[i] = _byteSymbol[bytes[i]];
            int n = Merge(word);
            var result = new int[n];
            for (int i = 0; i < n; i++) result[i] = _symbolToId[word[i]];
            if (Array.IndexOf(result, -1) >= 0)
                throw new InvalidOperationException($"a BPE symbol of '{piece}' is not in the vocabulary and there is no unknown token");
            return result;
        }
        finally
        {
            if (rented is not null) ArrayPool<int>.Shared.Return(rented);
            if (rentedBytes is not null) ArrayPool<byte>.Shared.Return(rentedBytes);
        }
    }

    /// <summary>
    /// Merges in place; returns the new length. The rank of each adjacent pair is kept in a side
    /// array and looked up again only next to a merge, so a pass costs one scan, not one lookup per pair.
    /// </summary>
    private int Merge(Span<int> word)
    {
        const int Dirty = -1, None = int.MaxValue;
        int n = word.Length;
        if (n < 2) return n;
        int[]? rented = null;
        Span<int> side = n <= 128 ? stackalloc int[2 * n] : (rented = ArrayPool<int>.Shared.Rent(2 * n)).AsSpan(0, 2 * n);
        Span<int> rank = side[..n], merged = side[n..];
        try
        {
            for (int p = 0; p + 1 < n; p++) Lookup(word, rank, merged, p);
            while (n > 1)
            {
                int best = -1, bestRank = None;
                for (int p = 0; p + 1 < n; p++)
                    if (rank[p] < bestRank) { bestRank = rank[p]; best = p; }
                if (best < 0) break;
                // best is the leftmost occurrence (equal pairs have equal ranks): merge them all from there.
                int left = word[best], right = word[best + 1], result = merged[best];
                int w = best;
                for (int r = best; r < n; w++)
                {
                    if (r + 1 < n && word[r] == left && word[r + 1] == right)
                    {
                        word[w] = result;
                        rank[w] = Dirty;
                        if (w > 0) rank[w - 1] = Dirty;
                        r += 2;
                    }
                    else
                    {
                        word[w] = word[r]; rank[w] = rank[r]; merged[w] = merged[r];
                        r++;
                    }
                }
                n = w;
                for (int p = 0; p + 1 < n; p++)
                    if (rank[p] == Dirty) Lookup(word, rank, merged, p);
            }
            return n;
        }
        finally
        {
            if (rented is not null) ArrayPool<int>.Shared.Return(rented);
        }
    }

    private void Lookup(Span<int> word, Span<int> rank, Span<int> merged, int p)
    {
        if (_merges.TryGetValue(Key(word[p], word[p + 1]), out var m)) { rank[p] = m.Rank; merged[p] = m.Merged; }
        else rank[p] = int.MaxValue;
    }
}
