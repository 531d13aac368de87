using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Modules;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Model;

/// <summary>
/// BridgeTower (HF <c>BridgeTowerModel</c>): a RoBERTa text tower and a CLIP ViT vision tower whose
/// top layers feed, through bridges (link towers), a stack of cross-modal layers; output is the final
/// text and image streams and their pooled CLS features. All math runs on the given backend.
/// </summary>
public sealed class BridgeTowerModel : IDisposable, IOwnsResources
{
    // ---- configuration -------------------------------------------------------------------------
    public BridgeTowerConfig Config { get; }
    public IBackend Backend { get; }
    private readonly int _split, _textLayers, _crossLayers;

    // ---- modules, in checkpoint order -----------------------------------------------------------
    public Linear CrossModalTextTransform { get; }
    public Linear CrossModalImageTransform { get; }
    /// <summary>(2, H): row 0 for text, row image_token_type_idx (1) for images.</summary>
    public Tensor TokenTypeEmbeddings { get; }
    public VisionEmbeddings VisionEmbeddings { get; }
    public LayerNorm VisionLnPre { get; }
    /// <summary>The residual blocks that run (the text depth); later ones are never used.</summary>
    public IReadOnlyList<ResidualAttention> VisionResblocks { get; }
    public LayerNorm VisionLnPost { get; }
    public TextEmbeddings TextEmbeddings { get; }
    public IReadOnlyList<TextLayer> TextLayers { get; }
    public IReadOnlyList<CrossLayer> CrossModalImageLayers { get; }
    public IReadOnlyList<CrossLayer> CrossModalTextLayers { get; }
    public Pooler CrossModalImagePooler { get; }
    public Pooler CrossModalTextPooler { get; }
    public LayerNorm CrossModalTextLayernorm { get; }
    public LayerNorm CrossModalImageLayernorm { get; }
    public IReadOnlyList<LinkTower> CrossModalTextLinkTower { get; }
    public IReadOnlyList<LinkTower> CrossModalImageLinkTower { get; }

    private IDisposable? _owned;

    internal BridgeTowerModel(BridgeTowerConfig config, WeightBinder w, string p)
    {
        config.ValidateForInference();
        Config = config;
        Backend = w.Backend;
        var text = config.Text;
        var vision = config.Vision;
        int h = config.HiddenSize;
        _textLayers = text.NumHiddenLayers;
        _crossLayers = config.NumHiddenLayers;
        _split = config.SplitIndex;

        CrossModalTextTransform = w.Linear($"{p}cross_modal_text_transform", text.HiddenSize, h);
        CrossModalImageTransform = w.Linear($"{p}cross_modal_image_transform", vision.HiddenSize, h);
        TokenTypeEmbeddings = w.F32($"{p}token_type_embeddings.weight", 2, h);

        string visual = $"{p}vision_model.visual";
        VisionEmbeddings = new VisionEmbeddings(w, $"{visual}.embeddings", vision);
        VisionLnPre = w.LayerNorm($"{visual}.ln_pre", vision.HiddenSize, vision.LayerNormEps);
        VisionResblocks = Enumerable.Range(0, _textLayers)
            .Select(i => new ResidualAttention(w, $"{visual}.transformer.resblocks.{i}", vision)).ToList();
        VisionLnPost = w.LayerNorm($"{visual}.ln_post", vision.HiddenSize, vision.LayerNormEps);
        // Blocks past the text depth never run; ln_separate is built but never used by the reference.
        for (int i = _textLayers; i < vision.NumResblocks; i++) w.IgnorePrefix($"{visual}.transformer.resblocks.{i}.");
        if (!vision.ShareLayernorm) w.IgnorePrefix($"{visual}.ln_separate.");

        TextEmbeddings = new TextEmbeddings(w, $"{p}text_model.embeddings", text);
        TextLayers = Enumerable.Range(0, _textLayers).Select(i => new TextLayer(w, $"{p}text_model.encoder.layer.{i}", text)).ToList();
        w.IgnorePrefix($"{p}text_model.pooler."); // BridgeTowerTextModel's pooler is never called

        // Texts are short and images long: the image stream's cross-attention has few keys, the text stream's few
        // queries, and so does the last image layer's self-attention when only its CLS row is wanted.
        CrossModalImageLayers = Enumerable.Range(0, _crossLayers)
            .Select(i => new CrossLayer(w, $"{p}cross_modal_image_layers.{i}", text,
                selfRoutes: i == _crossLayers - 1 ? AbsorbedRoutes.FewQueries : AbsorbedRoutes.None, crossRoutes: AbsorbedRoutes.FewKeys,
                sharedInputRoute: i == 0)).ToList();
        CrossModalTextLayers = Enumerable.Range(0, _crossLayers)
            .Select(i => new CrossLayer(w, $"{p}cross_modal_text_layers.{i}", text, crossRoutes: AbsorbedRoutes.FewQueries)).ToList();
        CrossModalImagePooler = new Pooler(w.Linear($"{p}cross_modal_image_pooler.dense", h, h));
        CrossModalTextPooler = new Pooler(w.Linear($"{p}cross_modal_text_pooler.dense", h, h));
        CrossModalTextLayernorm = w.LayerNorm($"{p}cross_modal_text_layernorm", h, config.LayerNormEps);
        CrossModalImageLayernorm = w.LayerNorm($"{p}cross_modal_image_layernorm", h, config.LayerNormEps);
        CrossModalTextLinkTower = Enumerable.Range(0, _crossLayers - 1).Select(i => new LinkTower(w, $"{p}cross_modal_text_link_tower.{i}", config)).ToList();
        CrossModalImageLinkTower = Enumerable.Range(0, _crossLayers - 1).Select(i => new LinkTower(w, $"{p}cross_modal_image_link_tower.{i}", config)).ToList();
    }

