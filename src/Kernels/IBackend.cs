using BridgeTower.Tensors;

namespace BridgeTower.Kernels;

/// <summary>Element-wise activations a backend can apply alone or fused into a Linear epilogue.</summary>
public enum Activation
{
    None,
    /// <summary>GELU, exact erf form: x·Φ(x).</summary>
    Gelu,
    /// <summary>x·sigmoid(1.702x) (CLIP).</summary>
    QuickGelu,
    Tanh,
}

/// <summary>
/// A Linear layer's weight (PyTorch layout (out, in)) and optional bias, prepared once for a
/// backend (converted to fp32, packed for its GEMM, uploaded to a device, ...).
/// </summary>
public abstract class LinearWeights : IDisposable
{
    public int InFeatures { get; }
    public int OutFeatures { get; }
    public bool HasBias { get; }

    protected LinearWeights(int inFeatures, int outFeatures, bool hasBias)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        HasBias = hasBias;
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>
/// The operations a model needs, with no knowledge of any model. Inputs are float32 tensors
/// (contiguous unless a method says otherwise); results are new float32 contiguous tensors.
/// Shape errors are <see cref="ArgumentException"/>s naming the argument and both shapes.
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }

    /// <summary>
    /// Prepares weight (out, in) and bias (out) of any float dtype for repeated <see cref="Linear"/> calls.
    /// The backend copies what it needs and keeps no reference to <paramref name="weight"/> or
    /// <paramref name="bias"/>: a loader may hand over a transient buffer and reuse it afterwards.
    /// </summary>
    LinearWeights PrepareLinear(Tensor weight, Tensor? bias);

    /// <summary>y = activation(x·Wᵀ + b) + residual. x: (..., in); residual, if given, has y's shape (..., out).</summary>
    Tensor Linear(Tensor x, LinearWeights weights, Activation activation = Activation.None, Tensor? residual = null);

    /// <summary>
    /// Multi-head scaled dot-product attention, softmax(q·kᵀ·scale + mask)·v per head.
    /// q: (B, Tq, H·D); k, v: (B, Tk, H·D), each rank 3 with unit stride in the last dimension
    /// (narrowed views of a packed QKV projection are accepted, and so is a batch stride of 0: one q, k or v
    /// read by every batch). additiveKeyMask: (B, Tk) added to every query's scores (0 to keep, float.MinValue
    /// to drop); a row whose keys are all dropped gets uniform weights, never NaN. Returns (B, Tq, H·D); probabilities (B, H, Tq, Tk) when asked.
    /// </summary>
    Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? additiveKeyMask,
        bool returnProbabilities, out Tensor? probabilities);

    /// <summary>
    /// LayerNorm over the last dimension of (x + residual) with affine gamma, beta. residual's shape equals x's or is
    /// a suffix of it, repeated over the leading dims as <see cref="AddScaled"/>'s b (one row set shared by a batch).
    /// </summary>
    Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor? residual = null);

    /// <summary>
    /// activation(LayerNorm(x + residual)·Wᵀ + b), a LayerNorm (gamma, beta) then a Linear (W, b), from a projection the
    /// caller computed another way (so a low-rank x can reach Wᵀ through its factors). With G = diag(gamma)·Wᵀ the caller
    /// passes projected + projectedShared = (x + residual)·G, columnSums = 1ᵀ·G and bias = beta·Wᵀ + b; row i of the
    /// result is activation(r_i·(projected_i + projectedShared_i − μ_i·columnSums) + bias), with μ_i and
    /// r_i = 1/sqrt(var_i + eps) LayerNorm's statistics of row i of x + residual.
    /// x: (..., n); residual: x's shape or a suffix of it; projected: x's leading dimensions by m; projectedShared:
    /// projected's shape or a suffix of it (one row set shared by a batch); columnSums, bias: (m).
    /// </summary>
    Tensor LayerNormProjected(Tensor x, Tensor? residual, float eps, Tensor projected, Tensor? projectedShared,
        Tensor columnSums, Tensor bias, Activation activation);

    /// <summary>
    /// LayerNorm(x·Wᵀ + b + residual) over the last dimension with affine gamma, beta (out): a post-LN block's output
    /// projection, residual and norm in one call, so a backend may normalise rows while they are still in cache.
    /// x: (..., in); residual, if given, has y's shape (..., out) or a suffix of it, repeated as in <see cref="LayerNorm"/>.
    /// </summary>
    Tensor LinearLayerNorm(Tensor x, LinearWeights weights, Tensor? residual, Tensor gamma, Tensor beta, float eps);

    Tensor Activate(Tensor x, Activation activation);

    /// <summary>Softmax over the last dimension (max-subtracted).</summary>
    Tensor Softmax(Tensor x);

    /// <summary>x / max(‖x‖₂, eps) over the last dimension (torch.nn.functional.normalize).</summary>
    Tensor L2Normalize(Tensor x, float eps = 1e-12f);

    /// <summary>alpha·a + beta·b; b's shape must equal a's or be a suffix of it (broadcast over leading dims).</summary>
    Tensor AddScaled(Tensor a, Tensor b, float alpha = 1f, float beta = 1f);

    /// <summary>Rows of table (V, D) gathered by ids (I64 or I32, any shape) into (..., D). Ids are range-checked.</summary>
    Tensor Embedding(Tensor table, Tensor ids);

    /// <summary>a·b or a·bᵀ for 2-D (M,K)·(K,N) or batched 3-D (Bt,M,K)·(Bt,K,N) operands; strided views accepted.</summary>
    Tensor MatMul(Tensor a, Tensor b, bool transposeB = false);
}
