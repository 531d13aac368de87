namespace BridgeTower.Model.Modules;

/// <summary>
/// Keeps dead activations from piling up. Backends return every result in a fresh pinned array, and
/// pinned arrays are only reclaimed by full collections, which the GC schedules far apart, so a
/// forward would otherwise hold hundreds of megabytes of dead layer outputs (and pay page faults for
/// fresh memory). Called at layer boundaries: once more than <see cref="Threshold"/> bytes were
/// allocated since the last collection, a full non-compacting collection frees them for reuse (about a
/// millisecond: the live heap is a few thousand arrays without references). A reusable activation arena
/// in the backend would make this unnecessary.
/// </summary>
internal static class GarbageBound
{
    public const long Threshold = 64L << 20;
    private static long s_allocatedAtLastCollect;

    public static void Check()
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        if (allocated - Interlocked.Read(ref s_allocatedAtLastCollect) < Threshold) return;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        Interlocked.Exchange(ref s_allocatedAtLastCollect, GC.GetTotalAllocatedBytes(precise: false));
    }
}
