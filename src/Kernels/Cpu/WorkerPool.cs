namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// One set of long-lived threads that every CPU kernel shares. <see cref="Run"/> hands out task
/// indices 0..count-1 dynamically (an atomic counter), the calling thread works too, and a call
/// with one task, one thread, or from inside a task runs inline, so small problems pay no
/// scheduling cost and nested parallelism cannot deadlock.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _workers;
    private readonly SemaphoreSlim _start = new(0);
    private readonly ManualResetEventSlim _done = new(false);
    private readonly object _gate = new();
    private Action<int>? _body;
    private int _count;
    private int _next;
    private int _remaining;
    private Exception? _error;
    private volatile bool _disposed;

    [ThreadStatic] private static bool t_insideTask;

    public int Threads { get; }

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "a worker pool needs at least one thread");
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"BridgeTower CPU worker {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Runs body(0..count-1) across the pool and returns when all have finished; rethrows the first failure.</summary>
    public void Run(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || _workers.Length == 0 || t_insideTask)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_gate)
        {
            int helpers = Math.Min(_workers.Length, count - 1);
            _body = body;
            _count = count;
            _next = 0;
            _error = null;
            _remaining = helpers;
            _done.Reset();
            _start.Release(helpers);
            Work();
            if (helpers > 0) _done.Wait();
            _body = null;
            if (_error is { } error) throw new AggregateException("a CPU kernel task failed", error);
        }
    }

    private void Work()
    {
        var body = _body!;
        bool outer = t_insideTask;
        t_insideTask = true;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < _count)
            {
                try { body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            }
        }
        finally { t_insideTask = outer; }
    }

    private void WorkerLoop()
    {
        while (true)
        {
            _start.Wait();
            if (_disposed) return;
            Work();
            if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_workers.Length > 0) _start.Release(_workers.Length);
        foreach (var w in _workers) w.Join();
        _start.Dispose();
        _done.Dispose();
    }
}
