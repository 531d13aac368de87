using System.Buffers.Binary;
using System.IO.Compression;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// Walks a PNG's chunks before any pixel is decoded, because stb_image is lenient where Pillow
/// is not (and allocates as its zlib stream grows). Checks: signature, IHDR first with a valid
/// CRC and legal fields, every chunk inside the file, CRCs of the chunks before the first IDAT
/// (as Pillow does; IDAT CRCs are not checked by Pillow either), at least one byte of IDAT, an
/// IEND, and that the image data inflates to at least the size the header implies and not far
/// beyond it (bounded memory for stb).
/// </summary>
internal static class PngStructure
{
    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool Matches(ReadOnlySpan<byte> data) => data.StartsWith(Signature);

    public static ImageHeader Parse(byte[] data, string source, long maxPixels)
    {
        ImageDecodeException Fail(string reason) => new(source, reason);
        if (data.Length < 8 + 12 + 13) throw Fail($"truncated PNG: {data.Length} bytes, shorter than a signature and an IHDR chunk");

        int pos = 8;
        int width = 0, height = 0, bitDepth = 0, colorType = 0;
        bool interlaced = false, sawIdat = false, sawIend = false, first = true;
        int orientation = 1;
        var idat = new List<(int Offset, int Length)>();
        long idatBytes = 0;
        while (pos < data.Length)
        {
            if (data.Length - pos < 12) throw Fail($"truncated PNG: {data.Length - pos} stray bytes at offset {pos}, no complete chunk");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            var type = data.AsSpan(pos + 4, 4);
            string name = ChunkName(type);
            if (length > int.MaxValue) throw Fail($"corrupt PNG: chunk '{name}' at offset {pos} claims {length} bytes");
            if ((long)pos + 12 + length > data.Length)
                throw Fail($"truncated PNG: chunk '{name}' at offset {pos} needs {12 + length} bytes, {data.Length - pos} remain");
            var body = data.AsSpan(pos + 8, (int)length);

            if (first)
            {
                if (name != "IHDR" || length != 13) throw Fail($"corrupt PNG: the first chunk is '{name}' ({length} bytes), not a 13-byte IHDR");
                first = false;
            }
            if (!sawIdat && name != "IDAT")
            {
                uint stored = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos + 8 + (int)length));
                uint actual = Crc32.Compute(data.AsSpan(pos + 4, 4 + (int)length));
                if (stored != actual) throw Fail($"corrupt PNG: bad CRC in chunk '{name}' at offset {pos}");
            }

