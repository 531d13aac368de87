using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Tensors;

/// <summary>
/// One test per rule the reader enforces, each on a small file written by hand that breaks only
/// that rule. Every refusal must name the file, the tensor (when one is at fault) and the rule.
/// </summary>
public sealed class SafetensorsRejectionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private SafetensorsException Reject(byte[] bytes, string? tensor, params string[] ruleWords)
    {
        string path = RawSafetensors.Write(_dir, "bad.safetensors", bytes);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
        if (tensor is not null)
        {
            Assert.Equal(tensor, e.TensorName);
            Assert.Contains($"'{tensor}'", e.Message);
        }
        foreach (string word in ruleWords) Assert.Contains(word, e.Message);
        return e;
    }

    private SafetensorsException Reject(string header, long dataLength, string? tensor, params string[] ruleWords) =>
        Reject(RawSafetensors.Build(header, dataLength), tensor, ruleWords);

    [Fact]
    public void A_well_formed_hand_written_file_is_accepted()
    {
        // Guards the helper itself: the rejections below differ from this file in one rule only.
        string path = RawSafetensors.Write(_dir, "good.safetensors", RawSafetensors.Build(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}""", 11));
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(["a", "b"], f.Names);
        Assert.Equal(new long[] { 8, 9, 10 }, f["b"].ToInt64Array());
    }

    [Fact]
    public void File_shorter_than_the_length_prefix()
    {
        Reject(new byte[5], null, "shorter than the 8-byte header length");
    }

    [Fact]
    public void Header_length_over_the_limit()
    {
        // Declared length just over the cap on a tiny file: refused before anything is allocated.
        Reject(RawSafetensors.Build("{}"u8.ToArray(), 0, declaredHeaderLength: 100_000_001), null, "100000001", "exceeds the limit");
    }

    [Fact]
    public void Header_length_past_the_end_of_the_file()
    {
        Reject(RawSafetensors.Build("{}"u8.ToArray(), 0, declaredHeaderLength: 3), null, "runs past the end");
    }

    [Fact]
    public void Header_not_utf8()
    {
        var header = "{\"ab\":{}}"u8.ToArray();
        header[3] = 0xFF; // 0xFF never occurs in UTF-8
        Reject(RawSafetensors.Build(header, 0), null, "not valid UTF-8");
    }

    [Fact]
    public void Header_not_json()
    {
        Reject("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""", 4, null, "not valid JSON");
    }

    [Theory]
    [InlineData("""[1,2]""", null, "must start with '{'")]
    [InlineData(""" {}""", null, "must start with '{'")]
    [InlineData("""{"a":[1]}""", "a", "entry must be an object")]
    [InlineData("""{"a":{"shape":[1],"data_offsets":[0,4]}}""", "a", "'dtype'")]
    [InlineData("""{"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}""", "a", "'shape'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", "a", "not an integer")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", "a", "data_offsets must be an array [begin, end]")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""", "a", "two non-negative integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,4]}}""", "a", "two non-negative integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}""", "a", "unexpected field 'extra'")]
    [InlineData("""{"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "__metadata__", "must be a string")]
    [InlineData("""{"__metadata__":[],"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "__metadata__", "object of string values")]
    [InlineData("""{"\udc00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", null, "not valid text")]
    public void Header_json_of_the_wrong_shape(string header, string? tensor, string rule)
    {
        Reject(header, 4, tensor, rule);
    }

    [Fact]
    public void Unknown_dtype()
    {
        Reject("""{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""", 4, "w", "unknown dtype 'F8_E4M3'");
    }

    [Fact]
    public void Negative_dimension()
    {
        Reject("""{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}""", 4, "w", "negative dimension");
    }

    [Fact]
    public void Shape_product_overflows()
    {
        // Each dimension fits an int; their product does not fit 64 bits. Nothing may be allocated from it.
        Reject("""{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}""", 4, "w", "overflows");
    }

    [Fact]
    public void Dimension_over_int_range()
    {
        Reject("""{"w":{"dtype":"U8","shape":[4294967296],"data_offsets":[0,4]}}""", 4, "w", "exceeds");
    }

    [Fact]
    public void Data_offsets_out_of_bounds()
    {
        Reject("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "w", "run past the 8-byte data section");
    }

    [Fact]
    public void Data_offsets_reversed()
    {
        Reject("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}""", 8, "w", "end before they begin");
    }

    [Fact]
    public void Data_offsets_overlap()
    {
        Reject("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12,
            "b", "overlap tensor 'a'");
    }

    [Fact]
    public void Data_offsets_leave_a_hole()
    {
        Reject("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12,
            "b", "leaving a hole after byte 4");
    }

    [Fact]
    public void Data_does_not_end_at_the_file_end()
    {
        Reject("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 12, "a", "end at byte 4", "holds 12 bytes");
    }

    [Fact]
    public void Byte_length_differs_from_shape_times_dtype_size()
    {
        Reject("""{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}""", 8, "w", "holds 8 bytes", "needs 6");
    }

    [Fact]
    public void Duplicate_names()
    {
        Reject("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2,
            "w", "more than once");
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        string path = _dir.File("absent.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
    }
}
