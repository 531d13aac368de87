using System.Text.Json;
using BridgeTower.Tensors.PyTorch;

namespace BridgeTower.Tensors.Safetensors;

/// <summary>
/// All tensors of a checkpoint directory: a single <c>model.safetensors</c>, shards listed by
/// <c>model.safetensors.index.json</c>, or (when neither exists) a <c>pytorch_model.bin</c> read by
/// <see cref="PyTorchFile"/>. Safetensors tensors are memory-mapped views valid until disposal.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";
    public const string PyTorchFileName = "pytorch_model.bin";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _owner;
    private readonly PyTorchFile? _pytorch;

    public string Directory { get; }
    /// <summary>The safetensors files read (empty when the weights came from a pytorch_model.bin).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IEnumerable<string> Names => _pytorch?.Names ?? (IEnumerable<string>)_owner.Keys;
    /// <summary>Every weights file read: the safetensors files or the one pytorch_model.bin.</summary>
    public IReadOnlyList<string> SourcePaths => _pytorch is not null ? [_pytorch.Path] : _files.Select(f => f.Path).ToList();

    private Checkpoint(string directory, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> owner)
    {
        Directory = directory;
        _files = files;
        _owner = owner;
    }

    private Checkpoint(string directory, PyTorchFile pytorch)
    {
        Directory = directory;
        _files = [];
        _owner = [];
        _pytorch = pytorch;
    }

    /// <summary>Opens a directory, a single .safetensors file, an index .json, or a .bin torch.save file.</summary>
    public static Checkpoint Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path))
        {
            string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return OpenIndex(path);
            if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".pt", StringComparison.OrdinalIgnoreCase))
                return new Checkpoint(dir, PyTorchFile.Open(path));
            return FromFiles(dir, [path]);
        }
        if (!System.IO.Directory.Exists(path))
            throw new DirectoryNotFoundException($"{path}: no such checkpoint file or directory");
        string single = System.IO.Path.Combine(path, SingleFileName);
        string index = System.IO.Path.Combine(path, IndexFileName);
        if (File.Exists(single)) return FromFiles(path, [single]);
        if (File.Exists(index)) return OpenIndex(index);
        string pytorch = System.IO.Path.Combine(path, PyTorchFileName);
        if (File.Exists(pytorch)) return new Checkpoint(path, PyTorchFile.Open(pytorch));
        throw new FileNotFoundException($"{path}: no {SingleFileName}, {IndexFileName} or {PyTorchFileName} in this directory");
    }

    private static Checkpoint OpenIndex(string indexPath)
    {
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        Dictionary<string, string> weightMap;
        long indexLength = new FileInfo(indexPath).Length;
        if (indexLength > SafetensorsFile.MaxHeaderBytes)
            throw new SafetensorsException(indexPath, null, $"index is {indexLength} bytes, over the limit of {SafetensorsFile.MaxHeaderBytes}");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(indexPath, null, "index must be a JSON object with a 'weight_map'");
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(indexPath, null, "index has no 'weight_map' object");
            weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in map.EnumerateObject())
            {
                if (kv.Value.ValueKind != JsonValueKind.String)
                    throw new SafetensorsException(indexPath, kv.Name, "weight_map value must be a file name");
                string file = kv.Value.GetString()!;
                if (file.Length == 0 || file.Contains('/') || file.Contains('\\') || file.Contains("..") || file.Contains('\0'))
                    throw new SafetensorsException(indexPath, kv.Name, $"shard name '{file}' must be a plain file name in the same directory");
                weightMap[kv.Name] = file;
            }
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(indexPath, null, $"index is not valid JSON ({e.Message})", e);
        }
        catch (InvalidOperationException e)
        {
            throw new SafetensorsException(indexPath, null, $"index holds a string that is not valid text ({e.Message})", e);
        }

        if (weightMap.Count == 0)
            throw new SafetensorsException(indexPath, null, "weight_map lists no tensors");
        var shards = weightMap.Values.Distinct().Order(StringComparer.Ordinal).Select(f => System.IO.Path.Combine(dir, f)).ToList();
        var checkpoint = FromFiles(dir, shards);
        try
        {
            foreach (var (name, file) in weightMap)
            {
                if (!checkpoint._owner.TryGetValue(name, out var owner))
                    throw new SafetensorsException(indexPath, name, $"listed in weight_map under '{file}' but that shard does not hold it");
                if (System.IO.Path.GetFileName(owner.Path) != file)
                    throw new SafetensorsException(indexPath, name, $"weight_map says '{file}' but it is stored in '{System.IO.Path.GetFileName(owner.Path)}'");
            }
            foreach (string name in checkpoint._owner.Keys)
                if (!weightMap.ContainsKey(name))
                    throw new SafetensorsException(indexPath, name, "stored in a shard but missing from weight_map");
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
        return checkpoint;
    }

    private static Checkpoint FromFiles(string dir, List<string> paths)
    {
        var files = new List<SafetensorsFile>();
        var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string p in paths)
            {
                var f = SafetensorsFile.Open(p);
                files.Add(f);
                foreach (string name in f.Names)
                    if (!owner.TryAdd(name, f))
                        throw new SafetensorsException(p, name, $"also stored in {owner[name].Path}");
            }
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new Checkpoint(dir, files, owner);
    }

    public bool Contains(string name) => _pytorch?.Contains(name) ?? _owner.ContainsKey(name);

    public Tensor this[string name] => TryGet(name, out var t)
        ? t
        : throw new KeyNotFoundException($"{Directory}: checkpoint has no tensor named '{name}'");

    public bool TryGet(string name, out Tensor tensor)
    {
        if (_pytorch is not null) return _pytorch.TryGet(name, out tensor);
        if (_owner.TryGetValue(name, out var f)) return f.TryGet(name, out tensor);
        tensor = null!;
        return false;
    }

    /// <summary>The named tensor as a fresh copy read with file I/O (see <see cref="SafetensorsFile.TryReadCopy"/>).</summary>
    public bool TryReadCopy(string name, out Tensor tensor)
    {
        if (_pytorch is not null) return _pytorch.TryGet(name, out tensor); // already copied out of the archive
        if (_owner.TryGetValue(name, out var f)) return f.TryReadCopy(name, out tensor);
        tensor = null!;
        return false;
    }

    public void Dispose()
    {
        _pytorch?.Dispose();
        foreach (var f in _files) f.Dispose();
    }
}
