using System.Buffers.Binary;
using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

public class ExifOrientationTests
{
    // a b c
    // d e f   (3 wide, 2 high; one byte value per pixel, replicated over R G B)
    private static readonly RgbImage Letters = Gray(3, 2, "abcdef");

    [Theory]
    [InlineData(1, 3, "abcdef")]
    [InlineData(2, 3, "cbafed")] // mirror
    [InlineData(3, 3, "fedcba")] // rotate 180
    [InlineData(4, 3, "defabc")] // flip
    [InlineData(5, 2, "adbecf")] // transpose
    [InlineData(6, 2, "daebfc")] // rotate 90 clockwise (Pillow ROTATE_270)
    [InlineData(7, 2, "fcebda")] // transverse
    [InlineData(8, 2, "cfbead")] // rotate 90 counter-clockwise (Pillow ROTATE_90)
    public void Orientations_transpose_like_pillow_exif_transpose(int orientation, int width, string expected)
    {
        var result = ExifOrientationApply(Letters, orientation);
        Assert.Equal(width, result.Width);
        Assert.Equal(expected, new string(Enumerable.Range(0, result.Width * result.Height).Select(i => (char)result.Pixels[i * 3]).ToArray()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Tiff_orientation_is_read_in_both_byte_orders_and_garbage_reads_as_1(bool littleEndian)
    {
        Assert.Equal(6, ReadOrientation(Tiff(6, littleEndian)));
        var tiff = Tiff(6, littleEndian);
        Assert.Equal(1, ReadOrientation(tiff[..12])); // entry cut off
        tiff[8] = tiff[9] = 0xFF;                       // 65535 entries claimed, one present,
        tiff[littleEndian ? 10 : 11] = 0x00;            // and it is tag 0x0100, not orientation
        Assert.Equal(1, ReadOrientation(tiff));
        Assert.Equal(1, ReadOrientation(Tiff(9, littleEndian)));
        Assert.Equal(1, ReadOrientation([1, 2, 3]));
    }

    [SharedFact]
    public void Jpeg_app1_exif_orientation_is_applied_when_loading()
    {
        byte[] jpeg = File.ReadAllBytes(ImageFixtures.ImagePath("grace_hopper"));
        var plain = ImageLoader.Decode(jpeg, "plain");
        byte[] rotated = InsertAfterSoi(jpeg, ExifApp1(6));
        Assert.Equal(6, ImageLoader.ReadHeader(rotated).Orientation);
        var upright = ImageLoader.Decode(rotated, "exif 6");
        Assert.Equal((plain.Height, plain.Width), (upright.Width, upright.Height));
        // Rotated clockwise: the stored bottom-left pixel is now the top-left one.
        Assert.Equal(Pixel(plain, 0, plain.Height - 1), Pixel(upright, 0, 0));
        Assert.Equal(Pixel(plain, 0, 0), Pixel(upright, upright.Width - 1, 0));
        var asStored = ImageLoader.Decode(rotated, "exif 6", new ImageLoadOptions { ApplyExifOrientation = false });
        Assert.Equal(plain.Pixels, asStored.Pixels);
    }

    [SharedFact]
    public void Png_exif_chunk_orientation_is_applied_when_loading()
    {
        byte[] png = File.ReadAllBytes(ImageFixtures.ImagePath("green_palette"));
        var plain = ImageLoader.Decode(png);
        byte[] tiff = Tiff(8, littleEndian: true);
        var chunk = new byte[12 + tiff.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)tiff.Length);
        "eXIf"u8.CopyTo(chunk.AsSpan(4));
        tiff.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + tiff.Length), Crc(chunk.AsSpan(4, 4 + tiff.Length)));
        byte[] withExif = [.. png[..33], .. chunk, .. png[33..]]; // after signature + IHDR
        var upright = ImageLoader.Decode(withExif);
        Assert.Equal((plain.Height, plain.Width), (upright.Width, upright.Height));
        Assert.Equal(Pixel(plain, plain.Width - 1, 0), Pixel(upright, 0, 0));
    }

    internal static RgbImage Gray(int w, int h, string values)
    {
        var img = RgbImage.Black(w, h);
        for (int i = 0; i < w * h; i++) img.Pixels[3 * i] = img.Pixels[3 * i + 1] = img.Pixels[3 * i + 2] = (byte)values[i];
        return img;
    }

    private static (byte, byte, byte) Pixel(RgbImage img, int x, int y)
    {
        int i = (y * img.Width + x) * 3;
        return (img.Pixels[i], img.Pixels[i + 1], img.Pixels[i + 2]);
    }

    private static RgbImage ExifOrientationApply(RgbImage img, int orientation) => ExifOrientation.Apply(img, orientation);

    private static int ReadOrientation(byte[] tiff) => ExifOrientation.Read(tiff);

    /// <summary>A TIFF blob with IFD0 holding one SHORT Orientation entry.</summary>
    internal static byte[] Tiff(int orientation, bool littleEndian)
    {
        var t = new byte[8 + 2 + 12 + 4];
        void U16(int at, int v) { if (littleEndian) BinaryPrimitives.WriteUInt16LittleEndian(t.AsSpan(at), (ushort)v); else BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(at), (ushort)v); }
        void U32(int at, uint v) { if (littleEndian) BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(at), v); else BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(at), v); }
        t[0] = t[1] = (byte)(littleEndian ? 'I' : 'M');
        U16(2, 42);
        U32(4, 8);
        U16(8, 1);
        U16(10, 0x0112);
        U16(12, 3);
        U32(14, 1);
        U16(18, orientation);
        return t;
    }

    private static byte[] ExifApp1(int orientation)
    {
        byte[] payload = [.. "Exif\0\0"u8.ToArray(), .. Tiff(orientation, littleEndian: false)];
        var seg = new byte[4 + payload.Length];
        seg[0] = 0xFF;
        seg[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(2), (ushort)(2 + payload.Length));
        payload.CopyTo(seg, 4);
        return seg;
    }

    private static byte[] InsertAfterSoi(byte[] jpeg, byte[] segment) => [.. jpeg[..2], .. segment, .. jpeg[2..]];

    internal static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
