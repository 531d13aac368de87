using BridgeTower.Kernels;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>nn.Linear bound to checkpoint key <see cref="Key"/> (weight prepared once by the backend).</summary>
public sealed class Linear(IBackend backend, string key, LinearWeights weights) : IDisposable
{
    public string Key { get; } = key;
    public LinearWeights Weights { get; } = weights;

    public Tensor Forward(Tensor x, Activation activation = Activation.None, Tensor? residual = null) =>
        backend.Linear(x, Weights, activation, residual);

    /// <summary><paramref name="norm"/>(x·Wᵀ + b + residual) in one backend call (a post-LN block's output projection).</summary>
    public Tensor ForwardLayerNorm(Tensor x, Tensor? residual, LayerNorm norm) =>
        backend.LinearLayerNorm(x, Weights, residual, norm.Weight, norm.Bias, norm.Eps);

    public void Dispose() => Weights.Dispose();
}

/// <summary>nn.LayerNorm over the last dimension.</summary>
public sealed class LayerNorm(IBackend backend, Tensor weight, Tensor bias, float eps)
{
    public Tensor Weight { get; } = weight;
    public Tensor Bias { get; } = bias;
    public float Eps { get; } = eps;

    /// <summary>LayerNorm(x + residual).</summary>
    public Tensor Forward(Tensor x, Tensor? residual = null) => backend.LayerNorm(x, Weight, Bias, Eps, residual);
}
