using StbImageSharp;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// Reads image files into <see cref="RgbImage"/> the way Hugging Face's load_image does
/// (Pillow open, ImageOps.exif_transpose, convert("RGB")): the format is sniffed from the content,
/// the header is validated and its size checked against <see cref="ImageLoadOptions.MaxPixels"/>
/// before any pixel is decoded, then StbImageSharp decodes. Alpha is dropped without compositing,
/// gray is replicated, palettes are looked up, 16-bit samples keep their high byte, ICC profiles
/// are ignored. Every failure is an <see cref="ImageDecodeException"/> naming the source.
/// </summary>
public static class ImageLoader
{
    /// <summary>Loads a file; the exception names <paramref name="path"/>.</summary>
    public static RgbImage Load(string path, ImageLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= ImageLoadOptions.Default;
        return Decode(ReadFile(path, options), path, options);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="source"/> names it in errors.</summary>
    public static RgbImage Decode(byte[] data, string source = "<memory>", ImageLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= ImageLoadOptions.Default;
        var header = ReadHeader(data, source, options);
        if (header.Format == ImageFormat.Pnm)
            return Orient(OtherHeaders.DecodePnm(data, source, options.MaxPixels), header, options);
        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(data, ColorComponents.RedGreenBlue);
        }
        // StbImageSharp keeps its failure reason in a process-wide static: under concurrent failing
        // decodes the quoted reason may be another call's. The checks above catch the common cases.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ImageDecodeException(source, $"cannot decode {header.Format}: {e.Message}", e);
        }
        if (result is null || result.Data is null)
            throw new ImageDecodeException(source, $"cannot decode {header.Format}: the decoder returned no pixels");
        if (result.Width != header.Width || result.Height != header.Height || result.Data.Length != (long)header.Width * header.Height * 3)
            throw new ImageDecodeException(source,
                $"decoder returned {result.Width}x{result.Height} ({result.Data.Length} bytes) for a header of {header.Width}x{header.Height}");
        return Orient(new RgbImage(result.Width, result.Height, result.Data), header, options);
    }

    private static RgbImage Orient(RgbImage image, ImageHeader header, ImageLoadOptions options) =>
        options.ApplyExifOrientation ? ExifOrientation.Apply(image, header.Orientation) : image;

    /// <summary>
    /// Identifies the format from the first bytes and validates the container (for PNG and JPEG
    /// the whole chunk/marker structure, so truncation is found here) without decoding pixels.
    /// </summary>
    public static ImageHeader ReadHeader(byte[] data, string source = "<memory>", ImageLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= ImageLoadOptions.Default;
        if (data.Length == 0) throw new ImageDecodeException(source, "cannot identify image: the file is empty");
        long max = options.MaxPixels;
        if (PngStructure.Matches(data)) return PngStructure.Parse(data, source, max);
        if (JpegStructure.Matches(data)) return JpegStructure.Parse(data, source, max);
        if (OtherHeaders.IsGif(data)) return OtherHeaders.Gif(data, source, max);
        if (OtherHeaders.IsBmp(data)) return OtherHeaders.Bmp(data, source, max);
        if (OtherHeaders.IsPnm(data)) return OtherHeaders.Pnm(data, source, max);
        throw new ImageDecodeException(source,
            $"cannot identify image: the content is not PNG, JPEG, GIF, BMP or binary PGM/PPM (first bytes {Convert.ToHexString(data.AsSpan(0, Math.Min(8, data.Length)))})");
    }

    /// <summary>Reads a file's header only (see <see cref="ReadHeader(byte[], string, ImageLoadOptions?)"/>).</summary>
    public static ImageHeader ReadHeader(string path, ImageLoadOptions? options = null)
    {
        options ??= ImageLoadOptions.Default;
        return ReadHeader(ReadFile(path, options), path, options);
    }

    private static byte[] ReadFile(string path, ImageLoadOptions options)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ImageDecodeException(path, Directory.Exists(path) ? "is a directory, not an image file" : "file not found");
            if (info.Length > options.MaxFileBytes)
                throw new ImageDecodeException(path, $"file is {info.Length} bytes, over the limit of {options.MaxFileBytes}");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ImageDecodeException(path, $"cannot read the file: {e.Message}", e);
        }
    }
}
