using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using BridgeTower.Kernels.Reference;
using BridgeTower.Model;
using BridgeTower.Model.Config;
using BridgeTower.Model.Weights;

namespace BridgeTower.Tests.Model;

/// <summary>
/// The model gives every intermediate back to the activation arena: counted on a private pool, repeated
/// forwards whose outputs the caller disposes leave nothing rented and need no fresh memory after the first.
/// </summary>
public class ArenaModelTests
{
    public static TheoryData<BridgeTowerHead, bool> HeadsAndBackends()
    {
        var data = new TheoryData<BridgeTowerHead, bool>();
        foreach (var head in new[] { BridgeTowerHead.None, BridgeTowerHead.Itm, BridgeTowerHead.Mlm, BridgeTowerHead.Contrastive })
        {
            data.Add(head, false);
            data.Add(head, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(HeadsAndBackends))]
    public void Repeated_forwards_return_every_intermediate_to_the_pool(BridgeTowerHead head, bool cpu)
    {
        var pool = new PinnedBufferPool { PoisonRentedBuffers = true };
        using var scope = PinnedBufferPool.Use(pool);
        var config = RandomWeightsTests.TinyConfig();
        using IBackend backend = cpu ? new CpuBackend(threads: 2) : new ReferenceBackend();
        using var model = Build(head, config, backend);
        var inputs = Inputs(mlmLabels: head == BridgeTowerHead.Mlm);

        var first = RunAndDispose(model, inputs);
        long outstanding = pool.OutstandingBytes, allocated = pool.AllocatedBytes;
        for (int i = 0; i < 3; i++)
        {
            var again = RunAndDispose(model, inputs);
            Assert.Equal(first, again); // reused (poisoned) buffers change nothing
            Assert.Equal(outstanding, pool.OutstandingBytes);
            Assert.Equal(allocated, pool.AllocatedBytes);
        }
        Assert.True(pool.ReuseCount > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_cached_image_encoding_and_the_caller_s_tensors_survive_forwards(bool cpu)
    {
        var pool = new PinnedBufferPool { PoisonRentedBuffers = true };
        using var scope = PinnedBufferPool.Use(pool);
        var config = RandomWeightsTests.TinyConfig();
        using IBackend backend = cpu ? new CpuBackend(threads: 2) : new ReferenceBackend();
        using var itm = BridgeTowerForImageAndTextRetrieval.FromWeights(config, new RandomWeights(config, BridgeTowerHead.Itm), backend);
        var inputs = Inputs(mlmLabels: false);
        // The caller's pixels in a pooled buffer: the model must read them, never give them back.
        using var pixels = inputs.PixelValues!.Narrow(0, 0, 1).Copy();
        long before = pool.OutstandingBytes;

        var image = itm.BridgeTower.EncodeImage(pixels);
        var cachedInputs = inputs with { PixelValues = null, Image = image };
        var first = itm.Forward(cachedInputs).Logits.ToFloatArray();
        var second = itm.Forward(cachedInputs).Logits.ToFloatArray();
        Assert.Equal(first, second);
        Assert.True(pixels.OwnsStorage);
        Assert.All(image.BridgeInputs, t => Assert.True(t.OwnsStorage));
        Assert.True(image.LastBlockOutput.OwnsStorage);

        // image_embeds given as is (F32, contiguous) are borrowed too.
        var embeds = image.LastBlockOutput.Copy();
        var viaEmbeds = itm.Forward(inputs with { PixelValues = null, ImageEmbeds = embeds });
        Assert.True(embeds.OwnsStorage);
        viaEmbeds.Logits.Dispose();
        embeds.Dispose();

        image.Dispose();
        Assert.Throws<ObjectDisposedException>(() => image.BridgeInputs[0].ToFloatArray());
        Assert.Equal(before + 2 * PinnedBufferPool.ClassSize(2 * 2 * sizeof(float)), pool.OutstandingBytes); // only the two undisposed logits remain
    }

    private static IDisposable Build(BridgeTowerHead head, BridgeTowerConfig config, IBackend backend)
    {
        var weights = new RandomWeights(config, head, seed: 3);
        return head switch
        {
            BridgeTowerHead.None => BridgeTowerModel.FromWeights(config, weights, backend),
            BridgeTowerHead.Itm => BridgeTowerForImageAndTextRetrieval.FromWeights(config, weights, backend),
            BridgeTowerHead.Mlm => BridgeTowerForMaskedLM.FromWeights(config, weights, backend),
            _ => BridgeTowerForContrastiveLearning.FromWeights(config, weights, backend),
        };
    }

    /// <summary>One forward; every output tensor is read, then disposed as a caller done with it would.</summary>
    private static float[] RunAndDispose(IDisposable model, BridgeTowerInputs inputs)
    {
        var outputs = model switch
        {
            BridgeTowerModel m => Collect(m.Forward(inputs).ToDictionary()),
            BridgeTowerForImageAndTextRetrieval m => Collect(m.Forward(inputs with { Labels = Tensor.FromArray(new long[] { 0, 1 }, 2) }).ToDictionary()),
            BridgeTowerForMaskedLM m => Collect(m.Forward(inputs).ToDictionary()),
            BridgeTowerForContrastiveLearning m => Contrastive(m.Forward(inputs with { ReturnLoss = true })),
            _ => throw new ArgumentException(model.GetType().Name),
        };
        var values = outputs.SelectMany(t => t.ToFloatArray()).ToArray();
        foreach (var t in outputs) t.Dispose();
        Assert.All(values, v => Assert.False(float.IsNaN(v)));
        return values;
    }

    private static List<Tensor> Collect(Dictionary<string, Tensor> outputs) => outputs.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList();

    private static List<Tensor> Contrastive(BridgeTowerContrastiveOutput o) =>
        [.. Collect(o.ToDictionary()), o.LogitsTextToImage, o.LogitsTextToCross, o.LogitsImageToCross];

    private static BridgeTowerInputs Inputs(bool mlmLabels)
    {
        var rng = new Random(11);
        var ids = Enumerable.Range(0, 12).Select(_ => (long)rng.Next(3, 100)).ToArray();
        var mask = Enumerable.Range(0, 12).Select(i => i == 11 ? 0L : 1L).ToArray();
        var pixels = Enumerable.Range(0, 2 * 3 * 16 * 16).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
        var labels = ids.Select((id, i) => i % 3 == 0 ? id : -100L).ToArray();
        return new BridgeTowerInputs
        {
            InputIds = Tensor.FromArray(ids, 2, 6),
            AttentionMask = Tensor.FromArray(mask, 2, 6),
            PixelValues = Tensor.FromArray(pixels, 2, 3, 16, 16),
            Labels = mlmLabels ? Tensor.FromArray(labels, 2, 6) : null,
        };
    }
}
