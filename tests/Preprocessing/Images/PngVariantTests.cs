using System.Buffers.Binary;
using System.IO.Compression;
using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>
/// PNG variants the fixtures lack (Adam7 interlacing, 16-bit gray, gray+alpha, palette with tRNS,
/// sub-byte depths), written here and decoded with Pillow's convert("RGB") rules.
/// </summary>
public class PngVariantTests
{
    private const int W = 13, H = 7; // odd sizes leave some Adam7 passes narrow

    private static int Sample(int x, int y, int c) => (x * 37 + y * 91 + c * 53) & 0xFF;

    [Theory]
    [InlineData(2, 8, false)]
    [InlineData(2, 8, true)]
    [InlineData(6, 8, true)]
    [InlineData(6, 16, true)]
    [InlineData(0, 16, false)]
    [InlineData(4, 8, true)]
    [InlineData(0, 8, true)]
    public void Truecolor_and_gray_variants_decode_like_pillow(int colorType, int depth, bool interlaced)
    {
        int channels = colorType switch { 0 => 1, 2 => 3, 4 => 2, _ => 4 };
        int bytesPerSample = depth / 8;
        byte[] SampleBytes(int x, int y)
        {
            var b = new byte[channels * bytesPerSample];
            for (int c = 0; c < channels; c++)
            {
                int v = Sample(x, y, c);
                if (bytesPerSample == 2) { b[2 * c] = (byte)v; b[2 * c + 1] = (byte)(255 - v); } // high byte v, low byte noise
                else b[c] = (byte)v;
            }
            return b;
        }
        byte[] png = Png(colorType, depth, interlaced, SampleBytes, channels * bytesPerSample * 8);
        var img = ImageLoader.Decode(png, "variant.png");
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                {
                    int expected = channels >= 3 ? Sample(x, y, c) : Sample(x, y, 0); // gray replicated, alpha dropped
                    Assert.Equal(expected, img.Pixels[(y * W + x) * 3 + c]);
                }
    }

    [Theory]
    [InlineData(8, false)]
    [InlineData(4, true)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    public void Palette_images_look_up_the_palette_and_ignore_trns(int depth, bool interlaced)
    {
        int entries = 1 << depth;
        byte[] palette = Enumerable.Range(0, entries * 3).Select(i => (byte)(i * 7 + 3)).ToArray();
        int Index(int x, int y) => (x + 3 * y) % entries;
        byte[] png = Png(3, depth, interlaced, (x, y) => [(byte)Index(x, y)], depth, palette, trns: [0]);
        var img = ImageLoader.Decode(png, "palette.png");
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                    Assert.Equal(palette[Index(x, y) * 3 + c], img.Pixels[(y * W + x) * 3 + c]);
    }

    [Fact]
    public void Image_data_shorter_than_the_header_implies_is_truncated()
    {
        byte[] png = Png(2, 8, false, (x, y) => [1, 2, 3], 24, rowsOverride: H - 1);
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Decode(png, "short.png"));
        Assert.Contains("truncated PNG: image data inflates to", e.Reason);
    }

    /// <summary>A PNG with filter 0 on every row; samples of sub-byte depths are packed MSB first.</summary>
    private static byte[] Png(int colorType, int depth, bool interlaced, Func<int, int, byte[]> pixel, int bitsPerPixel,
        byte[]? palette = null, byte[]? trns = null, int rowsOverride = -1)
    {
        var raw = new MemoryStream();
        void Pass(int x0, int y0, int dx, int dy, int rowLimit)
        {
            int pw = (W - x0 + dx - 1) / dx, ph = (H - y0 + dy - 1) / dy;
            if (pw == 0 || ph == 0) return;
            for (int r = 0; r < Math.Min(ph, rowLimit); r++)
            {
                raw.WriteByte(0);
                var row = new byte[(pw * bitsPerPixel + 7) / 8];
                for (int i = 0; i < pw; i++)
                {
                    byte[] s = pixel(x0 + i * dx, y0 + r * dy);
                    if (bitsPerPixel >= 8) s.CopyTo(row, i * bitsPerPixel / 8);
                    else row[i * bitsPerPixel / 8] |= (byte)(s[0] << (8 - bitsPerPixel - i * bitsPerPixel % 8));
                }
                raw.Write(row);
            }
        }
        if (!interlaced) Pass(0, 0, 1, 1, rowsOverride < 0 ? H : rowsOverride);
        else
        {
            int[] x0 = [0, 4, 0, 2, 0, 1, 0], y0 = [0, 0, 4, 0, 2, 0, 1], dx = [8, 8, 4, 4, 2, 2, 1], dy = [8, 8, 8, 4, 4, 2, 2];
            for (int p = 0; p < 7; p++) Pass(x0[p], y0[p], dx[p], dy[p], int.MaxValue);
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(raw.ToArray());

        var file = new MemoryStream();
        file.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, W);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), H);
        ihdr[8] = (byte)depth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)(interlaced ? 1 : 0);
        Chunk(file, "IHDR", ihdr);
        if (palette is not null) Chunk(file, "PLTE", palette);
        if (trns is not null) Chunk(file, "tRNS", trns);
        Chunk(file, "IDAT", z.ToArray());
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] body)
    {
        var c = new byte[12 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(c, body.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(c, 4);
        body.CopyTo(c, 8);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(8 + body.Length), ExifOrientationTests.Crc(c.AsSpan(4, 4 + body.Length)));
        s.Write(c);
    }
}
