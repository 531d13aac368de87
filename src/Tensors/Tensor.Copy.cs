namespace BridgeTower.Tensors;

// Operations that produce new storage: contiguous copies and dtype conversion.
public sealed unsafe partial class Tensor
{
    /// <summary>This tensor if already contiguous, otherwise a contiguous copy.</summary>
    public Tensor Contiguous() => IsContiguous ? this : Copy();

    /// <summary>A contiguous, writable copy in a pooled buffer (dispose it to give the buffer back).</summary>
    public Tensor Copy()
    {
        var result = Rent(DType, _shape);
        if (IsContiguous)
        {
            ElementBytes().CopyTo(result.ElementBytes());
            return result;
        }
        int size = DType.SizeOf();
        byte* dst = result.DataPointer;
        if (Rank > 0 && _strides[^1] == 1)
        {
            CopyRows(dst, size);
            return result;
        }
        foreach (long e in ElementOffsets())
        {
            Buffer.MemoryCopy(Storage.Pointer + e * size, dst, size, size);
            dst += size;
        }
        return result;
    }

    /// <summary>
    /// A permuted or narrowed view whose last dimension is still unit-stride (head splits, transposed batch
    /// dims) copies whole rows at once instead of element by element.
    /// </summary>
    private void CopyRows(byte* dst, int size)
    {
        long rowBytes = (long)_shape[^1] * size;
        int outer = Rank - 1;
        var index = new int[outer];
        byte* src = Storage.Pointer + Offset * size;
        long rows = ElementCount / Math.Max(1, _shape[^1]);
        for (long r = 0; r < rows; r++)
        {
            long e = 0;
            for (int d = 0; d < outer; d++) e += index[d] * _strides[d];
            Buffer.MemoryCopy(src + e * size, dst, rowBytes, rowBytes);
            dst += rowBytes;
            for (int d = outer - 1; d >= 0 && ++index[d] == _shape[d]; d--) index[d] = 0;
        }
    }

    /// <summary>A contiguous float32 tensor: this one when it already is, else a converted copy.</summary>
    public Tensor ToF32()
    {
        if (DType == DType.F32) return Contiguous();
        var result = Rent(DType.F32, _shape);
        var dst = result.Span<float>();
        int i = 0;
        int size = DType.SizeOf();
        if (IsContiguous)
        {
            // Whole checkpoints go through here at load time: a flat loop, no per-element iterator.
            ConvertContiguousToF32(DataPointer, DType, dst);
            GC.KeepAlive(this); // the raw pointer does not keep a managed storage alive
            return result;
        }
        switch (DType)
        {
            case DType.F16:
                foreach (long e in ElementOffsets()) dst[i++] = (float)*(Half*)(Storage.Pointer + e * size);
                break;
            case DType.BF16:
                foreach (long e in ElementOffsets()) dst[i++] = BFloat16.ToSingle(*(ushort*)(Storage.Pointer + e * size));
                break;
            default:
                foreach (long e in ElementOffsets()) dst[i++] = (float)ReadAsDouble(Storage.Pointer + e * size, DType);
                break;
        }
        return result;
    }

    private static void ConvertContiguousToF32(byte* src, DType dtype, Span<float> dst)
    {
        int n = dst.Length;
        switch (dtype)
        {
            case DType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(src, n), dst);
                break;
            case DType.BF16:
                var bits = new ReadOnlySpan<ushort>(src, n);
                for (int i = 0; i < n; i++) dst[i] = BFloat16.ToSingle(bits[i]);
                break;
            case DType.F64:
                var doubles = new ReadOnlySpan<double>(src, n);
                for (int i = 0; i < n; i++) dst[i] = (float)doubles[i];
                break;
            default:
                int size = dtype.SizeOf();
                for (int i = 0; i < n; i++) dst[i] = (float)ReadAsDouble(src + (long)i * size, dtype);
                break;
        }
    }

    /// <summary>A contiguous copy converted to <paramref name="dtype"/> (floats round to nearest; ints truncate).</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return Contiguous();
        if (dtype == DType.F32) return ToF32();
        var result = Rent(dtype, _shape);
        byte* dst = result.DataPointer;
        int srcSize = DType.SizeOf(), dstSize = dtype.SizeOf();
        foreach (long e in ElementOffsets())
        {
            double v = ReadAsDouble(Storage.Pointer + e * srcSize, DType);
            switch (dtype)
            {
                case DType.F64: *(double*)dst = v; break;
                case DType.F16: *(Half*)dst = (Half)(float)v; break;
                case DType.BF16: *(ushort*)dst = BFloat16.FromSingle((float)v); break;
                case DType.I64: *(long*)dst = DType == DType.I64 ? *(long*)(Storage.Pointer + e * 8) : (long)v; break;
                case DType.I32: *(int*)dst = (int)v; break;
                case DType.I16: *(short*)dst = (short)v; break;
                case DType.I8: *(sbyte*)dst = (sbyte)v; break;
                case DType.U8: *dst = (byte)v; break;
                case DType.BOOL: *dst = v != 0 ? (byte)1 : (byte)0; break;
            }
            dst += dstSize;
        }
        return result;
    }
}
