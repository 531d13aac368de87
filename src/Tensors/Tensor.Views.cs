namespace BridgeTower.Tensors;

// View operations: each returns a tensor over the same storage, never a copy.
public sealed partial class Tensor
{
    /// <summary>Same elements under a new shape; one dimension may be -1. Copies first if strided.</summary>
    public Tensor Reshape(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var resolved = (int[])shape.Clone();
        long known = 1;
        int infer = -1;
        for (int i = 0; i < resolved.Length; i++)
        {
            if (resolved[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"cannot reshape {ShapeString} into {ShapeMath.Format(shape)}: only one dimension can be -1");
                infer = i;
            }
            else if (resolved[i] < 0) throw new ArgumentException($"cannot reshape {ShapeString} into {ShapeMath.Format(shape)}: negative dimension");
            else if (resolved[i] != 0 && known > long.MaxValue / resolved[i])
                throw new ArgumentException($"cannot reshape {ShapeString} into {ShapeMath.Format(shape)}: too many elements");
            else known *= resolved[i];
        }
        long count = ElementCount;
        if (infer >= 0)
        {
            if (known == 0 || count % known != 0)
                throw new ArgumentException($"cannot reshape {ShapeString} into {ShapeMath.Format(shape)}");
            resolved[infer] = checked((int)(count / known));
        }
        if (ShapeMath.ElementCount(resolved) != count)
            throw new ArgumentException($"cannot reshape {ShapeString} ({count} elements) into {ShapeMath.Format(shape)}");
        var source = IsContiguous ? this : Contiguous();
        return new Tensor(source.Storage, DType, resolved, null, source.Offset);
    }

    /// <summary>Reorders dimensions: result dim i is source dim <paramref name="dims"/>[i].</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"permute {ShapeMath.Format(dims)} needs {Rank} dimensions for shape {ShapeString}");
        var seen = new bool[Rank];
        var shape = new int[Rank];
        var strides = new long[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int d = NormalizeDim(dims[i]);
            if (seen[d]) throw new ArgumentException($"permute {ShapeMath.Format(dims)} of shape {ShapeString} repeats dimension {d}");
            seen[d] = true;
            shape[i] = _shape[d];
            strides[i] = _strides[d];
        }
        return new Tensor(Storage, DType, shape, strides, Offset);
    }

    public Tensor Transpose(int dim0, int dim1)
    {
        var dims = Enumerable.Range(0, Rank).ToArray();
        int a = NormalizeDim(dim0), b = NormalizeDim(dim1);
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(dims);
    }

    /// <summary>Elements <paramref name="start"/> .. start+length-1 along <paramref name="dim"/>.</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = NormalizeDim(dim);
        if (start < 0 || length < 0 || start > _shape[d] - length)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"narrow({dim}, {start}, {length}) is outside dimension {d} of shape {ShapeString}");
        var shape = ShapeArray();
        shape[d] = length;
        return new Tensor(Storage, DType, shape, _strides, Offset + start * _strides[d]);
    }

    /// <summary>Python-style slice [start:end) along a dimension.</summary>
    public Tensor Slice(int dim, int start, int end) => Narrow(dim, start, end - start);

    /// <summary>Index <paramref name="index"/> along <paramref name="dim"/>, removing that dimension.</summary>
    public Tensor Select(int dim, int index) => Narrow(dim, index, 1).Squeeze(dim);

    public Tensor Squeeze(int dim)
    {
        int d = NormalizeDim(dim);
        if (_shape[d] != 1)
            throw new ArgumentException($"cannot squeeze dimension {d} of shape {ShapeString}: its size is {_shape[d]}, not 1");
        var shape = _shape.Where((_, i) => i != d).ToArray();
        var strides = _strides.Where((_, i) => i != d).ToArray();
        return new Tensor(Storage, DType, shape, strides, Offset);
    }

    public Tensor Unsqueeze(int dim)
    {
        int d = NormalizeDim(dim, Rank + 1);
        var shape = new List<int>(_shape);
        var strides = new List<long>(_strides);
        shape.Insert(d, 1);
        strides.Insert(d, d < Rank ? _strides[d] * _shape[d] : 1);
        return new Tensor(Storage, DType, shape.ToArray(), strides.ToArray(), Offset);
    }
}
