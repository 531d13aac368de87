using BridgeTower.Tensors;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// An 8-bit RGB image stored row-major as height x width x 3 (HWC), the layout of a numpy array
/// made from a PIL "RGB" image, so fixtures compare byte for byte.
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    /// <summary>Height * Width * 3 bytes, R G B per pixel, rows top to bottom.</summary>
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"image size must be positive, got {width}x{height}");
        if ((long)width * height * 3 != pixels.LongLength)
            throw new ArgumentException($"a {width}x{height} RGB image needs {(long)width * height * 3} bytes, got {pixels.LongLength}");
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>A new zeroed (black) image; the size is checked before allocating.</summary>
    public static RgbImage Black(int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"image size must be positive, got {width}x{height}");
        long bytes = (long)width * height * 3;
        if (bytes > Array.MaxLength)
            throw new ArgumentException($"a {width}x{height} RGB image ({bytes} bytes) exceeds the largest array");
        return new RgbImage(width, height, new byte[bytes]);
    }

    /// <summary>Copies a U8 tensor of shape (H, W, 3) (e.g. a fixture's <c>.rgb</c>).</summary>
    public static RgbImage FromTensor(Tensor hwc)
    {
        ArgumentNullException.ThrowIfNull(hwc);
        if (hwc.DType != DType.U8 || hwc.Rank != 3 || hwc.Dim(2) != 3)
            throw new ArgumentException($"expected a U8 tensor of shape (H, W, 3), got {hwc}");
        return new RgbImage(hwc.Dim(1), hwc.Dim(0), hwc.Contiguous().ReadOnlySpan<byte>().ToArray());
    }

    /// <summary>A U8 tensor of shape (H, W, 3) holding a copy of the pixels.</summary>
    public Tensor ToTensor() => Tensor.FromArray((byte[])Pixels.Clone(), Height, Width, 3);

    public override string ToString() => $"RgbImage({Width}x{Height})";
}
