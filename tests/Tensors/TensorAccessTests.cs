namespace BridgeTower.Tests.Tensors;

/// <summary>Views at the edges (empty, scalar, strided), conversions on strided data, and the errors bad arguments get.</summary>
public class TensorAccessTests
{
    private static Tensor Iota(params int[] shape)
    {
        long n = ShapeMath.ElementCount(shape);
        return Tensor.FromArray(Enumerable.Range(0, (int)n).Select(i => (float)i).ToArray(), shape);
    }

    [Fact]
    public void Slice_is_narrow_and_views_compose()
    {
        var t = Iota(4, 5, 6);
        var v = t.Slice(2, 1, 4).Transpose(0, 2).Select(1, 3).Unsqueeze(-1);
        Assert.Equal([3, 4, 1], v.ShapeArray());
        Assert.Same(t.Storage, v.Storage);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 4; b++)
                Assert.Equal(t[b, 3, a + 1], v[a, b, 0]);
        Assert.Equal(v.ToFloatArray(), v.Contiguous().ToFloatArray());
        Assert.Equal([3, 4], v.Squeeze().ShapeArray());
        Assert.Equal(12, v.Flatten().Dim(0));
    }

    [Fact]
    public void Unsqueeze_at_every_position_keeps_elements()
    {
        var t = Iota(2, 3).Transpose(0, 1);
        for (int d = -3; d <= 2; d++)
        {
            var u = t.Unsqueeze(d);
            Assert.Equal(3, u.Rank);
            Assert.Equal(t.ToFloatArray(), u.ToFloatArray());
            Assert.Equal(1, u.Dim(d));
        }
    }

    [Fact]
    public void Empty_and_scalar_tensors_behave()
    {
        var empty = Tensor.Zeros(DType.F16, 3, 0, 2);
        Assert.Equal(0, empty.ElementCount);
        Assert.True(empty.IsContiguous);
        Assert.Empty(empty.ToFloatArray());
        Assert.Equal([0, 6], empty.Reshape(0, 6).ShapeArray());
        Assert.True(Iota(3, 4).Narrow(1, 2, 0).IsContiguous);

        var scalar = Tensor.Scalar(2.5f).Reshape();
        Assert.Equal(0, scalar.Rank);
        Assert.Equal(1, scalar.ElementCount);
        Assert.Equal(2.5, scalar.GetDouble());
        Assert.Equal([1, 1], scalar.Reshape(1, -1).ShapeArray());
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    [InlineData(DType.I32)]
    [InlineData(DType.I16)]
    [InlineData(DType.I8)]
    [InlineData(DType.U8)]
    public void Strided_and_contiguous_conversions_to_f32_agree(DType dtype)
    {
        // Small integers: exact in every dtype, so both paths must give the same floats.
        var source = Iota(3, 4).To(dtype);
        var strided = source.Transpose(0, 1);
        Assert.False(strided.IsContiguous);
        Assert.Equal(Iota(3, 4).Transpose(0, 1).ToFloatArray(), strided.ToF32().ReadOnlySpan<float>().ToArray());
        Assert.Equal(Iota(3, 4).ToFloatArray(), source.ToF32().ReadOnlySpan<float>().ToArray());
        Assert.Equal(DType.F32, strided.ToF32().DType);
    }

    [Fact]
    public void F16_and_bf16_conversions_round_and_widen_exactly()
    {
        var f = Tensor.FromArray(new[] { 1f / 3, 65519f, 65520f, 1e-8f, float.NegativeInfinity }, 5);
        var half = f.To(DType.F16).ToFloatArray();
        Assert.Equal(new[] { (float)(Half)(1f / 3), 65504f, float.PositiveInfinity, (float)(Half)1e-8f, float.NegativeInfinity }, half);
        var bf = f.To(DType.BF16);
        Assert.Equal(0x3EAB, bf.GetBFloat16Bits(0)); // 1/3 = 0x3EAAAAAB rounds up
        Assert.Equal(BitConverter.Int32BitsToSingle(0x3EAB << 16), bf[0]);
        Assert.True(float.IsNaN(Tensor.FromArray(new[] { float.NaN }, 1).To(DType.BF16)[0]));
    }

    [Fact]
    public void Integer_access_is_exact_beyond_double_precision()
    {
        var t = Tensor.FromArray(new[] { long.MaxValue, (1L << 53) + 1 }, 2);
        Assert.Equal(long.MaxValue, t.GetInt64(0));
        Assert.Equal(new[] { long.MaxValue, (1L << 53) + 1 }, t.ToInt64Array());
        Assert.Equal(new long[] { 1, 0 }, Tensor.FromArray(new[] { true, false }, 2).ToInt64Array());
    }

    [Fact]
    public void Spans_refuse_wrong_types_and_strided_views()
    {
        var t = Iota(2, 3);
        var e = Assert.Throws<InvalidOperationException>(() => t.ReadOnlySpan<double>());
        Assert.Contains("F32", e.Message);
        Assert.Throws<InvalidOperationException>(() => t.ReadOnlySpan<ushort>());
        Assert.Throws<InvalidOperationException>(() => t.Transpose(0, 1).ReadOnlySpan<float>());
        Assert.Equal(3, t.To(DType.BF16).ReadOnlySpan<ushort>().Length - 3);
        Assert.Throws<InvalidOperationException>(() => t.To(DType.F16).ReadOnlySpan<ushort>());
    }

    [Fact]
    public void Views_cannot_reach_outside_their_storage()
    {
        var storage = new ManagedStorage(16);
        var ok = new Tensor(storage, DType.F32, [2, 2]);
        Assert.Equal(4, ok.ElementCount);
        var e = Assert.Throws<ArgumentException>(() => new Tensor(storage, DType.F32, [2, 2], null, 1));
        Assert.Contains("[2, 2]", e.Message);
        Assert.Contains("20 bytes", e.Message);
        Assert.Throws<ArgumentException>(() => new Tensor(storage, DType.F32, [2, 2], [long.MaxValue / 2, 1]));
        Assert.Throws<ArgumentException>(() => new Tensor(storage, DType.F32, [2], [-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tensor(storage, DType.F32, [1], null, -1));
        Assert.Throws<ArgumentException>(() => new Tensor(storage, DType.F32, [2, 2], [1]));
    }

    [Fact]
    public void Bad_arguments_name_the_shape()
    {
        var t = Iota(2, 3);
        Assert.Contains("[2, 3]", Assert.Throws<IndexOutOfRangeException>(() => t.GetDouble(2, 0)).Message);
        Assert.Contains("[2, 3]", Assert.Throws<ArgumentException>(() => t.GetDouble(1)).Message);
        Assert.Contains("[2, 3]", Assert.Throws<ArgumentException>(() => t.Permute(0, 0)).Message);
        Assert.Contains("[2, 3]", Assert.Throws<ArgumentException>(() => t.Permute(0)).Message);
        Assert.Contains("[2, 3]", Assert.Throws<ArgumentException>(() => t.Squeeze(0)).Message);
        Assert.Contains("[2, 3]", Assert.Throws<ArgumentOutOfRangeException>(() => t.Dim(2)).Message);
        Assert.Contains("[2, 3]", Assert.Throws<ArgumentException>(() => t.Reshape(-1, -1)).Message);
        Assert.Contains("[2, 2]", Assert.Throws<ArgumentException>(() => Tensor.FromArray(new float[3], 2, 2)).Message);
        Assert.Contains("[2, -1]", Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, -1)).Message);
        Assert.Contains("[2147483647, 2147483647, 2147483647]",
            Assert.Throws<ArgumentException>(() => Tensor.Zeros(int.MaxValue, int.MaxValue, int.MaxValue)).Message);
        Assert.Contains("[4]", Assert.Throws<ArgumentException>(() => Tensor.FromBytes(DType.F32, new byte[3], 4)).Message);
    }
}
