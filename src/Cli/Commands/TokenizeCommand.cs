using System.Text.Encodings.Web;
using System.Text.Json;
using BridgeTower.Preprocessing.Text;

namespace BridgeTower.Cli.Commands;

/// <summary>`bridgetower tokenize`: the RoBERTa tokenizer of a model directory applied to texts.</summary>
public sealed class TokenizeCommand : ICommand
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Name => "tokenize";
    public string Summary => "print the input ids and tokens of texts (RoBERTa BPE of a model directory)";
    public string Usage =>
        """
        usage: bridgetower tokenize --model DIR --text T [T...] [--max-length N] [--no-special-tokens] [--json]

          --model DIR          directory with tokenizer.json, or vocab.json + merges.txt
                               (tokenizer_config.json / special_tokens_map.json are read when present)
          --text T...          one or more texts (use --text=T for a text that starts with --)
          --max-length N       truncate to N tokens (the closing </s> is kept)
          --no-special-tokens  do not add <s> ... </s>
          --json               one JSON object per text: text, input_ids, attention_mask, tokens
        """;

    /// <summary>Where results go (tests capture it).</summary>
    public TextWriter Out { get; set; } = Console.Out;

    public int Run(string[] args, CancellationToken cancellationToken)
    {
        var o = Options.Parse(args, ["--model", "--text", "--max-length"], ["--json", "--no-special-tokens"]);
        if (o.Positional.Count > 0) throw new CliException($"unexpected argument '{o.Positional[0]}'", CommandLine.ExitUsage);
        string model = o.Require("--model");
        var texts = o.All("--text");
        if (texts.Count == 0) throw new CliException("missing required option --text", CommandLine.ExitUsage);
        int? maxLength = o.Get("--max-length") is null ? null : o.GetInt("--max-length", 0, min: 1);
        var options = new EncodeOptions { AddSpecialTokens = !o.Flag("--no-special-tokens"), MaxLength = maxLength, Truncation = maxLength is not null };
        if (options.AddSpecialTokens && maxLength < 2)
            throw new CliException("--max-length must be at least 2 to hold <s> and </s>", CommandLine.ExitUsage);

        var tokenizer = RobertaTokenizer.FromDirectory(model);
        foreach (string text in texts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var encoded = tokenizer.Encode(text, options);
            if (o.Flag("--json"))
            {
                Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["text"] = text, ["input_ids"] = encoded.InputIds, ["attention_mask"] = encoded.AttentionMask, ["tokens"] = encoded.Tokens,
                }, Json));
            }
            else
            {
                if (texts.Count > 1) Out.WriteLine($"text:      {JsonSerializer.Serialize(text, Json)}");
                Out.WriteLine($"input_ids: [{string.Join(", ", encoded.InputIds)}]");
                Out.WriteLine($"tokens:    {JsonSerializer.Serialize(encoded.Tokens, Json)}");
                Out.WriteLine($"length:    {encoded.Length}");
            }
        }
        Out.Flush();
        return CommandLine.ExitOk;
    }
}
