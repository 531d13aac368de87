using System.Runtime.CompilerServices;
using BridgeTower.Tensors;

namespace BridgeTower.Tests.Tensors;

/// <summary>
/// Every test in this assembly runs with the shared pool filling rented buffers with NaN bytes: a kernel
/// or model step that reads a result before writing all of it (or counts on fresh memory being zero)
/// fails its comparisons instead of passing because a new array happened to be zeroed.
/// </summary>
internal static class PoisonedArena
{
    [ModuleInitializer]
    internal static void Enable() => PinnedBufferPool.Shared.PoisonRentedBuffers = true;
}
