using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>The options the fixtures do not exercise, checked against the reference's code paths.</summary>
public class ImageProcessorOptionTests
{
    [Fact]
    public void Center_crop_pads_by_ceil_half_the_difference_like_the_reference()
    {
        // 3x3 image, 6x6 crop: canvas 6x6 with the image at offset ceil(3 / 2) = 2.
        var img = ExifOrientationTests.Gray(3, 3, "ABCDEFGHI");
        var crop = BridgeTowerImageProcessor.CenterCrop(img, 6, 6);
        Assert.Equal((6, 6), (crop.Width, crop.Height));
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 6; x++)
            {
                bool inside = y is >= 2 and < 5 && x is >= 2 and < 5;
                Assert.Equal(inside ? (byte)"ABCDEFGHI"[(y - 2) * 3 + x - 2] : (byte)0, crop.Pixels[(y * 6 + x) * 3]);
            }
    }

    [Fact]
    public void Center_crop_inside_takes_the_floor_window_and_mixed_cases_keep_the_crop_size()
    {
        var img = ExifOrientationTests.Gray(5, 4, "abcdefghijklmnopqrst");
        var inner = BridgeTowerImageProcessor.CenterCrop(img, 2, 2); // top = 1, left = 1
        Assert.Equal("ghlm", new string(Enumerable.Range(0, 4).Select(i => (char)inner.Pixels[i * 3]).ToArray()));
        var tall = BridgeTowerImageProcessor.CenterCrop(img, 7, 3); // pads rows, crops columns
        Assert.Equal((3, 7), (tall.Width, tall.Height));
        Assert.Equal((byte)'b', tall.Pixels[(2 * 3 + 0) * 3]); // image row 0 lands at row ceil(3/2) = 2; column 1 at 0
    }

    [Fact]
    public void Config_json_accepts_the_hub_spellings_and_rejects_bad_values_by_name()
    {
        var c = BridgeTowerImageProcessorConfig.FromJson("""
            {"size": 384, "size_divisor": 16, "resample": 2, "do_rescale": false, "image_mean": 0.5, "image_std": [0.5, 0.5, 0.5],
             "crop_size": {"height": 100, "width": 120}, "do_pad": false, "pad_and_return_pixel_mask": true, "image_processor_type": "x", "crop_pct": null}
            """);
        Assert.Equal(384, c.ShortestEdge);
        Assert.Equal(16, c.SizeDivisor);
        Assert.Equal(PilResampling.Bilinear, c.Resample);
        Assert.False(c.DoRescale);
        Assert.Equal([0.5, 0.5, 0.5], c.ImageMean);
        Assert.Equal((100, 120), c.CropSize);
        Assert.True(c.DoPad);
        Assert.Contains("size_divisor", Assert.Throws<ArgumentException>(() => BridgeTowerImageProcessorConfig.FromJson("""{"size_divisor": 0}""")).Message);
        Assert.Contains("image_std", Assert.Throws<ArgumentException>(() => BridgeTowerImageProcessorConfig.FromJson("""{"image_std": [1, 0, 1]}""")).Message);
        Assert.Contains("shortest_edge", Assert.Throws<ArgumentException>(() => BridgeTowerImageProcessorConfig.FromJson("""{"size": {"height": 3, "width": 4}}""")).Message);
        Assert.Contains("resample", Assert.Throws<ArgumentException>(() => BridgeTowerImageProcessorConfig.FromJson("""{"resample": 9}""")).Message);
        Assert.Contains("cfg.json", Assert.Throws<ArgumentException>(() => BridgeTowerImageProcessorConfig.FromJson("[1]", "cfg.json")).Message);
    }

    [Fact]
    public void Without_padding_same_sizes_stack_without_a_mask_and_different_sizes_are_refused()
    {
        var p = new BridgeTowerImageProcessor();
        var call = new ImageProcessorCallOptions { DoPad = false };
        var batch = p.Preprocess([RgbImage.Black(400, 300), RgbImage.Black(800, 600)], call);
        Assert.Null(batch.PixelMask);
        Assert.Equal([2, 3, 288, 384], batch.PixelValues.ShapeArray());
        var e = Assert.Throws<ArgumentException>(() => p.Preprocess([RgbImage.Black(400, 300), RgbImage.Black(300, 400)], call));
        Assert.Contains("do_pad", e.Message);
    }

    [Fact]
    public void Rescale_and_normalize_switches_follow_the_reference_arithmetic()
    {
        var img = RgbImage.Black(1, 1);
        img.Pixels[0] = 1; img.Pixels[1] = 128; img.Pixels[2] = 255;
        var p = new BridgeTowerImageProcessor(new BridgeTowerImageProcessorConfig { DoResize = false });
        float[] raw = p.Preprocess(img, new() { DoRescale = false, DoNormalize = false }).PixelValues.ToFloatArray();
        Assert.Equal([1f, 128f, 255f], raw);
        float[] rescaled = p.Preprocess(img, new() { DoNormalize = false }).PixelValues.ToFloatArray();
        Assert.Equal([(float)(1 / 255.0), (float)(128 / 255.0), 1f], rescaled); // float64 product, then float32
        float[] normalized = p.Preprocess(img).PixelValues.ToFloatArray();
        float expected = ((float)(1 / 255.0) - 0.48145466f) / 0.26862954f;
        Assert.Equal(expected, normalized[0]);
        // The processor path crops to 288 x 288: without resizing, a 1x1 image is centered on zeros.
        var cropped = p.Preprocess(img, ImageProcessorCallOptions.ProcessorDefaults);
        Assert.Equal([1, 3, 288, 288], cropped.PixelValues.ShapeArray());
        Assert.Equal(-0.48145466f / 0.26862954f, cropped.PixelValues[0, 0, 0, 0]);
        Assert.Equal(expected, cropped.PixelValues[0, 0, 144, 144]);
    }

    [Fact]
    public void Empty_batches_and_null_images_are_refused()
    {
        var p = new BridgeTowerImageProcessor();
        Assert.Throws<ArgumentException>(() => p.Preprocess(Array.Empty<RgbImage>()));
        Assert.Contains("image 1", Assert.Throws<ArgumentException>(() => p.Preprocess([RgbImage.Black(2, 2), null!])).Message);
    }
}
