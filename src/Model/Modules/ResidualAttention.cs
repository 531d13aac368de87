using BridgeTower.Kernels;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// <c>vision_model.visual.transformer.resblocks.N</c> (CLIP, pre-LN): x + attn(ln_1(x)) with the packed
/// <c>attn.in_proj_weight</c> rows [q; k; v] and hidden/64 heads, then x + c_proj(QuickGELU(c_fc(ln_2(x)))).
/// Runs batch-first; every patch is attended (the reference passes no mask).
/// </summary>
public sealed class ResidualAttention : IDisposable
{
    private readonly IBackend _backend;
    private readonly int _hidden, _heads;
    private readonly float _scale;
    public LayerNorm Ln1 { get; }
    public Linear InProj { get; }
    public Linear OutProj { get; }
    public LayerNorm Ln2 { get; }
    public Linear CFc { get; }
    public Linear CProj { get; }

    internal ResidualAttention(WeightBinder w, string prefix, BridgeTowerVisionConfig c)
    {
        _backend = w.Backend;
        _hidden = c.HiddenSize;
        _heads = c.NumAttentionHeads;
        _scale = (float)(1.0 / Math.Sqrt(_hidden / _heads));
        Ln1 = w.LayerNorm($"{prefix}.ln_1", _hidden, c.LayerNormEps);
        InProj = w.Linear($"{prefix}.attn.in_proj", $"{prefix}.attn.in_proj_weight", $"{prefix}.attn.in_proj_bias", _hidden, 3 * _hidden);
        OutProj = w.Linear($"{prefix}.attn.out_proj", _hidden, _hidden);
        Ln2 = w.LayerNorm($"{prefix}.ln_2", _hidden, c.LayerNormEps);
        CFc = w.Linear($"{prefix}.mlp.c_fc", _hidden, 4 * _hidden);
        CProj = w.Linear($"{prefix}.mlp.c_proj", 4 * _hidden, _hidden);
    }

    public Tensor Forward(Tensor x)
    {
        var ln1 = Ln1.Forward(x);
        var qkv = InProj.Forward(ln1);
        ln1.Dispose();
        var context = _backend.Attention(qkv.Narrow(2, 0, _hidden), qkv.Narrow(2, _hidden, _hidden), qkv.Narrow(2, 2 * _hidden, _hidden),
            _heads, _scale, null, false, out _);
        qkv.Dispose();
        var attended = OutProj.Forward(context, residual: x);
        context.Dispose();
        var ln2 = Ln2.Forward(attended);
        var hidden = CFc.Forward(ln2, Activation.QuickGelu);
        ln2.Dispose();
        var y = CProj.Forward(hidden, residual: attended);
        hidden.Dispose();
        attended.Dispose();
        return y;
    }

    public void Dispose()
    {
        InProj.Dispose(); OutProj.Dispose(); CFc.Dispose(); CProj.Dispose();
    }
}
