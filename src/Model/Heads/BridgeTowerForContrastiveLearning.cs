using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Modules;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>
/// Image-text contrastive head (HF BridgeTowerForContrastiveLearning). Text embedding: <c>itc_text_head</c>
/// on the last uni-modal text layer's CLS; image embedding: <c>itc_image_head</c> on the CLS of
/// cross_modal_image_transform(ln_post(last vision block)) + token_type[1]; cross embedding:
/// <c>itc_cross_modal_head</c> on pooler_output; each L2-normalised. Because the text and image
/// embeddings depend on their own tower only, <see cref="EmbedText"/> and <see cref="EmbedImage(Tensor, bool)"/>
/// compute them alone (the reference cannot).
/// </summary>
public sealed class BridgeTowerForContrastiveLearning : IDisposable, IOwnsResources
{
    public BridgeTowerModel BridgeTower { get; }
    public Linear ItcTextHead { get; }
    public Linear ItcImageHead { get; }
    public Linear ItcCrossModalHead { get; }
    public float LogitScale { get; }
    private IDisposable? _owned;
    private IBackend Backend => BridgeTower.Backend;

    private BridgeTowerForContrastiveLearning(BridgeTowerConfig config, WeightBinder w, string prefix)
    {
        Heads.IgnoreAll(w, Heads.Itc);
        BridgeTower = new BridgeTowerModel(config, w, prefix);
        int h = config.HiddenSize, e = config.ContrastiveHiddenSize;
        ItcTextHead = w.Linear("itc_text_head.fc", h, e);
        ItcImageHead = w.Linear("itc_image_head.fc", h, e);
        ItcCrossModalHead = w.Linear("itc_cross_modal_head.fc", 2 * h, e);
        LogitScale = w.Scalar("logit_scale");
    }

    public static BridgeTowerForContrastiveLearning Load(string directory, IBackend? backend = null, LoadOptions? options = null) =>
        Loader.Load(directory, backend, options, (c, w, p) => new BridgeTowerForContrastiveLearning(c, w, p));

    public static BridgeTowerForContrastiveLearning FromWeights(BridgeTowerConfig config, IWeightSource weights, IBackend backend, LoadOptions? options = null) =>
        Loader.Bind(config, weights, backend, options, (c, w, p) => new BridgeTowerForContrastiveLearning(c, w, p));

    /// <summary>The reference's forward: stacked (B, 3, E) embeddings, and with ReturnLoss the mean of the three contrastive losses.</summary>
    public BridgeTowerContrastiveOutput Forward(BridgeTowerInputs inputs)
    {
        HeadChecks.NoImageTokenType(inputs, nameof(BridgeTowerForContrastiveLearning));
        EnsureImageHeadRuns();
        var outputs = BridgeTower.Run(inputs, 1, out var lastTextState, out var image, BackboneUse.Pooled);
        var textEmbeds = TextEmbedsFrom(lastTextState);
        var oneImageEmbeds = ImageEmbedsFrom(image);
        BridgeTowerModel.ReleaseTowers(inputs, lastTextState, image);
        // One encoded image scored against B texts (the cached path) stands for B copies of that image.
        var imageEmbeds = TensorOps.RepeatBatch(oneImageEmbeds, textEmbeds.Dim(0));
        oneImageEmbeds.DisposeIfCopyOf(imageEmbeds);
        var crossHead = ItcCrossModalHead.Forward(outputs.PoolerOutput!);
        var crossEmbeds = Backend.L2Normalize(crossHead);
        crossHead.Dispose();
        HeadChecks.ReleaseBackboneOutputs(inputs, outputs);
        int b = textEmbeds.Dim(0), e = textEmbeds.Dim(1);
        var logits = TensorOps.Concat(1, textEmbeds.Reshape(b, 1, e), imageEmbeds.Reshape(b, 1, e), crossEmbeds.Reshape(b, 1, e));

        float scale = (float)Math.Exp(LogitScale);
        var textToImage = Similarity(textEmbeds, imageEmbeds, scale);
        var textToCross = Similarity(textEmbeds, crossEmbeds, scale);
        var imageToCross = Similarity(imageEmbeds, crossEmbeds, scale);
        Tensor? loss = null;
        if (inputs.ReturnLoss)
        {
            var labels = Enumerable.Range(0, b).Select(i => (long)i).ToArray();
            double sum = (double)TensorOps.CrossEntropy(textToImage, labels, "labels")
                + TensorOps.CrossEntropy(textToCross, labels, "labels")
                + TensorOps.CrossEntropy(imageToCross, labels, "labels");
            loss = TensorOps.ScalarTensor((float)(sum / 3.0));
        }
        return new BridgeTowerContrastiveOutput(logits, textEmbeds, imageEmbeds, crossEmbeds, textToImage, textToCross, imageToCross,
            loss, outputs.HiddenStates, outputs.Attentions);
    }

