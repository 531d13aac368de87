using BridgeTower.Model;

namespace BridgeTower.Tests.Model;

/// <summary>
/// Every call of every fixture variant (shared/fixtures/models/*/README.md) against the reference's
/// float64 outputs, intermediates included, on the reference backend.
/// </summary>
public class ParityTests
{
    public static readonly string[] Calls =
        ["model", "itm", "mlm", "itc", "model_imgemb", "itm_imgemb", "model_itt0", "model_nomask", "model_zerorow", "model_interp"];

    public static TheoryData<string, string> VariantCalls()
    {
        var data = new TheoryData<string, string>();
        foreach (string v in SharedData.ModelVariants())
            foreach (string c in Calls) data.Add(v, c);
        if (data.Count == 0) data.Add("tiny-base", "model");
        return data;
    }

    public static TheoryData<string> Variants() => ConfigTests.Variants();

    [SharedTheory]
    [MemberData(nameof(VariantCalls))]
    public void Call_matches_the_reference(string variant, string call)
    {
        using var f = new ModelFixture(variant);
        if (f.Errors.TryGetValue(call, out string? message))
        {
            var e = Assert.ThrowsAny<Exception>(() => Run(f, call));
            Assert.True(e is InvalidOperationException or ArgumentException, $"{call}: unclear error type {e.GetType().Name}: {e.Message}");
            Assert.Contains("hidden_size", e.Message);
            return;
        }
        if (!f.HasCall(call)) return; // the variant's README does not list this call
        var compared = Run(f, call);
        Assert.NotEmpty(compared);
    }

    /// <summary>
    /// The same calls on the SIMD backend the library runs on by default (2 threads, so the parallel
    /// paths run), held to the same contract: every backend is checked against the reference's outputs.
    /// </summary>
    [SharedTheory]
    [MemberData(nameof(VariantCalls))]
    public void Call_matches_the_reference_on_the_cpu_backend(string variant, string call)
    {
        using var f = new ModelFixture(variant, new BridgeTower.Kernels.Cpu.CpuBackend(threads: 2));
        if (f.Errors.ContainsKey(call) || !f.HasCall(call)) return; // error cases are backend-independent (above)
        Assert.NotEmpty(Run(f, call));
    }

    /// <summary>Every tensor of expected.safetensors is checked by one of the calls.</summary>
    [SharedTheory]
    [MemberData(nameof(Variants))]
    public void Every_expected_tensor_is_compared(string variant)
    {
        using var f = new ModelFixture(variant);
        var compared = new HashSet<string>();
        foreach (string call in Calls)
            if (!f.Errors.ContainsKey(call) && f.HasCall(call)) compared.UnionWith(Run(f, call));
        var missing = f.Expected.Names.Where(n => !compared.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"{variant}: expected tensors never compared: {string.Join(", ", missing)}");
    }

    internal static List<string> Run(ModelFixture f, string call) => call switch
    {
        "model" => ModelCall(f),
        "itm" => ItmCall(f, f.Base(), "itm"),
        "mlm" => MlmCall(f),
        "itc" => ItcCall(f),
        "model_imgemb" => Simple(f, "model_imgemb", f.Base() with { PixelValues = null, PixelMask = null, ImageEmbeds = f.Input("image_embeds") }),
        "itm_imgemb" => ItmCall(f, f.Base() with { PixelValues = null, PixelMask = null, ImageEmbeds = f.Input("image_embeds") }, "itm_imgemb"),
        "model_itt0" => Simple(f, "model_itt0", f.Base() with { PixelMask = null, ImageTokenTypeIdx = 0 }),
        "model_nomask" => Simple(f, "model_nomask", f.Base(withMask: false) with { PixelMask = null }),
        "model_zerorow" => Simple(f, "model_zerorow", f.Base() with { PixelMask = null, AttentionMask = f.Input("attention_mask_zero_row") }),
        "model_interp" => InterpCall(f),
        _ => throw new ArgumentException(call),
    };

    private static List<string> ModelCall(ModelFixture f)
    {
        var trace = new Dictionary<string, Tensor>();
        using var model = BridgeTowerModel.Load(f.Directory, f.Backend);
        var o = model.Forward(f.Base() with { OutputHiddenStates = true, OutputAttentions = true, Trace = trace });
        var h = o.HiddenStates!;
        var ordered = new List<(string, Tensor)> { ("debug.text.position_ids", trace["debug.text.position_ids"]) };
        for (int i = 0; i < h.Text.Count; i++) ordered.Add(($"hidden.text.{i}", h.Text[i]));
        ordered.Add(("debug.vision.embeddings", trace["debug.vision.embeddings"]));
        for (int i = 0; i < h.Image.Count; i++) ordered.Add(($"hidden.image.{i}", h.Image[i]));
        for (int k = 0; k < h.Cross.Count; k++) ordered.Add(($"debug.vision.ln_post.{k}", trace[$"debug.vision.ln_post.{k}"]));
        for (int k = 0; k < h.Cross.Count; k++)
        {
            ordered.Add(($"debug.cross.{k}.text_in", trace[$"debug.cross.{k}.text_in"]));
            ordered.Add(($"debug.cross.{k}.image_in", trace[$"debug.cross.{k}.image_in"]));
            ordered.Add(($"hidden.cross.{k}.text", h.Cross[k].Text));
            ordered.Add(($"hidden.cross.{k}.image", h.Cross[k].Image));
            ordered.Add(($"attn.cross.{k}.text", o.Attentions![k].Text));
            ordered.Add(($"attn.cross.{k}.image", o.Attentions![k].Image));
        }
        ordered.Add(("debug.pooler.text", trace["debug.pooler.text"]));
        ordered.Add(("debug.pooler.image", trace["debug.pooler.image"]));
        ordered.Add(("model.text_features", o.TextFeatures));
        ordered.Add(("model.image_features", o.ImageFeatures));
        ordered.Add(("model.pooler_output", o.PoolerOutput));
        return Parity.AssertClose(f.Expected, ordered);
    }

