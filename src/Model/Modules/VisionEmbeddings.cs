using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// <c>vision_model.visual.embeddings</c> (CLIP): the stride-p Conv2d patch embedding (no bias) as a GEMM
/// over patches, <c>class_embedding</c> prepended, <c>position_embedding</c> added (bicubically resized
/// when interpolate_pos_encoding asks for it).
/// </summary>
public sealed class VisionEmbeddings : IDisposable
{
    private readonly IBackend _backend;
    private readonly BridgeTowerVisionConfig _config;
    public Tensor ClassEmbedding { get; }
    public Linear PatchEmbedding { get; }
    public Tensor PositionEmbedding { get; }

    internal VisionEmbeddings(WeightBinder w, string prefix, BridgeTowerVisionConfig c)
    {
        _backend = w.Backend;
        _config = c;
        int p = c.PatchSize, h = c.HiddenSize;
        ClassEmbedding = w.F32($"{prefix}.class_embedding", h);
        var conv = w.RawForCopy($"{prefix}.patch_embedding.weight", h, c.NumChannels, p, p);
        PatchEmbedding = new Linear(_backend, $"{prefix}.patch_embedding", _backend.PrepareLinear(conv.Reshape(h, c.NumChannels * p * p), null));
        w.Release($"{prefix}.patch_embedding.weight", conv);
        PositionEmbedding = w.F32($"{prefix}.position_embedding.weight", c.NumPositions, h);
        w.Ignore($"{prefix}.position_ids");
    }

    public Tensor Forward(Tensor pixelValues, bool interpolatePosEncoding, IDictionary<string, Tensor>? trace)
    {
        if (pixelValues.Rank != 4 || pixelValues.Dim(1) != _config.NumChannels)
            throw new ArgumentException($"pixel_values: expected (batch, {_config.NumChannels}, height, width), got {pixelValues.ShapeString}");
        int b = pixelValues.Dim(0), height = pixelValues.Dim(2), width = pixelValues.Dim(3), p = _config.PatchSize;
        if (!interpolatePosEncoding && (height != _config.ImageSize || width != _config.ImageSize))
            throw new ArgumentException(
                $"pixel_values: input image size ({height}*{width}) doesn't match model ({_config.ImageSize}*{_config.ImageSize}); resize it or set InterpolatePosEncoding");
        if (height < p || width < p)
            throw new ArgumentException($"pixel_values: image {height}x{width} is smaller than one {p}x{p} patch");

        var rows = TensorOps.Patches(pixelValues, p);
        var patches = PatchEmbedding.Forward(rows); // (B, N, Hv)
        rows.Dispose();
        // A view of the parameter at batch 1 (its Dispose does nothing), a copy beyond.
        var classRows = TensorOps.RepeatBatch(ClassEmbedding.Reshape(1, 1, _config.HiddenSize), b);
        var concatenated = TensorOps.Concat(1, classRows, patches);
        classRows.Dispose();
        int numPatches = patches.Dim(1);
        patches.Dispose();
        var positions = interpolatePosEncoding ? InterpolatedPositions(numPatches, height, width) : PositionEmbedding;
        if (trace is not null) trace["debug.position_embedding"] = positions.Unsqueeze(0);
        var embeddings = _backend.AddScaled(concatenated, positions);
        concatenated.Dispose();
        if (trace is null) positions.DisposeIfCopyOf(PositionEmbedding);
        else trace["debug.vision.embeddings"] = embeddings;
        return embeddings;
    }

    /// <summary>
    /// The reference's interpolate_pos_encoding: the table as is for a square image with the trained
    /// patch count, otherwise the patch grid resized to (H // p, W // p) by torch's bicubic
    /// (align_corners=False, A = -0.75), class position unchanged.
    /// </summary>
    private Tensor InterpolatedPositions(int numPatches, int height, int width)
    {
        int trained = _config.NumPositions - 1;
        if (numPatches == trained && height == width) return PositionEmbedding;
        int side = (int)Math.Sqrt(trained);
        int dim = _config.HiddenSize, newH = height / _config.PatchSize, newW = width / _config.PatchSize;
        var table = PositionEmbedding.ReadOnlySpan<float>();
        var result = Tensor.Rent(1 + newH * newW, dim); // every row written below
        var dst = result.Span<float>();
        table[..dim].CopyTo(dst);
        var grid = table[dim..];
        double scaleY = (double)side / newH, scaleX = (double)side / newW;
        Span<double> wy = stackalloc double[4], wx = stackalloc double[4];
        Span<int> iy = stackalloc int[4], ix = stackalloc int[4];
        for (int oy = 0; oy < newH; oy++)
        {
            Bicubic.Taps(scaleY * (oy + 0.5) - 0.5, side, iy, wy);
            for (int ox = 0; ox < newW; ox++)
            {
                Bicubic.Taps(scaleX * (ox + 0.5) - 0.5, side, ix, wx);
                var o = dst.Slice((1 + oy * newW + ox) * dim, dim);
                for (int d = 0; d < dim; d++)
                {
                    double acc = 0;
                    for (int a = 0; a < 4; a++)
                    {
                        double row = 0;
                        for (int c = 0; c < 4; c++) row += wx[c] * grid[(iy[a] * side + ix[c]) * dim + d];
                        acc += wy[a] * row;
                    }
                    o[d] = (float)acc;
                }
            }
        }
        return result;
    }

    public void Dispose() => PatchEmbedding.Dispose();
}

/// <summary>torch's upsample_bicubic2d taps: four clamped source indices and Keys-cubic weights (A = -0.75).</summary>
internal static class Bicubic
{
    private const double A = -0.75;

    public static void Taps(double source, int size, Span<int> index, Span<double> weight)
    {
        int i0 = (int)Math.Floor(source);
        double t = source - i0;
        weight[0] = Far(t + 1);
        weight[1] = Near(t);
        weight[2] = Near(1 - t);
        weight[3] = Far(2 - t);
        for (int k = 0; k < 4; k++) index[k] = Math.Clamp(i0 - 1 + k, 0, size - 1);
    }

    private static double Near(double x) => ((A + 2) * x - (A + 3)) * x * x + 1;
    private static double Far(double x) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
