namespace BridgeTower.Preprocessing.Images;

internal static class ImageLimits
{
    /// <summary>Refuses a header size over the limit, worded like Pillow's DecompressionBombError.</summary>
    public static void Check(string source, int width, int height, long maxPixels)
    {
        long pixels = (long)width * height;
        if (pixels > maxPixels)
            throw new ImageDecodeException(source,
                $"image size {width}x{height} ({pixels} pixels) exceeds the limit of {maxPixels} pixels (possible decompression bomb)");
        if (pixels * 3 > Array.MaxLength)
            throw new ImageDecodeException(source, $"image size {width}x{height} is too large to hold as one RGB array");
    }
}
