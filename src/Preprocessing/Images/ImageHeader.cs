namespace BridgeTower.Preprocessing.Images;

/// <summary>Container formats the loader accepts, identified from the first bytes (never the extension).</summary>
public enum ImageFormat
{
    Png,
    Jpeg,
    Gif,
    Bmp,
    /// <summary>Binary PGM (P5) or PPM (P6) with maxval 255.</summary>
    Pnm,
}

/// <summary>
/// What the header says, read without decoding any pixel: format, stored size and the EXIF
/// orientation (1 = as stored; 2..8 as in the EXIF/TIFF specification).
/// </summary>
public sealed record ImageHeader(ImageFormat Format, int Width, int Height, int Orientation = 1)
{
    public long PixelCount => (long)Width * Height;

    /// <summary>Size after the EXIF orientation is applied (orientations 5..8 swap the sides).</summary>
    public (int Width, int Height) OrientedSize => Orientation >= 5 ? (Height, Width) : (Width, Height);
}

/// <summary>Limits and behaviour of <see cref="ImageLoader"/>.</summary>
public sealed record ImageLoadOptions
{
    /// <summary>Pillow's decompression-bomb error threshold: 2 x Image.MAX_IMAGE_PIXELS (89,478,485).</summary>
    public const long DefaultMaxPixels = 178_956_970;

    public static ImageLoadOptions Default { get; } = new();

    /// <summary>Images whose header claims more pixels than this are refused before decoding.</summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>Files longer than this are refused before being read (1 GiB by default).</summary>
    public long MaxFileBytes { get; init; } = 1L << 30;

    /// <summary>Rotate/flip by the EXIF orientation tag, as Hugging Face's load_image (ImageOps.exif_transpose) does.</summary>
    public bool ApplyExifOrientation { get; init; } = true;
}
