using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// Data movement the model needs around the backend's math (concatenation, CLS selection, batch
/// repetition, im2col) and the few small scalar reductions of the heads' losses, done in double.
/// </summary>
internal static class TensorOps
{
    /// <summary>Row 0 of the sequence dimension: (B, T, H) -> contiguous (B, H).</summary>
    public static Tensor Cls(Tensor x) => x.Select(1, 0).Contiguous();

    /// <summary>Concatenation of contiguous float32 tensors along <paramref name="dim"/>.</summary>
    public static Tensor Concat(int dim, params Tensor[] parts)
    {
        var first = parts[0];
        int d = dim < 0 ? dim + first.Rank : dim;
        var shape = first.ShapeArray();
        shape[d] = 0;
        foreach (var p in parts)
        {
            for (int i = 0; i < first.Rank; i++)
                if (i != d && p.Dim(i) != first.Dim(i))
                    throw new ArgumentException($"concat along {d}: shapes {first.ShapeString} and {p.ShapeString} differ elsewhere");
            shape[d] += p.Dim(d);
        }
        var result = Tensor.Rent(shape); // every element is copied in below
        var dst = result.Span<float>();
        long outer = 1;
        for (int i = 0; i < d; i++) outer *= shape[i];
        int outRow = (int)(result.ElementCount / Math.Max(outer, 1));
        int offset = 0;
        foreach (var p in parts)
        {
            var f = p.ToF32();
            var src = f.ReadOnlySpan<float>();
            int row = (int)(p.ElementCount / Math.Max(outer, 1));
            for (long o = 0; o < outer; o++)
                src.Slice((int)(o * row), row).CopyTo(dst.Slice((int)(o * outRow) + offset, row));
            offset += row;
            f.DisposeIfCopyOf(p);
        }
        return result;
    }

    /// <summary>
    /// The additive terms of few-keys attention scores, (B, Tq, H·Tk): per batch row the constants c (Bs, H·Tk)
    /// plus the additive key mask (Bm, Tk) under every head, the same for each of the Tq query rows. Either may
    /// have batch 1 against B; the mask may be null.
    /// </summary>
    public static Tensor ScoreOffsets(Tensor c, Tensor? mask, int batch, int tq, int heads, int tk)
    {
        var constants = c.ToF32().ReadOnlySpan<float>();
        var masks = mask is null ? default : mask.ToF32().ReadOnlySpan<float>();
        int row = heads * tk;
        var result = Tensor.Rent(batch, tq, row);
        var dst = result.Span<float>();
        for (int b = 0; b < batch; b++)
        {
            var first = dst.Slice(b * tq * row, row);
            constants.Slice(c.Dim(0) == 1 ? 0 : b * row, row).CopyTo(first);
            if (mask is not null)
            {
                var m = masks.Slice(mask.Dim(0) == 1 ? 0 : b * tk, tk);
                for (int h = 0; h < heads; h++)
                    for (int j = 0; j < tk; j++) first[h * tk + j] += m[j];
            }
            for (int t = 1; t < tq; t++) first.CopyTo(dst.Slice((b * tq + t) * row, row));
        }
        return result;
    }

    /// <summary>(1, ...) repeated to (n, ...): a cached image scored against n texts. Returns <paramref name="x"/> itself when it already has n rows.</summary>
    public static Tensor RepeatBatch(Tensor x, int n)
    {
        if (x.Dim(0) == n) return x;
        if (x.Dim(0) != 1) throw new ArgumentException($"cannot repeat a batch of {x.Dim(0)} to {n} (only a batch of 1 broadcasts)");
        var shape = x.ShapeArray();
        shape[0] = n;
        var result = Tensor.Rent(shape); // n full copies written below
        var f = x.ToF32();
        var src = f.ReadOnlySpan<float>();
        var dst = result.Span<float>();
        for (int i = 0; i < n; i++) src.CopyTo(dst.Slice(i * src.Length, src.Length));
        f.DisposeIfCopyOf(x);
        return result;
    }

    /// <summary>
    /// (1, ...) seen as (n, ...) without a copy: a view whose batch stride is 0, for kernels that read each batch
    /// row through its stride (attention's K and V). Returns <paramref name="x"/> itself when it already has n rows.
    /// </summary>
    public static Tensor BroadcastBatch(Tensor x, int n)
    {
        if (x.Dim(0) == n) return x;
        if (x.Dim(0) != 1) throw new ArgumentException($"cannot broadcast a batch of {x.Dim(0)} to {n} (only a batch of 1 broadcasts)");
        var shape = x.ShapeArray();
        shape[0] = n;
        var strides = x.Strides.ToArray();
        strides[0] = 0;
        return new Tensor(x.Storage, x.DType, shape, strides, x.Offset);
    }

    /// <summary>
    /// Non-overlapping p×p patches of (B, C, H, W) images as rows (B, gh·gw, C·p·p), ordered (c, ky, kx)
    /// like the flattened Conv2d weight (Hv, C, p, p); pixels beyond gh·p / gw·p are dropped as the
    /// stride-p convolution drops them.
    /// </summary>
    public static Tensor Patches(Tensor pixels, int p)
    {
        int b = pixels.Dim(0), c = pixels.Dim(1), h = pixels.Dim(2), w = pixels.Dim(3);
        int gh = h / p, gw = w / p, row = c * p * p;
        var f = pixels.ToF32();
        var src = f.ReadOnlySpan<float>();
        var result = Tensor.Rent(b, gh * gw, row); // every patch row is copied in below
        var dst = result.Span<float>();
        int o = 0;
        for (int bi = 0; bi < b; bi++)
            for (int gy = 0; gy < gh; gy++)
                for (int gx = 0; gx < gw; gx++)
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < p; ky++)
                        {
                            src.Slice(((bi * c + ci) * h + gy * p + ky) * w + gx * p, p).CopyTo(dst.Slice(o, p));
                            o += p;
                        }
        f.DisposeIfCopyOf(pixels);
        return result;
    }

    /// <summary>
    /// Mean cross-entropy of logits (N, C) against labels (N), skipping <paramref name="ignoreIndex"/>
    /// (torch.nn.CrossEntropyLoss). With every label ignored the mean is over nothing: NaN, as the reference.
    /// </summary>
    public static float CrossEntropy(Tensor logits, long[] labels, string labelsName, int ignoreIndex = -100)
    {
        int n = logits.Dim(0), classes = logits.Dim(1);
        if (labels.Length != n)
            throw new ArgumentException($"{labelsName}: {labels.Length} labels for {n} rows of logits {logits.ShapeString}");
        var l = logits.ToF32().ReadOnlySpan<float>();
        double sum = 0;
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            long y = labels[i];
            if (y == ignoreIndex) continue;
            if (y < 0 || y >= classes)
                throw new ArgumentOutOfRangeException(labelsName, $"{labelsName}: label {y} at position {i} is outside 0..{classes - 1} (or {ignoreIndex} to ignore)");
            var row = l.Slice(i * classes, classes);
            double max = double.NegativeInfinity;
            foreach (float v in row) max = Math.Max(max, v);
            double s = 0;
            foreach (float v in row) s += Math.Exp(v - max);
            sum += max + Math.Log(s) - row[(int)y];
            count++;
        }
        return (float)(sum / count);
    }

    public static Tensor ScalarTensor(float value) => Tensor.FromArray([value]).Reshape();
}
