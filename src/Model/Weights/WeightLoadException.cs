namespace BridgeTower.Model.Weights;

/// <summary>A checkpoint that does not fit the configured model: missing, mis-shaped, mistyped or unknown tensors.</summary>
public sealed class WeightLoadException(string message) : FormatException(message);
