using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BridgeTower.Tensors;

/// <summary>
/// An n-dimensional view over a <see cref="Storage"/>: dtype, shape, strides (in elements) and an
/// element offset. View operations (reshape, permute, narrow, squeeze, ...) share the storage;
/// <see cref="Contiguous"/> and <see cref="ToF32"/> copy only when they must.
/// </summary>
public sealed unsafe partial class Tensor
{
    private readonly int[] _shape;
    private readonly long[] _strides;

    public DType DType { get; }
    public Storage Storage { get; }
    /// <summary>Offset of element [0,0,...] from the start of the storage, in elements.</summary>
    public long Offset { get; }

    public Tensor(Storage storage, DType dtype, int[] shape, long[]? strides = null, long offset = 0)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(shape);
        long count = ShapeMath.ElementCount(shape);
        strides ??= ShapeMath.ContiguousStrides(shape);
        if (strides.Length != shape.Length)
            throw new ArgumentException($"strides {ShapeMath.Format(strides)} do not match shape {ShapeMath.Format(shape)}");
        if (offset < 0)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"a view of shape {ShapeMath.Format(shape)} cannot start at a negative offset");
        int size = dtype.SizeOf();
        if (count > 0)
        {
            // The furthest element this view can reach must lie inside the storage. Checked
            // arithmetic: a wrapped-around sum would let a view reach outside its memory.
            long needed;
            try
            {
                long last = offset;
                for (int i = 0; i < shape.Length; i++)
                {
                    if (strides[i] < 0)
                        throw new ArgumentException($"strides {ShapeMath.Format(strides)} for shape {ShapeMath.Format(shape)}: negative strides are not supported");
                    last = checked(last + (long)(shape[i] - 1) * strides[i]);
                }
                needed = checked((last + 1) * size);
            }
            catch (OverflowException)
            {
                throw new ArgumentException($"a {dtype} view of shape {ShapeMath.Format(shape)} with strides {ShapeMath.Format(strides)} and offset {offset} overflows 64-bit byte offsets");
            }
            if (needed > storage.ByteLength)
                throw new ArgumentException(
                    $"a {dtype} view of shape {ShapeMath.Format(shape)} (strides {ShapeMath.Format(strides)}, offset {offset}) needs {needed} bytes but the storage holds {storage.ByteLength}");
        }
        Storage = storage;
        DType = dtype;
        _shape = (int[])shape.Clone();
        _strides = (long[])strides.Clone();
        Offset = offset;
    }

    // ---- construction -------------------------------------------------------------------------

    public static Tensor Zeros(DType dtype, params int[] shape)
    {
        long count = ShapeMath.ElementCount(shape);
        return new Tensor(new ManagedStorage(checked(count * dtype.SizeOf())), dtype, shape);
    }

    public static Tensor Zeros(params int[] shape) => Zeros(DType.F32, shape);

    public static Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged
    {
        var dtype = DTypeOf<T>();
        long count = ShapeMath.ElementCount(shape);
        if (count != data.Length)
            throw new ArgumentException($"{data.Length} values cannot fill shape {ShapeMath.Format(shape)} ({count} elements)");
        var t = Zeros(dtype, shape);
        data.AsSpan().CopyTo(t.Span<T>());
        return t;
    }

    public static Tensor Scalar(float value) => FromArray(new[] { value });

    /// <summary>The DType matching a CLR element type (Half is F16; BF16 has no CLR type and is read as ushort).</summary>
    public static DType DTypeOf<T>() where T : unmanaged =>
        TryDTypeOf<T>(out var dtype) ? dtype : throw new NotSupportedException($"no tensor dtype for {typeof(T).Name}");

    public static bool TryDTypeOf<T>(out DType dtype) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) dtype = DType.F32;
        else if (typeof(T) == typeof(double)) dtype = DType.F64;
        else if (typeof(T) == typeof(Half)) dtype = DType.F16;
        else if (typeof(T) == typeof(long)) dtype = DType.I64;
        else if (typeof(T) == typeof(int)) dtype = DType.I32;
        else if (typeof(T) == typeof(short)) dtype = DType.I16;
        else if (typeof(T) == typeof(sbyte)) dtype = DType.I8;
        else if (typeof(T) == typeof(byte)) dtype = DType.U8;
        else if (typeof(T) == typeof(bool)) dtype = DType.BOOL;
        else { dtype = default; return false; }
        return true;
    }

    // ---- shape --------------------------------------------------------------------------------

    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<long> Strides => _strides;
    public int Rank => _shape.Length;
    public long ElementCount => ShapeMath.ElementCount(_shape);
    public long ByteCount => ElementCount * DType.SizeOf();

    /// <summary>Size of dimension <paramref name="dim"/>; negative counts from the end.</summary>
    public int Dim(int dim) => _shape[NormalizeDim(dim)];

    public int[] ShapeArray() => (int[])_shape.Clone();

    public string ShapeString => ShapeMath.Format(_shape);

    /// <summary>Row-major with no gaps (a view with no elements counts as contiguous).</summary>
    public bool IsContiguous
    {
        get
        {
            foreach (int d in _shape) if (d == 0) return true;
            long expected = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] == 1) continue;
                if (_strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    public override string ToString() => $"Tensor({DType}, {ShapeString}{(IsContiguous ? "" : ", strided")})";

    internal int NormalizeDim(int dim, int rank = -1)
    {
        if (rank < 0) rank = _shape.Length;
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank)
            throw new ArgumentOutOfRangeException(nameof(dim), dim, $"dimension out of range for a tensor of shape {ShapeString}");
        return d;
    }

    /// <summary>Throws unless the shape equals <paramref name="expected"/>; the message names both shapes.</summary>
    public Tensor EnsureShape(string what, params int[] expected)
    {
        if (!_shape.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{what}: expected shape {ShapeMath.Format(expected)}, got {ShapeString}");
        return this;
    }

    // ---- raw access ---------------------------------------------------------------------------

    /// <summary>Pointer to element [0,0,...]. Valid while the storage is alive.</summary>
    public byte* DataPointer => Storage.Pointer + Offset * DType.SizeOf();

    /// <summary>A span over a contiguous tensor's elements. Throws for strided views and dtype mismatches.</summary>
    public Span<T> Span<T>() where T : unmanaged
    {
        CheckSpanAccess<T>();
        if (Storage.IsReadOnly)
            throw new InvalidOperationException($"{this} views read-only (memory-mapped) storage; use ReadOnlySpan or Copy()");
        return MemoryMarshal.Cast<byte, T>(ElementBytes());
    }

    public ReadOnlySpan<T> ReadOnlySpan<T>() where T : unmanaged
    {
        CheckSpanAccess<T>();
        return MemoryMarshal.Cast<byte, T>(ElementBytes());
    }

    /// <summary>The bytes of a contiguous view, as a GC-tracked span where the storage is managed.</summary>
    private Span<byte> ElementBytes() => Storage.Bytes(Offset * DType.SizeOf(), checked((int)ByteCount));

    private void CheckSpanAccess<T>() where T : unmanaged
    {
        // BF16 has no CLR type: its raw bits are read as ushort (or any 2-byte type).
        bool matches = DType == DType.BF16
            ? Unsafe.SizeOf<T>() == 2
            : TryDTypeOf<T>(out var dt) && dt == DType;
        if (!matches)
            throw new InvalidOperationException($"cannot view a {DType} tensor of shape {ShapeString} as {typeof(T).Name}");
        if (!IsContiguous)
            throw new InvalidOperationException($"{this} is not contiguous; call Contiguous() first");
    }

    /// <summary>The element at <paramref name="index"/>, converted to double (any dtype).</summary>
    public double GetDouble(params int[] index)
    {
        return ReadAsDouble(ElementPointer(index), DType);
    }

    /// <summary>Address of the element at <paramref name="index"/> (bounds-checked).</summary>
    internal byte* ElementPointer(int[] index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.Length != Rank)
            throw new ArgumentException($"{index.Length} indices {ShapeMath.Format(index)} for a tensor of shape {ShapeString}");
        long e = Offset;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i])
                throw new IndexOutOfRangeException($"index {ShapeMath.Format(index)} out of range for dimension {i} of shape {ShapeString}");
            e += index[i] * _strides[i];
        }
        return Storage.Pointer + e * DType.SizeOf();
    }

    public float this[params int[] index] => (float)GetDouble(index);

    internal static double ReadAsDouble(byte* p, DType dtype) => dtype switch
    {
        DType.F32 => *(float*)p,
        DType.F64 => *(double*)p,
        DType.F16 => (double)*(Half*)p,
        DType.BF16 => BFloat16.ToSingle(*(ushort*)p),
        DType.I64 => *(long*)p,
        DType.I32 => *(int*)p,
        DType.I16 => *(short*)p,
        DType.I8 => *(sbyte*)p,
        DType.U8 => *p,
        DType.BOOL => *p != 0 ? 1 : 0,
        _ => throw new NotSupportedException(dtype.ToString()),
    };

    /// <summary>Elements in row-major order as float (copies; any dtype).</summary>
    public float[] ToFloatArray()
    {
        var f = ToF32();
        var values = f.ReadOnlySpan<float>().ToArray();
        f.DisposeIfCopyOf(this); // a conversion or contiguous copy made only for this read
        return values;
    }

    /// <summary>Elements in row-major order as long (copies; integer and bool dtypes).</summary>
    public long[] ToInt64Array()
    {
        var result = new long[ElementCount];
        int i = 0;
        foreach (long e in ElementOffsets())
        {
            byte* p = Storage.Pointer + e * DType.SizeOf();
            result[i++] = DType == DType.I64 ? *(long*)p : (long)ReadAsDouble(p, DType);
        }
        return result;
    }

    /// <summary>Element offsets (into the storage, in elements) in row-major order of this view.</summary>
    internal IEnumerable<long> ElementOffsets()
    {
        long count = ElementCount;
        if (count == 0) yield break;
        var idx = new int[Rank];
        long off = Offset;
        for (long n = 0; n < count; n++)
        {
            yield return off;
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (++idx[d] < _shape[d]) { off += _strides[d]; break; }
                off -= (long)(_shape[d] - 1) * _strides[d];
                idx[d] = 0;
            }
        }
    }
}
