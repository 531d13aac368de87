using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// <c>cross_modal_{text,image}_link_tower.K</c>, the bridge: LayerNorm(a + b), LayerNorm(a·scaled_factor + b)
/// or LayerNorm(a·(1-beta) + b·beta), where a is the uni-modal bridge input and b the previous cross-modal output.
/// </summary>
public sealed class LinkTower
{
    private readonly Kernels.IBackend _backend;
    public LinkTowerType Type { get; }
    /// <summary>scaled_factor (scaled_add) or beta (interpolate); unused for add.</summary>
    public float Parameter { get; }
    public LayerNorm LayerNorm { get; }

    internal LinkTower(WeightBinder w, string prefix, BridgeTowerConfig c)
    {
        _backend = w.Backend;
        Type = c.LinkTower;
        Parameter = Type switch
        {
            LinkTowerType.ScaledAdd => w.Scalar($"{prefix}.scaled_factor"),
            LinkTowerType.Interpolate => w.Scalar($"{prefix}.beta"),
            _ => 0f,
        };
        LayerNorm = w.LayerNorm($"{prefix}.LayerNorm", c.HiddenSize, c.LayerNormEps);
    }

    public Tensor Forward(Tensor bridgeInput, Tensor previousCross)
    {
        if (Type == LinkTowerType.Add) return LayerNorm.Forward(bridgeInput, previousCross);
        using var mixed = Type == LinkTowerType.ScaledAdd
            ? _backend.AddScaled(bridgeInput, previousCross, Parameter, 1f)
            : _backend.AddScaled(bridgeInput, previousCross, 1f - Parameter, Parameter);
        return LayerNorm.Forward(mixed);
    }
}