    // ---- loading --------------------------------------------------------------------------------

    /// <summary>Loads config.json and the safetensors weights (single or sharded) of a checkpoint directory; without a backend, on a CpuBackend the model owns.</summary>
    public static BridgeTowerModel Load(string directory, IBackend? backend = null, LoadOptions? options = null) =>
        Loader.Load(directory, backend, options, (config, w, prefix) =>
        {
            Heads.IgnoreAll(w);
            return new BridgeTowerModel(config, w, prefix);
        });

    /// <summary>Binds weights from any source (tensors built in memory, converted checkpoints).</summary>
    public static BridgeTowerModel FromWeights(BridgeTowerConfig config, IWeightSource weights, IBackend backend, LoadOptions? options = null) =>
        Loader.Bind(config, weights, backend, options, (c, w, prefix) =>
        {
            Heads.IgnoreAll(w);
            return new BridgeTowerModel(c, w, prefix);
        });

    void IOwnsResources.Own(IDisposable resource) => _owned = resource;

    // ---- forward --------------------------------------------------------------------------------

    /// <summary>The reference's BridgeTowerModel.forward.</summary>
    public BridgeTowerModelOutput Forward(BridgeTowerInputs inputs)
    {
        var o = Run(inputs, inputs.ImageTokenTypeIdx is int idx && idx != 0 ? idx : 1);
        return new BridgeTowerModelOutput(o.TextFeatures, o.ImageFeatures!, o.PoolerOutput!, o.HiddenStates, o.Attentions);
    }

    internal BackboneOutputs Run(BridgeTowerInputs inputs, int imageTokenTypeIdx, BackboneUse use = BackboneUse.Everything)
    {
        var outputs = Run(inputs, imageTokenTypeIdx, out var lastTextState, out var image, use);
        ReleaseTowers(inputs, lastTextState, image);
        return outputs;
    }

    /// <summary>
    /// Gives back what <see cref="Run(BridgeTowerInputs, int, out Tensor, out ImageEncoding, bool)"/> handed out
    /// only for the caller's use: the last text state and an image encoding made in this call (a cached one is
    /// the caller's), except what the hidden states hold.
    /// </summary>
    internal static void ReleaseTowers(BridgeTowerInputs inputs, Tensor lastTextState, ImageEncoding image)
    {
        if (!inputs.OutputHiddenStates) lastTextState.Dispose();
        if (inputs.Image is null) image.Release(keepHiddenStates: inputs.OutputHiddenStates);
    }

