using BridgeTower.Preprocessing.Images;
using BridgeTower.Preprocessing.Text;
using BridgeTower.Tensors;

namespace BridgeTower.Preprocessing;

/// <summary>
/// Hugging Face's BridgeTowerProcessor: the RoBERTa tokenizer on the texts, then the image
/// processor on the images with do_normalize=True and do_center_crop=True, merged into one set of
/// model inputs (input_ids, attention_mask, pixel_values, pixel_mask). Thread-safe.
/// </summary>
/// <remarks>
/// Batches: N images with N texts pair row i with row i. One image with N texts keeps an image
/// batch of 1, as the reference does (its image processor only sees one image); BridgeTowerModel
/// then encodes the image once and shares it with every text. N images with one text repeat the
/// text's row N times: the reference would return a text batch of 1, which the model cannot pair
/// with N images.
/// </remarks>
public sealed class BridgeTowerProcessor
{
    public const string PreprocessorConfigJson = "preprocessor_config.json";

    public BridgeTowerImageProcessor ImageProcessor { get; }
    public RobertaTokenizer Tokenizer { get; }

    public BridgeTowerProcessor(BridgeTowerImageProcessor imageProcessor, RobertaTokenizer tokenizer)
    {
        ImageProcessor = imageProcessor ?? throw new ArgumentNullException(nameof(imageProcessor));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    }

