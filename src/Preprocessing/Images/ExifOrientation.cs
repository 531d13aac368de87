using System.Buffers.Binary;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// The EXIF orientation tag (0x0112 in IFD0 of a TIFF structure) and the transposition Pillow's
/// ImageOps.exif_transpose applies for it. Malformed EXIF never fails a load: it reads as 1.
/// </summary>
public static class ExifOrientation
{
    private const ushort OrientationTag = 0x0112;

    /// <summary>The orientation in a TIFF blob ("II*\0" or "MM\0*" first), or 1 when absent or unreadable.</summary>
    public static int Read(ReadOnlySpan<byte> tiff)
    {
        if (tiff.Length < 8) return 1;
        bool little;
        if (tiff[0] == (byte)'I' && tiff[1] == (byte)'I') little = true;
        else if (tiff[0] == (byte)'M' && tiff[1] == (byte)'M') little = false;
        else return 1;
        if (U16(tiff, 2, little) != 42) return 1;
        uint ifd = U32(tiff, 4, little);
        if (ifd > (uint)tiff.Length - 2 || ifd < 8) return 1;
        int count = U16(tiff, (int)ifd, little);
        for (int i = 0; i < count; i++)
        {
            long entry = ifd + 2 + 12L * i;
            if (entry + 12 > tiff.Length) return 1;
            int e = (int)entry;
            if (U16(tiff, e, little) != OrientationTag) continue;
            ushort type = U16(tiff, e + 2, little);
            if (U32(tiff, e + 4, little) < 1) return 1;
            // The value sits in the entry's 4-byte value field, left-justified.
            long value = type switch
            {
                1 or 7 => tiff[e + 8],           // BYTE, UNDEFINED
                3 or 8 => U16(tiff, e + 8, little), // SHORT (the standard type), SSHORT
                4 or 9 => U32(tiff, e + 8, little), // LONG, SLONG
                _ => 1,
            };
            return value is >= 1 and <= 8 ? (int)value : 1;
        }
        return 1;
    }

    private static ushort U16(ReadOnlySpan<byte> s, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(s[at..]) : BinaryPrimitives.ReadUInt16BigEndian(s[at..]);

    private static uint U32(ReadOnlySpan<byte> s, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(s[at..]) : BinaryPrimitives.ReadUInt32BigEndian(s[at..]);

    /// <summary>
    /// The upright image for <paramref name="orientation"/>: 2 mirror, 3 rotate 180, 4 flip,
    /// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise
    /// (Pillow's FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90).
    /// </summary>
    public static RgbImage Apply(RgbImage image, int orientation)
    {
        if (orientation is < 2 or > 8) return image;
        int w = image.Width, h = image.Height;
        bool swap = orientation >= 5;
        int ow = swap ? h : w, oh = swap ? w : h;
        var src = image.Pixels;
        var dst = new byte[src.Length];
        for (int y = 0; y < oh; y++)
        {
            for (int x = 0; x < ow; x++)
            {
                // (sx, sy): the stored pixel that lands at output (x, y).
                (int sx, int sy) = orientation switch
                {
                    2 => (w - 1 - x, y),
                    3 => (w - 1 - x, h - 1 - y),
                    4 => (x, h - 1 - y),
                    5 => (y, x),
                    6 => (y, h - 1 - x),
                    7 => (w - 1 - y, h - 1 - x),
                    _ => (w - 1 - y, x), // 8
                };
                int s = (sy * w + sx) * 3, d = (y * ow + x) * 3;
                dst[d] = src[s];
                dst[d + 1] = src[s + 1];
                dst[d + 2] = src[s + 2];
            }
        }
        return new RgbImage(ow, oh, dst);
    }
}
