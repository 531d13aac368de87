using BridgeTower.Tensors;

namespace BridgeTower.Kernels.Reference;

/// <summary>
/// The plain implementation every fast backend is checked against: straightforward loops,
/// double-precision accumulation, one thread. Slow on purpose; clarity is its only job.
/// Results are rented from the pool (not zeroed): every method writes each output element.
/// </summary>
public sealed class ReferenceBackend : IBackend
{
    public string Name => "reference";

    private sealed class Weights(float[] w, float[]? b, int inF, int outF) : LinearWeights(inF, outF, b is not null)
    {
        public readonly float[] W = w; // (out, in)
        public readonly float[]? B = b;
    }

    public LinearWeights PrepareLinear(Tensor weight, Tensor? bias)
    {
        if (weight.Rank != 2) throw new ArgumentException($"weight: expected rank 2 (out, in), got {weight.ShapeString}");
        int outF = weight.Dim(0), inF = weight.Dim(1);
        bias?.EnsureShape("bias", outF);
        return new Weights(weight.ToFloatArray(), bias?.ToFloatArray(), inF, outF);
    }

    public Tensor Linear(Tensor x, LinearWeights weights, Activation activation = Activation.None, Tensor? residual = null)
    {
        var w = (Weights)weights;
        if (x.Dim(-1) != w.InFeatures)
            throw new ArgumentException($"x: expected last dimension {w.InFeatures}, got shape {x.ShapeString}");
        var outShape = x.ShapeArray();
        outShape[^1] = w.OutFeatures;
        residual?.EnsureShape("residual", outShape);
        var xs = x.ToF32().ReadOnlySpan<float>();
        var rs = residual?.ToF32().ToFloatArray();
        var y = Tensor.Rent(outShape);
        var ys = y.Span<float>();
        int rows = (int)(x.ElementCount / w.InFeatures);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < w.OutFeatures; o++)
            {
                double acc = w.B?[o] ?? 0;
                for (int i = 0; i < w.InFeatures; i++) acc += (double)xs[r * w.InFeatures + i] * w.W[o * w.InFeatures + i];
                double v = Apply(acc, activation);
                if (rs is not null) v += rs[r * w.OutFeatures + o];
                ys[r * w.OutFeatures + o] = (float)v;
            }
        return y;
    }

    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? additiveKeyMask,
        bool returnProbabilities, out Tensor? probabilities)
    {
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3)
            throw new ArgumentException($"attention: q, k, v must be rank 3, got {q.ShapeString}, {k.ShapeString}, {v.ShapeString}");
        int b = q.Dim(0), tq = q.Dim(1), hd = q.Dim(2), tk = k.Dim(1);
        if (hd % heads != 0) throw new ArgumentException($"attention: width {hd} of q {q.ShapeString} is not divisible by {heads} heads");
        k.EnsureShape("k", b, tk, hd);
        v.EnsureShape("v", b, tk, hd);
        additiveKeyMask?.EnsureShape("additiveKeyMask", b, tk);
        int d = hd / heads;
        var output = Tensor.Rent(b, tq, hd);
        var outSpan = output.Span<float>();
        probabilities = returnProbabilities ? Tensor.Rent(b, heads, tq, tk) : null;
        var probSpan = probabilities is null ? default : probabilities.Span<float>();
        var qa = q.ToFloatArray(); var ka = k.ToFloatArray(); var va = v.ToFloatArray();
        var mask = additiveKeyMask?.ToFloatArray();
        var scores = new double[tk];
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < tq; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < tk; j++)
                    {
                        double s = 0;
                        for (int e = 0; e < d; e++)
                            s += (double)qa[(bi * tq + i) * hd + h * d + e] * ka[(bi * tk + j) * hd + h * d + e];
                        // fp32 semantics of the reference: score*scale + mask, rounded to float.
                        float sf = (float)(s * scale);
                        if (mask is not null) sf += mask[bi * tk + j];
                        scores[j] = sf;
                        max = Math.Max(max, sf);
                    }
                    double sum = 0;
                    for (int j = 0; j < tk; j++) { scores[j] = Math.Exp(scores[j] - max); sum += scores[j]; }
                    for (int j = 0; j < tk; j++) scores[j] /= sum;
                    for (int e = 0; e < d; e++)
                    {
                        double acc = 0;
                        for (int j = 0; j < tk; j++) acc += scores[j] * va[(bi * tk + j) * hd + h * d + e];
                        outSpan[(bi * tq + i) * hd + h * d + e] = (float)acc;
                    }
                    if (probabilities is not null)
                        for (int j = 0; j < tk; j++) probSpan[((bi * heads + h) * tq + i) * tk + j] = (float)scores[j];
                }
        return output;
    }

    public Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor? residual = null)
    {
        int n = x.Dim(-1);
        gamma.EnsureShape("gamma", n);
        beta.EnsureShape("beta", n);
        if (residual is not null) ShapeChecks.EnsureSuffix(residual, nameof(residual), x.Shape, nameof(x));
        var xs = x.ToFloatArray();
        var rs = residual?.ToFloatArray();
        var g = gamma.ToFloatArray(); var bt = beta.ToFloatArray();
        var y = Tensor.Rent(x.ShapeArray());
        var ys = y.Span<float>();
        var row = new double[n];
        for (int r = 0; r < xs.Length / Math.Max(n, 1); r++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) { row[i] = (double)xs[r * n + i] + (rs?[(r * n + i) % rs.Length] ?? 0); mean += row[i]; }
            mean /= n;
            double variance = 0;
            for (int i = 0; i < n; i++) variance += (row[i] - mean) * (row[i] - mean);
            variance /= n;
            double inv = 1 / Math.Sqrt(variance + eps);
            for (int i = 0; i < n; i++) ys[r * n + i] = (float)((row[i] - mean) * inv * g[i] + bt[i]);
        }
        return y;
    }

    public Tensor LayerNormProjected(Tensor x, Tensor? residual, float eps, Tensor projected, Tensor? projectedShared,
        Tensor columnSums, Tensor bias, Activation activation)
    {
        var shape = LayerNormProjectedShapes.Check(x, residual, projected, projectedShared, columnSums, bias);
        int n = x.Dim(-1), m = projected.Dim(-1);
        var xs = x.ToFloatArray(); var rs = residual?.ToFloatArray();
        var ps = projected.ToFloatArray(); var shared = projectedShared?.ToFloatArray();
        var u = columnSums.ToFloatArray(); var c = bias.ToFloatArray();
        var y = Tensor.Rent(shape);
        var ys = y.Span<float>();
        int rows = n == 0 ? (m == 0 ? 0 : ps.Length / m) : xs.Length / n;
        for (int r = 0; r < rows; r++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += (double)xs[r * n + i] + (rs?[(r * n + i) % rs.Length] ?? 0);
            mean /= Math.Max(n, 1);
            double variance = 0;
            for (int i = 0; i < n; i++)
            {
                double d = (double)xs[r * n + i] + (rs?[(r * n + i) % rs.Length] ?? 0) - mean;
                variance += d * d;
            }
            variance /= Math.Max(n, 1);
            double inv = 1 / Math.Sqrt(variance + eps);
            for (int j = 0; j < m; j++)
            {
                double p = (double)ps[r * m + j] + (shared?[(r * m + j) % shared.Length] ?? 0);
                ys[r * m + j] = (float)Apply(inv * (p - mean * u[j]) + c[j], activation);
            }
        }
        return y;
    }

    public Tensor LinearLayerNorm(Tensor x, LinearWeights weights, Tensor? residual, Tensor gamma, Tensor beta, float eps)
    {
        if (x.Dim(-1) != weights.InFeatures)
            throw new ArgumentException($"x: expected last dimension {weights.InFeatures}, got shape {x.ShapeString}");
        var outShape = x.ShapeArray();
        outShape[^1] = weights.OutFeatures;
        gamma.EnsureShape("gamma", weights.OutFeatures);
        beta.EnsureShape("beta", weights.OutFeatures);
        if (residual is not null) ShapeChecks.EnsureSuffix(residual, nameof(residual), outShape, "y");
        using var dense = Linear(x, weights);
        return LayerNorm(dense, gamma, beta, eps, residual);
    }

    public Tensor Activate(Tensor x, Activation activation) => Map(x, v => Apply(v, activation));

    public Tensor Softmax(Tensor x)
    {
        int n = x.Dim(-1);
        var xs = x.ToFloatArray();
        var y = Tensor.Rent(x.ShapeArray());
        var ys = y.Span<float>();
        for (int r = 0; r < xs.Length / Math.Max(n, 1); r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int i = 0; i < n; i++) max = Math.Max(max, xs[r * n + i]);
            for (int i = 0; i < n; i++) sum += Math.Exp(xs[r * n + i] - max);
            for (int i = 0; i < n; i++) ys[r * n + i] = (float)(Math.Exp(xs[r * n + i] - max) / sum);
        }
        return y;
    }

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f)
    {
        int n = x.Dim(-1);
        var xs = x.ToFloatArray();
        var y = Tensor.Rent(x.ShapeArray());
        var ys = y.Span<float>();
        for (int r = 0; r < xs.Length / Math.Max(n, 1); r++)
        {
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double)xs[r * n + i] * xs[r * n + i];
            double norm = Math.Max(Math.Sqrt(ss), eps);
            for (int i = 0; i < n; i++) ys[r * n + i] = (float)(xs[r * n + i] / norm);
        }
        return y;
    }

    public Tensor AddScaled(Tensor a, Tensor b, float alpha = 1f, float beta = 1f)
    {
        ShapeChecks.EnsureSuffix(b, nameof(b), a.Shape, nameof(a), allowScalar: true);
        var aa = a.ToFloatArray(); var ba = b.ToFloatArray();
        var y = Tensor.Rent(a.ShapeArray());
        var ys = y.Span<float>();
        for (int i = 0; i < aa.Length; i++) ys[i] = (float)((double)alpha * aa[i] + (double)beta * ba[i % Math.Max(ba.Length, 1)]);
        return y;
    }

    public Tensor Embedding(Tensor table, Tensor ids)
    {
        if (table.Rank != 2) throw new ArgumentException($"table: expected rank 2 (V, D), got {table.ShapeString}");
        if (ids.DType is not (DType.I64 or DType.I32)) throw new ArgumentException($"ids: expected I64 or I32, got {ids.DType}");
        int vocab = table.Dim(0), dim = table.Dim(1);
        var idv = ids.ToInt64Array();
        var shape = ids.ShapeArray().Append(dim).ToArray();
        var y = Tensor.Rent(shape);
        var ys = y.Span<float>();
        var t = table.ToF32().ReadOnlySpan<float>();
        for (int i = 0; i < idv.Length; i++)
        {
            if (idv[i] < 0 || idv[i] >= vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {idv[i]} at position {i} is outside the table's {vocab} rows");
            t.Slice((int)idv[i] * dim, dim).CopyTo(ys.Slice(i * dim, dim));
        }
        return y;
    }

    public Tensor MatMul(Tensor a, Tensor b, bool transposeB = false)
    {
        bool batched = a.Rank == 3;
        if (a.Rank != b.Rank || (a.Rank != 2 && a.Rank != 3))
            throw new ArgumentException($"matmul: operands must both be rank 2 or 3, got {a.ShapeString} and {b.ShapeString}");
        var a3 = batched ? a : a.Unsqueeze(0);
        var b3 = batched ? b : b.Unsqueeze(0);
        if (transposeB) b3 = b3.Transpose(1, 2);
        int bt = a3.Dim(0), m = a3.Dim(1), kk = a3.Dim(2), n = b3.Dim(2);
        if (b3.Dim(0) != bt || b3.Dim(1) != kk)
            throw new ArgumentException($"matmul: shapes {a.ShapeString} and {b.ShapeString}{(transposeB ? "ᵀ" : "")} do not chain");
        var y = batched ? Tensor.Rent(bt, m, n) : Tensor.Rent(m, n); // the caller gets the owning tensor, not a view
        var ys = y.Span<float>();
        for (int z = 0; z < bt; z++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double acc = 0;
                    for (int p = 0; p < kk; p++) acc += (double)a3.GetDouble(z, i, p) * b3.GetDouble(z, p, j);
                    ys[(z * m + i) * n + j] = (float)acc;
                }
        return y;
    }

    public void Dispose() { }

    private static Tensor Map(Tensor x, Func<double, double> f)
    {
        var xs = x.ToFloatArray();
        var y = Tensor.Rent(x.ShapeArray());
        var ys = y.Span<float>();
        for (int i = 0; i < xs.Length; i++) ys[i] = (float)f(xs[i]);
        return y;
    }

    internal static double Apply(double v, Activation activation) => activation switch
    {
        Activation.None => v,
        Activation.Gelu => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
        Activation.QuickGelu => v / (1 + Math.Exp(-1.702 * v)),
        Activation.Tanh => Math.Tanh(v),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    /// <summary>erf in double precision (Abramowitz–Stegun 7.1.26 is too coarse; this is W. J. Cody's rational form via series/continued fraction).</summary>
    public static double Erf(double x)
    {
        // Series for |x| < 2.5, complementary continued fraction beyond: both accurate to ~1e-15.
        double ax = Math.Abs(x);
        double r;
        if (ax < 2.5)
        {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // Lentz continued fraction for erfc.
            double f = 0;
            for (int n = 60; n >= 1; n--) f = n / 2.0 / (ax + f);
            r = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f);
        }
        return x < 0 ? -r : r;
    }
}
