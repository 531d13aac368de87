using System.Runtime.InteropServices;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// Per-thread 64-byte-aligned native float buffers, grown on demand and kept, so kernels allocate
/// nothing in the steady state and the GC never sees (or moves) them. Each slot is owned by one
/// kernel phase; a pointer stays valid until the same thread asks the same slot for a larger size.
/// A buffer is freed by its finalizer once its thread has ended.
/// </summary>
internal static unsafe class Scratch
{
    public const int PackA = 0, PackB = 1, Attention = 2, Tile = 3, Rows = 4, EdgeB = 5, SharedA = 6, PrivateB = 7;
    private const int Slots = 8;

    private sealed class Buffer : IDisposable
    {
        public readonly float* Pointer;
        public readonly long Length;

        public Buffer(long length)
        {
            Length = length;
            nuint bytes = (nuint)(length * sizeof(float));
            if (bytes >= HugePages.Size)
            {
                // Packed operands of big GEMMs span thousands of 4 KB pages: more than the TLB holds.
                bytes = (bytes + HugePages.Size - 1) / HugePages.Size * HugePages.Size;
                Pointer = (float*)NativeMemory.AlignedAlloc(bytes, HugePages.Size);
                HugePages.Advise(Pointer, bytes);
            }
            else Pointer = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        }

        ~Buffer() => NativeMemory.AlignedFree(Pointer);
        public void Dispose() { NativeMemory.AlignedFree(Pointer); GC.SuppressFinalize(this); }
    }

    [ThreadStatic] private static Buffer?[]? t_buffers;

    public static float* Get(int slot, long length)
    {
        var buffers = t_buffers ??= new Buffer[Slots];
        var buffer = buffers[slot];
        if (buffer is null || buffer.Length < length)
        {
            if (length > (long)int.MaxValue * 4) throw new OutOfMemoryException($"scratch buffer of {length} floats is too large");
            long grown = Math.Max(Math.Max(length, 1), (buffer?.Length ?? 0) * 3L / 2);
            buffer?.Dispose();
            buffer = new Buffer(grown);
            buffers[slot] = buffer;
        }
        return buffer.Pointer;
    }
}
