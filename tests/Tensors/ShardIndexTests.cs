using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Tensors;

/// <summary>model.safetensors.index.json must agree with its shards; disagreement names the index and the tensor.</summary>
public sealed class ShardIndexTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private void TwoShards()
    {
        SafetensorsWriter.Write(_dir.File("s1.safetensors"), [new("a", Tensor.FromArray(new[] { 1f }, 1))]);
        SafetensorsWriter.Write(_dir.File("s2.safetensors"), [new("b", Tensor.FromArray(new[] { 2f, 3f }, 2))]);
    }

    private string Index(string json)
    {
        string path = _dir.File(Checkpoint.IndexFileName);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void A_consistent_index_opens_every_shard()
    {
        TwoShards();
        Index("""{"metadata":{"total_size":12},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}""");
        using var c = Checkpoint.Open(_dir.Path);
        Assert.Equal(2, c.Files.Count);
        Assert.Equal(3f, c["b"][1]);
    }

    [Theory]
    [InlineData("""{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}""", "'b'", "does not hold it")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors"}}""", "", "")] // shard s2 not listed: b is simply absent, allowed
    [InlineData("""{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"}}""", "'c'", "does not hold it")]
    [InlineData("""{"weight_map":{"a":"../s1.safetensors"}}""", "'a'", "plain file name")]
    [InlineData("""{"weight_map":{"a":1}}""", "'a'", "must be a file name")]
    [InlineData("""{"weight_map":{}}""", "", "lists no tensors")]
    [InlineData("""{"weights":{}}""", "", "no 'weight_map'")]
    [InlineData("""[]""", "", "JSON object")]
    [InlineData("""{"weight_map":""", "", "not valid JSON")]
    public void Inconsistent_index_is_refused(string json, string tensor, string rule)
    {
        TwoShards();
        string index = Index(json);
        if (rule == "")
        {
            using var c = Checkpoint.Open(_dir.Path);
            Assert.False(c.Contains("b"));
            return;
        }
        var e = Assert.Throws<SafetensorsException>(() => Checkpoint.Open(_dir.Path).Dispose());
        Assert.Contains(index, e.Message);
        Assert.Contains(tensor, e.Message);
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void A_tensor_stored_twice_across_shards_is_refused()
    {
        SafetensorsWriter.Write(_dir.File("s1.safetensors"), [new("a", Tensor.Zeros(1))]);
        SafetensorsWriter.Write(_dir.File("s2.safetensors"), [new("a", Tensor.Zeros(1))]);
        Index("""{"weight_map":{"a":"s1.safetensors","x":"s2.safetensors"}}""");
        var e = Assert.Throws<SafetensorsException>(() => Checkpoint.Open(_dir.Path).Dispose());
        Assert.Contains("'a'", e.Message);
        Assert.Contains("also stored in", e.Message);
    }

    [Fact]
    public void A_missing_shard_names_its_path()
    {
        TwoShards();
        Index("""{"weight_map":{"a":"s1.safetensors","b":"gone.safetensors"}}""");
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(_dir.Path).Dispose());
        Assert.Contains("gone.safetensors", e.Message);
    }

    [Fact]
    public void A_directory_without_weights_is_refused_with_its_path()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(_dir.Path));
        Assert.Contains(_dir.Path, e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.Open(_dir.File("nope")));
    }
}