    /// <param name="lastTextState">the text tower's last state (the caller disposes it, unless hidden states hold it)</param>
    /// <param name="image">the vision tower's encoding (computed here, then the caller releases it, or the cached one)</param>
    /// <param name="use">
    /// what the caller reads; unless hidden states, attentions or a trace are asked for, the last image layer then
    /// computes only the CLS row (<see cref="BackboneUse.Pooled"/>: image_features holds just that row, and so does
    /// text_features, whose last layer computes its CLS row alone too) or nothing
    /// at all (<see cref="BackboneUse.TextFeatures"/>: no image_features, no pooler_output)
    /// </param>
    internal BackboneOutputs Run(BridgeTowerInputs inputs, int imageTokenTypeIdx, out Tensor lastTextState, out ImageEncoding image,
        BackboneUse use = BackboneUse.Everything)
    {
        var trace = inputs.Trace;
        // Intermediates are given back to the arena as soon as they are dead, except what the caller gets:
        // outputs, hidden states (which hold the layer outputs) and trace entries.
        bool keepStates = inputs.OutputHiddenStates;
        bool keepInputs = trace is not null;
        var textMask = AdditiveTextMask(inputs.InputIds, inputs.AttentionMask);
        var textStates = EncodeTextStates(inputs.InputIds, textMask, trace, keepStates ? 0 : _split);
        image = inputs.Image ?? EncodeImage(inputs, imageTokenTypeIdx);
        if (inputs.Image is not null && (inputs.PixelValues is not null || inputs.ImageEmbeds is not null))
            throw new ArgumentException("Image: give a cached image encoding or pixel_values/image_embeds, not both");
        if (image.ImageTokenTypeIdx != imageTokenTypeIdx)
            throw new ArgumentException($"Image: the cached encoding used image_token_type_idx {image.ImageTokenTypeIdx}, this call asks for {imageTokenTypeIdx}");
        int batch = inputs.InputIds.Dim(0);
        if (image.BatchSize != batch && image.BatchSize != 1)
            throw new ArgumentException($"pixel_values/image_embeds: image batch {image.BatchSize} does not match the text batch {batch} (nor is it 1)");

        // Layer 0 takes the towers' outputs after split_index layers through the cross-modal LayerNorms.
        var textBridge = TextBridgeInput(textStates[_split]);
        var crossText = CrossModalTextLayernorm.Forward(textBridge);
        textBridge.Dispose();
        bool wantAttn = inputs.OutputAttentions;
        // Layer 0's image input and the image self-attention do not depend on the text, nor on the call: the encoding
        // keeps them from the first call that computes them (at the encoding's batch; one image serves B texts through
        // the attention layers' broadcasts), so scoring texts one call at a time against a cached image pays them once.
        // Attention probabilities and traces are reported per pair, and a single cross layer is the last one, which
        // may want its CLS row alone: those calls compute layer 0 here, repeating one image only for the per-pair reports.
        var imageLayer0 = !wantAttn && trace is null && _crossLayers > 1 ? image.GetOrAddCrossModalImageLayer0(RunCrossModalImageLayer0) : null;
        Tensor crossImage;
        if (imageLayer0 is not null) crossImage = imageLayer0.Input;
        else
        {
            bool shareImage = !wantAttn && trace is null;
            var imageBridge = shareImage ? image.BridgeInputs[0] : TensorOps.RepeatBatch(image.BridgeInputs[0], batch);
            crossImage = CrossModalImageLayernorm.Forward(imageBridge);
            imageBridge.DisposeIfCopyOf(image.BridgeInputs[0]);
        }
        // The text stream's last layer reads the image stream's input to it, so only the pooler reads the last image output.
        bool reduced = !wantAttn && !inputs.OutputHiddenStates && trace is null;
        var cross = new List<(Tensor Text, Tensor? Image)>();
        var attentions = new List<(Tensor Text, Tensor Image)>();
        for (int k = 0; k < _crossLayers; k++)
        {
            if (k > 0)
            {
                var (prevText, prevImage) = cross[^1];
                textBridge = TextBridgeInput(textStates[_split + k]);
                crossText = CrossModalTextLinkTower[k - 1].Forward(textBridge, prevText);
                textBridge.Dispose();
                // A batch-1 image's bridge input is shared by the B rows of prevImage (the link tower broadcasts it).
                crossImage = CrossModalImageLinkTower[k - 1].Forward(image.BridgeInputs[k], prevImage!);
                if (!keepStates)
                {
                    prevText.Dispose();
                    prevImage!.Dispose();
                }
            }
            if (trace is not null)
            {
                trace[$"debug.cross.{k}.text_in"] = crossText;
                trace[$"debug.cross.{k}.image_in"] = crossImage;
            }
            // Each stream cross-attends to the other stream's *input* to this layer, so when only pooler_output is
            // read, the last text layer's output matters only in its CLS row, as the last image layer's does.
            bool last = k == _crossLayers - 1;
            Tensor? textProbs = null;
            var textOut = last && reduced && use == BackboneUse.Pooled
                ? CrossModalTextLayers[k].ForwardCls(crossText, crossImage, textMask, null)
                : CrossModalTextLayers[k].Forward(crossText, crossImage, textMask, null, wantAttn, out textProbs);
            Tensor? imageProbs = null;
            var imageOut = (last && reduced ? use : BackboneUse.Everything) switch
            {
                BackboneUse.TextFeatures => null,
                BackboneUse.Pooled => CrossModalImageLayers[k].ForwardCls(crossImage, crossText, null, textMask),
                _ when k == 0 && imageLayer0 is not null => CrossModalImageLayers[0].ForwardFromAttention(imageLayer0.Attention, crossText, textMask),
                _ => CrossModalImageLayers[k].Forward(crossImage, crossText, null, textMask, wantAttn, out imageProbs),
            };
            cross.Add((textOut, imageOut));
            if (!keepInputs)
            {
                crossText.Dispose();
                if (!ReferenceEquals(crossImage, imageLayer0?.Input)) crossImage.Dispose(); // the encoding's
            }
            if (wantAttn) attentions.Add((textProbs!, imageProbs!));
        }

        var (textFeatures, imageFeatures) = cross[^1];
        var images = image;
        Tensor? pooler = null;
        if (imageFeatures is not null)
        {
            var pooledText = CrossModalTextPooler.Forward(textFeatures);
            var pooledImage = CrossModalImagePooler.Forward(imageFeatures);
            if (trace is not null)
            {
                trace["debug.pooler.text"] = pooledText;
                trace["debug.pooler.image"] = pooledImage;
            }
            pooler = TensorOps.Concat(-1, pooledText, pooledImage);
            if (!keepInputs)
            {
                pooledText.Dispose();
                pooledImage.Dispose();
            }
        }
        lastTextState = textStates[^1];
        if (!keepStates)
            for (int i = _split; i < textStates.Count - 1; i++) textStates[i].Dispose();

        BridgeTowerHiddenStates? hidden = null;
        if (inputs.OutputHiddenStates)
            hidden = new BridgeTowerHiddenStates(textStates,
                (images.HiddenStates ?? []).Select(s => s.Permute(1, 0, 2)).ToList(), // the reference's (L, B, Hv)
                cross.Select(c => (c.Text, c.Image!)).ToList()); // every image output exists when hidden states are asked for
        return new BackboneOutputs(textFeatures, imageFeatures, pooler, hidden, wantAttn ? attentions : null);
    }

