using System.Buffers.Binary;
using System.Text;
using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>BMP, GIF and binary PGM/PPM: decoded by stb behind our header checks.</summary>
public class OtherFormatTests
{
    [Fact]
    public void Bmp_24_bit_bottom_up_decodes_to_rgb()
    {
        // 2x2: rows stored bottom-up, BGR, each row padded to 4 bytes.
        byte[] pixels = [/* bottom */ 0, 0, 255, 0, 255, 0, 0, 0, /* top */ 255, 0, 0, 255, 255, 255, 0, 0];
        var bmp = Bmp(2, 2, 24, pixels);
        var img = ImageLoader.Decode(bmp, "t.bmp");
        Assert.Equal([0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 0], img.Pixels);
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Decode(bmp[..^4], "cut.bmp"));
        Assert.Contains("truncated BMP", e.Reason);
        Assert.Contains("exceeds the limit", Assert.Throws<ImageDecodeException>(() => ImageLoader.Decode(Bmp(60000, 60000, 24, []), "big.bmp")).Reason);
    }

    [Fact]
    public void Binary_pgm_and_ppm_decode_and_gray_is_replicated()
    {
        byte[] ppm = [.. Encoding.ASCII.GetBytes("P6\n# comment\n2 1\n255\n"), 1, 2, 3, 4, 5, 6];
        Assert.Equal([1, 2, 3, 4, 5, 6], ImageLoader.Decode(ppm).Pixels);
        byte[] pgm = [.. Encoding.ASCII.GetBytes("P5 2 1 255 "), 7, 9];
        Assert.Equal([7, 7, 7, 9, 9, 9], ImageLoader.Decode(pgm).Pixels);
        Assert.Contains("truncated PNM", Assert.Throws<ImageDecodeException>(() => ImageLoader.Decode(pgm[..^1])).Reason);
        Assert.Contains("maxval", Assert.Throws<ImageDecodeException>(() => ImageLoader.Decode([.. Encoding.ASCII.GetBytes("P5 1 1 65535 "), 0, 0])).Reason);
    }

    [Fact]
    public void Gif_first_frame_decodes_through_its_palette()
    {
        byte[] gif =
        [
            .. "GIF89a"u8.ToArray(), 1, 0, 1, 0, 0x80, 0, 0, // 1x1 screen, 2-entry global palette
            10, 20, 30, 200, 210, 220,
            0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0,                // image descriptor
            2, 2, 0x44, 0x01, 0,                              // LZW: min code size 2, one block: index 0
            0x3B,
        ];
        Assert.Equal([10, 20, 30], ImageLoader.Decode(gif, "t.gif").Pixels);
        Assert.Equal(ImageFormat.Gif, ImageLoader.ReadHeader(gif).Format);
    }

    private static byte[] Bmp(int w, int h, int bpp, byte[] pixels)
    {
        var b = new byte[54 + pixels.Length];
        "BM"u8.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(2), (uint)b.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), h);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(28), (ushort)bpp);
        pixels.CopyTo(b, 54);
        return b;
    }
}
