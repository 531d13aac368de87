using BridgeTower.Preprocessing;
using BridgeTower.Preprocessing.Images;
using BridgeTower.Tests.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Processor;

/// <summary>The processor against the fixtures' <c>processor.*</c> and <c>batch.*</c> tensors (HF's BridgeTowerProcessor call).</summary>
public class ProcessorFixtureTests
{
    private const double Tolerance = 1e-6;
    internal static readonly string[] FixtureTexts = ["An image of two cats chilling on a couch", "a <mask> looking out of the window"];
    private static readonly Lazy<BridgeTowerProcessor> LazyProcessor = new(() => BridgeTowerProcessor.FromPretrained(SharedData.Path("fixtures", "processor")));
    internal static BridgeTowerProcessor Processor => LazyProcessor.Value;

    [SharedFact]
    public void Two_images_with_two_texts_equal_the_reference_call()
    {
        var output = Processor.Process([ImageFixtures.Rgb("chelsea"), ImageFixtures.Rgb("grace_hopper")], FixtureTexts);
        AssertTextMatchesFixture(output);
        Assert.Equal(DType.F32, output.PixelValues.DType);
        Assert.Equal([2, 3, 288, 288], output.PixelValues.ShapeArray());
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("chelsea.pixel_values"), output.PixelValues.Select(0, 0)) <= Tolerance);
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("grace_hopper.pixel_values"), output.PixelValues.Select(0, 1)) <= Tolerance);
        Assert.Equal(DType.I64, output.PixelMask!.DType);
        Assert.Equal(ImageFixtures.Get("processor.pixel_mask").ShapeArray(), output.PixelMask.ShapeArray());
        Assert.Equal(ImageFixtures.Get("processor.pixel_mask").ToInt64Array(), output.PixelMask.ToInt64Array());
    }

    [SharedFact]
    public void Same_call_from_the_files_png_exact_jpeg_within_the_measured_decoder_tolerance()
    {
        var output = Processor.ProcessFiles([ImageFixtures.ImagePath("chelsea"), ImageFixtures.ImagePath("grace_hopper")], FixtureTexts);
        AssertTextMatchesFixture(output);
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("chelsea.pixel_values"), output.PixelValues.Select(0, 0)) <= Tolerance);
        // Images section of the README: JPEG decoding differs from libjpeg-turbo by at most 3 levels after resizing.
        double jpegBound = 3 / 255.0 / BridgeTowerImageProcessorConfig.OpenAiClipStd.Min() + 1e-6;
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("grace_hopper.pixel_values"), output.PixelValues.Select(0, 1)) <= jpegBound);
        Assert.Equal(ImageFixtures.Get("processor.pixel_mask").ToInt64Array(), output.PixelMask!.ToInt64Array());
    }

    [SharedFact]
    public void Without_center_crop_the_batch_is_padded_like_the_reference()
    {
        string[] names = ["chelsea", "shell_portrait", "text"];
        var options = new ProcessorOptions { Images = ImageProcessorCallOptions.ProcessorDefaults with { DoCenterCrop = false } };
        var output = Processor.Process(names.Select(ImageFixtures.Rgb).ToArray(), ["one", "two", "three"], options);
        Assert.Equal([3, 3, 448, 448], output.PixelValues.ShapeArray());
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("batch.pixel_values"), output.PixelValues) <= Tolerance);
        Assert.Equal(ImageFixtures.Get("batch.pixel_mask").ToInt64Array(), output.PixelMask!.ToInt64Array());
        Assert.Equal(new (int, int)[] { (288, 416), (448, 224), (160, 448) }, output.ImageSizes);
    }

    [SharedFact]
    public void Processor_batch_of_three_is_the_cropped_images_stacked()
    {
        string[] names = ["chelsea", "shell_portrait", "text"];
        var output = Processor.Process(names.Select(ImageFixtures.Rgb).ToArray(), ["one", "two", "three"]);
        for (int i = 0; i < names.Length; i++)
            Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get(names[i] + ".pixel_values"), output.PixelValues.Select(0, i)) <= Tolerance);
        Assert.Equal(ImageFixtures.Get("batch_processor.pixel_mask").ToInt64Array(), output.PixelMask!.ToInt64Array());
    }

    internal static void AssertTextMatchesFixture(ProcessorOutput output)
    {
        Assert.Equal(DType.I64, output.InputIds.DType);
        Assert.Equal(DType.I64, output.AttentionMask.DType);
        var ids = ImageFixtures.Get("processor.input_ids");
        var mask = ImageFixtures.Get("processor.attention_mask");
        Assert.Equal(ids.ShapeArray(), output.InputIds.ShapeArray());
        Assert.Equal(ids.ToInt64Array(), output.InputIds.ToInt64Array());
        Assert.Equal(mask.ShapeArray(), output.AttentionMask.ShapeArray());
        Assert.Equal(mask.ToInt64Array(), output.AttentionMask.ToInt64Array());
    }
}
