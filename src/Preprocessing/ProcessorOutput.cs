using BridgeTower.Preprocessing.Images;
using BridgeTower.Preprocessing.Text;
using BridgeTower.Tensors;

namespace BridgeTower.Preprocessing;

/// <summary>
/// What <see cref="BridgeTowerProcessor"/> returns, under the reference's names: input_ids and
/// attention_mask I64 (text batch, T); pixel_values F32 (image batch, 3, H, W) and pixel_mask I64
/// (image batch, H, W), null when the image processor does not pad (the reference then returns no
/// mask). The image batch is 1 when one image goes with several texts (see
/// <see cref="ProcessorOptions.RepeatSingleImage"/>); otherwise both batches are equal.
/// </summary>
public sealed record ProcessorOutput(
    Tensor InputIds, Tensor AttentionMask, Tensor PixelValues, Tensor? PixelMask, IReadOnlyList<(int Height, int Width)> ImageSizes)
{
    public int TextBatch => InputIds.Dim(0);
    public int ImageBatch => PixelValues.Dim(0);

    /// <summary>The tensors by the reference's names, in its order (the inputs `bridgetower run` reads).</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> ToNamedTensors()
    {
        var list = new List<KeyValuePair<string, Tensor>>
        {
            new("input_ids", InputIds), new("attention_mask", AttentionMask), new("pixel_values", PixelValues),
        };
        if (PixelMask is not null) list.Add(new("pixel_mask", PixelMask));
        return list;
    }
}

/// <summary>The arguments of BridgeTowerProcessor.__call__ beyond images and texts.</summary>
public sealed record ProcessorOptions
{
    public static ProcessorOptions Default { get; } = new();

    /// <summary>
    /// The tokenizer call. Default: padding to the longest text (tensors need equal lengths) and
    /// truncation to the tokenizer's model_max_length (512 for BridgeTower: longer texts would run
    /// past the position embeddings). The reference's own default (no padding, no truncation)
    /// fails on such texts instead.
    /// </summary>
    public EncodeOptions Text { get; init; } = new() { Padding = Padding.Longest, Truncation = true };

    /// <summary>
    /// The image processor call; default what the reference's processor passes (do_normalize=True,
    /// do_center_crop=True). Set <see cref="ImageProcessorCallOptions.DoCenterCrop"/> false to keep
    /// each image's resized aspect (the batch is then padded, with a pixel_mask of zeros there).
    /// </summary>
    public ImageProcessorCallOptions Images { get; init; } = ImageProcessorCallOptions.ProcessorDefaults;

    /// <summary>
    /// With one image and several texts, repeat the image's rows to the text batch. Off by default:
    /// the reference returns a batch of 1 and BridgeTowerModel runs the vision tower once for it;
    /// turn it on for a consumer that needs equal batches (the contrastive head pairs row i with row i).
    /// </summary>
    public bool RepeatSingleImage { get; init; }
}
