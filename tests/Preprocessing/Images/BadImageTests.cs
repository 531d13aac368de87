using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>
/// shared/data/bad-images: every "must fail" file raises <see cref="ImageDecodeException"/> naming
/// the file and the reason, before pixel memory is allocated; the files Pillow accepts load.
/// </summary>
public class BadImageTests
{
    [SharedTheory]
    [InlineData("truncated_rocket.jpg", "truncated JPEG")]
    [InlineData("truncated_after_sos.jpg", "truncated JPEG")]
    [InlineData("bad_crc_ihdr.png", "bad CRC in chunk 'IHDR'")]
    [InlineData("zero_length_idat.png", "no image data")]
    [InlineData("png_header_only.png", "no image data")]
    [InlineData("random_bytes.jpg", "cannot identify image")]
    [InlineData("zero_bytes.jpg", "empty")]
    [InlineData("text_file.png", "cannot identify image")]
    [InlineData("huge_dimensions.png", "100000x100000 (10000000000 pixels) exceeds the limit of 178956970 pixels")]
    [InlineData("huge_dimensions.jpg", "60000x60000 (3600000000 pixels) exceeds the limit of 178956970 pixels")]
    public void Must_fail_files_fail_with_the_file_and_reason_without_allocating_pixels(string file, string reason)
    {
        string path = ImageFixtures.BadImagePath(file);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(path, e.FileName);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(reason, e.Reason);
        Assert.True(allocated < 4 << 20, $"{file}: {allocated} bytes allocated before failing");
    }

    [SharedFact]
    public void Bad_idat_crc_is_accepted_like_pillow_and_decodes_the_right_image()
    {
        var image = ImageLoader.Load(ImageFixtures.BadImagePath("bad_crc_idat.png"));
        ImageFixtures.AssertSameImage(ImageFixtures.Get("green_palette.rgb"), image, "bad_crc_idat.png");
    }

    [SharedFact]
    public void Format_is_sniffed_from_content_not_extension()
    {
        string path = ImageFixtures.BadImagePath("png_named.jpg");
        Assert.Equal(ImageFormat.Png, ImageLoader.ReadHeader(path).Format);
        ImageFixtures.AssertSameImage(ImageFixtures.Get("transparent_dice.rgb"), ImageLoader.Load(path), "png_named.jpg");
    }

    [SharedFact]
    public void Every_cut_of_a_jpeg_or_png_is_reported_as_truncated()
    {
        foreach (string name in new[] { "rocket", "green_palette", "chelsea" })
        {
            byte[] full = File.ReadAllBytes(ImageFixtures.ImagePath(name));
            foreach (double fraction in new[] { 0.01, 0.1, 0.5, 0.9, 0.999 })
                AssertTruncated(full[..(int)(full.Length * fraction)], $"{name} cut at {fraction}");
            AssertTruncated(full[..^2], $"{name} without its last 2 bytes");
        }
    }

    [SharedFact]
    public void Corrupted_bytes_never_escape_as_anything_but_ImageDecodeException()
    {
        var rng = new Random(1234);
        foreach (var (name, mutants) in new[] { ("green_palette", 150), ("grace_hopper", 20) })
        {
            byte[] original = File.ReadAllBytes(ImageFixtures.ImagePath(name));
            for (int m = 0; m < mutants; m++)
            {
                byte[] data = (byte[])original.Clone();
                for (int k = rng.Next(1, 8); k > 0; k--) data[rng.Next(data.Length)] = (byte)rng.Next(256);
                try
                {
                    var image = ImageLoader.Decode(data, $"{name} mutant {m}");
                    Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
                }
                catch (ImageDecodeException e)
                {
                    Assert.StartsWith($"{name} mutant {m}: ", e.Message);
                }
            }
        }
    }

    [Fact]
    public void Missing_files_and_directories_are_named()
    {
        string missing = Path.Combine(Path.GetTempPath(), "no-such-image-" + Guid.NewGuid() + ".png");
        Assert.Contains("file not found", Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(missing)).Message);
        Assert.Contains("directory", Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(Path.GetTempPath())).Reason);
    }

    private static void AssertTruncated(byte[] data, string what)
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Decode(data, what));
        Assert.True(e.Reason.Contains("truncated") || e.Reason.Contains("no image data") || e.Reason.Contains("cannot identify"),
            $"{what}: {e.Reason}");
    }
}
