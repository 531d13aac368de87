namespace BridgeTower.Tests.Tensors;

public class TensorViewTests
{
    private static Tensor Iota(params int[] shape)
    {
        long n = ShapeMath.ElementCount(shape);
        return Tensor.FromArray(Enumerable.Range(0, (int)n).Select(i => (float)i).ToArray(), shape);
    }

    [Fact]
    public void Permute_and_contiguous_reorder_elements_without_copying_until_asked()
    {
        var t = Iota(2, 3, 4);
        var p = t.Permute(2, 0, 1);
        Assert.Same(t.Storage, p.Storage);
        Assert.Equal([4, 2, 3], p.ShapeArray());
        Assert.False(p.IsContiguous);
        Assert.Equal(t[1, 2, 3], p[3, 1, 2]);
        var c = p.Contiguous();
        Assert.True(c.IsContiguous);
        Assert.Equal(t[0, 1, 2], c.ReadOnlySpan<float>()[2 * 6 + 0 * 3 + 1]);
    }

    [Theory]
    [InlineData(new[] { 1, 0, 2, 3 }, -1, 0, 0)]   // batch and head dims swapped, rows kept whole
    [InlineData(new[] { 2, 0, 1, 3 }, 3, 1, 3)]    // narrowed inside the row: still unit stride
    [InlineData(new[] { 0, 1, 3, 2 }, -1, 0, 0)]   // last dims transposed: element by element
    [InlineData(new[] { 3, 2, 1, 0 }, 1, 2, 2)]
    public void Contiguous_copy_of_any_permuted_or_narrowed_view_keeps_every_element(int[] dims, int narrowDim, int start, int length)
    {
        var t = Iota(2, 3, 4, 5);
        var v = t.Permute(dims);
        if (narrowDim >= 0) v = v.Narrow(narrowDim, start, length);
        var c = v.Contiguous();
        Assert.True(c.IsContiguous);
        Assert.Equal(v.ShapeArray(), c.ShapeArray());
        var shape = v.ShapeArray();
        int flat = 0;
        for (int a = 0; a < shape[0]; a++)
            for (int b = 0; b < shape[1]; b++)
                for (int d = 0; d < shape[2]; d++)
                    for (int e = 0; e < shape[3]; e++)
                        Assert.Equal(v[a, b, d, e], c.ReadOnlySpan<float>()[flat++]);
    }

    [Fact]
    public void Narrow_select_squeeze_unsqueeze_share_storage()
    {
        var t = Iota(3, 5);
        var n = t.Narrow(1, 1, 3);
        Assert.Equal([3, 3], n.ShapeArray());
        Assert.Equal(t[2, 3], n[2, 2]);
        var row = t.Select(0, 2);
        Assert.Equal([5], row.ShapeArray());
        Assert.Equal(12f, row[2]);
        var u = row.Unsqueeze(0);
        Assert.Equal([1, 5], u.ShapeArray());
        Assert.Equal([5], u.Squeeze(0).ShapeArray());
        Assert.Same(t.Storage, u.Storage);
    }

    [Fact]
    public void Reshape_infers_one_dimension_and_copies_strided_input()
    {
        var t = Iota(2, 6);
        Assert.Equal([3, 4], t.Reshape(3, -1).ShapeArray());
        var transposed = t.Transpose(0, 1);
        var r = transposed.Reshape(12);
        Assert.Equal(new float[] { 0, 6, 1, 7 }, r.ToFloatArray()[..4]);
    }

    [Fact]
    public void Shape_errors_name_both_shapes()
    {
        var t = Iota(2, 6);
        var e = Assert.Throws<ArgumentException>(() => t.Reshape(5, 2));
        Assert.Contains("[2, 6]", e.Message);
        Assert.Contains("[5, 2]", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => t.EnsureShape("x", 3, 4));
        Assert.Contains("[3, 4]", e2.Message);
        Assert.Contains("[2, 6]", e2.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Narrow(1, 4, 3));
    }

    [Fact]
    public void Conversions_to_f32_cover_every_dtype()
    {
        var f = Tensor.FromArray(new[] { 1.5f, -2.25f, 3f }, 3);
        Assert.Equal(f.ToFloatArray(), f.To(DType.F16).ToFloatArray());
        Assert.Equal(f.ToFloatArray(), f.To(DType.BF16).ToFloatArray());
        Assert.Equal(f.ToFloatArray(), f.To(DType.F64).ToFloatArray());
        Assert.Equal(new float[] { 1, -2, 3 }, f.To(DType.I64).ToFloatArray());
        Assert.Equal(new float[] { 1, -2, 3 }, f.To(DType.I8).ToFloatArray());
        Assert.Equal(new long[] { 7, 8 }, Tensor.FromArray(new long[] { 7, 8 }, 2).ToInt64Array());
    }

    [Fact]
    public void BFloat16_rounds_to_nearest_even()
    {
        // 1 + 2^-8 is halfway between two bf16 values; ties go to the even mantissa (1.0).
        Assert.Equal(1f, BFloat16.ToSingle(BFloat16.FromSingle(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 64, BFloat16.ToSingle(BFloat16.FromSingle(1f + 1f / 64)));
    }
}
