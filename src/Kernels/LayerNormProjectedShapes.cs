using BridgeTower.Tensors;

namespace BridgeTower.Kernels;

/// <summary>The argument checks of <see cref="IBackend.LayerNormProjected"/>, shared by every backend.</summary>
internal static class LayerNormProjectedShapes
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first argument that does not fit; returns the result's shape.</summary>
    public static int[] Check(Tensor x, Tensor? residual, Tensor projected, Tensor? projectedShared, Tensor columnSums, Tensor bias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(projected);
        ArgumentNullException.ThrowIfNull(columnSums);
        ArgumentNullException.ThrowIfNull(bias);
        if (x.Rank < 1) throw new ArgumentException($"x: needs rank >= 1, got {x.ShapeString}", nameof(x));
        if (residual is not null) ShapeChecks.EnsureSuffix(residual, nameof(residual), x.Shape, nameof(x));
        var xShape = x.Shape; var pShape = projected.Shape;
        if (pShape.Length != xShape.Length || !pShape[..^1].SequenceEqual(xShape[..^1]))
            throw new ArgumentException($"projected: shape {projected.ShapeString} must be x's {x.ShapeString} with another last dimension", nameof(projected));
        if (projectedShared is not null) ShapeChecks.EnsureSuffix(projectedShared, nameof(projectedShared), projected.Shape, nameof(projected));
        int m = projected.Dim(-1);
        columnSums.EnsureShape(nameof(columnSums), m);
        bias.EnsureShape(nameof(bias), m);
        return projected.ShapeArray();
    }
}
