using System.Text;
using System.Text.Json;

namespace BridgeTower.Tensors.Safetensors;

/// <summary>Writes tensors in the safetensors format (header padded with spaces to 8 bytes, as the reference does).</summary>
public static unsafe class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        foreach (var (name, tensor) in list)
            if (tensor is null) throw new ArgumentException($"{path}: tensor '{name}' is null");
        Write(path, list.Select(kv => (kv.Key, kv.Value.DType, kv.Value.ShapeArray())).ToList(), i => list[i].Value, metadata);
    }

    /// <summary>
    /// Writes tensors produced one at a time, in order: <paramref name="produce"/>(i) is called once for entry i,
    /// written and dropped, so a checkpoint far larger than memory can be written (random benchmark weights).
    /// Each produced tensor must have its entry's dtype and shape.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(string Name, DType DType, int[] Shape)> entries, Func<int, Tensor> produce,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(produce);
        foreach (var (name, _, shape) in entries)
        {
            if (name is null) throw new ArgumentException($"{path}: a tensor name is null");
            if (name == "__metadata__") throw new ArgumentException($"{path}: '__metadata__' is reserved and cannot name a tensor");
            if (shape is null) throw new ArgumentException($"{path}: tensor '{name}' has no shape");
        }
        var duplicate = entries.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"{path}: tensor name '{duplicate.Key}' given more than once");
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is not null && metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var kv in metadata) json.WriteString(kv.Key, kv.Value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, dtype, shape) in entries)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype.SafetensorsName());
                json.WriteStartArray("shape");
                foreach (int d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += checked(ShapeMath.ElementCount(shape) * dtype.SizeOf());
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');

        // Write beside the target and move into place, so a failure never leaves a half-written file.
        string tmp = path + ".tmp";
        try
        {
            WriteFile(tmp, header, entries, produce);
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static void WriteFile(string tmp, MemoryStream header, IReadOnlyList<(string Name, DType DType, int[] Shape)> entries,
        Func<int, Tensor> produce)
    {
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> len = stackalloc byte[8];
            BitConverter.TryWriteBytes(len, (ulong)header.Length);
            stream.Write(len);
            header.Position = 0;
            header.CopyTo(stream);
            for (int i = 0; i < entries.Count; i++)
            {
                var (name, dtype, shape) = entries[i];
                var tensor = produce(i) ?? throw new ArgumentException($"{tmp}: no tensor produced for '{name}'");
                if (tensor.DType != dtype || !tensor.Shape.SequenceEqual(shape))
                    throw new ArgumentException($"{tmp}: tensor '{name}' was declared {dtype} {ShapeMath.Format(shape)} but produced as {tensor.DType} {tensor.ShapeString}");
                var contiguous = tensor.Contiguous();
                long remaining = contiguous.ByteCount;
                byte* p = contiguous.DataPointer;
                while (remaining > 0)
                {
                    int chunk = (int)Math.Min(remaining, 1 << 30);
                    stream.Write(new ReadOnlySpan<byte>(p, chunk));
                    p += chunk;
                    remaining -= chunk;
                }
                GC.KeepAlive(contiguous); // a fresh copy is otherwise unreachable while its raw pointer is written
            }
        }
    }
}
