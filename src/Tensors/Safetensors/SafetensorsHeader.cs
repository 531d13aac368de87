using System.Text;
using System.Text.Json;

namespace BridgeTower.Tensors.Safetensors;

/// <summary>The parsed, fully validated JSON header of a safetensors file.</summary>
internal sealed class SafetensorsHeader
{
    internal readonly record struct Entry(string Name, DType DType, int[] Shape, long Begin, long End);

    public required List<Entry> Entries { get; init; }
    public required Dictionary<string, string> Metadata { get; init; }

    /// <summary>More dimensions than any real tensor has; bounds the work a hostile header can ask for.</summary>
    public const int MaxRank = 16;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static SafetensorsHeader Parse(string path, ReadOnlySpan<byte> json, long dataLength)
    {
        try
        {
            StrictUtf8.GetCharCount(json);
        }
        catch (DecoderFallbackException e)
        {
            throw new SafetensorsException(path, null, "header is not valid UTF-8", e);
        }

        // The reference refuses headers that do not start with '{' (no BOM, no leading whitespace).
        if (json.Length == 0 || json[0] != (byte)'{')
            throw new SafetensorsException(path, null, "header is not a JSON object: it must start with '{'");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(path, null, $"header is not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            try
            {
                return ParseDocument(path, doc, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // JsonElement throws this for strings it cannot decode (e.g. an escaped lone surrogate).
                throw new SafetensorsException(path, null, $"header holds a string that is not valid text ({e.Message})", e);
            }
        }
    }

    private static SafetensorsHeader ParseDocument(string path, JsonDocument doc, long dataLength)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(path, null, $"header must be a JSON object, found {doc.RootElement.ValueKind}");

        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            string name = property.Name;
            if (!seen.Add(name))
                throw new SafetensorsException(path, name, "name appears more than once in the header");
            if (name == "__metadata__")
            {
                ReadMetadata(path, property.Value, metadata);
                continue;
            }
            entries.Add(ReadEntry(path, name, property.Value, dataLength));
        }
        CheckLayout(path, entries, dataLength);
        return new SafetensorsHeader { Entries = entries, Metadata = metadata };
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(path, "__metadata__", "must be an object of string values");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsException(path, "__metadata__", $"value of '{kv.Name}' must be a string");
            if (!metadata.TryAdd(kv.Name, kv.Value.GetString()!))
                throw new SafetensorsException(path, "__metadata__", $"key '{kv.Name}' appears more than once");
        }
    }

    private static Entry ReadEntry(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(path, name, "entry must be an object with dtype, shape and data_offsets");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new SafetensorsException(path, name, "missing string field 'dtype'");
        string dtypeName = dtypeElement.GetString()!;
        if (!DTypeInfo.TryParseSafetensors(dtypeName, out var dtype))
            throw new SafetensorsException(path, name, $"unknown dtype '{dtypeName}'");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new SafetensorsException(path, name, "missing array field 'shape'");
        if (shapeElement.GetArrayLength() > MaxRank)
            throw new SafetensorsException(path, name, $"rank {shapeElement.GetArrayLength()} exceeds {MaxRank}");
        var dims = new List<long>();
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim))
                throw new SafetensorsException(path, name, $"shape entry {d} is not an integer");
            if (dim < 0)
                throw new SafetensorsException(path, name, $"shape {ShapeMath.Format(dims.Append(dim).ToArray())} has a negative dimension");
            if (dim > int.MaxValue)
                throw new SafetensorsException(path, name, $"dimension {dim} exceeds {int.MaxValue}");
            dims.Add(dim);
        }
        if (!ShapeMath.TryElementCount(dims.ToArray(), out long count) || count > long.MaxValue / dtype.SizeOf())
            throw new SafetensorsException(path, name, $"shape {ShapeMath.Format(dims.ToArray())} has an element count that overflows");

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new SafetensorsException(path, name, "data_offsets must be an array [begin, end]");
        if (offsets[0].ValueKind != JsonValueKind.Number || offsets[1].ValueKind != JsonValueKind.Number
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < 0)
            throw new SafetensorsException(path, name, $"data_offsets {offsets} must be two non-negative integers");
        if (begin > end)
            throw new SafetensorsException(path, name, $"data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw new SafetensorsException(path, name, $"data_offsets [{begin}, {end}] run past the {dataLength}-byte data section");
        long expectedBytes = count * dtype.SizeOf();
        if (end - begin != expectedBytes)
            throw new SafetensorsException(path, name,
                $"holds {end - begin} bytes but shape {ShapeMath.Format(dims.ToArray())} of {dtypeName} needs {expectedBytes}");

        foreach (var property in value.EnumerateObject())
            if (property.Name is not ("dtype" or "shape" or "data_offsets"))
                throw new SafetensorsException(path, name, $"unexpected field '{property.Name}'");

        return new Entry(name, dtype, dims.Select(d => (int)d).ToArray(), begin, end);
    }

    /// <summary>The tensors must tile the data section exactly: no overlap, no holes, ending at the file end.</summary>
    private static void CheckLayout(string path, List<Entry> entries, long dataLength)
    {
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        string? previous = null;
        foreach (var e in entries)
        {
            if (e.Begin < cursor)
                throw new SafetensorsException(path, e.Name, $"data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous}' which ends at {cursor}");
            if (e.Begin > cursor)
                throw new SafetensorsException(path, e.Name, $"data_offsets begin at {e.Begin}, leaving a hole after byte {cursor}");
            cursor = e.End;
            previous = e.Name;
        }
        if (cursor != dataLength)
            throw new SafetensorsException(path, previous,
                $"tensors end at byte {cursor} of the data section but the file holds {dataLength} bytes there");
    }
}
