using System.Text.Json;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Tensors;

/// <summary>
/// Every safetensors file in the fixtures loads with exactly the names, dtypes and shapes of its
/// header (parsed here independently with System.Text.Json), and values read through the tensor
/// match values decoded by hand from the raw file bytes.
/// </summary>
public class FixtureCheckpointTests
{
    public static IEnumerable<object[]> FixtureFiles()
    {
        if (!SharedData.Available) yield break;
        foreach (string variant in SharedData.ModelVariants())
            foreach (string file in Directory.GetFiles(SharedData.Models(variant), "*.safetensors").Order(StringComparer.Ordinal))
                yield return [Path.Combine("fixtures", "models", variant, Path.GetFileName(file))];
        foreach (string dir in new[] { "f16", "bf16", "sharded" })
            foreach (string file in Directory.GetFiles(SharedData.Path("fixtures", "checkpoints", dir), "*.safetensors").Order(StringComparer.Ordinal))
                yield return [Path.Combine("fixtures", "checkpoints", dir, Path.GetFileName(file))];
    }

    private sealed record RawEntry(string Name, string DType, int[] Shape, long Begin, long End);

    private static (List<RawEntry> Entries, Dictionary<string, string> Metadata, long DataStart) ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        var len = new byte[8];
        stream.ReadExactly(len);
        long n = BitConverter.ToInt64(len);
        var json = new byte[n];
        stream.ReadExactly(json);
        using var doc = JsonDocument.Parse(json);
        var entries = new List<RawEntry>();
        var metadata = new Dictionary<string, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString()!;
                continue;
            }
            var offsets = p.Value.GetProperty("data_offsets");
            entries.Add(new RawEntry(p.Name, p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(),
                offsets[0].GetInt64(), offsets[1].GetInt64()));
        }
        return (entries, metadata, 8 + n);
    }

    private static double DecodeRaw(byte[] b, string dtype) => dtype switch
    {
        "F32" => BitConverter.ToSingle(b),
        "F64" => BitConverter.ToDouble(b),
        "F16" => (double)BitConverter.ToHalf(b),
        "BF16" => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(b) << 16),
        "I64" => BitConverter.ToInt64(b),
        "I32" => BitConverter.ToInt32(b),
        "U8" => b[0],
        _ => throw new NotSupportedException(dtype),
    };

    private static int[] Unravel(long flat, int[] shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = (int)(flat % shape[d]);
            flat /= shape[d];
        }
        return index;
    }

    [SharedTheory]
    [MemberData(nameof(FixtureFiles))]
    public void Loads_every_tensor_with_the_header_names_dtypes_shapes_and_raw_values(string relative)
    {
        string path = SharedData.Path(relative);
        var (entries, metadata, dataStart) = ReadHeader(path);
        using var file = SafetensorsFile.Open(path);
        using var raw = File.OpenRead(path);

        Assert.Equal(entries.OrderBy(e => e.Begin).Select(e => e.Name), file.Names);
        Assert.Equal(metadata, file.Metadata);
        var buffer = new byte[8];
        foreach (var e in entries)
        {
            var t = file[e.Name];
            Assert.Equal(e.DType, t.DType.SafetensorsName());
            Assert.Equal(e.Shape, t.ShapeArray());
            Assert.Equal(e.End - e.Begin, t.ByteCount);
            long count = t.ElementCount;
            if (count == 0) continue;
            int size = t.DType.SizeOf();
            foreach (long flat in new[] { 0, count / 2, count - 1 })
            {
                raw.Position = dataStart + e.Begin + flat * size;
                raw.ReadExactly(buffer, 0, size);
                double expected = DecodeRaw(buffer[..size], e.DType);
                Assert.Equal(expected, t.GetDouble(Unravel(flat, e.Shape)));
            }
        }
    }

    /// <summary>
    /// The converted fixtures store the 0-d parameters of tiny-interpolate (logit_scale, link tower
    /// betas) as shape [1]; the model loader must accept both. Every other shape must match exactly.
    /// </summary>
    private static void AssertSameShape(string name, Tensor reference, Tensor converted)
    {
        if (reference.Rank == 0 && converted.ShapeArray() is [1]) return;
        Assert.True(reference.ShapeArray().SequenceEqual(converted.ShapeArray()),
            $"{name}: shape {converted.ShapeString}, expected {reference.ShapeString}");
    }

    private static Checkpoint Interpolate() => Checkpoint.Open(SharedData.Models("tiny-interpolate"));

    private static Checkpoint Converted(string dir) => Checkpoint.Open(SharedData.Path("fixtures", "checkpoints", dir));

    [SharedFact]
    public void Sharded_checkpoint_holds_tiny_interpolate_bit_for_bit()
    {
        using var reference = Interpolate();
        using var sharded = Converted("sharded");
        Assert.Equal(2, sharded.Files.Count);
        Assert.Equal(reference.Names.Order(StringComparer.Ordinal), sharded.Names.Order(StringComparer.Ordinal));
        foreach (string name in reference.Names)
        {
            AssertSameShape(name, reference[name], sharded[name]);
            Assert.Equal(reference[name].DType, sharded[name].DType);
            Assert.Equal(reference[name].ToFloatArray(), sharded[name].ToFloatArray());
        }
    }

    [SharedTheory]
    [InlineData("sharded")]
    [InlineData("f16")]
    [InlineData("bf16")]
    public void Copies_read_with_file_io_equal_the_mapped_tensors(string dir)
    {
        using var checkpoint = Converted(dir);
        foreach (string name in checkpoint.Names)
        {
            Assert.True(checkpoint.TryReadCopy(name, out var copy), name);
            var mapped = checkpoint[name];
            Assert.Equal(mapped.DType, copy.DType);
            Assert.Equal(mapped.ShapeArray(), copy.ShapeArray());
            Assert.Equal(mapped.ToFloatArray(), copy.ToFloatArray());
        }
        Assert.False(checkpoint.TryReadCopy("no.such.tensor", out _));
    }

    [SharedFact]
    public void Half_precision_checkpoint_is_tiny_interpolate_rounded_to_f16()
    {
        using var reference = Interpolate();
        using var half = Converted("f16");
        Assert.Equal(reference.Names.Order(StringComparer.Ordinal), half.Names.Order(StringComparer.Ordinal));
        foreach (string name in reference.Names)
        {
            Assert.Equal(DType.F16, half[name].DType);
            AssertSameShape(name, reference[name], half[name]);
            var expected = reference[name].ToFloatArray().Select(v => (float)(Half)v).ToArray();
            Assert.Equal(expected, half[name].ToFloatArray());
        }
    }

    [SharedFact]
    public void Bfloat16_checkpoint_is_tiny_interpolate_rounded_to_nearest_even()
    {
        using var reference = Interpolate();
        using var bf16 = Converted("bf16");
        Assert.Equal(reference.Names.Order(StringComparer.Ordinal), bf16.Names.Order(StringComparer.Ordinal));
        foreach (string name in reference.Names)
        {
            var t = bf16[name];
            Assert.Equal(DType.BF16, t.DType);
            AssertSameShape(name, reference[name], t);
            var f32 = reference[name].ToFloatArray();
            var bits = t.Contiguous().ReadOnlySpan<ushort>();
            var loaded = t.ToFloatArray();
            for (int i = 0; i < f32.Length; i++)
            {
                // torch rounds to nearest even: same bits as ours, and within half a bf16 ulp (8-bit significand: 2^-8 relative).
                if (BFloat16.FromSingle(f32[i]) != bits[i] || Math.Abs(loaded[i] - f32[i]) > Math.Abs(f32[i]) / 256)
                    Assert.Fail($"{name}[{i}]: bf16 bits 0x{bits[i]:X4} ({loaded[i]}) for f32 {f32[i]}, expected 0x{BFloat16.FromSingle(f32[i]):X4}");
            }
        }
    }

    [SharedFact]
    public void Checkpoint_opens_a_directory_a_single_file_and_an_index()
    {
        using var byDir = Interpolate();
        using var byFile = Checkpoint.Open(Path.Combine(SharedData.Models("tiny-interpolate"), "model.safetensors"));
        using var byIndex = Checkpoint.Open(SharedData.Path("fixtures", "checkpoints", "sharded", "model.safetensors.index.json"));
        Assert.Equal(byDir.Names.Count(), byFile.Names.Count());
        Assert.Equal(byDir.Names.Count(), byIndex.Names.Count());
        string first = byDir.Names.First();
        Assert.True(byIndex.Contains(first));
        Assert.True(byIndex.TryGet(first, out var t));
        Assert.Equal(byDir[first].ShapeArray(), t.ShapeArray());
        var e = Assert.Throws<KeyNotFoundException>(() => byDir["no.such.tensor"]);
        Assert.Contains("no.such.tensor", e.Message);
    }
}
