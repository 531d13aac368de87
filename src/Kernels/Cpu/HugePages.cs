using System.Runtime.InteropServices;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// Asks Linux to back a large buffer with 2 MB pages (transparent huge pages in "madvise" mode, the
/// common default). A hint only: elsewhere, or if the call is refused, the buffer keeps 4 KB pages.
/// </summary>
internal static unsafe partial class HugePages
{
    public const nuint Size = 2 << 20;
    private const int MadvHugepage = 14;
    private static bool s_unavailable = !OperatingSystem.IsLinux();

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    public static void Advise(void* address, nuint length)
    {
        if (s_unavailable) return;
        try
        {
            Madvise(address, length, MadvHugepage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
        }
    }
}
