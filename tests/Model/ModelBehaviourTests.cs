using BridgeTower.Model;

namespace BridgeTower.Tests.Model;

/// <summary>What goes beyond the reference (embeddings alone, cached image tower) and input validation.</summary>
public class ModelBehaviourTests
{
    [SharedFact]
    public void Text_and_image_embeddings_alone_equal_the_contrastive_forward()
    {
        using var f = new ModelFixture("tiny-base");
        using var itc = BridgeTowerForContrastiveLearning.Load(f.Directory, f.Backend);
        var text = itc.EmbedText(f.Input("input_ids"), f.Input("attention_mask"));
        var image = itc.EmbedImage(f.Input("pixel_values"));
        Parity.AssertClose(f.Expected, [("itc.text_embeds", text), ("itc.image_embeds", image)]);
        var forward = itc.Forward(f.Base());
        Assert.Equal(forward.TextEmbeds.ToFloatArray(), text.ToFloatArray());
        Assert.Equal(forward.ImageEmbeds.ToFloatArray(), image.ToFloatArray());
        // An encoding made with another token type still yields the head's (type 1) embedding.
        var encoded = itc.BridgeTower.EncodeImage(f.Input("pixel_values"), imageTokenTypeIdx: 0);
        Assert.Equal(image.ToFloatArray(), itc.EmbedImage(encoded).ToFloatArray());
    }

    [SharedFact]
    public void Contrastive_forward_with_one_image_for_many_texts_equals_the_repeated_image()
    {
        using var f = new ModelFixture("tiny-base");
        using var itc = BridgeTowerForContrastiveLearning.Load(f.Directory, f.Backend);
        int b = f.Input("pixel_values").Dim(0);
        var (one, repeated) = f.OneImageAndRepeated(1);

        var single = itc.Forward(f.Base() with { PixelValues = one, PixelMask = null, ReturnLoss = true });
        var full = itc.Forward(f.Base() with { PixelValues = repeated, PixelMask = null, ReturnLoss = true });
        Assert.Equal([b, 3, single.TextEmbeds.Dim(1)], single.Logits.ShapeArray());
        Assert.True(Parity.MaxAbsDiff(single.Logits, full.Logits) <= 1e-6);
        Assert.True(Parity.MaxAbsDiff(single.Loss!, full.Loss!) <= 1e-6);
    }

    [SharedTheory]
    [InlineData("tiny-scaled-add")]
    [InlineData("tiny-dims")]
    public void Contrastive_image_path_raises_like_the_reference_but_text_embeddings_work(string variant)
    {
        using var f = new ModelFixture(variant);
        using var itc = BridgeTowerForContrastiveLearning.Load(f.Directory, f.Backend);
        var e = Assert.Throws<InvalidOperationException>(() => itc.EmbedImage(f.Input("pixel_values")));
        Assert.Contains("vision_config.hidden_size", e.Message);
        var text = itc.EmbedText(f.Input("input_ids"), f.Input("attention_mask"));
        Assert.Equal(f.Input("input_ids").Dim(0), text.Dim(0));
    }

    [SharedFact]
    public void Cached_image_scores_many_texts_as_the_uncached_path()
    {
        using var f = new ModelFixture("tiny-base");
        using var itm = BridgeTowerForImageAndTextRetrieval.Load(f.Directory, f.Backend);
        var pixels = f.Input("pixel_values");
        var (one, repeated) = f.OneImageAndRepeated(1);

        var uncached = itm.Forward(f.Base() with { PixelValues = repeated, PixelMask = null });
        var image = itm.BridgeTower.EncodeImage(one);
        var cached = itm.Forward(f.Base() with { PixelValues = null, PixelMask = null, Image = image });
        Assert.True(Parity.MaxAbsDiff(cached.Logits, uncached.Logits) <= 1e-6);

        // A full batch cache reproduces the reference's itm call.
        var full = itm.BridgeTower.EncodeImage(pixels);
        var again = itm.Forward(f.Base() with { PixelValues = null, PixelMask = null, Image = full });
        Parity.AssertClose(f.Expected, [("itm.logits", again.Logits)]);
    }

    [SharedFact]
    public void Bad_inputs_give_errors_naming_the_argument()
    {
        using var f = new ModelFixture("tiny-base");
        using var model = BridgeTowerModel.Load(f.Directory, f.Backend);
        var wrongSize = Tensor.Zeros(3, 3, 40, 32);
        Assert.Contains("pixel_values", Assert.Throws<ArgumentException>(() => model.Forward(f.Base() with { PixelValues = wrongSize })).Message);
        var badMask = Tensor.FromArray(Enumerable.Repeat(2L, 18).ToArray(), 3, 6);
        Assert.Contains("attention_mask", Assert.Throws<ArgumentException>(() => model.Forward(f.Base() with { AttentionMask = badMask })).Message);
        var twoImages = f.Input("pixel_values").Narrow(0, 0, 2).Contiguous();
        Assert.Contains("batch", Assert.Throws<ArgumentException>(() => model.Forward(f.Base() with { PixelValues = twoImages })).Message);
        var outOfVocab = Tensor.FromArray(new long[] { 0, 50265 }, 1, 2);
        Assert.ThrowsAny<ArgumentException>(() => model.Forward(new BridgeTowerInputs { InputIds = outOfVocab, PixelValues = f.Input("pixel_values").Narrow(0, 0, 1).Contiguous() }));
        Assert.Contains("no image", Assert.Throws<ArgumentException>(() => model.Forward(new BridgeTowerInputs { InputIds = f.Input("input_ids") })).Message);
        Assert.Contains("image_embeds", Assert.Throws<ArgumentException>(() =>
            model.Forward(f.Base() with { PixelValues = null, ImageEmbeds = Tensor.Zeros(3, 17, 8) })).Message);

        using var flags = new ModelFixture("tiny-flags"); // max_position_embeddings 24
        using var small = BridgeTowerModel.Load(flags.Directory, flags.Backend);
        var tooLong = Tensor.FromArray(Enumerable.Repeat(5L, 30).ToArray(), 1, 30);
        var e = Assert.Throws<ArgumentException>(() => small.Forward(new BridgeTowerInputs { InputIds = tooLong, PixelValues = flags.Input("pixel_values").Narrow(0, 0, 1).Contiguous() }));
        Assert.Contains("max_position_embeddings", e.Message);
    }

    [SharedFact]
    public void Output_dictionary_uses_the_reference_names()
    {
        using var f = new ModelFixture("tiny-base");
        using var model = BridgeTowerModel.Load(f.Directory, f.Backend);
        var d = model.Forward(f.Base() with { OutputHiddenStates = true }).ToDictionary();
        Assert.Contains("text_features", d.Keys);
        Assert.Contains("pooler_output", d.Keys);
        Assert.Contains("hidden_states.image.4", d.Keys);
        Assert.Contains("hidden_states.cross.2.text", d.Keys);
    }
}
