using System.Runtime.InteropServices;
using BridgeTower.Tensors;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// A Linear weight (out, in) packed once into GEMM B-panels (B = Wᵀ, k = in, n = out), plus an fp32
/// bias, in 64-byte-aligned native memory (never moved or scanned by the GC; freed by Dispose or the finalizer).
/// </summary>
internal sealed unsafe class PackedLinear : LinearWeights
{
    private float* _packed;
    private float* _bias;

    public float* Packed => _packed != null ? _packed : throw new ObjectDisposedException(nameof(LinearWeights), "these Linear weights were disposed");
    public float* Bias => _bias;
    /// <summary>The GEMM layout the weight was packed for.</summary>
    public GemmBlocking Blocking { get; }

    public PackedLinear(WorkerPool pool, GemmBlocking blocking, Tensor weight, Tensor? bias) : base(weight.Dim(1), weight.Dim(0), bias is not null)
    {
        Blocking = blocking;
        var w = weight.ToF32();
        long length = GemmPacking.PackedBLength(InFeatures, OutFeatures, blocking);
        _packed = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length) * sizeof(float), 64);
        GemmPacking.PackB(pool, (float*)w.DataPointer, 1, InFeatures, InFeatures, OutFeatures, blocking, _packed);
        GC.KeepAlive(w);
        if (bias is not null)
        {
            _bias = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, OutFeatures) * sizeof(float), 64);
            bias.ToF32().ReadOnlySpan<float>().CopyTo(new Span<float>(_bias, OutFeatures));
        }
    }

    ~PackedLinear() => Free();

    public override void Dispose()
    {
        Free();
        base.Dispose();
    }

    private void Free()
    {
        if (_packed != null) { NativeMemory.AlignedFree(_packed); _packed = null; }
        if (_bias != null) { NativeMemory.AlignedFree(_bias); _bias = null; }
    }
}
