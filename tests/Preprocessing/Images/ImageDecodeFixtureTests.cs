using System.Collections.Concurrent;
using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>
/// Our decoder (StbImageSharp behind our header checks) against Pillow's decoded RGB: PNGs are
/// byte-identical; JPEGs differ slightly (libjpeg-turbo vs stb IDCT and chroma upsampling), within
/// the bounds measured on these files and documented in the README.
/// </summary>
public class ImageDecodeFixtureTests
{
    // Measured (max |diff| of decoded RGB, mean |diff|): rocket 2 / 0.010 (4:4:4), grace_hopper 3 / 0.051 (4:2:0),
    // shell_portrait 14 / 0.035 and colorful_cups 19 / 0.047 (4:2:2). After the resize: max 3 levels everywhere.
    private const int JpegMaxRgbDiff = 19;
    private const double JpegMeanRgbDiff = 0.06;
    private const int JpegMaxResizedDiff = 3;

    private static readonly BridgeTowerImageProcessor Processor = new();

    // colorful_cups (2560x1600 progressive) takes about a second in stb: decode each file once.
    private static readonly ConcurrentDictionary<string, RgbImage> Decoded = new();

    private static RgbImage Load(string name) => Decoded.GetOrAdd(name, n => ImageLoader.Load(ImageFixtures.ImagePath(n)));

    [SharedTheory]
    [MemberData(nameof(ImageFixtures.Png), MemberType = typeof(ImageFixtures))]
    public void Png_files_decode_exactly_like_pillow_and_give_the_same_pixel_values(string name)
    {
        var image = Load(name);
        ImageFixtures.AssertSameImage(ImageFixtures.Get(name + ".rgb"), image, name + ".rgb");
        var batch = Processor.Preprocess(image, ImageProcessorCallOptions.ProcessorDefaults);
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get(name + ".pixel_values"), batch.PixelValues.Select(0, 0)) <= 1e-6);
    }

    [SharedTheory]
    [MemberData(nameof(ImageFixtures.Jpeg), MemberType = typeof(ImageFixtures))]
    public void Jpeg_files_decode_within_the_measured_tolerance(string name)
    {
        var image = Load(name);
        var expected = ImageFixtures.Get(name + ".rgb");
        Assert.Equal((expected.Dim(1), expected.Dim(0)), (image.Width, image.Height));
        var (max, mean) = Diff(expected.Contiguous().ReadOnlySpan<byte>(), image.Pixels);
        Assert.True(max <= JpegMaxRgbDiff && mean <= JpegMeanRgbDiff, $"{name}: decoded RGB differs by max {max}, mean {mean:F4}");

        var resized = Processor.Resize(image);
        var (rmax, _) = Diff(ImageFixtures.Get(name + ".resized").Contiguous().ReadOnlySpan<byte>(), resized.Pixels);
        Assert.True(rmax <= JpegMaxResizedDiff, $"{name}: resized differs by {rmax} levels");

        // Normalized values then differ by at most JpegMaxResizedDiff / 255 / std.
        double bound = JpegMaxResizedDiff / 255.0 / BridgeTowerImageProcessorConfig.OpenAiClipStd.Min() + 1e-6;
        var batch = Processor.Preprocess(image, ImageProcessorCallOptions.ProcessorDefaults);
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get(name + ".pixel_values"), batch.PixelValues.Select(0, 0)) <= bound);
    }

    [SharedFact]
    public void Headers_give_sizes_and_formats_without_decoding()
    {
        var h = ImageLoader.ReadHeader(ImageFixtures.ImagePath("colorful_cups"));
        Assert.Equal(new ImageHeader(ImageFormat.Jpeg, 2560, 1600, 1), h);
        Assert.Equal(new ImageHeader(ImageFormat.Png, 32, 32, 1), ImageLoader.ReadHeader(ImageFixtures.ImagePath("basn6a16")));
    }

    [SharedFact]
    public void The_pixel_limit_is_configurable_and_inclusive()
    {
        string path = ImageFixtures.ImagePath("rocket");
        Assert.Equal(640, ImageLoader.ReadHeader(path, new ImageLoadOptions { MaxPixels = 640 * 427 }).Width);
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.ReadHeader(path, new ImageLoadOptions { MaxPixels = 640 * 427 - 1 }));
        Assert.Contains("exceeds the limit", e.Message);
        Assert.Equal(path, e.FileName);
    }

    private static (int Max, double Mean) Diff(ReadOnlySpan<byte> expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        int max = 0;
        long sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            max = Math.Max(max, d);
            sum += d;
        }
        return (max, (double)sum / expected.Length);
    }
}
