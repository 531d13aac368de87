using BridgeTower.Model.Weights;
using BridgeTower.Tensors;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Cli.Commands;

/// <summary>
/// Random weights written to a model.safetensors in a fresh temporary directory and opened from there
/// (memory-mapped), so `bench --from-file` measures the path a downloaded checkpoint takes. The tensors are
/// written one at a time, never all in memory; disposing closes the mapping and deletes the directory.
/// </summary>
internal sealed class TemporaryCheckpoint : IDisposable
{
    private readonly string _directory;
    private readonly Checkpoint _checkpoint;

    private TemporaryCheckpoint(string directory, Checkpoint checkpoint)
    {
        _directory = directory;
        _checkpoint = checkpoint;
        Weights = new CheckpointWeights(checkpoint);
    }

    public string Path => System.IO.Path.Combine(_directory, Checkpoint.SingleFileName);
    public IWeightSource Weights { get; }

    public static TemporaryCheckpoint Write(RandomWeights weights, TextWriter progress, CancellationToken cancellationToken)
    {
        string directory;
        try
        {
            directory = Directory.CreateTempSubdirectory("bridgetower-bench-").FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--from-file: cannot create a temporary folder under {System.IO.Path.GetTempPath()} ({e.Message}); set TMPDIR to a writable folder");
        }
        try
        {
            string path = System.IO.Path.Combine(directory, Checkpoint.SingleFileName);
            progress.WriteLine($"bench: writing {4 * weights.ParameterCount / 1e9:F2} GB of random weights to {path}...");
            var specs = weights.Parameters;
            SafetensorsWriter.Write(path, specs.Select(s => (s.Key, DType.F32, s.Shape)).ToList(), i =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                weights.TryGet(specs[i].Key, out var tensor);
                return tensor;
            });
            return new TemporaryCheckpoint(directory, Checkpoint.Open(directory));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Directory.Delete(directory, recursive: true);
            throw new CliException($"--from-file: cannot write {4 * weights.ParameterCount / 1e9:F2} GB of weights under {directory} ({e.Message})");
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public void Dispose()
    {
        _checkpoint.Dispose();
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { } // a leftover in the temp folder is not worth failing a finished benchmark over
        catch (UnauthorizedAccessException) { }
    }
}
