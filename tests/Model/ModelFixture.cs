using System.Text.Json.Nodes;
using BridgeTower.Kernels;
using BridgeTower.Kernels.Reference;
using BridgeTower.Model;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Model;

/// <summary>One fixture variant: its checkpoint directory, inputs, the reference's outputs and errors.json.</summary>
public sealed class ModelFixture : IDisposable
{
    public string Variant { get; }
    public string Directory { get; }
    public SafetensorsFile Inputs { get; }
    public SafetensorsFile Expected { get; }
    /// <summary>Calls the reference raises on (errors.json), with its message.</summary>
    public IReadOnlyDictionary<string, string> Errors { get; }
    public IBackend Backend { get; }

    /// <param name="backend">the backend the model runs on (owned by the fixture); the reference one by default</param>
    public ModelFixture(string variant, IBackend? backend = null)
    {
        Variant = variant;
        Backend = backend ?? new ReferenceBackend();
        Directory = SharedData.Models(variant);
        Inputs = SafetensorsFile.Open(Path.Combine(Directory, "inputs.safetensors"));
        Expected = SafetensorsFile.Open(Path.Combine(Directory, "expected.safetensors"));
        string errors = Path.Combine(Directory, "errors.json");
        Errors = File.Exists(errors)
            ? JsonNode.Parse(File.ReadAllText(errors))!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!["message"]!.GetValue<string>())
            : new Dictionary<string, string>();
    }

    public Tensor Input(string name) => Inputs[name];

    /// <summary>The calls the variant's README lists: each expected tensor prefix, plus "model" for hidden.*, attn.*, debug.*.</summary>
    public bool HasCall(string call) => call == "model" || Expected.Names.Any(n => n.StartsWith(call + ".", StringComparison.Ordinal));

    /// <summary>Image <paramref name="index"/> of pixel_values as a batch of 1, and that image repeated to the fixture's batch.</summary>
    public (Tensor One, Tensor Repeated) OneImageAndRepeated(int index)
    {
        var pixels = Input("pixel_values");
        var one = pixels.Narrow(0, index, 1).Contiguous();
        var repeated = Tensor.Zeros(pixels.ShapeArray());
        int n = (int)one.ElementCount;
        for (int i = 0; i < pixels.Dim(0); i++) one.ReadOnlySpan<float>().CopyTo(repeated.Span<float>().Slice(i * n, n));
        return (one, repeated);
    }

    public BridgeTowerInputs Base(bool withMask = true) => new()
    {
        InputIds = Input("input_ids"),
        AttentionMask = withMask ? Input("attention_mask") : null,
        PixelValues = Input("pixel_values"),
        PixelMask = Input("pixel_mask"),
    };

    public void Dispose()
    {
        Inputs.Dispose();
        Expected.Dispose();
        Backend.Dispose();
    }
}
