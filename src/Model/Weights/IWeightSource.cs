using BridgeTower.Tensors;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Model.Weights;

/// <summary>Named tensors a model binds its parameters from (a checkpoint, or tensors built in memory).</summary>
public interface IWeightSource
{
    /// <summary>Where the tensors come from, for error messages.</summary>
    string Description { get; }
    IEnumerable<string> Names { get; }
    bool TryGet(string name, out Tensor tensor);

    /// <summary>
    /// The tensor for a consumer that copies it and drops it (a backend packing a Linear weight). A
    /// memory-mapped source reads it with file I/O so its pages never join the process's working set beside
    /// the packed copy; other sources hand out what <see cref="TryGet"/> does.
    /// </summary>
    bool TryGetForCopy(string name, out Tensor tensor) => TryGet(name, out tensor);

    /// <summary>
    /// The model is done with <paramref name="tensor"/> (got from <see cref="TryGet"/> under <paramref name="name"/>):
    /// it was packed or read, and nothing of the model views it. A source that made the tensor for that call
    /// may free it; a source that holds its tensors does nothing (the default).
    /// </summary>
    void Release(string name, Tensor tensor) { }
}

/// <summary>A safetensors checkpoint directory (single file or sharded); tensors stay memory-mapped.</summary>
public sealed class CheckpointWeights(Checkpoint checkpoint) : IWeightSource
{
    public Checkpoint Checkpoint { get; } = checkpoint;
    public string Description => Checkpoint.Directory;
    public IEnumerable<string> Names => Checkpoint.Names;
    public bool TryGet(string name, out Tensor tensor) => Checkpoint.TryGet(name, out tensor);
    public bool TryGetForCopy(string name, out Tensor tensor) => Checkpoint.TryReadCopy(name, out tensor);
    /// <summary>A copy from <see cref="TryGetForCopy"/> goes back to the pool; disposing a mapped view does nothing.</summary>
    public void Release(string name, Tensor tensor) => tensor.Dispose();
}

/// <summary>Tensors held in a dictionary (tests, random-weight benchmarks, converted checkpoints).</summary>
public sealed class DictionaryWeights(IReadOnlyDictionary<string, Tensor> tensors, string description = "in-memory weights") : IWeightSource
{
    public string Description { get; } = description;
    public IEnumerable<string> Names => tensors.Keys;
    public bool TryGet(string name, out Tensor tensor) => tensors.TryGetValue(name, out tensor!);
}
