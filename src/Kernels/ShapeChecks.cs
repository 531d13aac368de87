using BridgeTower.Tensors;

namespace BridgeTower.Kernels;

/// <summary>Argument checks the backends share, so each op's error reads the same on every backend.</summary>
internal static class ShapeChecks
{
    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming <paramref name="name"/> unless t's shape equals
    /// <paramref name="shape"/> or is a suffix of it (one row set repeated over the leading dimensions); a rank-0 t
    /// (a scalar, repeated everywhere) passes only where <paramref name="allowScalar"/> says so.
    /// </summary>
    public static void EnsureSuffix(Tensor t, string name, ReadOnlySpan<int> shape, string shapeName, bool allowScalar = false)
    {
        var suffix = t.Shape;
        if ((suffix.Length == 0 && !allowScalar) || suffix.Length > shape.Length || !shape[^suffix.Length..].SequenceEqual(suffix))
            throw new ArgumentException($"{name}: shape {t.ShapeString} must equal or be a suffix of {shapeName}'s shape {ShapeMath.Format(shape)}", name);
    }
}