    private Tensor TextBridgeInput(Tensor textState)
    {
        using var projected = CrossModalTextTransform.Forward(textState);
        return Backend.AddScaled(projected, TokenTypeEmbeddings.Select(0, 0));
    }

    /// <summary>cross_modal_image_layers.0's text-independent part for an encoding's images (kept by the encoding).</summary>
    private CrossModalImageLayer0 RunCrossModalImageLayer0(ImageEncoding image)
    {
        var input = CrossModalImageLayernorm.Forward(image.BridgeInputs[0]);
        var attention = CrossModalImageLayers[0].Attention.Forward(input, null, null, false, out _);
        return new CrossModalImageLayer0(input, attention);
    }

    private ImageEncoding EncodeImage(BridgeTowerInputs inputs, int imageTokenTypeIdx)
    {
        if (inputs.PixelValues is not null && inputs.ImageEmbeds is not null)
            throw new ArgumentException("give pixel_values or image_embeds, not both");
        if (inputs.PixelValues is not null)
            return EncodeImage(inputs.PixelValues, inputs.InterpolatePosEncoding, imageTokenTypeIdx, inputs.OutputHiddenStates, inputs.Trace);
        if (inputs.ImageEmbeds is not null)
            return EncodeImageEmbeds(inputs.ImageEmbeds, imageTokenTypeIdx, inputs.OutputHiddenStates, inputs.Trace);
        throw new ArgumentException("no image: give pixel_values, image_embeds or a cached Image encoding");
    }

