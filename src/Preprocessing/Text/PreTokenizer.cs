using System.Globalization;

namespace BridgeTower.Preprocessing.Text;

/// <summary>
/// GPT-2 / RoBERTa pre-tokenization, a hand-written equivalent of the Python <c>regex</c> pattern
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.
/// It works on code points (a .NET Regex sees UTF-16 units, so astral letters such as U+1D400
/// would not be \p{L}), and \s is Unicode White_Space, as in the <c>regex</c> module (which,
/// unlike <c>str.isspace</c>, excludes U+001C..U+001F).
/// </summary>
public static class PreTokenizer
{
    private enum Kind : byte { Letter, Number, Space, Other }

    /// <summary>Calls <paramref name="emit"/> with (start, length) in UTF-16 units for each piece, in order.</summary>
    public static void Split<TState>(ReadOnlySpan<char> s, ref TState state, PieceCallback<TState> emit)
    {
        int n = s.Length;
        int i = 0;
        while (i < n)
        {
            char c = s[i];
            // Contractions come first in the alternation and are lowercase ASCII only.
            if (c == '\'' && i + 1 < n)
            {
                char d = s[i + 1];
                if (d is 's' or 't' or 'm' or 'd') { emit(ref state, i, 2); i += 2; continue; }
                if (i + 2 < n && ((d is 'r' or 'v' && s[i + 2] == 'e') || (d == 'l' && s[i + 2] == 'l')))
                {
                    emit(ref state, i, 3); i += 3; continue;
                }
            }

            int runStart = i;
            Kind kind = Classify(s, i, out int width);
            if (c == ' ' && i + 1 < n)
            {
                // " ?" in front of a letter, number or other run; a space before whitespace is whitespace.
                Kind next = Classify(s, i + 1, out int nextWidth);
                if (next != Kind.Space) { kind = next; runStart = i + 1; width = nextWidth; }
            }

            if (kind != Kind.Space)
            {
                int j = runStart + width;
                while (j < n && Classify(s, j, out int w) == kind) j += w;
                emit(ref state, i, j - i);
                i = j;
                continue;
            }

            // \s+(?!\S): the whole run at the end of the text; otherwise all but its last character,
            // which then goes with the next word (\s+ takes a lone one). White_Space is all in the BMP.
            int k = i + 1;
            while (k < n && IsWhiteSpace(s[k])) k++;
            int end = k == n || k - i == 1 ? k : k - 1;
            emit(ref state, i, end - i);
            i = end;
        }
    }

    public delegate void PieceCallback<TState>(ref TState state, int start, int length);

    /// <summary>The pieces as strings (convenient for tests and tools; the tokenizer uses the callback form).</summary>
    public static List<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<(int, int)>();
        Split(text.AsSpan(), ref pieces, static (ref List<(int, int)> p, int start, int length) => p.Add((start, length)));
        return pieces.Select(p => text.Substring(p.Item1, p.Item2)).ToList();
    }

    /// <summary>Unicode White_Space (what \s matches in the regex module).</summary>
    public static bool IsWhiteSpace(char c) => c switch
    {
        >= '\t' and <= '\r' => true,
        ' ' or '\u0085' or '\u00A0' or '\u1680' => true,
        >= '\u2000' and <= '\u200A' => true,
        '\u2028' or '\u2029' or '\u202F' or '\u205F' or '\u3000' => true,
        _ => false,
    };

    /// <summary>Python's <c>str.isspace</c>: White_Space plus the information separators U+001C..U+001F.</summary>
    public static bool IsPythonSpace(char c) => IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';

    private static readonly Kind[] AsciiKinds = Enumerable.Range(0, 128).Select(i => (char)i switch
    {
        >= 'a' and <= 'z' or >= 'A' and <= 'Z' => Kind.Letter,
        >= '0' and <= '9' => Kind.Number,
        var c when IsWhiteSpace(c) => Kind.Space,
        _ => Kind.Other,
    }).ToArray();

    private static Kind Classify(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        width = 1;
        if (c < 0x80) return AsciiKinds[c];
        UnicodeCategory category;
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            width = 2;
            category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, s[i + 1]));
        }
        else
        {
            if (IsWhiteSpace(c)) return Kind.Space;
            category = CharUnicodeInfo.GetUnicodeCategory(c);
        }
        return category switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }
}
