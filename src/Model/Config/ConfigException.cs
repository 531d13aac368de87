namespace BridgeTower.Model.Config;

/// <summary>
/// A config.json value that is missing, malformed, inconsistent or unsupported. <see cref="Key"/> is the
/// JSON path of the offending key (a FormatException, so command-line tools print it as one line) (e.g. <c>text_config.num_attention_heads</c>), and the message starts with it.
/// </summary>
public sealed class ConfigException(string key, string message) : FormatException($"{key}: {message}")
{
    public string Key { get; } = key;
}
