using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;

namespace BridgeTower.Cli;

/// <summary>The backend the commands run on: the SIMD CPU backend.</summary>
internal static class Backends
{
    /// <param name="threads">worker threads; 0 means one per core</param>
    public static IBackend Create(int threads = 0) => new CpuBackend(threads);
}
