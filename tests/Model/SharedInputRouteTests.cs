using BridgeTower.Model;
using BridgeTower.Model.Weights;

namespace BridgeTower.Tests.Model;

/// <summary>
/// cross_modal_image_layers.0 with one image's rows shared by B texts takes its feed-forward's first product through
/// the cross-attention's factors (CrossLayer.SharedInput.cs): the same layer on the rows repeated per text (the plain
/// path) gives the same numbers up to fp32 summation order. LayerNorm weights are perturbed from their 1 and 0 init so
/// that gamma and beta are exercised.
/// </summary>
public class SharedInputRouteTests
{
    private static Tensor Random(Random r, params int[] shape) => AbsorbedAttentionTests.Random(r, shape);

    private sealed class PerturbedLayerNorms(IWeightSource inner) : IWeightSource
    {
        public string Description => inner.Description;
        public IEnumerable<string> Names => inner.Names;

        public bool TryGet(string name, out Tensor tensor)
        {
            if (!inner.TryGet(name, out tensor)) return false;
            if (!name.Contains("LayerNorm.")) return true;
            var values = tensor.ToFloatArray();
            var r = new Random(name.Length * 7919 + values.Length);
            for (int i = 0; i < values.Length; i++) values[i] += (float)(r.NextDouble() - 0.5);
            inner.Release(name, tensor);
            tensor = Tensor.FromArray(values, tensor.ShapeArray());
            return true;
        }

        public void Release(string name, Tensor tensor) => inner.Release(name, tensor);
    }

    private static BridgeTowerModel TinyModel(string backendName) =>
        AbsorbedAttentionTests.TinyModel(backendName, random => new PerturbedLayerNorms(random));

    [Theory]
    [InlineData("cpu", 3, 3, false)]
    [InlineData("cpu", 4, 5, true)]     // with one text's keys all masked
    [InlineData("cpu", 2, 1, false)]
    [InlineData("reference", 3, 2, true)]
    public void Shared_rows_give_the_numbers_of_rows_repeated_per_text(string backendName, int batch, int tk, bool masked)
    {
        using var model = TinyModel(backendName);
        var layer = model.CrossModalImageLayers[0];
        var r = new Random(batch * 13 + tk);
        var attended = Random(r, 1, 65, 64);
        var other = Random(r, batch, tk, 64);
        Tensor? mask = null;
        if (masked)
        {
            var m = new float[batch * tk];
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < tk; j++) m[b * tk + j] = b == 0 || j == tk - 1 ? float.MinValue : 0f;
            mask = Tensor.FromArray(m, batch, tk);
        }
        var repeatedValues = new float[batch * 65 * 64];
        for (int b = 0; b < batch; b++) attended.ToFloatArray().CopyTo(repeatedValues, b * 65 * 64);
        var repeated = Tensor.FromArray(repeatedValues, batch, 65, 64);

        var shared = layer.SharedInputCrossAndFeedForward(attended, other, mask);
        var plain = layer.ForwardFromAttention(repeated, other, mask);

        Assert.NotNull(shared);
        Assert.Equal(plain.ShapeArray(), shared.ShapeArray());
        var s = shared.ToFloatArray(); var p = plain.ToFloatArray();
        for (int i = 0; i < s.Length; i++)
            Assert.True(Math.Abs(s[i] - p[i]) <= 2e-5 * (1 + Math.Abs(p[i])), $"element {i}: shared rows {s[i]}, repeated rows {p[i]}");
    }

    [Fact]
    public void The_route_steps_aside_where_it_does_not_apply_or_pay()
    {
        using var model = TinyModel("cpu");
        var r = new Random(3);
        var attended = Random(r, 1, 65, 64);
        Assert.Null(model.CrossModalImageLayers[0].SharedInputCrossAndFeedForward(attended, Random(r, 1, 3, 64), null));   // one text
        Assert.Null(model.CrossModalImageLayers[0].SharedInputCrossAndFeedForward(Random(r, 2, 65, 64), Random(r, 2, 3, 64), null)); // rows per text
        Assert.Null(model.CrossModalImageLayers[0].SharedInputCrossAndFeedForward(attended, Random(r, 3, 40, 64), null)); // long texts: dearer
        Assert.Null(model.CrossModalImageLayers[1].SharedInputCrossAndFeedForward(attended, Random(r, 3, 3, 64), null)); // weights kept for layer 0 only
        Assert.Null(model.CrossModalTextLayers[0].SharedInputCrossAndFeedForward(attended, Random(r, 3, 3, 64), null));
    }
}
