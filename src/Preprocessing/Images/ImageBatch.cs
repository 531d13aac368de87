using BridgeTower.Tensors;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// The model's image inputs: pixel_values F32 (B, 3, H, W) and pixel_mask I64 (B, H, W), 1 over
/// each image's own height x width and 0 over the padding (null when padding is off, as the
/// reference then returns no mask).
/// </summary>
public sealed record ImageBatch(Tensor PixelValues, Tensor? PixelMask, IReadOnlyList<(int Height, int Width)> ImageSizes)
{
    public int Count => PixelValues.Dim(0);
}

/// <summary>
/// Per-call overrides of <see cref="BridgeTowerImageProcessor.Preprocess"/>, the keyword arguments
/// of the reference's preprocess(); null keeps the configuration's value, except
/// <see cref="DoCenterCrop"/> (see there).
/// </summary>
public sealed record ImageProcessorCallOptions
{
    /// <summary>What BridgeTowerProcessor.__call__ passes: do_normalize=True, do_center_crop=True.</summary>
    public static ImageProcessorCallOptions ProcessorDefaults { get; } = new() { DoNormalize = true, DoCenterCrop = true };

    public bool? DoResize { get; init; }
    public int? ShortestEdge { get; init; }
    public int? SizeDivisor { get; init; }
    public PilResampling? Resample { get; init; }
    public bool? DoRescale { get; init; }
    public double? RescaleFactor { get; init; }
    public bool? DoNormalize { get; init; }
    public double[]? ImageMean { get; init; }
    public double[]? ImageStd { get; init; }
    public bool? DoPad { get; init; }
    /// <summary>
    /// Crop only when this is true. In the reference (transformers 4.41 and later) preprocess()
    /// evaluates <c>do_center_crop if do_center_crop is not None else self.do_center_crop</c>
    /// and throws the result away, so a call that leaves it unset never crops, whatever the
    /// configuration says; the processor path passes True explicitly.
    /// </summary>
    public bool? DoCenterCrop { get; init; }
    public (int Height, int Width)? CropSize { get; init; }
}
