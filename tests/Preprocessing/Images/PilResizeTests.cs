using BridgeTower.Preprocessing.Images;

namespace BridgeTower.Tests.Preprocessing.Images;

public class PilResizeTests
{
    private static readonly BridgeTowerImageProcessor Processor = new();

    [SharedTheory]
    [MemberData(nameof(ImageFixtures.All), MemberType = typeof(ImageFixtures))]
    public void Resize_of_the_decoded_rgb_equals_pillow_bicubic_byte_for_byte(string name)
    {
        var resized = Processor.Resize(ImageFixtures.Rgb(name));
        ImageFixtures.AssertSameImage(ImageFixtures.Get(name + ".resized"), resized, name + ".resized");
    }

    [Theory]
    [InlineData(300, 451, 288, 416)]   // chelsea
    [InlineData(600, 512, 320, 288)]   // grace_hopper
    [InlineData(1440, 720, 448, 224)]  // shell_portrait: long-edge cap
    [InlineData(172, 448, 160, 448)]   // text: upscale then cap
    [InlineData(1600, 2560, 288, 448)] // colorful_cups
    [InlineData(32, 32, 288, 288)]
    public void Output_size_follows_the_reference(int h, int w, int eh, int ew)
    {
        Assert.Equal(479, BridgeTowerImageProcessor.LongerSide(288));
        Assert.Equal((eh, ew), BridgeTowerImageProcessor.OutputSize(h, w, 288, 479, 32));
    }

    [Fact]
    public void A_side_that_floors_to_zero_is_refused_with_the_sizes()
    {
        var thin = RgbImage.Black(2000, 10);
        var e = Assert.Throws<ArgumentException>(() => Processor.Resize(thin));
        Assert.Contains("2000x10", e.Message);
    }

    [Fact]
    public void Same_size_is_a_copy_and_constant_images_stay_constant_for_every_filter()
    {
        var img = RgbImage.Black(7, 5);
        Array.Fill(img.Pixels, (byte)200);
        foreach (var f in Enum.GetValues<PilResampling>())
        {
            var up = PilResize.Resize(img, 13, 11, f);
            var down = PilResize.Resize(img, 3, 2, f);
            Assert.All(up.Pixels, b => Assert.Equal(200, b));
            Assert.All(down.Pixels, b => Assert.Equal(200, b));
        }
        var same = PilResize.Resize(img, 7, 5);
        Assert.NotSame(img.Pixels, same.Pixels);
        Assert.Equal(img.Pixels, same.Pixels);
    }

    [Fact]
    public void Only_the_changed_axis_is_resampled()
    {
        // A horizontal-only resize must leave each column's vertical structure untouched.
        var img = RgbImage.Black(4, 3);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                for (int c = 0; c < 3; c++) img.Pixels[(y * 4 + x) * 3 + c] = (byte)(y * 100);
        var wide = PilResize.Resize(img, 9, 3);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 9; x++) Assert.Equal(y * 100, wide.Pixels[(y * 9 + x) * 3]);
    }
}
