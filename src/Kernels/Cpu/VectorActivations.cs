using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BridgeTower.Kernels.Cpu;

/// <summary>
/// An activation as a type, so a loop generic over it is compiled once per activation with the call inlined
/// (no switch per vector).
/// </summary>
internal interface IVectorActivation
{
    static abstract float Apply(float x);
    static abstract Vector256<float> Apply(Vector256<float> x);
    static abstract Vector512<float> Apply(Vector512<float> x);
}

internal readonly struct IdentityActivation : IVectorActivation
{
    public static float Apply(float x) => x;
    public static Vector256<float> Apply(Vector256<float> x) => x;
    public static Vector512<float> Apply(Vector512<float> x) => x;
}

internal readonly struct GeluActivation : IVectorActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(float x) => VectorMath.Gelu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Apply(Vector256<float> x) => VectorMath.Gelu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Apply(Vector512<float> x) => VectorMath.Gelu(x);
}

internal readonly struct QuickGeluActivation : IVectorActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(float x) => VectorMath.QuickGelu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Apply(Vector256<float> x) => VectorMath.QuickGelu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Apply(Vector512<float> x) => VectorMath.QuickGelu(x);
}
