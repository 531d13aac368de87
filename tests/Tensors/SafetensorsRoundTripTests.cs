using System.Text;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Tensors;

public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, Tensor> EveryDtype()
    {
        var f32 = Tensor.FromArray(new[] { 1.5f, -2.25f, 3.0e-3f, 65504f, -0f, 7f }, 2, 3);
        return new Dictionary<string, Tensor>
        {
            ["f32"] = f32,
            ["f16"] = f32.To(DType.F16),
            ["bf16"] = Tensor.FromBFloat16Bits([0x3F80, 0xC040, 0x7F80, 0x0001], 4),
            ["f64"] = Tensor.FromArray(new[] { Math.PI, -1e300 }, 2),
            ["i64"] = Tensor.FromArray(new[] { long.MinValue, 1L, (1L << 53) + 1 }, 3),
            ["i32"] = Tensor.FromArray(new[] { int.MaxValue, -5 }, 1, 2),
            ["i16"] = Tensor.FromArray(new short[] { -32768, 12 }, 2),
            ["i8"] = Tensor.FromArray(new sbyte[] { -128, 127, 0 }, 3),
            ["u8"] = Tensor.FromArray(new byte[] { 255, 0 }, 2),
            ["bool"] = Tensor.FromArray(new[] { true, false, true }, 3),
            ["scalar"] = Tensor.Scalar(42f).Reshape(),
            ["empty"] = Tensor.Zeros(DType.F32, 0, 3),
            ["zero_size_bf16"] = Tensor.Zeros(DType.BF16, 0),
            ["strided"] = f32.Transpose(0, 1),
        };
    }

    private static byte[] Bytes(Tensor t)
    {
        var c = t.Contiguous();
        unsafe { return new ReadOnlySpan<byte>(c.DataPointer, checked((int)c.ByteCount)).ToArray(); }
    }

    [Fact]
    public void Every_dtype_and_empty_tensors_survive_a_round_trip_bit_for_bit()
    {
        var tensors = EveryDtype();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };
        string path = _dir.File("all.safetensors");
        SafetensorsWriter.Write(path, tensors, metadata);

        using var f = SafetensorsFile.Open(path);
        Assert.Equal(tensors.Keys.Order(), f.Names.Order());
        Assert.Equal(metadata, f.Metadata);
        foreach (var (name, expected) in tensors)
        {
            var actual = f[name];
            Assert.Equal(expected.DType, actual.DType);
            Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
            Assert.Equal(Bytes(expected), Bytes(actual));
        }
        Assert.Equal(f["f32"][1, 0], f["strided"][0, 1]);
        Assert.Equal((1L << 53) + 1, f["i64"].GetInt64(2));
        Assert.Equal(0x7F80, f["bf16"].GetBFloat16Bits(2));
    }

    [Fact]
    public void A_copy_read_with_file_io_equals_the_mapped_view_and_is_independent_of_it()
    {
        var tensors = EveryDtype();
        string path = _dir.File("copies.safetensors");
        SafetensorsWriter.Write(path, tensors);

        using var f = SafetensorsFile.Open(path);
        foreach (var (name, expected) in tensors)
        {
            Assert.True(f.TryReadCopy(name, out var copy));
            Assert.Equal(expected.DType, copy.DType);
            Assert.Equal(expected.ShapeArray(), copy.ShapeArray());
            Assert.Equal(Bytes(f[name]), Bytes(copy));
            Assert.False(copy.Storage.IsReadOnly);
            Assert.NotSame(f[name].Storage, copy.Storage);
        }
        Assert.False(f.TryReadCopy("absent", out _));
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.TryReadCopy("f32", out _));
    }

    [Fact]
    public void Header_is_padded_with_spaces_to_a_multiple_of_eight()
    {
        for (int nameLength = 1; nameLength <= 8; nameLength++)
        {
            string path = _dir.File($"pad{nameLength}.safetensors");
            SafetensorsWriter.Write(path, [new(new string('x', nameLength), Tensor.Zeros(3))]);
            byte[] raw = File.ReadAllBytes(path);
            long headerLength = BitConverter.ToInt64(raw, 0);
            Assert.Equal(0, (8 + headerLength) % 8);
            string header = Encoding.UTF8.GetString(raw, 8, (int)headerLength);
            Assert.StartsWith("{", header);
            Assert.Matches("^\\{.*\\} *$", header);
            Assert.Equal(8 + headerLength + 12, raw.Length);
            using var f = SafetensorsFile.Open(path);
            Assert.Equal(headerLength, f.HeaderLength);
        }
    }

    [Fact]
    public void Rewriting_what_was_read_reproduces_the_file_and_keeps_metadata()
    {
        string first = _dir.File("first.safetensors"), second = _dir.File("second.safetensors");
        SafetensorsWriter.Write(first, EveryDtype(), new Dictionary<string, string> { ["format"] = "pt" });
        using (var f = SafetensorsFile.Open(first))
            SafetensorsWriter.Write(second, f.Names.Select(n => KeyValuePair.Create(n, f[n])), f.Metadata);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    [Fact]
    public void A_file_without_tensors_round_trips()
    {
        string path = _dir.File("none.safetensors");
        SafetensorsWriter.Write(path, []);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(0, f.Count);
        Assert.Empty(f.Metadata);
        Assert.Equal(f.FileLength, f.DataOffset);
    }

    [Fact]
    public void Writer_refuses_duplicate_and_reserved_names()
    {
        string path = _dir.File("bad.safetensors");
        var dup = Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Write(path, [new("a", Tensor.Zeros(1)), new("a", Tensor.Zeros(2))]));
        Assert.Contains("'a'", dup.Message);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("__metadata__", Tensor.Zeros(1))]));
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Tensors_are_zero_copy_views_of_the_mapping_and_refuse_use_after_dispose()
    {
        string path = _dir.File("m.safetensors");
        SafetensorsWriter.Write(path, [new("a", Tensor.FromArray(new[] { 1f, 2f }, 2)), new("b", Tensor.FromArray(new[] { 3f }, 1))]);
        var f = SafetensorsFile.Open(path);
        var a = f["a"];
        var b = f["b"];
        Assert.Same(a.Storage, b.Storage);
        Assert.True(a.Storage.IsReadOnly);
        Assert.Throws<InvalidOperationException>(() => a.Span<float>());
        Assert.Equal(2f, a.ReadOnlySpan<float>()[1]);
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => a.GetDouble(0));
        Assert.Throws<ObjectDisposedException>(() => f["a"]);
    }

    [Fact]
    public void A_tensor_misaligned_in_the_file_is_copied_out_with_its_values()
    {
        // Offsets need only be byte-exact in the format; an F32 at byte 1 cannot be an element-offset view.
        var bytes = RawSafetensors.Build(
            """{"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}""", 5);
        BitConverter.TryWriteBytes(bytes.AsSpan(bytes.Length - 4), 6.5f);
        string path = RawSafetensors.Write(_dir, "mis.safetensors", bytes);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(6.5f, f["f"][0]);
        Assert.Equal(0f, f["u"][0]);
    }

    [Fact]
    public void Names_come_in_file_order()
    {
        var bytes = RawSafetensors.Build(
            """{"z":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 2);
        using var f = SafetensorsFile.Open(RawSafetensors.Write(_dir, "order.safetensors", bytes));
        Assert.Equal(["a", "z"], f.Names);
        Assert.Equal(1, f["z"].GetInt64(0));
    }
}
