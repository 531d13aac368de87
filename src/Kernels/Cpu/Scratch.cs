using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// Per-thread pinned float buffers, grown on demand and kept, so kernels allocate nothing in the
/// steady state. Each slot is owned by one kernel phase; a pointer stays valid until the same
/// thread asks the same slot for a larger size.
/// </summary>
internal static unsafe class Scratch
{
    public const int PackA = 0, PackB = 1, Attention = 2, Tile = 3, Rows = 4;
    private const int Slots = 5;

    [ThreadStatic] private static float[]?[]? t_buffers;

    public static float* Get(int slot, long length)
    {
        var buffers = t_buffers ??= new float[Slots][];
        var buffer = buffers[slot];
        if (buffer is null || buffer.Length < length)
        {
            if (length > Array.MaxLength) throw new OutOfMemoryException($"scratch buffer of {length} floats is too large");
            long grown = Math.Min(Array.MaxLength, Math.Max(length, (buffer?.Length ?? 0) * 3L / 2));
            buffer = GC.AllocateUninitializedArray<float>((int)grown, pinned: true);
            buffers[slot] = buffer;
        }
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }
}
