using BridgeTower.Kernels;
using BridgeTower.Kernels.Reference;

namespace BridgeTower.Cli;

/// <summary>The backend the commands run on.</summary>
internal static class Backends
{
    /// <param name="threads">worker threads; 0 means one per core</param>
    public static IBackend Create(int threads = 0)
    {
        _ = threads; // the reference backend is single-threaded; the SIMD CPU backend takes the count
        return new ReferenceBackend();
    }
}
