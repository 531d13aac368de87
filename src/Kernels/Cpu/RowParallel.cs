namespace BridgeTower.Kernels.Cpu;

/// <summary>Splits independent rows into chunks big enough to be worth a worker (or runs inline when small).</summary>
internal static class RowParallel
{
    private const long MinElementsPerTask = 1 << 14;

    public static void Run(WorkerPool pool, int rows, long rowLength, Action<int, int> body)
    {
        if (rows <= 0) return;
        long total = rows * Math.Max(rowLength, 1);
        int tasks = (int)Math.Min(Math.Min(rows, pool.Threads * 4L), Math.Max(1, total / MinElementsPerTask));
        if (tasks <= 1) { body(0, rows); return; }
        int per = (rows + tasks - 1) / tasks;
        tasks = (rows + per - 1) / per;
        pool.Run(tasks, t => body(t * per, Math.Min(rows, (t + 1) * per)));
    }
}
