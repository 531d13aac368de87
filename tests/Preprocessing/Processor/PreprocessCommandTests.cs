using System.Text.Json.Nodes;
using BridgeTower.Tests.Cli;
using BridgeTower.Tests.Preprocessing.Images;
using BridgeTower.Tests.Tensors;
using BridgeTower.Tensors.Safetensors;

namespace BridgeTower.Tests.Preprocessing.Processor;

/// <summary>`bridgetower preprocess` in-process, and its output fed to `bridgetower run`.</summary>
[Collection(ConsoleCollection.Name)]
public class PreprocessCommandTests
{
    private static string ProcessorDir => SharedData.Path("fixtures", "processor");

    [SharedFact]
    public void Writes_the_reference_processor_tensors()
    {
        using var dir = new TempDirectory();
        string output = dir.File("in.safetensors");
        var (code, stdout, stderr) = CliRunner.Run("preprocess", "--model", ProcessorDir,
            "--image", ImageFixtures.ImagePath("chelsea"), ImageFixtures.ImagePath("text"),
            "--text", ProcessorFixtureTests.FixtureTexts[0], ProcessorFixtureTests.FixtureTexts[1], "--out", output);
        Assert.True(code == 0, stderr);
        Assert.StartsWith($"wrote 4 tensors to {output}: input_ids [2, 11], attention_mask [2, 11], pixel_values [2, 3, 288, 288], pixel_mask [2, 288, 288]", stdout);
        Assert.Contains("preprocess: 2/2 images", stderr);

        using var file = SafetensorsFile.Open(output);
        Assert.Equal(DType.I64, file["input_ids"].DType);
        Assert.Equal(DType.I64, file["attention_mask"].DType);
        Assert.Equal(DType.I64, file["pixel_mask"].DType);
        Assert.Equal(ImageFixtures.Get("processor.input_ids").ToInt64Array(), file["input_ids"].ToInt64Array());
        Assert.Equal(ImageFixtures.Get("processor.attention_mask").ToInt64Array(), file["attention_mask"].ToInt64Array());
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("chelsea.pixel_values"), file["pixel_values"].Select(0, 0)) <= 1e-6);
        Assert.True(ImageFixtures.MaxAbsDiff(ImageFixtures.Get("text.pixel_values"), file["pixel_values"].Select(0, 1)) <= 1e-6);
        Assert.All(file["pixel_mask"].ToInt64Array(), v => Assert.Equal(1L, v));
    }

    [SharedFact]
    public void No_center_crop_pads_the_batch()
    {
        using var dir = new TempDirectory();
        string output = dir.File("in.safetensors");
        var (code, _, stderr) = CliRunner.Run("preprocess", "--model", ProcessorDir, "--no-center-crop",
            "--image", ImageFixtures.ImagePath("chelsea"), ImageFixtures.ImagePath("text"), "--text", "a cat", "--out", output);
        Assert.True(code == 0, stderr);
        using var file = SafetensorsFile.Open(output);
        // chelsea resizes to 288x416, text to 160x448: padded to 288x448.
        Assert.Equal([2, 3, 288, 448], file["pixel_values"].ShapeArray());
        // One text for two images: its row is repeated.
        Assert.Equal([2, 4], file["input_ids"].ShapeArray());
        var mask = file["pixel_mask"].ToInt64Array();
        Assert.Equal(288L * 416, mask.Take(288 * 448).Sum());
        Assert.Equal(160L * 448, mask.Skip(288 * 448).Sum());
    }

    [SharedFact]
    public void A_bad_image_is_one_line_naming_the_file_and_no_output()
    {
        using var dir = new TempDirectory();
        string output = dir.File("in.safetensors");
        string bad = ImageFixtures.BadImagePath("truncated_rocket.jpg");
        var (code, stdout, stderr) = CliRunner.Run("preprocess", "--model", ProcessorDir,
            "--image", ImageFixtures.ImagePath("basn6a16"), bad, "--text", "a", "b", "--out", output);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("preprocess: ")).ToArray();
        Assert.Single(lines);
        Assert.StartsWith($"bridgetower preprocess: {bad}: ", lines[0]);
        Assert.Contains("truncated JPEG", lines[0]);
        Assert.DoesNotContain(" at ", stderr);
        Assert.False(File.Exists(output));
    }

    [SharedTheory]
    [InlineData("--image|a.png|b.png|--text|x|y|z", "2 images and 3 texts", 2)]
    [InlineData("--text|x", "missing required option --image", 2)]
    [InlineData("--image|a.png", "missing required option --text", 2)]
    [InlineData("--image|a.png|--text|x|--max-length|1", "--max-length", 2)]
    public void Usage_errors_are_one_line_with_exit_code_2(string args, string message, int expectedCode)
    {
        using var dir = new TempDirectory();
        var (code, _, stderr) = CliRunner.Run(["preprocess", "--model", ProcessorDir, "--out", dir.File("o.safetensors"), .. args.Split('|')]);
        Assert.Equal(expectedCode, code);
        Assert.Contains(message, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SharedFact]
    public void A_directory_without_processor_files_is_named()
    {
        using var dir = new TempDirectory();
        var (code, _, stderr) = CliRunner.Run("preprocess", "--model", dir.Path, "--image", ImageFixtures.ImagePath("basn6a16"),
            "--text", "a", "--out", dir.File("o.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains($"{dir.Path}: no preprocessor_config.json", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SharedFact]
    public void A_cancelled_token_stops_before_writing()
    {
        using var dir = new TempDirectory();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        string png = ImageFixtures.ImagePath("basn6a16");
        var command = new BridgeTower.Cli.Commands.PreprocessCommand { Out = TextWriter.Null, Progress = TextWriter.Null };
        Assert.Throws<OperationCanceledException>(() =>
            command.Run(["--model", ProcessorDir, "--image", png, png, "--text", "a", "--out", dir.File("o.safetensors")], cts.Token));
        Assert.False(File.Exists(dir.File("o.safetensors")));
    }

    /// <summary>
    /// tiny-base (image_size 32, RoBERTa's vocabulary size) plus the processor files, with a
    /// preprocessor_config resizing to 32: preprocess output runs through the model as it is.
    /// </summary>
    [SharedFact]
    public void Output_feeds_run_on_a_tiny_model_directory()
    {
        using var dir = new TempDirectory();
        string model = Path.Combine(dir.Path, "model");
        Directory.CreateDirectory(model);
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(SharedData.Path("fixtures", "models", "tiny-base", f), Path.Combine(model, f));
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(ProcessorDir, f), Path.Combine(model, f));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(ProcessorDir, "preprocessor_config.json")))!;
        config["size"] = new JsonObject { ["shortest_edge"] = 32 };
        File.WriteAllText(Path.Combine(model, "preprocessor_config.json"), config.ToJsonString());

        string pair = dir.File("pair.safetensors"), shared = dir.File("shared.safetensors"), repeated = dir.File("repeated.safetensors");
        string[] images = [ImageFixtures.ImagePath("chelsea"), ImageFixtures.ImagePath("green_palette")];
        string[] texts = ["two cats on a couch", "a <mask> looking out of the window"];
        Assert.Equal(0, CliRunner.Run(["preprocess", "--model", model, "--image", .. images, "--text", .. texts, "--out", pair]).ExitCode);
        Assert.Equal(0, CliRunner.Run(["preprocess", "--model", model, "--image", images[0], "--text", .. texts, "--out", shared]).ExitCode);
        Assert.Equal(0, CliRunner.Run(["preprocess", "--model", model, "--image", images[0], "--text", .. texts, "--repeat-image", "--out", repeated]).ExitCode);
        using (var file = SafetensorsFile.Open(pair)) Assert.Equal([2, 3, 32, 32], file["pixel_values"].ShapeArray());
        using (var file = SafetensorsFile.Open(shared)) Assert.Equal([1, 3, 32, 32], file["pixel_values"].ShapeArray());

        float[] Itm(string inputs)
        {
            string result = inputs + ".itm.safetensors";
            var (code, _, stderr) = CliRunner.Run("run", "--model", model, "--task", "itm", "--inputs", inputs, "--out", result);
            Assert.True(code == 0, stderr);
            using var file = SafetensorsFile.Open(result);
            Assert.Equal([2, 2], file["logits"].ShapeArray());
            return file["logits"].ToFloatArray();
        }
        Assert.All(Itm(pair), v => Assert.True(float.IsFinite(v)));
        // One image shared by two texts (image batch 1) gives what the repeated image gives.
        var sharedLogits = Itm(shared);
        var repeatedLogits = Itm(repeated);
        for (int i = 0; i < sharedLogits.Length; i++)
            Assert.True(Math.Abs(sharedLogits[i] - repeatedLogits[i]) <= 1e-5 * (1 + Math.Abs(repeatedLogits[i])), $"logit {i}: {sharedLogits[i]} vs {repeatedLogits[i]}");
    }
}
