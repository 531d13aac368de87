using System.Text.Json;

namespace BridgeTower.Tensors.Safetensors;

/// <summary>
/// All tensors of a checkpoint directory: a single <c>model.safetensors</c> or shards listed by
/// <c>model.safetensors.index.json</c>. Tensors are memory-mapped views valid until disposal.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _owner;

    public string Directory { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IEnumerable<string> Names => _owner.Keys;

    private Checkpoint(string directory, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> owner)
    {
        Directory = directory;
        _files = files;
        _owner = owner;
    }

    /// <summary>Opens a directory, a single .safetensors file, or an index .json.</summary>
    public static Checkpoint Open(string path)
    {
        if (File.Exists(path))
        {
            return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                ? OpenIndex(path)
                : FromFiles(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, [path]);
        }
        if (!System.IO.Directory.Exists(path))
            throw new DirectoryNotFoundException($"{path}: no such checkpoint file or directory");
        string single = System.IO.Path.Combine(path, SingleFileName);
        string index = System.IO.Path.Combine(path, IndexFileName);
        if (File.Exists(single)) return FromFiles(path, [single]);
        if (File.Exists(index)) return OpenIndex(index);
        throw new FileNotFoundException($"{path}: no {SingleFileName} or {IndexFileName} in this directory");
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

    public bool Contains(string name) => _owner.ContainsKey(name);

    public Tensor this[string name] => _owner.TryGetValue(name, out var f)
        ? f[name]
        : throw new KeyNotFoundException($"{Directory}: checkpoint has no tensor named '{name}'");

    public bool TryGet(string name, out Tensor tensor)
    {
        if (_owner.TryGetValue(name, out var f)) return f.TryGet(name, out tensor);
        tensor = null!;
        return false;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