    /// <summary>
    /// Loads a processor directory or a model directory holding the processor's files:
    /// preprocessor_config.json and tokenizer.json (or vocab.json + merges.txt), with
    /// tokenizer_config.json and special_tokens_map.json when present.
    /// </summary>
    public static BridgeTowerProcessor FromPretrained(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: processor directory not found");
        string config = Path.Combine(directory, PreprocessorConfigJson);
        if (!File.Exists(config))
            throw new FileNotFoundException(
                $"{directory}: no {PreprocessorConfigJson} (the image processor's configuration); a processor directory holds it beside the tokenizer files", config);
        var imageProcessor = BridgeTowerImageProcessor.FromPretrained(config);
        return new BridgeTowerProcessor(imageProcessor, RobertaTokenizer.FromDirectory(directory));
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless the counts pair up: equal, one image for
    /// every text, or one text for every image.
    /// </summary>
    public static void CheckCounts(int images, int texts)
    {
        if (images <= 0) throw new ArgumentException("no images: give at least one image");
        if (texts <= 0) throw new ArgumentException("no texts: give at least one text");
        if (images != texts && images != 1 && texts != 1)
            throw new ArgumentException(
                $"{images} images and {texts} texts do not pair up: give as many texts as images, one image for every text, or one text for every image");
    }

    /// <summary>One image with one text.</summary>
    public ProcessorOutput Process(RgbImage image, string text, ProcessorOptions? options = null) =>
        Process([image], [text], options);

    /// <summary>Decoded images with texts (see the class remarks for how the counts pair up).</summary>
    public ProcessorOutput Process(IReadOnlyList<RgbImage> images, IReadOnlyList<string> texts, ProcessorOptions? options = null,
                                   CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(texts);
        return Run(images.Count, i => images[i] ?? throw new ArgumentException($"images[{i}] is null"), texts, options, null, cancellationToken);
    }

    /// <summary>
    /// Image files with texts. Files are decoded one at a time and reduced to their processed size
    /// before the next is read, so memory stays bounded by the output; a file that cannot be read
    /// or decoded throws <see cref="ImageDecodeException"/> naming it. <paramref name="progress"/>
    /// receives the number of images done.
    /// </summary>
    public ProcessorOutput ProcessFiles(IReadOnlyList<string> imagePaths, IReadOnlyList<string> texts, ProcessorOptions? options = null,
                                        ImageLoadOptions? loadOptions = null, IProgress<int>? progress = null,
                                        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(imagePaths);
        ArgumentNullException.ThrowIfNull(texts);
        return Run(imagePaths.Count,
                   i => ImageLoader.Load(imagePaths[i] ?? throw new ArgumentException($"imagePaths[{i}] is null"), loadOptions),
                   texts, options, progress, cancellationToken);
    }

    private ProcessorOutput Run(int imageCount, Func<int, RgbImage> image, IReadOnlyList<string> texts, ProcessorOptions? options,
                                IProgress<int>? progress, CancellationToken cancellationToken)
    {
        options ??= ProcessorOptions.Default;
        CheckCounts(imageCount, texts.Count);
        int batch = Math.Max(imageCount, texts.Count);

        // The reference tokenizes first, then runs the image processor.
        var encoded = Tokenizer.EncodeBatch(texts, options.Text);
        var inputIds = RowsToI64(encoded.InputIds, batch, "input_ids");
        var attentionMask = RowsToI64(encoded.AttentionMask, batch, "attention_mask");

        var call = options.Images ?? ImageProcessorCallOptions.ProcessorDefaults;
        var singles = new ImageBatch[imageCount];
        for (int i = 0; i < imageCount; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            singles[i] = ImageProcessor.Preprocess(image(i), call);
            progress?.Report(i + 1);
        }
        var images = Stack(singles, call.DoPad ?? ImageProcessor.Config.DoPad);
        var pixelValues = images.PixelValues;
        var pixelMask = images.PixelMask;
        var sizes = images.ImageSizes;
        if (imageCount == 1 && batch > 1 && options.RepeatSingleImage)
        {
            pixelValues = RepeatFirst<float>(pixelValues, batch);
            pixelMask = pixelMask is null ? null : RepeatFirst<long>(pixelMask, batch);
            sizes = Enumerable.Repeat(sizes[0], batch).ToArray();
        }
        return new ProcessorOutput(inputIds, attentionMask, pixelValues, pixelMask, sizes);
    }

    /// <summary>
    /// The reference's pad(): each image at the top left of a zero canvas of the largest height and
    /// width, with a pixel_mask of 1 over the image. Images are processed independently, so
    /// processing them one by one and stacking equals the batched call.
    /// </summary>
    private static ImageBatch Stack(ImageBatch[] singles, bool pad)
    {
        if (singles.Length == 1) return singles[0];
        var sizes = singles.Select(s => s.ImageSizes[0]).ToArray();
        int maxH = sizes.Max(s => s.Height), maxW = sizes.Max(s => s.Width);
        if (!pad && sizes.Any(s => s.Height != maxH || s.Width != maxW))
            throw new ArgumentException(
                $"images of different sizes ({string.Join(", ", sizes.Select(s => $"{s.Height}x{s.Width}"))}) cannot be stacked without do_pad");
        long plane = (long)maxH * maxW;
        if (plane * 3 * singles.Length * sizeof(float) > Array.MaxLength || plane * singles.Length * sizeof(long) > Array.MaxLength)
            throw new ArgumentException($"a batch of {singles.Length} images of {maxH}x{maxW} is too large for one tensor");

        var pixelValues = Tensor.Zeros(DType.F32, singles.Length, 3, maxH, maxW);
        var dst = pixelValues.Span<float>();
        var pixelMask = pad ? Tensor.Zeros(DType.I64, singles.Length, maxH, maxW) : null;
        var mask = pad ? pixelMask!.Span<long>() : default;
        for (int i = 0; i < singles.Length; i++)
        {
            var (h, w) = sizes[i];
            var src = singles[i].PixelValues.Contiguous().ReadOnlySpan<float>();
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    src.Slice((c * h + y) * w, w).CopyTo(dst.Slice((int)((i * 3 + c) * plane + (long)y * maxW), w));
            if (pad)
                for (int y = 0; y < h; y++)
                    mask.Slice((int)(i * plane + (long)y * maxW), w).Fill(1);
        }
        return new ImageBatch(pixelValues, pixelMask, sizes);
    }

    /// <summary>(rows, length) I64; a single row is repeated <paramref name="batch"/> times.</summary>
    private static Tensor RowsToI64(int[][] rows, int batch, string name)
    {
        int length = rows[0].Length;
        for (int r = 1; r < rows.Length; r++)
            if (rows[r].Length != length)
                throw new ArgumentException(
                    $"{name}: texts encode to different lengths ({length} and {rows[r].Length} at text {r}); use padding to make one tensor");
        var data = new long[checked(batch * length)];
        for (int b = 0; b < batch; b++)
        {
            var row = rows[rows.Length == 1 ? 0 : b];
            for (int t = 0; t < length; t++) data[b * length + t] = row[t];
        }
        return Tensor.FromArray(data, batch, length);
    }

    private static Tensor RepeatFirst<T>(Tensor t, int batch) where T : unmanaged
    {
        var src = t.Contiguous().ReadOnlySpan<T>();
        var shape = t.ShapeArray();
        shape[0] = batch;
        var result = Tensor.Zeros(t.DType, shape);
        var dst = result.Span<T>();
        for (int b = 0; b < batch; b++) src.CopyTo(dst.Slice(b * src.Length));
        return result;
    }
}