    // ---- towers ----------------------------------------------------------------------------------

    /// <summary>
    /// Runs the vision tower once for a batch of images (B, C, H, W) and keeps what every cross-modal
    /// layer needs, so many texts can be scored against the same images without re-running it.
    /// </summary>
    public ImageEncoding EncodeImage(Tensor pixelValues, bool interpolatePosEncoding = false, int imageTokenTypeIdx = 1,
        bool keepHiddenStates = false, IDictionary<string, Tensor>? trace = null)
    {
        var embeddings = VisionEmbeddings.Forward(pixelValues, interpolatePosEncoding, trace);
        var pre = VisionLnPre.Forward(embeddings);
        if (trace is null) embeddings.Dispose();
        return EncodeFromPre(pre, ownsState: true, imageTokenTypeIdx, keepHiddenStates, trace);
    }

    /// <summary>As <see cref="EncodeImage"/> from precomputed (B, L, Hv) embeddings (the reference's image_embeds).</summary>
    public ImageEncoding EncodeImageEmbeds(Tensor imageEmbeds, int imageTokenTypeIdx = 1, bool keepHiddenStates = false,
        IDictionary<string, Tensor>? trace = null)
    {
        if (imageEmbeds.Rank != 3 || imageEmbeds.Dim(2) != Config.Vision.HiddenSize || imageEmbeds.Dim(1) < 1)
            throw new ArgumentException($"image_embeds: expected batch-first (B, L, {Config.Vision.HiddenSize}), got {imageEmbeds.ShapeString}");
        var pre = imageEmbeds.ToF32();
        return EncodeFromPre(pre, ownsState: !ReferenceEquals(pre, imageEmbeds), imageTokenTypeIdx, keepHiddenStates, trace);
    }

    /// <param name="ownsState">false when <paramref name="state"/> is the caller's tensor: it is then never disposed</param>
    private ImageEncoding EncodeFromPre(Tensor state, bool ownsState, int imageTokenTypeIdx, bool keepHiddenStates, IDictionary<string, Tensor>? trace)
    {
        if (imageTokenTypeIdx is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(imageTokenTypeIdx), $"image_token_type_idx {imageTokenTypeIdx}: token_type_embeddings has 2 rows (0 means 1)");
        if (imageTokenTypeIdx == 0) imageTokenTypeIdx = 1;
        var typeRow = TokenTypeEmbeddings.Select(0, imageTokenTypeIdx);
        var borrowed = ownsState ? null : state;
        var hidden = keepHiddenStates ? new List<Tensor> { state } : null;
        var bridges = new List<Tensor>(_crossLayers);
        for (int j = 0; ; j++)
        {
            if (j >= _split)
            {
                var withLn = VisionLnPost.Forward(state);
                if (trace is not null) trace[$"debug.vision.ln_post.{j - _split}"] = withLn;
                var projected = CrossModalImageTransform.Forward(withLn);
                if (trace is null) withLn.Dispose();
                bridges.Add(Backend.AddScaled(projected, typeRow));
                projected.Dispose();
            }
            if (j == _textLayers) break;
            var next = VisionResblocks[j].Forward(state);
            if (hidden is null && ownsState) state.Dispose();
            state = next;
            ownsState = true;
            hidden?.Add(state);
        }
        return new ImageEncoding(bridges, state, imageTokenTypeIdx, hidden, borrowed);
    }