    private static List<string> Simple(ModelFixture f, string call, BridgeTowerInputs inputs)
    {
        using var model = BridgeTowerModel.Load(f.Directory, f.Backend);
        var o = model.Forward(inputs);
        return Parity.AssertClose(f.Expected,
            [($"{call}.text_features", o.TextFeatures), ($"{call}.image_features", o.ImageFeatures), ($"{call}.pooler_output", o.PoolerOutput)],
            requireAll: false);
    }

    private static List<string> InterpCall(ModelFixture f)
    {
        var trace = new Dictionary<string, Tensor>();
        using var model = BridgeTowerModel.Load(f.Directory, f.Backend);
        var o = model.Forward(f.Base() with
        {
            PixelValues = f.Input("pixel_values_interp"), PixelMask = null, InterpolatePosEncoding = true, OutputHiddenStates = true, Trace = trace,
        });
        return Parity.AssertClose(f.Expected,
        [
            ("model_interp.debug.position_embedding", trace["debug.position_embedding"]),
            ("model_interp.debug.vision.embeddings", trace["debug.vision.embeddings"]),
            ("model_interp.hidden.image.0", o.HiddenStates!.Image[0]),
            ("model_interp.text_features", o.TextFeatures),
            ("model_interp.image_features", o.ImageFeatures),
            ("model_interp.pooler_output", o.PoolerOutput),
        ]);
    }

    private static List<string> ItmCall(ModelFixture f, BridgeTowerInputs inputs, string call)
    {
        using var itm = BridgeTowerForImageAndTextRetrieval.Load(f.Directory, f.Backend);
        var o = itm.Forward(inputs with { Labels = f.Input("itm_labels") });
        return Parity.AssertClose(f.Expected, [($"{call}.logits", o.Logits), ($"{call}.loss", o.Loss!)]);
    }

    private static List<string> MlmCall(ModelFixture f)
    {
        var trace = new Dictionary<string, Tensor>();
        using var mlm = BridgeTowerForMaskedLM.Load(f.Directory, f.Backend);
        var o = mlm.Forward(f.Base() with { Labels = f.Input("mlm_labels"), Trace = trace });
        var logits = o.Logits;
        int v = logits.Dim(-1);
        var labels = f.Input("mlm_labels").ToInt64Array();
        var flat = logits.Reshape(-1, v).ToFloatArray();
        int rows = labels.Length;
        var lse = new float[rows];
        var argmax = new long[rows];
        var atLabels = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            var row = flat.AsSpan(r * v, v);
            double max = double.NegativeInfinity;
            for (int j = 0; j < v; j++) if (row[j] > max) { max = row[j]; argmax[r] = j; }
            double s = 0;
            foreach (float x in row) s += Math.Exp(x - max);
            lse[r] = (float)(max + Math.Log(s));
            if (labels[r] != -100) atLabels.Add(row[(int)labels[r]]);
        }
        var shape = logits.ShapeArray()[..^1];
        // Without a trace the last image layer and the poolers do not run (nothing reads them): the same numbers.
        var untraced = mlm.Forward(f.Base() with { Labels = f.Input("mlm_labels") });
        Assert.Equal(logits.ToFloatArray(), untraced.Logits.ToFloatArray());
        Assert.Equal(o.Loss!.ToFloatArray(), untraced.Loss!.ToFloatArray());
        return Parity.AssertClose(f.Expected,
        [
            ("mlm.transform", trace["debug.mlm.transform"]),
            ("mlm.logits", logits),
            ("mlm.logits_first512", logits.Narrow(-1, 0, 512)),
            ("mlm.logits_last512", logits.Narrow(-1, v - 512, 512)),
            ("mlm.logits_logsumexp", Tensor.FromArray(lse, shape)),
            ("mlm.logits_argmax", Tensor.FromArray(argmax, shape)),
            ("mlm.logits_at_labels", Tensor.FromArray(atLabels.ToArray(), atLabels.Count)),
            ("mlm.loss", o.Loss!),
        ], requireAll: false);
    }

    private static List<string> ItcCall(ModelFixture f)
    {
        using var itc = BridgeTowerForContrastiveLearning.Load(f.Directory, f.Backend);
        var o = itc.Forward(f.Base() with { ReturnLoss = true });
        return Parity.AssertClose(f.Expected,
        [
            ("itc.text_embeds", o.TextEmbeds),
            ("itc.image_embeds", o.ImageEmbeds),
            ("itc.cross_embeds", o.CrossEmbeds),
            ("itc.logits", o.Logits),
            ("itc.derived.logits_text_to_image", o.LogitsTextToImage),
            ("itc.derived.logits_text_to_cross", o.LogitsTextToCross),
            ("itc.derived.logits_image_to_cross", o.LogitsImageToCross),
            ("itc.loss", o.Loss!),
        ]);
    }
}
