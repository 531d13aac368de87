using BridgeTower.Kernels.Cpu;

namespace BridgeTower.Tests.Kernels;

public class WorkerPoolTests
{
    [Fact]
    public void Runs_every_index_once_and_nested_calls_inline()
    {
        using var pool = new WorkerPool(2);
        for (int round = 0; round < 200; round++)
        {
            var hits = new int[37];
            pool.Run(hits.Length, i =>
            {
                Interlocked.Increment(ref hits[i]);
                pool.Run(3, _ => { }); // nested: must not deadlock
            });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void Task_failures_surface_and_the_pool_survives()
    {
        using var pool = new WorkerPool(2);
        var e = Assert.Throws<AggregateException>(() => pool.Run(10, i => { if (i == 7) throw new InvalidOperationException("task 7"); }));
        Assert.Contains("task 7", e.InnerException!.Message);
        int count = 0;
        pool.Run(10, _ => Interlocked.Increment(ref count));
        Assert.Equal(10, count);
    }
}
