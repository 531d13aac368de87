using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Model;

namespace BridgeTower.Tests.Model;

/// <summary>
/// An image encoding keeps cross_modal_image_layers.0's text-independent work from the first call that uses it:
/// later calls with other texts, hidden states or attentions give exactly the numbers of uncached calls. Run on a
/// NaN-poisoned pool, so reading a kept tensor the arena took back would show.
/// </summary>
public class CachedImageLayer0Tests
{
    [SharedTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Consecutive_calls_on_one_encoding_equal_uncached_calls(bool cpu)
    {
        var pool = new PinnedBufferPool { PoisonRentedBuffers = true };
        using var scope = PinnedBufferPool.Use(pool);
        using var f = new ModelFixture("tiny-base", cpu ? new CpuBackend(threads: 2) : null);
        using var model = BridgeTowerModel.Load(f.Directory, f.Backend);
        var (one, _) = f.OneImageAndRepeated(1);
        var image = model.EncodeImage(one, keepHiddenStates: true); // vision hidden states come from the encoding

        // One text per call (a re-ranking loop), then every text in one call (the image shared by the batch).
        foreach (var texts in new[] { Texts(f, 0), Texts(f, 2), f.Base() with { PixelMask = null } })
        {
            var uncached = model.Forward(texts with { PixelValues = one }).ToDictionary();
            var cached = model.Forward(texts with { PixelValues = null, Image = image }).ToDictionary();
            AssertSameOutputs(uncached, cached);
        }

        // Hidden states and attentions after plain calls: layer 0's self-attention probabilities still come out.
        var text = Texts(f, 0);
        foreach (var asked in new[] { text with { OutputHiddenStates = true }, text with { OutputAttentions = true } })
        {
            var uncached = model.Forward(asked with { PixelValues = one }).ToDictionary();
            var cached = model.Forward(asked with { PixelValues = null, Image = image }).ToDictionary();
            if (asked.OutputAttentions) Assert.Contains("attentions.0.image", cached.Keys);
            AssertSameOutputs(uncached, cached);
        }

        image.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Forward(text with { PixelValues = null, Image = image }));
    }

    [SharedFact]
    public void A_full_batch_encoding_reused_matches_the_reference()
    {
        using var f = new ModelFixture("tiny-base");
        using var itm = BridgeTowerForImageAndTextRetrieval.Load(f.Directory, f.Backend);
        using var image = itm.BridgeTower.EncodeImage(f.Input("pixel_values"));
        var inputs = f.Base() with { PixelValues = null, PixelMask = null, Image = image };
        var first = itm.Forward(inputs);
        var second = itm.Forward(inputs);
        Parity.AssertClose(f.Expected, [("itm.logits", first.Logits)]);
        Assert.Equal(first.Logits.ToFloatArray(), second.Logits.ToFloatArray());
    }

    /// <summary>Text <paramref name="row"/> of the fixture alone, with its mask.</summary>
    private static BridgeTowerInputs Texts(ModelFixture f, int row) => new()
    {
        InputIds = f.Input("input_ids").Narrow(0, row, 1).Contiguous(),
        AttentionMask = f.Input("attention_mask").Narrow(0, row, 1).Contiguous(),
    };

    private static void AssertSameOutputs(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in expected)
            Assert.True(t.ToFloatArray().SequenceEqual(actual[name].ToFloatArray()), $"{name}: cached differs from uncached");
    }
}
