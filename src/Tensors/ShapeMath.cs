namespace BridgeTower.Tensors;

/// <summary>Checked arithmetic on shapes, for sizes that may come from untrusted files.</summary>
public static class ShapeMath
{
    /// <summary>Product of the dimensions; throws on a negative dimension or overflow.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long n = 1;
        bool overflow = false;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape {Format(shape)} has a negative dimension");
            if (d != 0 && n > long.MaxValue / d) overflow = true;
            else n *= d;
        }
        // A zero anywhere makes the product 0 even when a prefix overflowed.
        foreach (int d in shape) if (d == 0) return 0;
        if (overflow) throw new ArgumentException($"shape {Format(shape)} has more elements than a 64-bit count holds");
        return n;
    }

    /// <summary>Like <see cref="ElementCount(ReadOnlySpan{int})"/> but over 64-bit dims; false on overflow or negatives.</summary>
    public static bool TryElementCount(ReadOnlySpan<long> shape, out long count)
    {
        count = 1;
        foreach (long d in shape)
        {
            if (d < 0) return false;
            if (d != 0 && count > long.MaxValue / d) return false;
            count *= d;
        }
        return true;
    }

    public static long[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
    public static string Format(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
