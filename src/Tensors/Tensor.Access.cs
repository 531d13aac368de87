namespace BridgeTower.Tensors;

// Element access and small conveniences used by tests and loaders.
public sealed unsafe partial class Tensor
{
    /// <summary>The element at <paramref name="index"/> as an integer, exactly (I64 beyond 2^53 included).</summary>
    public long GetInt64(params int[] index)
    {
        byte* p = ElementPointer(index);
        return DType switch
        {
            DType.I64 => *(long*)p,
            DType.I32 => *(int*)p,
            DType.I16 => *(short*)p,
            DType.I8 => *(sbyte*)p,
            DType.U8 => *p,
            DType.BOOL => *p != 0 ? 1 : 0,
            _ => (long)ReadAsDouble(p, DType),
        };
    }

    /// <summary>The raw bits of a BF16 element (for exact comparisons in tests).</summary>
    public ushort GetBFloat16Bits(params int[] index)
    {
        if (DType != DType.BF16) throw new InvalidOperationException($"{this} is not BF16");
        return *(ushort*)ElementPointer(index);
    }

    /// <summary>Removes every dimension of size 1.</summary>
    public Tensor Squeeze()
    {
        var t = this;
        for (int d = Rank - 1; d >= 0; d--)
            if (_shape[d] == 1) t = t.Squeeze(d);
        return t;
    }

    /// <summary>All elements as one dimension (a view when contiguous, else a copy).</summary>
    public Tensor Flatten() => Reshape(checked((int)ElementCount));

    /// <summary>A BF16 tensor from raw bfloat16 bits (BF16 has no CLR element type).</summary>
    public static Tensor FromBFloat16Bits(ushort[] bits, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(bits);
        long count = ShapeMath.ElementCount(shape);
        if (count != bits.Length)
            throw new ArgumentException($"{bits.Length} values cannot fill shape {ShapeMath.Format(shape)} ({count} elements)");
        var t = Zeros(DType.BF16, shape);
        bits.AsSpan().CopyTo(t.Span<ushort>());
        return t;
    }

    /// <summary>A tensor of <paramref name="dtype"/> from raw little-endian bytes (copied).</summary>
    public static Tensor FromBytes(DType dtype, ReadOnlySpan<byte> bytes, params int[] shape)
    {
        long count = ShapeMath.ElementCount(shape);
        long needed = count > long.MaxValue / dtype.SizeOf()
            ? throw new ArgumentException($"a {dtype} tensor of shape {ShapeMath.Format(shape)} has more bytes than a 64-bit count holds")
            : count * dtype.SizeOf();
        if (bytes.Length != needed)
            throw new ArgumentException($"{bytes.Length} bytes cannot fill a {dtype} tensor of shape {ShapeMath.Format(shape)} ({needed} bytes)");
        var t = Zeros(dtype, shape);
        bytes.CopyTo(new Span<byte>(t.DataPointer, bytes.Length));
        return t;
    }
}
