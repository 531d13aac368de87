namespace BridgeTower.Bench;

/// <summary>y(M,N) = x(M,K)·W(N,K)ᵀ: one Linear call.</summary>
public sealed record GemmShape(string Name, int M, int N, int K) : IFlopCount
{
    public double Flops => 2.0 * M * N * K;
    public override string ToString() => $"{Name} {M}x{K}·{K}x{N}";
}

/// <summary>Multi-head attention over B sequences, H heads of width D, Tq queries and Tk keys.</summary>
public sealed record AttentionShape(string Name, int B, int H, int Tq, int Tk, int D) : IFlopCount
{
    public double Flops => 4.0 * B * H * Tq * Tk * D;
    public override string ToString() => $"{Name} B{B} H{H} {Tq}x{Tk} D{D}";
}

/// <summary>Rows x width for the row kernels; flops count one pass of a few operations per element (indicative only).</summary>
public sealed record RowShape(string Name, int Rows, int Width) : IFlopCount
{
    public double Flops => 5.0 * Rows * Width;
    public override string ToString() => $"{Name} {Rows}x{Width}";
}

/// <summary>The shapes BridgeTower-base (hidden 768, FFN 3072, 12 heads of 64, 325 image tokens, 16-40 text tokens) and -large (1024, 4096, 16 heads, 442 tokens) run.</summary>
public static class BridgeTowerShapes
{
    public static IEnumerable<GemmShape> Gemm() =>
    [
        new("base vision qkv", 325, 2304, 768),
        new("base vision out", 325, 768, 768),
        new("base vision fc", 325, 3072, 768),
        new("base vision proj", 325, 768, 3072),
        new("base text qkv", 40, 2304, 768),
        new("base text dense", 16, 768, 768),
        new("base text ffn", 40, 3072, 768),
        new("large vision fc", 442, 4096, 1024),
        new("large vision proj", 442, 1024, 4096),
        new("square", 1024, 1024, 1024),
        new("square", 2048, 2048, 2048),
    ];

    public static IEnumerable<AttentionShape> Attention() =>
    [
        new("base vision self", 1, 12, 325, 325, 64),
        new("base text self", 1, 12, 40, 40, 64),
        new("base cross text->image", 1, 12, 16, 325, 64),
        new("base cross image->text", 1, 12, 325, 16, 64),
        new("large vision self", 1, 16, 442, 442, 64),
    ];

    public static IEnumerable<RowShape> Rows() =>
    [
        new("base vision", 325, 768),
        new("base text", 40, 768),
        new("large vision", 442, 1024),
    ];
}
