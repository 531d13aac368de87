using BridgeTower.Model.Config;
using BridgeTower.Model.Modules;
using BridgeTower.Tensors;

namespace BridgeTower.Model.Weights;

/// <summary>
/// Deterministic random fp32 weights for a config's real shapes, made lazily: each tensor is created when
/// the model binds it and not kept here, in a pooled buffer that goes back to the arena as soon as the model
/// releases it (a Linear weight once the backend has packed it), so the next weight of that size reuses
/// it (no second copy of the model at peak). LayerNorm gammas are 1, scalars their reference init, everything
/// else uniform with standard deviation 0.02 (timing does not depend on the distribution; uniform is cheap).
/// The values depend on the seed and the key only, never on thread count or binding order.
/// </summary>
public sealed class RandomWeights : IWeightSource
{
    private const float Std = 0.02f;
    private const int Chunk = 1 << 20;
    private readonly Dictionary<string, ParameterSpec> _specs;
    private readonly ulong _seed;

    public RandomWeights(BridgeTowerConfig config, BridgeTowerHead head, ulong seed = 0)
    {
        Parameters = BridgeTowerParameters.For(config, head);
        _specs = Parameters.ToDictionary(s => s.Key, StringComparer.Ordinal);
        _seed = seed;
    }

    public IReadOnlyList<ParameterSpec> Parameters { get; }
    public long ParameterCount => Parameters.Sum(s => s.ElementCount);
    public string Description => $"random weights (seed {_seed})";
    public IEnumerable<string> Names => _specs.Keys;

    public bool TryGet(string name, out Tensor tensor)
    {
        if (!_specs.TryGetValue(name, out var spec))
        {
            tensor = null!;
            return false;
        }
        tensor = Create(spec);
        return true;
    }

    /// <summary>Every tensor here was made for the call that asked for it: a released one goes back to the arena.</summary>
    public void Release(string name, Tensor tensor) => tensor.Dispose();

    private Tensor Create(ParameterSpec spec)
    {
        var t = Tensor.Rent(spec.Shape); // every element is written below
        var data = t.Span<float>();
        switch (spec.Init)
        {
            case ParameterInit.Ones: data.Fill(1f); break;
            case ParameterInit.Constant: data.Fill(spec.Value); break;
            default: FillSmall(t, Hash(spec.Key) ^ _seed); break;
        }
        return t;
    }

    /// <summary>Uniform on [-a, a] with a = √3·std, chunk by chunk in parallel (each chunk seeded from its index).</summary>
    private static void FillSmall(Tensor t, ulong keySeed)
    {
        long n = t.ElementCount;
        int chunks = (int)((n + Chunk - 1) / Chunk);
        float halfWidth = MathF.Sqrt(3f) * Std;
        Parallel.For(0, chunks, c =>
        {
            var span = t.Span<float>();
            int start = c * Chunk, count = (int)Math.Min(Chunk, n - start);
            ulong state = keySeed + (ulong)c * 0x9E3779B97F4A7C15UL;
            for (int i = 0; i < count; i++)
            {
                ulong r = SplitMix64(ref state);
                // 24 random bits give a float in [0, 1) exactly.
                float u = (r >> 40) * (1f / (1 << 24));
                span[start + i] = (2f * u - 1f) * halfWidth;
            }
        });
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>FNV-1a of the key: a stable per-tensor seed (string.GetHashCode is randomised per process).</summary>
    private static ulong Hash(string key)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in key) h = (h ^ ch) * 1099511628211UL;
        return h;
    }
}
