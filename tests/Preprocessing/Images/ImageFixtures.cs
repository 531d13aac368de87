using BridgeTower.Preprocessing.Images;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Preprocessing.Images;

/// <summary>shared/fixtures/preprocess/images.safetensors, opened once, and the image file names it covers.</summary>
internal static class ImageFixtures
{
    private static readonly Lazy<SafetensorsFile> File = new(() => SafetensorsFile.Open(SharedData.Path("fixtures", "preprocess", "images.safetensors")));

    public static readonly string[] Names =
    [
        "basn6a16", "camera", "chelsea", "coffee", "colorful_cups", "grace_hopper",
        "green_palette", "rocket", "shell_portrait", "text", "transparent_dice",
    ];

    public static readonly Dictionary<string, string> FileNames = new()
    {
        ["basn6a16"] = "basn6a16.png", ["camera"] = "camera.png", ["chelsea"] = "chelsea.png",
        ["coffee"] = "coffee.png", ["colorful_cups"] = "colorful_cups.jpg", ["grace_hopper"] = "grace_hopper.jpg",
        ["green_palette"] = "green_palette.png", ["rocket"] = "rocket.jpg", ["shell_portrait"] = "shell_portrait.jpg",
        ["text"] = "text.png", ["transparent_dice"] = "transparent_dice.png",
    };

    public static IEnumerable<object[]> All() => Names.Select(n => new object[] { n });
    public static IEnumerable<object[]> Png() => Names.Where(n => FileNames[n].EndsWith(".png")).Select(n => new object[] { n });
    public static IEnumerable<object[]> Jpeg() => Names.Where(n => FileNames[n].EndsWith(".jpg")).Select(n => new object[] { n });

    public static Tensor Get(string name) => File.Value[name];

    public static bool Has(string name) => File.Value.Contains(name);

    public static RgbImage Rgb(string name) => RgbImage.FromTensor(Get(name + ".rgb"));

    public static string ImagePath(string name) => SharedData.Path("data", "images", FileNames[name]);

    public static string BadImagePath(string file) => SharedData.Path("data", "bad-images", file);

    /// <summary>Largest |a - b| over two float tensors of the same shape.</summary>
    public static double MaxAbsDiff(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
        var e = expected.ToFloatArray();
        var a = actual.ToFloatArray();
        double max = 0;
        for (int i = 0; i < e.Length; i++) max = Math.Max(max, Math.Abs((double)e[i] - a[i]));
        return max;
    }

    /// <summary>Asserts equal bytes; on failure says where the first difference is.</summary>
    public static void AssertSameImage(Tensor expectedHwc, RgbImage actual, string what)
    {
        Assert.True(expectedHwc.Dim(0) == actual.Height && expectedHwc.Dim(1) == actual.Width,
            $"{what}: expected {expectedHwc.Dim(1)}x{expectedHwc.Dim(0)}, got {actual.Width}x{actual.Height}");
        var e = expectedHwc.Contiguous().ReadOnlySpan<byte>();
        int diffs = 0, first = -1;
        for (int i = 0; i < e.Length; i++)
            if (e[i] != actual.Pixels[i]) { diffs++; if (first < 0) first = i; }
        Assert.True(diffs == 0,
            $"{what}: {diffs} bytes differ; first at pixel ({first / 3 % actual.Width}, {first / 3 / actual.Width}) channel {first % 3}: expected {(first >= 0 ? e[first] : 0)}, got {(first >= 0 ? actual.Pixels[first] : 0)}");
    }
}
