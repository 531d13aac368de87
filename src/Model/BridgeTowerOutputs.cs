using BridgeTower.Tensors;

namespace BridgeTower.Model;

/// <summary>Hidden states as the reference returns them: text list, image list (sequence-first (L, B, Hv)), cross-modal (text, image) pairs.</summary>
public sealed record BridgeTowerHiddenStates(
    IReadOnlyList<Tensor> Text,
    IReadOnlyList<Tensor> Image,
    IReadOnlyList<(Tensor Text, Tensor Image)> Cross);

/// <summary>BridgeTowerModel's output (HF BridgeTowerModelOutput).</summary>
public sealed record BridgeTowerModelOutput(
    Tensor TextFeatures,
    Tensor ImageFeatures,
    Tensor PoolerOutput,
    BridgeTowerHiddenStates? HiddenStates,
    IReadOnlyList<(Tensor Text, Tensor Image)>? Attentions)
{
    /// <summary>Outputs under the reference's names (text_features, image_features, pooler_output).</summary>
    public Dictionary<string, Tensor> ToDictionary()
    {
        var d = new Dictionary<string, Tensor>
        {
            ["text_features"] = TextFeatures,
            ["image_features"] = ImageFeatures,
            ["pooler_output"] = PoolerOutput,
        };
        OutputNames.AddHiddenStates(d, HiddenStates, Attentions);
        return d;
    }
}

/// <summary>ITM and MLM output (HF SequenceClassifierOutput / MaskedLMOutput).</summary>
public sealed record BridgeTowerHeadOutput(
    Tensor Logits,
    Tensor? Loss,
    BridgeTowerHiddenStates? HiddenStates,
    IReadOnlyList<(Tensor Text, Tensor Image)>? Attentions)
{
    public Dictionary<string, Tensor> ToDictionary()
    {
        var d = new Dictionary<string, Tensor> { ["logits"] = Logits };
        if (Loss is not null) d["loss"] = Loss;
        OutputNames.AddHiddenStates(d, HiddenStates, Attentions);
        return d;
    }
}

/// <summary>Contrastive output (HF BridgeTowerContrastiveOutput) plus the three scaled similarity matrices.</summary>
public sealed record BridgeTowerContrastiveOutput(
    Tensor Logits,
    Tensor TextEmbeds,
    Tensor ImageEmbeds,
    Tensor CrossEmbeds,
    Tensor LogitsTextToImage,
    Tensor LogitsTextToCross,
    Tensor LogitsImageToCross,
    Tensor? Loss,
    BridgeTowerHiddenStates? HiddenStates,
    IReadOnlyList<(Tensor Text, Tensor Image)>? Attentions)
{
    public Dictionary<string, Tensor> ToDictionary()
    {
        var d = new Dictionary<string, Tensor>
        {
            ["logits"] = Logits,
            ["text_embeds"] = TextEmbeds,
            ["image_embeds"] = ImageEmbeds,
            ["cross_embeds"] = CrossEmbeds,
        };
        if (Loss is not null) d["loss"] = Loss;
        OutputNames.AddHiddenStates(d, HiddenStates, Attentions);
        return d;
    }
}

internal static class OutputNames
{
    /// <summary>Flattened names: hidden_states.text.k, hidden_states.image.k, hidden_states.cross.k.{text,image}, attentions.k.{text,image}.</summary>
    public static void AddHiddenStates(Dictionary<string, Tensor> d, BridgeTowerHiddenStates? h, IReadOnlyList<(Tensor Text, Tensor Image)>? a)
    {
        if (h is not null)
        {
            for (int i = 0; i < h.Text.Count; i++) d[$"hidden_states.text.{i}"] = h.Text[i];
            for (int i = 0; i < h.Image.Count; i++) d[$"hidden_states.image.{i}"] = h.Image[i];
            for (int i = 0; i < h.Cross.Count; i++)
            {
                d[$"hidden_states.cross.{i}.text"] = h.Cross[i].Text;
                d[$"hidden_states.cross.{i}.image"] = h.Cross[i].Image;
            }
        }
        if (a is not null)
            for (int i = 0; i < a.Count; i++)
            {
                d[$"attentions.{i}.text"] = a[i].Text;
                d[$"attentions.{i}.image"] = a[i].Image;
            }
    }
}
