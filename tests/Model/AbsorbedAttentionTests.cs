using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Kernels.Reference;
using BridgeTower.Model;
using BridgeTower.Model.Weights;

namespace BridgeTower.Tests.Model;

/// <summary>
/// The absorbed attention routes (few queries: W_k, W_v folded into the queries; few keys: W_q, W_o folded into
/// the keys and values) against projecting everything, on the same module and inputs: equal up to fp32
/// summation order.
/// </summary>
public class AbsorbedAttentionTests
{
    internal static Tensor Random(Random r, params int[] shape)
    {
        var data = new float[shape.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(r.NextDouble() * 4 - 2);
        return Tensor.FromArray(data, shape);
    }

    /// <summary>A tiny model (hidden 64, 2 heads) that owns its backend; <paramref name="weights"/> may wrap its random weights.</summary>
    internal static BridgeTowerModel TinyModel(string backendName, Func<IWeightSource, IWeightSource>? weights = null)
    {
        IBackend backend = backendName == "cpu" ? new CpuBackend(2) : new ReferenceBackend();
        var config = RandomWeightsTests.TinyConfig();
        IWeightSource source = new RandomWeights(config, BridgeTowerHead.None, 7);
        var model = BridgeTowerModel.FromWeights(config, weights?.Invoke(source) ?? source, backend);
        ((IOwnsResources)model).Own(backend); // disposed with the model
        return model;
    }

    private static (Tensor X, Tensor Source, int Batch) Streams(int bq, int tq, int bs, int tk)
    {
        var r = new Random(tk * 31 + tq);
        return (Random(r, bq, tq, 64), Random(r, bs, tk, 64), Math.Max(bq, bs));
    }

    public static TheoryData<string, int, int, int, int> Shapes() => new()
    {
        // backend, query batch, query length, source batch, source length
        { "cpu", 2, 1, 2, 65 },   // a CLS query over its own stream
        { "cpu", 3, 3, 3, 65 },   // short texts over image tokens
        { "cpu", 3, 3, 1, 65 },   // one cached image for three texts
        { "reference", 3, 2, 1, 17 },
        { "cpu", 1, 2, 1, 333 },
        { "reference", 2, 3, 2, 17 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Few_queries_route_equals_projected_keys_and_values(string backendName, int bq, int tq, int bs, int tk)
    {
        using var model = TinyModel(backendName);
        var attention = model.CrossModalTextLayers[0].CrossAttention;
        var (x, source, batch) = Streams(bq, tq, bs, tk);

        var absorbed = attention.FewQueriesContext(x, source, null, false, batch);
        var projected = attention.ProjectedContext(x, source, null, false, batch, out _);

        AssertClose(projected, absorbed);
    }

    private static void AssertClose(Tensor projected, Tensor? absorbed)
    {
        Assert.NotNull(absorbed);
        Assert.Equal(projected.ShapeArray(), absorbed.ShapeArray());
        var a = absorbed.ToFloatArray();
        var p = projected.ToFloatArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - p[i]) <= 2e-5 * (1 + Math.Abs(p[i])), $"element {i}: absorbed {a[i]}, projected {p[i]}");
    }

    public static TheoryData<string, int, int, int, int, bool> FewKeysShapes() => new()
    {
        // backend, query batch, query length, key batch, key length, key mask (with one fully masked row)
        { "cpu", 2, 65, 2, 3, false },
        { "cpu", 3, 65, 3, 5, true },
        { "cpu", 1, 65, 3, 5, true },    // a cached image's layer-0 rows against three texts
        { "cpu", 1, 65, 3, 5, false },
        { "reference", 1, 17, 2, 3, true },
        { "cpu", 3, 333, 1, 1, false },
        { "reference", 2, 17, 2, 3, true },
    };

    [Theory]
    [MemberData(nameof(FewKeysShapes))]
    public void Few_keys_route_equals_projected_queries_and_output(string backendName, int bq, int tq, int bs, int tk, bool masked)
    {
        using var model = TinyModel(backendName);
        var attention = model.CrossModalImageLayers[1].CrossAttention;
        var (x, source, batch) = Streams(bq, tq, bs, tk);
        Tensor? mask = null;
        if (masked)
        {
            var m = new float[bs * tk];
            for (int b = 0; b < bs; b++)
                for (int j = 0; j < tk; j++) m[b * tk + j] = b == 0 || j == tk - 1 ? float.MinValue : 0f; // row 0: every key masked
            mask = Tensor.FromArray(m, bs, tk);
        }

        var absorbed = attention.FewKeysDense(x, source, mask, false, batch);
        var projected = attention.OutputDense.Forward(attention.ProjectedContext(x, source, mask, false, batch, out _));

        AssertClose(projected, absorbed);
    }

    [Fact]
    public void Few_queries_route_steps_aside_for_masks_probabilities_and_long_queries()
    {
        using var backend = new CpuBackend(1);
        var config = RandomWeightsTests.TinyConfig();
        using var model = BridgeTowerModel.FromWeights(config, new RandomWeights(config, BridgeTowerHead.None, 7), backend);
        var attention = model.CrossModalTextLayers[0].CrossAttention;
        var r = new Random(5);
        var x = Random(r, 1, 2, 64);
        var source = Random(r, 1, 65, 64);
        var mask = Tensor.Zeros(1, 65);

        Assert.Null(attention.FewQueriesContext(x, source, mask, false, 1));
        Assert.Null(attention.FewQueriesContext(x, source, null, true, 1));
        Assert.Null(attention.FewQueriesContext(source, source, null, false, 1)); // as many queries as keys: projecting is cheaper
        // Weights are kept only where a route can pay: the image layers' cross-attention has few keys, not few queries.
        Assert.Null(model.CrossModalImageLayers[0].CrossAttention.FewQueriesContext(x, source, null, false, 1));
        Assert.Null(attention.FewKeysDense(source, x, null, false, 1));
        Assert.Null(model.CrossModalImageLayers[0].CrossAttention.FewKeysDense(source, x, null, true, 1));
        Assert.NotNull(model.CrossModalImageLayers[0].CrossAttention.FewKeysDense(source, x, null, false, 1));
    }
}
