using BridgeTower.Preprocessing;
using BridgeTower.Preprocessing.Images;
using BridgeTower.Preprocessing.Text;
using BridgeTower.Tests.Preprocessing.Images;
using BridgeTower.Tests.Tensors;

namespace BridgeTower.Tests.Preprocessing.Processor;

/// <summary>How image and text counts pair up, options, errors, progress and cancellation.</summary>
public class ProcessorBehaviourTests
{
    private static BridgeTowerProcessor Processor => ProcessorFixtureTests.Processor;
    private static readonly string[] ThreeTexts = ["a cat", "two cats chilling on a couch", "a <mask>"];

    [SharedFact]
    public void One_image_with_many_texts_keeps_an_image_batch_of_one()
    {
        var output = Processor.Process([ImageFixtures.Rgb("chelsea")], ThreeTexts);
        Assert.Equal(3, output.TextBatch);
        Assert.Equal(1, output.ImageBatch);
        Assert.Equal([1, 3, 288, 288], output.PixelValues.ShapeArray());
        Assert.Equal([1, 288, 288], output.PixelMask!.ShapeArray());
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("chelsea.pixel_values"), output.PixelValues.Select(0, 0)) <= 1e-6);
        // Rows are what the tokenizer gives for the batch alone.
        var expected = Processor.Tokenizer.EncodeBatch(ThreeTexts, new EncodeOptions { Padding = Padding.Longest, Truncation = true });
        Assert.Equal(expected.InputIdsTensor().ToInt64Array(), output.InputIds.ToInt64Array());
        Assert.Equal(expected.AttentionMaskTensor().ToInt64Array(), output.AttentionMask.ToInt64Array());
    }

    [SharedFact]
    public void RepeatSingleImage_repeats_the_image_to_the_text_batch()
    {
        var single = Processor.Process([ImageFixtures.Rgb("chelsea")], ThreeTexts);
        var output = Processor.Process([ImageFixtures.Rgb("chelsea")], ThreeTexts, new ProcessorOptions { RepeatSingleImage = true });
        Assert.Equal([3, 3, 288, 288], output.PixelValues.ShapeArray());
        Assert.Equal([3, 288, 288], output.PixelMask!.ShapeArray());
        Assert.Equal(3, output.ImageSizes.Count);
        var one = single.PixelValues.ToFloatArray();
        for (int b = 0; b < 3; b++)
            Assert.Equal(one, output.PixelValues.Narrow(0, b, 1).ToFloatArray());
        Assert.Equal(single.InputIds.ToInt64Array(), output.InputIds.ToInt64Array());
    }

    [SharedFact]
    public void Many_images_with_one_text_repeat_the_text_row()
    {
        var output = Processor.Process([ImageFixtures.Rgb("chelsea"), ImageFixtures.Rgb("text"), ImageFixtures.Rgb("camera")], ["a <mask> looking out of the window"]);
        Assert.Equal(3, output.ImageBatch);
        Assert.Equal(3, output.TextBatch);
        long[] row = [0, 102, 50264, 546, 66, 9, 5, 2931, 2];
        Assert.Equal([3, row.Length], output.InputIds.ShapeArray());
        Assert.Equal(row.Concat(row).Concat(row).ToArray(), output.InputIds.ToInt64Array());
        Assert.All(output.AttentionMask.ToInt64Array(), v => Assert.Equal(1L, v));
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("text.pixel_values"), output.PixelValues.Select(0, 1)) <= 1e-6);
    }

    [SharedTheory]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    public void Counts_that_do_not_pair_up_name_both(int images, int texts)
    {
        var rgb = ImageFixtures.Rgb("basn6a16");
        var e = Assert.Throws<ArgumentException>(() =>
            Processor.Process(Enumerable.Repeat(rgb, images).ToArray(), Enumerable.Repeat("a cat", texts).ToArray()));
        Assert.Contains($"{images} images and {texts} texts", e.Message);
    }

    [Fact]
    public void Empty_inputs_are_refused()
    {
        Assert.Contains("no images", Assert.Throws<ArgumentException>(() => BridgeTowerProcessor.CheckCounts(0, 1)).Message);
        Assert.Contains("no texts", Assert.Throws<ArgumentException>(() => BridgeTowerProcessor.CheckCounts(1, 0)).Message);
    }

    [SharedFact]
    public void Counts_are_checked_before_any_file_is_read()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Processor.ProcessFiles(["/nonexistent/a.png", "/nonexistent/b.png"], ["x", "y", "z"]));
        Assert.Contains("2 images and 3 texts", e.Message);
    }

    [SharedFact]
    public void Long_texts_are_truncated_to_the_model_maximum_by_default()
    {
        string longText = string.Join(" ", Enumerable.Repeat("cat", 600));
        var output = Processor.Process([ImageFixtures.Rgb("basn6a16"), ImageFixtures.Rgb("basn6a16")], [longText, "a cat"]);
        Assert.Equal([2, 512], output.InputIds.ShapeArray());
        var ids = output.InputIds.ToInt64Array();
        Assert.Equal(Processor.Tokenizer.EosTokenId, ids[511]);
        Assert.Equal(Processor.Tokenizer.PadTokenId, ids[512 + 511]);
        Assert.Equal(4, output.AttentionMask.ToInt64Array().Skip(512).Sum());
    }

    [SharedFact]
    public void A_bad_image_file_names_the_file()
    {
        string bad = ImageFixtures.BadImagePath("truncated_rocket.jpg");
        var e = Assert.Throws<ImageDecodeException>(() => Processor.ProcessFiles([ImageFixtures.ImagePath("basn6a16"), bad], ["a", "b"]));
        Assert.Equal(bad, e.FileName);
    }

    [SharedFact]
    public void Progress_counts_images_and_cancellation_stops_between_images()
    {
        string png = ImageFixtures.ImagePath("basn6a16");
        var seen = new List<int>();
        Processor.ProcessFiles([png, png, png], ["a"], progress: new SyncProgress(seen.Add));
        Assert.Equal([1, 2, 3], seen);

        using var cts = new CancellationTokenSource();
        seen.Clear();
        Assert.Throws<OperationCanceledException>(() =>
            Processor.ProcessFiles([png, png, png], ["a"], progress: new SyncProgress(n => { seen.Add(n); if (n == 1) cts.Cancel(); }),
                                   cancellationToken: cts.Token));
        Assert.Equal([1], seen);
    }

    [SharedFact]
    public void FromPretrained_reads_a_model_directory_and_names_what_is_missing()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => BridgeTowerProcessor.FromPretrained(dir.Path));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("preprocessor_config.json", e.Message);

        File.Copy(SharedData.Path("fixtures", "processor", "preprocessor_config.json"), dir.File("preprocessor_config.json"));
        var t = Assert.Throws<FileNotFoundException>(() => BridgeTowerProcessor.FromPretrained(dir.Path));
        Assert.Contains(dir.Path, t.Message);
        Assert.Contains("tokenizer.json", t.Message);

        // A model directory: config.json and weights beside the processor files (vocab.json + merges.txt here).
        File.Copy(SharedData.Path("fixtures", "models", "tiny-base", "config.json"), dir.File("config.json"));
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(SharedData.Path("fixtures", "processor", f), dir.File(f));
        var processor = BridgeTowerProcessor.FromPretrained(dir.Path);
        var output = processor.Process([ImageFixtures.Rgb("chelsea"), ImageFixtures.Rgb("grace_hopper")], ProcessorFixtureTests.FixtureTexts);
        ProcessorFixtureTests.AssertTextMatchesFixture(output);

        Assert.Throws<DirectoryNotFoundException>(() => BridgeTowerProcessor.FromPretrained(dir.File("absent")));
    }

    [SharedFact]
    public void Named_tensors_are_the_model_inputs_in_the_reference_order()
    {
        var output = Processor.Process(ImageFixtures.Rgb("basn6a16"), "a cat");
        Assert.Equal(["input_ids", "attention_mask", "pixel_values", "pixel_mask"], output.ToNamedTensors().Select(kv => kv.Key));
        var noPad = Processor.Process(ImageFixtures.Rgb("basn6a16"), "a cat",
            new ProcessorOptions { Images = ImageProcessorCallOptions.ProcessorDefaults with { DoPad = false } });
        Assert.Null(noPad.PixelMask);
        Assert.Equal(["input_ids", "attention_mask", "pixel_values"], noPad.ToNamedTensors().Select(kv => kv.Key));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the calls in order, on this thread.</summary>
    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
