using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BridgeTower.Tensors;

namespace BridgeTower.Kernels.Cpu;

/// <summary>A Linear weight (out, in) packed once into GEMM B-panels (B = Wᵀ, k = in, n = out), plus an fp32 bias.</summary>
internal sealed unsafe class PackedLinear : LinearWeights
{
    private readonly float[] _packed;
    private readonly float[]? _bias;

    public float* Packed => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_packed));
    public float* Bias => _bias is null ? null : (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_bias));

    public PackedLinear(WorkerPool pool, Tensor weight, Tensor? bias) : base(weight.Dim(1), weight.Dim(0), bias is not null)
    {
        var w = weight.ToF32();
        long length = GemmPacking.PackedBLength(InFeatures, OutFeatures);
        if (length > Array.MaxLength)
            throw new ArgumentException($"weight: shape {weight.ShapeString} is too large to pack ({length} floats)");
        _packed = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
        GemmPacking.PackB(pool, (float*)w.DataPointer, 1, InFeatures, InFeatures, OutFeatures, Packed);
        if (bias is not null)
        {
            _bias = GC.AllocateUninitializedArray<float>(OutFeatures, pinned: true);
            bias.ToF32().ReadOnlySpan<float>().CopyTo(_bias);
        }
        GC.KeepAlive(w);
    }
}
