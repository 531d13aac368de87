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

    /// <param name="bridgeInput">(B, T, H), or (1, T, H) shared by the B rows of <paramref name="previousCross"/> (a cached image)</param>
    public Tensor Forward(Tensor bridgeInput, Tensor previousCross)
    {
        int batch = previousCross.Dim(0);
        // a + b is b + a bit for bit, so a shared bridge input can be the LayerNorm's broadcast residual: no repeated copy.
        if (Type == LinkTowerType.Add)
            return bridgeInput.Dim(0) == batch ? LayerNorm.Forward(bridgeInput, previousCross) : LayerNorm.Forward(previousCross, bridgeInput.Select(0, 0));
        var repeated = TensorOps.RepeatBatch(bridgeInput, batch);
        using var mixed = Type == LinkTowerType.ScaledAdd
            ? _backend.AddScaled(repeated, previousCross, Parameter, 1f)
            : _backend.AddScaled(repeated, previousCross, 1f - Parameter, Parameter);
        repeated.DisposeIfCopyOf(bridgeInput);
        return LayerNorm.Forward(mixed);
    }
}
