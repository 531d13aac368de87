using BridgeTower.Model.Config;

namespace BridgeTower.Model.Weights;

/// <summary>Which task head's tensors a checkpoint carries besides the backbone.</summary>
public enum BridgeTowerHead
{
    /// <summary>A bare BridgeTowerModel checkpoint: backbone at the root, no head.</summary>
    None,
    Itm,
    Mlm,
    Contrastive,
}

/// <summary>How a synthetic parameter is initialised (see <see cref="RandomWeights"/>).</summary>
public enum ParameterInit
{
    /// <summary>Small random values (standard deviation 0.02).</summary>
    Small,
    /// <summary>All ones (LayerNorm gamma).</summary>
    Ones,
    /// <summary>A scalar set to <see cref="ParameterSpec.Value"/>.</summary>
    Constant,
}

/// <summary>One checkpoint tensor the model binds: its Hugging Face key, shape and synthetic initialisation.</summary>
public sealed record ParameterSpec(string Key, int[] Shape, ParameterInit Init, float Value = 0)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// The tensors a model of a given config binds, under their checkpoint keys (the keys a checkpoint may
/// hold on top of them, such as unused vision blocks or another head, are not listed). Used to build
/// random-weight models of the real sizes without a download and to count parameters.
/// </summary>
public static class BridgeTowerParameters
{
    public static IReadOnlyList<ParameterSpec> For(BridgeTowerConfig config, BridgeTowerHead head)
    {
        config.ValidateForInference();
        var list = new List<ParameterSpec>();
        string p = head == BridgeTowerHead.None ? "" : Loader.BackbonePrefix;
        var text = config.Text;
        var vision = config.Vision;
        int h = config.HiddenSize, th = text.HiddenSize, vh = vision.HiddenSize;

        void Small(string key, params int[] shape) => list.Add(new ParameterSpec(key, shape, ParameterInit.Small));
        void Linear(string prefix, int inFeatures, int outFeatures)
        {
            Small($"{prefix}.weight", outFeatures, inFeatures);
            Small($"{prefix}.bias", outFeatures);
        }
        void LayerNorm(string prefix, int size)
        {
            list.Add(new ParameterSpec($"{prefix}.weight", [size], ParameterInit.Ones));
            Small($"{prefix}.bias", size);
        }
        void BertAttention(string prefix, int size)
        {
            foreach (var name in new[] { "query", "key", "value" }) Linear($"{prefix}.self.{name}", size, size);
            Linear($"{prefix}.output.dense", size, size);
            LayerNorm($"{prefix}.output.LayerNorm", size);
        }
        void BertFeedForward(string prefix)
        {
            Linear($"{prefix}.intermediate.dense", th, text.IntermediateSize);
            Linear($"{prefix}.output.dense", text.IntermediateSize, th);
            LayerNorm($"{prefix}.output.LayerNorm", th);
        }

        Linear($"{p}cross_modal_text_transform", th, h);
        Linear($"{p}cross_modal_image_transform", vh, h);
        Small($"{p}token_type_embeddings.weight", 2, h);

        string visual = $"{p}vision_model.visual";
        Small($"{visual}.embeddings.class_embedding", vh);
        Small($"{visual}.embeddings.patch_embedding.weight", vh, vision.NumChannels, vision.PatchSize, vision.PatchSize);
        Small($"{visual}.embeddings.position_embedding.weight", vision.NumPositions, vh);
        LayerNorm($"{visual}.ln_pre", vh);
        for (int i = 0; i < text.NumHiddenLayers; i++) // the text depth drives both towers
        {
            string b = $"{visual}.transformer.resblocks.{i}";
            LayerNorm($"{b}.ln_1", vh);
            Small($"{b}.attn.in_proj_weight", 3 * vh, vh);
            Small($"{b}.attn.in_proj_bias", 3 * vh);
            Linear($"{b}.attn.out_proj", vh, vh);
            LayerNorm($"{b}.ln_2", vh);
            Linear($"{b}.mlp.c_fc", vh, 4 * vh);
            Linear($"{b}.mlp.c_proj", 4 * vh, vh);
        }
        LayerNorm($"{visual}.ln_post", vh);

        string emb = $"{p}text_model.embeddings";
        Small($"{emb}.word_embeddings.weight", text.VocabSize, th);
        Small($"{emb}.position_embeddings.weight", text.MaxPositionEmbeddings, th);
        Small($"{emb}.token_type_embeddings.weight", text.TypeVocabSize, th);
        LayerNorm($"{emb}.LayerNorm", th);
        for (int i = 0; i < text.NumHiddenLayers; i++)
        {
            BertAttention($"{p}text_model.encoder.layer.{i}.attention", th);
            BertFeedForward($"{p}text_model.encoder.layer.{i}");
        }

        foreach (var stream in new[] { "image", "text" })
        {
            for (int k = 0; k < config.NumHiddenLayers; k++)
            {
                string layer = $"{p}cross_modal_{stream}_layers.{k}";
                BertAttention($"{layer}.attention", th);
                BertAttention($"{layer}.crossattention", th);
                BertFeedForward(layer);
            }
            Linear($"{p}cross_modal_{stream}_pooler.dense", h, h);
            LayerNorm($"{p}cross_modal_{stream}_layernorm", h);
            for (int k = 0; k < config.NumHiddenLayers - 1; k++)
            {
                string link = $"{p}cross_modal_{stream}_link_tower.{k}";
                LayerNorm($"{link}.LayerNorm", h);
                // The reference initialises scaled_factor to 1 and beta to 0.5.
                if (config.LinkTower == LinkTowerType.ScaledAdd) list.Add(new ParameterSpec($"{link}.scaled_factor", [], ParameterInit.Constant, 1f));
                if (config.LinkTower == LinkTowerType.Interpolate) list.Add(new ParameterSpec($"{link}.beta", [], ParameterInit.Constant, 0.5f));
            }
        }

        switch (head)
        {
            case BridgeTowerHead.Itm:
                Linear("itm_score.fc", 2 * h, 2);
                break;
            case BridgeTowerHead.Mlm:
                Linear("mlm_score.transform.dense", h, h);
                LayerNorm("mlm_score.transform.LayerNorm", h);
                Small("mlm_score.decoder.weight", text.VocabSize, h);
                Small("mlm_score.bias", text.VocabSize);
                break;
            case BridgeTowerHead.Contrastive:
                Linear("itc_text_head.fc", h, config.ContrastiveHiddenSize);
                Linear("itc_image_head.fc", h, config.ContrastiveHiddenSize);
                Linear("itc_cross_modal_head.fc", 2 * h, config.ContrastiveHiddenSize);
                list.Add(new ParameterSpec("logit_scale", [], ParameterInit.Constant, (float)config.LogitScaleInitValue));
                break;
        }
        return list;
    }

    /// <summary>Number of parameters the model binds (what fp32 weights cost: 4 bytes each).</summary>
    public static long Count(BridgeTowerConfig config, BridgeTowerHead head) => For(config, head).Sum(s => s.ElementCount);
}