            switch (name)
            {
                case "IHDR":
                    if (pos != 8) throw Fail("corrupt PNG: a second IHDR chunk");
                    width = ReadDimension(body, 0, "width", Fail);
                    height = ReadDimension(body, 4, "height", Fail);
                    bitDepth = body[8];
                    colorType = body[9];
                    if (!ValidDepth(colorType, bitDepth))
                        throw Fail($"corrupt PNG: bit depth {bitDepth} is not allowed for color type {colorType}");
                    if (body[10] != 0 || body[11] != 0) throw Fail($"corrupt PNG: unknown compression {body[10]} or filter method {body[11]}");
                    if (body[12] > 1) throw Fail($"corrupt PNG: unknown interlace method {body[12]}");
                    interlaced = body[12] == 1;
                    ImageLimits.Check(source, width, height, maxPixels);
                    break;
                case "IDAT":
                    sawIdat = true;
                    if (length > 0) idat.Add((pos + 8, (int)length));
                    idatBytes += length;
                    break;
                case "eXIf":
                    if (orientation == 1) orientation = ExifOrientation.Read(body);
                    break;
                case "IEND":
                    sawIend = true;
                    break;
            }
            pos += 12 + (int)length;
            if (sawIend) break;
        }
        if (!sawIdat || idatBytes == 0) throw Fail("truncated PNG: no image data (IDAT chunks are missing or empty)");
        if (!sawIend) throw Fail("truncated PNG: the file ends before the IEND chunk");

        CheckImageData(data, idat, RawBytes(width, height, bitDepth, colorType, interlaced), source);
        return new ImageHeader(ImageFormat.Png, width, height, orientation);
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> c = stackalloc char[4];
        for (int i = 0; i < 4; i++) c[i] = type[i] is >= 0x20 and < 0x7F ? (char)type[i] : '?';
        return new string(c);
    }

    private static int ReadDimension(ReadOnlySpan<byte> ihdr, int at, string what, Func<string, ImageDecodeException> fail)
    {
        uint v = BinaryPrimitives.ReadUInt32BigEndian(ihdr[at..]);
        if (v == 0 || v > int.MaxValue) throw fail($"corrupt PNG: IHDR {what} is {v}");
        return (int)v;
    }

    private static bool ValidDepth(int colorType, int depth) => colorType switch
    {
        0 => depth is 1 or 2 or 4 or 8 or 16,
        3 => depth is 1 or 2 or 4 or 8,
        2 or 4 or 6 => depth is 8 or 16,
        _ => false,
    };

    private static int Channels(int colorType) => colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };

    /// <summary>Filtered scanline bytes the header implies (one filter byte per row, Adam7 passes when interlaced).</summary>
    internal static long RawBytes(int width, int height, int bitDepth, int colorType, bool interlaced)
    {
        long bitsPerPixel = (long)Channels(colorType) * bitDepth;
        long Rows(long w, long h) => w == 0 || h == 0 ? 0 : h * (1 + (w * bitsPerPixel + 7) / 8);
        if (!interlaced) return Rows(width, height);
        ReadOnlySpan<int> x0 = [0, 4, 0, 2, 0, 1, 0], y0 = [0, 0, 4, 0, 2, 0, 1];
        ReadOnlySpan<int> dx = [8, 8, 4, 4, 2, 2, 1], dy = [8, 8, 8, 4, 4, 2, 2];
        long total = 0;
        for (int p = 0; p < 7; p++)
            total += Rows((width - x0[p] + dx[p] - 1L) / dx[p], (height - y0[p] + dy[p] - 1L) / dy[p]);
        return total;
    }

    /// <summary>
    /// Inflates the IDAT stream into a small scratch buffer to learn its length: too short means a
    /// truncated image (stb would fill the gap with garbage or fail late), far too long means a
    /// zlib bomb that stb would buffer whole. A bad zlib checksum after all rows is tolerated, as
    /// Pillow stops reading once it has every row.
    /// </summary>
    private static void CheckImageData(byte[] data, List<(int Offset, int Length)> idat, long expected, string source)
    {
        ImageDecodeException Fail(string reason, Exception? inner = null) => new(source, reason, inner);
        long cap = expected + expected / 4 + (1 << 16);
        var scratch = new byte[1 << 16];
        long total = 0;
        try
        {
            using var z = new ZLibStream(new SegmentStream(data, idat), CompressionMode.Decompress);
            int n;
            while ((n = z.Read(scratch, 0, scratch.Length)) > 0)
            {
                total += n;
                if (total > cap) throw Fail($"corrupt PNG: image data inflates to more than {cap} bytes, the header implies {expected}");
            }
        }
        catch (InvalidDataException e)
        {
            if (total < expected) throw Fail($"corrupt PNG: image data is not a valid zlib stream ({e.Message})", e);
        }
        if (total < expected) throw Fail($"truncated PNG: image data inflates to {total} bytes, the header implies {expected}");
    }

    /// <summary>A read-only stream over the payloads of the IDAT chunks, in order, without copying them.</summary>
    private sealed class SegmentStream(byte[] data, List<(int Offset, int Length)> segments) : Stream
    {
        private int _segment, _within;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_segment < segments.Count)
            {
                var (start, length) = segments[_segment];
                int left = length - _within;
                if (left == 0) { _segment++; _within = 0; continue; }
                int n = Math.Min(left, buffer.Length);
                data.AsSpan(start + _within, n).CopyTo(buffer);
                _within += n;
                return n;
            }
            return 0;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
