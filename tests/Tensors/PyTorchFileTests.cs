using BridgeTower.Tensors.PyTorch;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Tensors;

/// <summary>pytorch_model.bin fixtures (fixtures/checkpoints/README.md): same tensors as tiny-interpolate, read without running the pickle.</summary>
public class PyTorchFileTests
{
    private static string Bin(string dir) => SharedData.Path("fixtures", "checkpoints", dir, "pytorch_model.bin");

    private static void AssertSameTensors(Checkpoint reference, PyTorchFile bin)
    {
        Assert.Equal(reference.Names.Order(StringComparer.Ordinal), bin.Names.Where(n => !n.StartsWith("extra.")).Order(StringComparer.Ordinal));
        foreach (string name in reference.Names)
        {
            var expected = reference[name];
            var actual = bin[name];
            Assert.Equal(expected.DType, actual.DType);
            Assert.Equal(expected.ElementCount, actual.ElementCount);
            // Scalars may be [] or [1] depending on how the converter saved them (see FixtureCheckpointTests).
            bool scalars = expected.ElementCount == 1 && expected.Rank <= 1 && actual.Rank <= 1;
            if (!scalars) Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
            Assert.Equal(expected.ToFloatArray(), actual.ToFloatArray());
        }
    }

    [SharedFact]
    public void Float32_bin_holds_tiny_interpolate_bit_for_bit()
    {
        using var reference = Checkpoint.Open(SharedData.Models("tiny-interpolate"));
        using var bin = PyTorchFile.Open(Bin("bin"));
        AssertSameTensors(reference, bin);
    }

    [SharedTheory]
    [InlineData("bin-f16", "f16")]
    [InlineData("bin-bf16", "bf16")]
    public void Half_precision_bins_match_the_safetensors_conversions(string binDir, string safetensorsDir)
    {
        using var reference = Checkpoint.Open(SharedData.Path("fixtures", "checkpoints", safetensorsDir));
        using var bin = PyTorchFile.Open(Bin(binDir));
        AssertSameTensors(reference, bin);
    }

    [SharedFact]
    public void Views_keep_their_strides_and_offsets()
    {
        using var bin = PyTorchFile.Open(Bin("bin-views"));
        var weight = bin["bridgetower.cross_modal_text_transform.weight"];
        var transposed = bin["extra.transposed_view"];
        Assert.False(transposed.IsContiguous);
        Assert.Same(weight.Storage, transposed.Storage);
        Assert.Equal(weight.Transpose(0, 1).ToFloatArray(), transposed.ToFloatArray());
        Assert.Equal([weight.Dim(1), weight.Dim(0)], transposed.ShapeArray());

        var table = bin["bridgetower.token_type_embeddings.weight"];
        var row = bin["extra.shared_row"];
        Assert.Same(table.Storage, row.Storage);
        Assert.Equal(table.Select(0, 1).ToFloatArray(), row.ToFloatArray());
        Assert.Equal(table.Offset + table.Strides[0], row.Offset);
    }

    [SharedTheory]
    [InlineData("os_system.bin", "refusing global posix.system")]
    [InlineData("getattr_global.bin", "refusing global __builtin__.getattr")]
    [InlineData("not_a_pickle.bin", "pickle at byte")]
    [InlineData("empty.bin", "file is empty")]
    [InlineData("legacy_format.bin", "legacy (pre-1.6")]
    public void Hostile_files_are_refused_without_running_anything(string file, string rule)
    {
        string path = SharedData.Path("fixtures", "checkpoints", "hostile", file);
        var e = Assert.Throws<PyTorchFormatException>(() => PyTorchFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(rule, e.Message);
        Assert.False(File.Exists("/tmp/bridgetower-pwned"));
    }

    [SharedFact]
    public void Checkpoint_open_falls_back_to_pytorch_model_bin()
    {
        using var reference = Checkpoint.Open(SharedData.Models("tiny-interpolate"));
        using var fromBin = Checkpoint.Open(SharedData.Path("fixtures", "checkpoints", "bin"));
        Assert.Empty(fromBin.Files);
        Assert.Equal(reference.Names.Order(StringComparer.Ordinal), fromBin.Names.Order(StringComparer.Ordinal));
        string first = reference.Names.First();
        Assert.Equal(reference[first].ToFloatArray(), fromBin[first].ToFloatArray());
        Assert.True(fromBin.TryGet(first, out _));
        Assert.True(fromBin.Contains(first));
    }
}