    /// <summary>Normalized (B, E) text embeddings from the text tower alone (equal to Forward's text_embeds).</summary>
    public Tensor EmbedText(Tensor inputIds, Tensor? attentionMask = null)
    {
        var mask = BridgeTowerModel.AdditiveTextMask(inputIds, attentionMask);
        var states = BridgeTower.EncodeTextStates(inputIds, mask, null, keepFrom: int.MaxValue);
        var embeds = TextEmbedsFrom(states[^1]);
        states[^1].Dispose();
        return embeds;
    }

    /// <summary>Normalized (B, E) image embeddings from the vision tower alone (equal to Forward's image_embeds).</summary>
    public Tensor EmbedImage(Tensor pixelValues, bool interpolatePosEncoding = false)
    {
        EnsureImageHeadRuns();
        using var image = BridgeTower.EncodeImage(pixelValues, interpolatePosEncoding);
        return ImageEmbedsFrom(image);
    }

    /// <summary>Normalized (B, E) image embeddings of an already encoded image batch.</summary>
    public Tensor EmbedImage(ImageEncoding image)
    {
        EnsureImageHeadRuns();
        return ImageEmbedsFrom(image);
    }

    private Tensor TextEmbedsFrom(Tensor lastTextState) => NormalizedHead(ItcTextHead, lastTextState);

    /// <summary>L2Normalize(head(x[:, 0])), its temporaries given back.</summary>
    private Tensor NormalizedHead(Linear head, Tensor x)
    {
        using var cls = TensorOps.Cls(x);
        using var projected = head.Forward(cls);
        return Backend.L2Normalize(projected);
    }

    private Tensor ImageEmbedsFrom(ImageEncoding image)
    {
        // The last bridge input is transform(ln_post(last block)) + token_type[idx]; the head always uses row 1.
        if (image.ImageTokenTypeIdx == 1) return NormalizedHead(ItcImageHead, image.BridgeInputs[^1]);
        Tensor bridged;
        using (var withLn = BridgeTower.VisionLnPost.Forward(image.LastBlockOutput))
        using (var projected = BridgeTower.CrossModalImageTransform.Forward(withLn))
            bridged = Backend.AddScaled(projected, BridgeTower.TokenTypeEmbeddings.Select(0, 1));
        using (bridged)
            return NormalizedHead(ItcImageHead, bridged);
    }

    private Tensor Similarity(Tensor a, Tensor b, float scale)
    {
        using var m = Backend.MatMul(a, b, transposeB: true);
        return Backend.AddScaled(m, m, scale, 0f);
    }

    /// <summary>
    /// The reference expands token_type_embeddings (hidden_size wide) onto the vision-sized ln_post output,
    /// so its contrastive image path only runs when the two sizes agree; it raises otherwise, and so do we.
    /// </summary>
    private void EnsureImageHeadRuns()
    {
        var c = BridgeTower.Config;
        if (c.Vision.HiddenSize != c.HiddenSize)
            throw new InvalidOperationException(
                $"vision_config.hidden_size ({c.Vision.HiddenSize}) differs from hidden_size ({c.HiddenSize}): the reference's contrastive image embedding adds the token type embedding to the vision-sized ln_post output and fails for such configs; text embeddings (EmbedText) still work");
    }

    void IOwnsResources.Own(IDisposable resource) => _owned = resource;

    public void Dispose()
    {
        BridgeTower.Dispose();
        ItcTextHead.Dispose();
        ItcImageHead.Dispose();
        ItcCrossModalHead.Dispose();
        _owned?.Dispose();
    }
}
