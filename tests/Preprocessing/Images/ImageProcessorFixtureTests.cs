using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>pixel_values and pixel_mask from the fixtures' decoded RGB: within 1e-6 (in practice bit-exact).</summary>
public class ImageProcessorFixtureTests
{
    private const double Tolerance = 1e-6;
    private static readonly BridgeTowerImageProcessor Processor = new();

    [SharedTheory]
    [MemberData(nameof(ImageFixtures.All), MemberType = typeof(ImageFixtures))]
    public void Processor_path_with_center_crop_matches(string name)
    {
        var batch = Processor.Preprocess(ImageFixtures.Rgb(name), ImageProcessorCallOptions.ProcessorDefaults);
        var expected = ImageFixtures.Get(name + ".pixel_values");
        Assert.Equal([1, 3, 288, 288], batch.PixelValues.ShapeArray());
        Assert.True(ImageFixtures.MaxAbsDiff(expected, batch.PixelValues.Select(0, 0)) <= Tolerance);
        AssertMask(ImageFixtures.Get(name + ".pixel_mask"), batch.PixelMask!.Select(0, 0));
    }

    [SharedTheory]
    [MemberData(nameof(ImageFixtures.All), MemberType = typeof(ImageFixtures))]
    public void Plain_default_call_does_not_crop_and_matches(string name)
    {
        // Fixtures omit nocrop.* where it equals the cropped output (already 288 x 288).
        string key = ImageFixtures.Has(name + ".nocrop.pixel_values") ? name + ".nocrop" : name;
        var batch = Processor.Preprocess(ImageFixtures.Rgb(name));
        var expected = ImageFixtures.Get(key + ".pixel_values");
        Assert.True(ImageFixtures.MaxAbsDiff(expected, batch.PixelValues.Select(0, 0)) <= Tolerance);
        AssertMask(ImageFixtures.Get(key + ".pixel_mask"), batch.PixelMask!.Select(0, 0));
        // Explicit do_center_crop=False is the same call (asserted by the generator too).
        var explicitNoCrop = Processor.Preprocess(ImageFixtures.Rgb(name), new ImageProcessorCallOptions { DoCenterCrop = false });
        Assert.Equal(batch.PixelValues.ToFloatArray(), explicitNoCrop.PixelValues.ToFloatArray());
    }

    [SharedFact]
    public void Batch_pads_to_the_largest_height_and_width_with_zero_and_a_mask()
    {
        string[] names = ["chelsea", "shell_portrait", "text"];
        var batch = Processor.Preprocess(names.Select(ImageFixtures.Rgb).ToArray());
        Assert.Equal(DType.F32, batch.PixelValues.DType);
        Assert.Equal(DType.I64, batch.PixelMask!.DType);
        Assert.Equal([3, 3, 448, 448], batch.PixelValues.ShapeArray());
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("batch.pixel_values"), batch.PixelValues) <= Tolerance);
        AssertMask(ImageFixtures.Get("batch.pixel_mask"), batch.PixelMask);
        Assert.Equal(new (int, int)[] { (288, 416), (448, 224), (160, 448) }, batch.ImageSizes);
    }

    [SharedFact]
    public void Processor_batch_is_the_cropped_images_stacked_with_an_all_ones_mask()
    {
        string[] names = ["chelsea", "shell_portrait", "text"];
        var batch = Processor.Preprocess(names.Select(ImageFixtures.Rgb).ToArray(), ImageProcessorCallOptions.ProcessorDefaults);
        AssertMask(ImageFixtures.Get("batch_processor.pixel_mask"), batch.PixelMask!);
        for (int i = 0; i < names.Length; i++)
            Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get(names[i] + ".pixel_values"), batch.PixelValues.Select(0, i)) <= Tolerance);
        var two = Processor.Preprocess([ImageFixtures.Rgb("chelsea"), ImageFixtures.Rgb("grace_hopper")], ImageProcessorCallOptions.ProcessorDefaults);
        AssertMask(ImageFixtures.Get("processor.pixel_mask"), two.PixelMask!);
    }

    [SharedFact]
    public void Hub_preprocessor_config_gives_the_reference_defaults()
    {
        var config = BridgeTowerImageProcessorConfig.FromFile(SharedData.Path("fixtures", "processor"));
        var defaults = new BridgeTowerImageProcessorConfig();
        Assert.Equal(defaults with { ImageMean = config.ImageMean, ImageStd = config.ImageStd }, config);
        Assert.Equal(defaults.ImageMean, config.ImageMean);
        Assert.Equal(defaults.ImageStd, config.ImageStd);
        Assert.Equal(1.0 / 255.0, config.RescaleFactor);
    }

    private static void AssertMask(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
        Assert.Equal(expected.ToInt64Array(), actual.ToInt64Array());
    }
}
