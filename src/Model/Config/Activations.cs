using BridgeTower.Kernels;

namespace BridgeTower.Model.Config;

/// <summary>Maps Hugging Face <c>hidden_act</c> names onto the backend's activations.</summary>
public static class Activations
{
    /// <summary>"gelu" is the exact erf form in transformers' ACT2FN; "quick_gelu" is x·sigmoid(1.702x).</summary>
    public static Activation Parse(string name, string key) => name switch
    {
        "gelu" => Activation.Gelu,
        "quick_gelu" => Activation.QuickGelu,
        "tanh" => Activation.Tanh,
        _ => throw new ConfigException(key, $"activation '{name}' is not supported (supported: gelu, quick_gelu, tanh)"),
    };
}
