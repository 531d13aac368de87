using System.Globalization;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Model;

/// <summary>
/// Compares our tensors with the reference's, in forward order, under DESIGN.md's contract
/// max |ours - ref| <= 1e-4 (1 + |ref|) (losses: 1e-4 relative). The first tensor that differs is the one
/// named, so a wiring error is reported where it starts, not where it ends up.
/// </summary>
public static class Parity
{
    public const double Tolerance = 1e-4;

    /// <param name="actual">(expected name, our tensor) in the order the forward computes them</param>
    /// <param name="requireAll">every name must exist in <paramref name="expected"/> (else names missing there are skipped)</param>
    /// <returns>the names compared</returns>
    public static List<string> AssertClose(SafetensorsFile expected, IEnumerable<(string Name, Tensor Actual)> actual, bool requireAll = true)
    {
        var compared = new List<string>();
        foreach (var (name, ours) in actual)
        {
            if (!expected.TryGet(name, out var reference))
            {
                if (requireAll) Assert.Fail($"{name}: produced but not in the reference file {expected.Path}");
                continue;
            }
            string? problem = Difference(name, ours, reference);
            if (problem is not null)
                Assert.Fail($"first tensor in forward order that differs from the reference: {problem} (compared fine before it: {compared.Count} tensors{(compared.Count > 0 ? ", last " + compared[^1] : "")})");
            compared.Add(name);
        }
        return compared;
    }

    /// <summary>Null when within tolerance; otherwise a description naming the tensor, the worst element and the error.</summary>
    public static string? Difference(string name, Tensor ours, Tensor reference)
    {
        if (!ours.Shape.SequenceEqual(reference.Shape))
            return $"{name}: shape {ours.ShapeString}, reference {reference.ShapeString}";
        bool integer = !reference.DType.IsFloatingPoint();
        if (integer)
        {
            var a = ours.ToInt64Array();
            var r = reference.ToInt64Array();
            for (int i = 0; i < a.Length; i++)
                if (a[i] != r[i]) return $"{name}: element {i} is {a[i]}, reference {r[i]}";
            return null;
        }
        var af = ours.ToFloatArray();
        var rf = reference.ToFloatArray();
        bool loss = name.EndsWith(".loss", StringComparison.Ordinal);
        double worst = 0, worstErr = 0;
        int worstAt = -1;
        for (int i = 0; i < af.Length; i++)
        {
            double err = Math.Abs((double)af[i] - rf[i]);
            double allowed = loss ? Tolerance * Math.Abs(rf[i]) : Tolerance * (1 + Math.Abs(rf[i]));
            if (double.IsNaN(af[i]) != double.IsNaN(rf[i])) { worst = double.PositiveInfinity; worstAt = i; worstErr = double.NaN; break; }
            if (double.IsNaN(err)) continue;
            double ratio = err / allowed;
            if (ratio > worst) { worst = ratio; worstAt = i; worstErr = err; }
        }
        if (worst <= 1) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"{name}: element {worstAt} is {af[worstAt]:G9}, reference {rf[worstAt]:G9} (|diff| {worstErr:G3}, {worst:G3}x the allowed)");
    }

    /// <summary>The largest |ours - ref| of a tensor pair (for reporting measured figures).</summary>
    public static double MaxAbsDiff(Tensor ours, Tensor reference)
    {
        var a = ours.ToFloatArray();
        var r = reference.ToFloatArray();
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - r[i]));
        return m;
    }
}
