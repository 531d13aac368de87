using BridgeTower.Tensors;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// Hugging Face's BridgeTowerImageProcessor: resize the short side to size.shortest_edge
/// (long side capped at int(1333 / 800 * shortest_edge), both floored to a multiple of
/// size_divisor) with Pillow's filter on the uint8 image, optionally center crop (zero padded),
/// rescale, normalize, channels first, then pad the batch to its largest height and width.
/// </summary>
public sealed class BridgeTowerImageProcessor
{
    public BridgeTowerImageProcessorConfig Config { get; }

    public BridgeTowerImageProcessor(BridgeTowerImageProcessorConfig? config = null)
    {
        Config = (config ?? new BridgeTowerImageProcessorConfig()).Validate();
    }

    /// <summary>From preprocessor_config.json (a file, or a directory holding one).</summary>
    public static BridgeTowerImageProcessor FromPretrained(string path) => new(BridgeTowerImageProcessorConfig.FromFile(path));

    /// <summary>
    /// The reference's get_resize_output_image_size in double precision: short side to
    /// <paramref name="shorter"/>, long side capped at <paramref name="longer"/>, each side rounded
    /// with int(x + 0.5) then floored to a multiple of <paramref name="sizeDivisor"/>.
    /// </summary>
    public static (int Height, int Width) OutputSize(int height, int width, int shorter, int longer, int sizeDivisor)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"image size must be positive, got {height}x{width}");
        double scale = (double)shorter / Math.Min(height, width);
        double newHeight, newWidth;
        if (height < width) { newHeight = shorter; newWidth = scale * width; }
        else { newHeight = scale * height; newWidth = shorter; }
        double longest = Math.Max(newHeight, newWidth);
        if (longest > longer)
        {
            scale = longer / longest;
            newHeight *= scale;
            newWidth *= scale;
        }
        long h = (long)(newHeight + 0.5) / sizeDivisor * sizeDivisor;
        long w = (long)(newWidth + 0.5) / sizeDivisor * sizeDivisor;
        return ((int)h, (int)w);
    }

    /// <summary>The long-side cap for a short side: int(1333 / 800 * shorter).</summary>
    public static int LongerSide(int shorter) => (int)(1333.0 / 800.0 * shorter);

    /// <summary>The processor's resize() alone (the fixtures' <c>.resized</c>).</summary>
    public RgbImage Resize(RgbImage image, int? shortestEdge = null, int? sizeDivisor = null, PilResampling? resample = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        int shorter = shortestEdge ?? Config.ShortestEdge, divisor = sizeDivisor ?? Config.SizeDivisor;
        if (shorter <= 0 || divisor <= 0) throw new ArgumentException($"shortest_edge ({shorter}) and size_divisor ({divisor}) must be positive");
        var (h, w) = OutputSize(image.Height, image.Width, shorter, LongerSide(shorter), divisor);
        if (h <= 0 || w <= 0)
            throw new ArgumentException(
                $"a {image.Width}x{image.Height} image resizes to {w}x{h} with shortest_edge {shorter} and size_divisor {divisor}: too thin to resize (the reference fails too)");
        return PilResize.Resize(image, w, h, resample ?? Config.Resample);
    }

    /// <summary>
    /// The reference's center_crop on the uint8 image: window at floor((h - ch) / 2),
    /// floor((w - cw) / 2); where it leaves the image, the image is first centered on a zero
    /// canvas (offset ceil(difference / 2)) and the window shifted with it.
    /// </summary>
    public static RgbImage CenterCrop(RgbImage image, int cropHeight, int cropWidth)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (cropHeight <= 0 || cropWidth <= 0) throw new ArgumentException($"crop size must be positive, got {cropHeight}x{cropWidth}");
        int h = image.Height, w = image.Width;
        int top = (h - cropHeight) >> 1, left = (w - cropWidth) >> 1; // floor division, as Python's //
        int canvasH = h, canvasW = w, padTop = 0, padLeft = 0;
        if (top < 0 || left < 0)
        {
            canvasH = Math.Max(cropHeight, h);
            canvasW = Math.Max(cropWidth, w);
            padTop = (canvasH - h + 1) / 2;
            padLeft = (canvasW - w + 1) / 2;
            top += padTop;
            left += padLeft;
        }
        int y0 = Math.Max(0, top), y1 = Math.Min(canvasH, top + cropHeight);
        int x0 = Math.Max(0, left), x1 = Math.Min(canvasW, left + cropWidth);
        var result = RgbImage.Black(x1 - x0, y1 - y0);
        // Copy the part of the (virtual) canvas inside the window that holds image pixels.
        for (int y = y0; y < y1; y++)
        {
            int sy = y - padTop;
            if (sy < 0 || sy >= h) continue;
            int sx0 = Math.Max(x0 - padLeft, 0), sx1 = Math.Min(x1 - padLeft, w);
            if (sx1 <= sx0) continue;
            image.Pixels.AsSpan((sy * w + sx0) * 3, (sx1 - sx0) * 3)
                .CopyTo(result.Pixels.AsSpan(((y - y0) * result.Width + (sx0 + padLeft - x0)) * 3));
        }
        return result;
    }

    /// <summary>One image; see <see cref="Preprocess(IReadOnlyList{RgbImage}, ImageProcessorCallOptions?)"/>.</summary>
    public ImageBatch Preprocess(RgbImage image, ImageProcessorCallOptions? call = null) => Preprocess([image], call);

    /// <summary>
    /// The reference's preprocess(images, **call). With <paramref name="call"/> null (the plain
    /// default call) there is no center crop; pass <see cref="ImageProcessorCallOptions.ProcessorDefaults"/>
    /// for what BridgeTowerProcessor does.
    /// </summary>
    public ImageBatch Preprocess(IReadOnlyList<RgbImage> images, ImageProcessorCallOptions? call = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to preprocess");
        call ??= new ImageProcessorCallOptions();
        var c = Config with
        {
            DoResize = call.DoResize ?? Config.DoResize,
            ShortestEdge = call.ShortestEdge ?? Config.ShortestEdge,
            SizeDivisor = call.SizeDivisor ?? Config.SizeDivisor,
            Resample = call.Resample ?? Config.Resample,
            DoRescale = call.DoRescale ?? Config.DoRescale,
            RescaleFactor = call.RescaleFactor ?? Config.RescaleFactor,
            DoNormalize = call.DoNormalize ?? Config.DoNormalize,
            ImageMean = call.ImageMean ?? Config.ImageMean,
            ImageStd = call.ImageStd ?? Config.ImageStd,
            DoPad = call.DoPad ?? Config.DoPad,
            DoCenterCrop = call.DoCenterCrop ?? false,
            CropSize = call.CropSize ?? Config.CropSize,
        };
        c.Validate();
        var (cropH, cropW) = c.CropSize ?? (c.ShortestEdge, c.ShortestEdge);

        var prepared = new RgbImage[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            var image = images[i] ?? throw new ArgumentException($"image {i} is null");
            if (c.DoResize) image = Resize(image, c.ShortestEdge, c.SizeDivisor, c.Resample);
            if (c.DoCenterCrop) image = CenterCrop(image, cropH, cropW);
            prepared[i] = image;
        }

        int maxH = prepared.Max(p => p.Height), maxW = prepared.Max(p => p.Width);
        if (!c.DoPad && prepared.Any(p => p.Height != maxH || p.Width != maxW))
            throw new ArgumentException(
                $"images of different sizes ({string.Join(", ", prepared.Select(p => $"{p.Height}x{p.Width}"))}) cannot be stacked without do_pad");
        long planeElements = (long)maxH * maxW;
        if (planeElements * 3 * prepared.Length * sizeof(float) > Array.MaxLength)
            throw new ArgumentException($"a batch of {prepared.Length} images of {maxH}x{maxW} is too large for one tensor");

        // Padding is 0.0 after normalization, so the tensor starts zeroed.
        var pixelValues = Tensor.Zeros(DType.F32, prepared.Length, 3, maxH, maxW);
        var values = pixelValues.Span<float>();
        var (mean, std) = ChannelTransform(c);
        for (int i = 0; i < prepared.Length; i++)
            WriteChannelsFirst(prepared[i], values.Slice((int)(i * 3 * planeElements), (int)(3 * planeElements)), maxW, planeElements, c, mean, std);

        Tensor? pixelMask = null;
        if (c.DoPad)
        {
            pixelMask = Tensor.Zeros(DType.I64, prepared.Length, maxH, maxW);
            var mask = pixelMask.Span<long>();
            for (int i = 0; i < prepared.Length; i++)
                for (int y = 0; y < prepared[i].Height; y++)
                    mask.Slice((int)(i * planeElements + (long)y * maxW), prepared[i].Width).Fill(1);
        }
        return new ImageBatch(pixelValues, pixelMask, prepared.Select(p => (p.Height, p.Width)).ToArray());
    }

    // The reference works in float32 with mean and std cast to float32 first.
    private static (float[] Mean, float[] Std) ChannelTransform(BridgeTowerImageProcessorConfig c) =>
        (c.ImageMean.Select(m => (float)m).ToArray(), c.ImageStd.Select(s => (float)s).ToArray());

    private static void WriteChannelsFirst(RgbImage image, Span<float> dst, int rowStride, long planeElements,
        BridgeTowerImageProcessorConfig c, float[] mean, float[] std)
    {
        // rescale() multiplies in float64 and casts to float32; a 256-entry table per channel
        // gives exactly that value (then normalized in float32) for every uint8 input.
        Span<float> table = stackalloc float[3 * 256];
        for (int ch = 0; ch < 3; ch++)
        {
            for (int v = 0; v < 256; v++)
            {
                float x = c.DoRescale ? (float)(v * c.RescaleFactor) : v;
                if (c.DoNormalize) x = (x - mean[ch]) / std[ch];
                table[ch * 256 + v] = x;
            }
        }
        var px = image.Pixels;
        for (int y = 0; y < image.Height; y++)
        {
            int src = y * image.Width * 3;
            int row = y * rowStride;
            for (int x = 0; x < image.Width; x++, src += 3)
            {
                dst[row + x] = table[px[src]];
                dst[(int)planeElements + row + x] = table[256 + px[src + 1]];
                dst[(int)(2 * planeElements) + row + x] = table[512 + px[src + 2]];
            }
        }
    }
}
