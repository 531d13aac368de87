using System.IO.Compression;
using System.Text;
using BridgeTower.Tensors.PyTorch;

namespace BridgeTower.Tests.Tensors;

/// <summary>torch.save archives built by hand, each wrong in one way, so every refusal is exercised without the fixtures.</summary>
public sealed class PickleRejectionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void Str(List<byte> b, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        b.Add((byte)'X');
        b.AddRange(BitConverter.GetBytes(bytes.Length));
        b.AddRange(bytes);
    }

    private static void Global(List<byte> b, string module, string name) =>
        b.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private static void IntTuple(List<byte> b, long[] values)
    {
        b.Add((byte)'(');
        foreach (long v in values) { b.Add((byte)'J'); b.AddRange(BitConverter.GetBytes((int)v)); }
        b.Add((byte)'t');
    }

    /// <summary>{'w': _rebuild_tensor_v2(storage '0' of numel floats, offset, size, stride)} as torch.save writes it.</summary>
    private static byte[] StateDictPickle(long numel, long offset, long[] size, long[] stride, string storageType = "FloatStorage")
    {
        var b = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        Str(b, "w");
        Global(b, "torch._utils", "_rebuild_tensor_v2");
        b.Add((byte)'(');
        b.Add((byte)'(');
        Str(b, "storage");
        Global(b, "torch", storageType);
        Str(b, "0");
        Str(b, "cpu");
        b.Add((byte)'J'); b.AddRange(BitConverter.GetBytes((int)numel));
        b.Add((byte)'t');
        b.Add((byte)'Q');
        b.Add((byte)'J'); b.AddRange(BitConverter.GetBytes((int)offset));
        IntTuple(b, size);
        IntTuple(b, stride);
        b.Add(0x89);
        Global(b, "collections", "OrderedDict");
        b.Add((byte)')');
        b.Add((byte)'R');
        b.Add((byte)'t');
        b.Add((byte)'R');
        b.Add((byte)'u');
        b.Add((byte)'.');
        return b.ToArray();
    }

    private string Archive(byte[] pickle, byte[]? storage)
    {
        string path = _dir.File($"{Guid.NewGuid():N}.bin");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
            if (storage is not null)
                using (var s = zip.CreateEntry("archive/data/0", CompressionLevel.NoCompression).Open()) s.Write(storage);
        }
        return path;
    }

    private static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    private static void Refused(string path, string rule)
    {
        var e = Assert.Throws<PyTorchFormatException>(() => PyTorchFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void A_hand_built_state_dict_loads_with_its_view()
    {
        string path = Archive(StateDictPickle(6, 1, [2, 2], [1, 2]), Floats(0, 1, 2, 3, 4, 5));
        using var f = PyTorchFile.Open(path);
        var w = f["w"];
        Assert.Equal([2, 2], w.ShapeArray());
        Assert.Equal(new float[] { 1, 3, 2, 4 }, w.ToFloatArray());
    }

    [Fact]
    public void A_view_reaching_past_its_storage_is_refused()
    {
        Refused(Archive(StateDictPickle(6, 3, [2, 2], [1, 2]), Floats(0, 1, 2, 3, 4, 5)), "does not fit its storage");
    }

    [Fact]
    public void A_storage_of_the_wrong_byte_length_is_refused()
    {
        Refused(Archive(StateDictPickle(6, 0, [6], [1]), Floats(0, 1, 2)), "holds 12 bytes but 6 F32 elements need 24");
    }

    [Fact]
    public void A_missing_storage_is_refused()
    {
        Refused(Archive(StateDictPickle(1, 0, [1], [1]), null), "storage '0' is missing");
    }

    [Fact]
    public void An_unknown_storage_type_is_refused_at_the_global()
    {
        Refused(Archive(StateDictPickle(1, 0, [1], [1], storageType: "ComplexFloatStorage"), Floats(0, 0)), "refusing global torch.ComplexFloatStorage");
    }

    [Fact]
    public void A_truncated_pickle_is_refused()
    {
        var pickle = StateDictPickle(1, 0, [1], [1]);
        Refused(Archive(pickle[..^5], Floats(1)), "pickle ends without STOP");
    }

    [Fact]
    public void A_string_longer_than_the_pickle_is_refused_before_allocating()
    {
        byte[] pickle = [0x80, 2, (byte)'X', 0xFF, 0xFF, 0xFF, 0x7F, (byte)'.'];
        Refused(Archive(pickle, null), "runs past the end of the pickle");
    }

    [Fact]
    public void A_top_level_that_is_not_a_dict_is_refused()
    {
        Refused(Archive([0x80, 2, (byte)']', (byte)'.'], null), "does not hold a state dict");
    }

    [Fact]
    public void A_zip_without_data_pkl_is_refused()
    {
        string path = _dir.File("nopkl.bin");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create)) zip.CreateEntry("archive/version");
        Refused(path, "expected one data.pkl");
    }
}
