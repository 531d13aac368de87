using System.Buffers.Binary;

namespace BridgeTower.Preprocessing.Images;

/// <summary>Header sizes of the simpler formats stb_image also decodes (GIF, BMP, binary PGM/PPM).</summary>
internal static class OtherHeaders
{
    public static bool IsGif(ReadOnlySpan<byte> d) => d.StartsWith("GIF87a"u8) || d.StartsWith("GIF89a"u8);

    public static bool IsBmp(ReadOnlySpan<byte> d) => d.Length >= 18 && d.StartsWith("BM"u8);

    public static bool IsPnm(ReadOnlySpan<byte> d) =>
        d.Length >= 3 && d[0] == (byte)'P' && d[1] is (byte)'5' or (byte)'6' && IsSpace(d[2]);

    /// <summary>The logical screen size (what stb and Pillow both return for the first frame).</summary>
    public static ImageHeader Gif(byte[] data, string source, long maxPixels)
    {
        if (data.Length < 13) throw new ImageDecodeException(source, $"truncated GIF: {data.Length} bytes, shorter than its header");
        int w = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(6));
        int h = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(8));
        if (w == 0 || h == 0) throw new ImageDecodeException(source, $"corrupt GIF: screen size {w}x{h}");
        ImageLimits.Check(source, w, h, maxPixels);
        return new ImageHeader(ImageFormat.Gif, w, h);
    }

    public static ImageHeader Bmp(byte[] data, string source, long maxPixels)
    {
        ImageDecodeException Fail(string reason) => new(source, reason);
        if (data.Length < 26) throw Fail($"truncated BMP: {data.Length} bytes, shorter than its headers");
        uint dataOffset = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(10));
        uint infoSize = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(14));
        long w, h;
        int bitsPerPixel;
        uint compression = 0;
        if (infoSize == 12)
        {
            w = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(18));
            h = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(20));
            bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(24));
        }
        else if (infoSize >= 40 && data.Length >= 34)
        {
            w = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(18));
            h = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(22))); // negative: top-down rows
            bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(28));
            compression = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(30));
        }
        else throw Fail($"unsupported BMP info header of {infoSize} bytes");
        if (w <= 0 || h <= 0 || w > int.MaxValue || h > int.MaxValue) throw Fail($"corrupt BMP: size {w}x{h}");
        ImageLimits.Check(source, (int)w, (int)h, maxPixels);
        // Uncompressed rows are 4-byte aligned; stb reads past the end as zeros, so check here.
        if (compression is 0 or 3 && bitsPerPixel is 1 or 4 or 8 or 16 or 24 or 32)
        {
            long needed = dataOffset + (w * bitsPerPixel + 31) / 32 * 4 * h;
            if (needed > data.Length) throw Fail($"truncated BMP: pixel data needs {needed} bytes, the file has {data.Length}");
        }
        return new ImageHeader(ImageFormat.Bmp, (int)w, (int)h);
    }

    public static ImageHeader Pnm(byte[] data, string source, long maxPixels) => ParsePnm(data, source, maxPixels).Header;

    /// <summary>
    /// Binary PGM/PPM pixels (StbImageSharp leaves PNM out): samples are already 8-bit RGB or
    /// gray, which is replicated like Pillow's L to RGB conversion.
    /// </summary>
    public static RgbImage DecodePnm(byte[] data, string source, long maxPixels)
    {
        var (header, offset) = ParsePnm(data, source, maxPixels);
        var image = RgbImage.Black(header.Width, header.Height);
        if (data[1] == (byte)'6')
        {
            data.AsSpan(offset, image.Pixels.Length).CopyTo(image.Pixels);
            return image;
        }
        for (int i = 0; i < header.Width * header.Height; i++)
            image.Pixels[3 * i] = image.Pixels[3 * i + 1] = image.Pixels[3 * i + 2] = data[offset + i];
        return image;
    }

    private static (ImageHeader Header, int Offset) ParsePnm(byte[] data, string source, long maxPixels)
    {
        ImageDecodeException Fail(string reason) => new(source, reason);
        int pos = 2;
        long[] fields = new long[3];
        for (int f = 0; f < 3; f++)
        {
            while (pos < data.Length && (IsSpace(data[pos]) || data[pos] == (byte)'#'))
            {
                if (data[pos] == (byte)'#') while (pos < data.Length && data[pos] != (byte)'\n') pos++;
                else pos++;
            }
            long v = 0;
            int digits = 0;
            while (pos < data.Length && data[pos] is >= (byte)'0' and <= (byte)'9' && digits < 10)
            {
                v = v * 10 + (data[pos++] - '0');
                digits++;
            }
            if (digits == 0) throw Fail("corrupt PNM: the header's width, height or maxval is missing");
            fields[f] = v;
        }
        if (pos >= data.Length || !IsSpace(data[pos])) throw Fail("corrupt PNM: no whitespace after the header");
        pos++;
        long w = fields[0], h = fields[1], maxval = fields[2];
        if (w <= 0 || h <= 0 || w > int.MaxValue || h > int.MaxValue) throw Fail($"corrupt PNM: size {w}x{h}");
        ImageLimits.Check(source, (int)w, (int)h, maxPixels);
        if (maxval != 255) throw Fail($"unsupported PNM maxval {maxval} (only 255 is decoded)");
        int channels = data[1] == (byte)'6' ? 3 : 1;
        long needed = pos + w * h * channels;
        if (needed > data.Length) throw Fail($"truncated PNM: pixel data needs {needed} bytes, the file has {data.Length}");
        return (new ImageHeader(ImageFormat.Pnm, (int)w, (int)h), pos);
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C;
}
