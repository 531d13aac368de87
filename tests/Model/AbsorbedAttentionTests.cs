using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Kernels.Reference;
using BridgeTower.Model;
using BridgeTower.Model.Weights;

namespace BridgeTower.Tests.Model;

/// <summary>
/// The absorbed attention route (queries moved into the source's input space) against the projected one
/// (keys and values computed), on the same module and inputs: equal up to fp32 summation order.
/// </summary>
public class AbsorbedAttentionTests
{
    private static Tensor Random(Random r, params int[] shape)
    {
        var data = new float[shape.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(r.NextDouble() * 4 - 2);
        return Tensor.FromArray(data, shape);
    }

    public static TheoryData<string, int, int, int, int> Shapes() => new()
    {
        // backend, query batch, query length, source batch, source length
        { "cpu", 2, 1, 2, 65 },   // a CLS query over its own stream
        { "cpu", 3, 3, 3, 65 },   // short texts over image tokens
        { "cpu", 3, 3, 1, 65 },   // one cached image for three texts
        { "cpu", 1, 2, 1, 333 },
        { "reference", 2, 3, 2, 17 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Absorbed_route_equals_projected_keys_and_values(string backendName, int bq, int tq, int bs, int tk)
    {
        using IBackend backend = backendName == "cpu" ? new CpuBackend(2) : new ReferenceBackend();
        var config = RandomWeightsTests.TinyConfig();
        using var model = BridgeTowerModel.FromWeights(config, new RandomWeights(config, BridgeTowerHead.None, 7), backend);
        var attention = model.CrossModalTextLayers[0].CrossAttention;
        var r = new Random(tk * 31 + tq);
        var x = Random(r, bq, tq, 64);
        var source = Random(r, bs, tk, 64);
        int batch = Math.Max(bq, bs);

        var absorbed = attention.AbsorbedContext(x, source, null, false, batch);
        var projected = attention.ProjectedContext(x, source, null, false, batch, out _);

        Assert.NotNull(absorbed);
        Assert.Equal(projected.ShapeArray(), absorbed.ShapeArray());
        var a = absorbed.ToFloatArray();
        var p = projected.ToFloatArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - p[i]) <= 2e-5 * (1 + Math.Abs(p[i])), $"element {i}: absorbed {a[i]}, projected {p[i]}");
    }

    [Fact]
    public void Absorbed_route_steps_aside_for_masks_probabilities_and_long_queries()
    {
        using var backend = new CpuBackend(1);
        var config = RandomWeightsTests.TinyConfig();
        using var model = BridgeTowerModel.FromWeights(config, new RandomWeights(config, BridgeTowerHead.None, 7), backend);
        var attention = model.CrossModalTextLayers[0].CrossAttention;
        var r = new Random(5);
        var x = Random(r, 1, 2, 64);
        var source = Random(r, 1, 65, 64);
        var mask = Tensor.Zeros(1, 65);

        Assert.Null(attention.AbsorbedContext(x, source, mask, false, 1));
        Assert.Null(attention.AbsorbedContext(x, source, null, true, 1));
        Assert.Null(attention.AbsorbedContext(source, source, null, false, 1)); // as many queries as keys: projecting is cheaper
        // Weights are kept only where the route can pay: not for the image layers' cross-attention.
        Assert.Null(model.CrossModalImageLayers[0].CrossAttention.AbsorbedContext(x, source, null, false, 1));
    }
}
