using BridgeTower.Model;

namespace BridgeTower.Tests.Model;

/// <summary>The model on its default backend (the SIMD CPU backend) against the reference's outputs.</summary>
public class CpuBackendModelTests
{
    [SharedTheory]
    [InlineData("tiny-base")]
    [InlineData("tiny-scaled-add")]
    public void Loading_without_a_backend_runs_on_the_cpu_backend_within_tolerance(string variant)
    {
        using var f = new ModelFixture(variant);
        using var itm = BridgeTowerForImageAndTextRetrieval.Load(f.Directory);
        Assert.StartsWith("cpu", itm.BridgeTower.Backend.Name);
        var output = itm.Forward(f.Base() with { Labels = f.Input("itm_labels") });
        Parity.AssertClose(f.Expected, [("itm.logits", output.Logits), ("itm.loss", output.Loss!)], requireAll: false);

        // The cached image path on the same backend gives the same numbers.
        var image = itm.BridgeTower.EncodeImage(f.Input("pixel_values"));
        var cached = itm.Forward(f.Base() with { PixelValues = null, Image = image });
        Parity.AssertClose(f.Expected, [("itm.logits", cached.Logits)], requireAll: false);
    }

    [SharedTheory]
    [InlineData("tiny-base")]
    [InlineData("tiny-scaled-add")]   // the link towers mix a shared bridge input by weights, not a plain sum
    [InlineData("tiny-interpolate")]
    public void One_cached_image_against_many_texts_equals_the_repeated_pairs(string variant)
    {
        using var f = new ModelFixture(variant);
        using var itm = BridgeTowerForImageAndTextRetrieval.Load(f.Directory);
        var (one, repeated) = f.OneImageAndRepeated(0);
        var uncached = itm.Forward(f.Base() with { PixelValues = repeated });
        var image = itm.BridgeTower.EncodeImage(one);
        // Shared layer-0 image work (the default) and the per-pair path (taken when attentions are asked for).
        var shared = itm.Forward(f.Base() with { PixelValues = null, Image = image });
        var perPair = itm.Forward(f.Base() with { PixelValues = null, Image = image, OutputAttentions = true });
        Assert.True(Parity.MaxAbsDiff(shared.Logits, uncached.Logits) <= 1e-5);
        Assert.True(Parity.MaxAbsDiff(perPair.Logits, uncached.Logits) <= 1e-5);
    }
}