    /// <summary>Text tower states: [embeddings, after layer 0, ..., after layer L-1].</summary>
    /// <param name="keepFrom">states before this index are disposed once the next one is computed (still listed, unusable)</param>
    internal List<Tensor> EncodeTextStates(Tensor inputIds, Tensor? additiveMask, IDictionary<string, Tensor>? trace, int keepFrom = 0)
    {
        if (inputIds.Rank != 2 || inputIds.DType is not (DType.I64 or DType.I32))
            throw new ArgumentException($"input_ids: expected (batch, length) I64 or I32, got {inputIds.DType} {inputIds.ShapeString}");
        if (inputIds.Dim(1) < 1 || inputIds.Dim(0) < 1) throw new ArgumentException($"input_ids: empty shape {inputIds.ShapeString}");
        var states = new List<Tensor>(_textLayers + 1) { TextEmbeddings.Forward(inputIds, trace) };
        foreach (var layer in TextLayers)
        {
            states.Add(layer.Forward(states[^1], additiveMask));
            if (states.Count - 2 < keepFrom) states[^2].Dispose();
        }
        return states;
    }

    /// <summary>(1 - mask) · float.MinValue per key, or null when every token is attended.</summary>
    internal static Tensor? AdditiveTextMask(Tensor inputIds, Tensor? attentionMask)
    {
        if (attentionMask is null) return null;
        if (!attentionMask.Shape.SequenceEqual(inputIds.Shape))
            throw new ArgumentException($"attention_mask: shape {attentionMask.ShapeString} differs from input_ids {inputIds.ShapeString}");
        var m = attentionMask.DType.IsFloatingPoint() ? attentionMask.ToFloatArray().Select(v => (double)v).ToArray()
            : attentionMask.ToInt64Array().Select(v => (double)v).ToArray();
        var add = new float[m.Length];
        for (int i = 0; i < m.Length; i++)
        {
            if (m[i] != 0 && m[i] != 1)
                throw new ArgumentException($"attention_mask: value {m[i]} at flat position {i}; expected 0 (padding) or 1 (token)");
            add[i] = m[i] == 1 ? 0f : float.MinValue;
        }
        return Tensor.FromArray(add, attentionMask.ShapeArray());
    }

    public void Dispose()
    {
        CrossModalTextTransform.Dispose();
        CrossModalImageTransform.Dispose();
        VisionEmbeddings.Dispose();
        foreach (var b in VisionResblocks) b.Dispose();
        foreach (var l in TextLayers) l.Dispose();
        foreach (var l in CrossModalImageLayers) l.Dispose();
        foreach (var l in CrossModalTextLayers) l.Dispose();
        CrossModalImagePooler.Dispose();
        CrossModalTextPooler.Dispose();
        _owned?.Dispose();
    }
}

/// <summary>What a head reads of the backbone: the last cross-modal layers skip what nobody reads.</summary>
internal enum BackboneUse
{
    /// <summary>Every output (BridgeTowerModel.forward).</summary>
    Everything,
    /// <summary>pooler_output only (ITM, contrastive): the last image and text layers compute their CLS rows alone.</summary>
    Pooled,
    /// <summary>text_features only (MLM): the last image layer and the poolers do not run.</summary>
    TextFeatures,
}

/// <summary>The backbone's outputs for a head; image_features and pooler_output are null where <see cref="BackboneUse"/> skipped them.</summary>
internal sealed record BackboneOutputs(
    Tensor TextFeatures,
    Tensor? ImageFeatures,
    Tensor? PoolerOutput,
    BridgeTowerHiddenStates? HiddenStates,
    IReadOnlyList<(Tensor Text, Tensor Image)>? Attentions);
