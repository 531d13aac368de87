namespace BridgeTower.Preprocessing.Text;

/// <summary>
/// GPT-2's <c>bytes_to_unicode</c> table: every byte maps to a printable character so that BPE
/// vocabularies never hold whitespace or control characters (space is 'Ġ', '\n' is 'Ċ', NUL is 'Ā').
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100.. in byte order.
/// </summary>
public static class ByteLevel
{
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    // Every mapped character is below U+0200, so the inverse is a small array (-1 = not a byte char).
    private static readonly short[] CharToByteTable = BuildCharToByte();

    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte a byte-level character stands for, or -1 when the character is not in the table.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int next = 0;
        for (int b = 0; b < 256; b++) table[b] = printable[b] ? (char)b : (char)(256 + next++);
        return table;
    }

    private static short[] BuildCharToByte()
    {
        var inverse = new short[512];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[ByteToCharTable[b]] = (short)b;
        return inverse;
    }
}
