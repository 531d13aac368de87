using BridgeTower.Kernels;
using BridgeTower.Kernels.Cpu;
using static BridgeTower.Tests.Kernels.KernelTestData;

namespace BridgeTower.Tests.Kernels;

/// <summary>
/// CPU GEMM (MatMul and Linear) against the double-accumulating reference. Tolerance: an fp32 dot
/// product of length K errs by about eps·√K·|a||b| (random-walk rounding), so the bound is
/// 1e-6·√K·max|a|·max|b| (≈ 8·eps·√K): a blocking or indexing bug is off by O(|a||b|), far above it.
/// </summary>
public unsafe class GemmTests
{
    public static IEnumerable<object[]> Cases()
    {
        int[][] shapes = [[1, 1, 1], [3, 17, 65], [17, 3, 333], [65, 333, 17], [333, 65, 17], [1, 1000, 3], [7, 33, 1000], [150, 40, 300],
            // one past the 12x32 wide tile and its 384-deep K block, and 2 threads splitting both M and N
            [25, 97, 385], [109, 161, 17],
            // wide-tile M edges of 4 and 1 rows, and up to 32 rows B read in place (row-major, unpacked)
            [16, 65, 17], [32, 97, 300], [13, 333, 3],
            // MatMul packing B per task (<= 512 rows): column blocks of uneven panel counts, a 1-column last panel,
            // a 4-deep last K block and a 1-row M edge; and past 512 rows, where all of B is packed first
            [61, 385, 260], [520, 33, 17]];
        foreach (var c in Configurations())
            foreach (var s in shapes)
                yield return [c[0], c[1], s[0], s[1], s[2]];
    }

    private static Func<double, double> GemmTolerance(int k, Tensor a, Tensor b)
    {
        double bound = 1e-6 * Math.Sqrt(Math.Max(k, 1)) * Math.Max(MaxAbs(a) * MaxAbs(b), 1e-30) + 1e-12;
        return _ => bound;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatMul_matches_reference(SimdLevel simd, int threads, int m, int n, int k)
    {
        using var cpu = new CpuBackend(threads, simd);
        var a = Random(1, m, k);
        var b = Random(2, k, n);
        AssertClose(Reference.MatMul(a, b), cpu.MatMul(a, b), GemmTolerance(k, a, b), $"matmul {m}x{k}·{k}x{n}");
        var bt = Random(3, n, k);
        AssertClose(Reference.MatMul(a, bt, transposeB: true), cpu.MatMul(a, bt, transposeB: true), GemmTolerance(k, a, bt), $"matmul {m}x{k}·({n}x{k})ᵀ");
    }

    /// <summary>Past 512 rows all of B is packed into one scratch buffer; at 2 MB and above it is asked for huge pages.</summary>
    [Fact]
    public void MatMul_whose_packed_B_takes_huge_pages_matches_reference()
    {
        const int m = 520, n = 544, k = 1000; // packed B: 1000 x 544 floats = 2.2 MB
        using var cpu = new CpuBackend(2);
        var a = Random(1, m, k);
        var b = Random(2, k, n);
        var y = cpu.MatMul(a, b);
        // Every column (every packed panel) on the first and last rows: the reference's full product takes 10 s.
        foreach (int r0 in new[] { 0, m - 13 })
            AssertClose(Reference.MatMul(a.Narrow(0, r0, 13), b), y.Narrow(0, r0, 13).Contiguous(), GemmTolerance(k, a, b), $"matmul {m}x{k}·{k}x{n} rows {r0}..");
    }

    [Fact]
    public void Huge_page_advice_is_harmless_on_any_buffer()
    {
        var p = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(HugePages.Size, HugePages.Size);
        try
        {
            HugePages.Advise(p, HugePages.Size);
            new Span<byte>(p, (int)HugePages.Size).Fill(7);
            Assert.Equal(7, p[HugePages.Size - 1]);
        }
        finally { System.Runtime.InteropServices.NativeMemory.AlignedFree(p); }
    }

    [Theory]
    [MemberData(nameof(Configurations), MemberType = typeof(KernelTestData))]
    public void Batched_strided_MatMul_matches_reference(SimdLevel simd, int threads)
    {
        using var cpu = new CpuBackend(threads, simd);
        // A as a transposed view (column stride ≠ 1), B narrowed out of a wider tensor.
        var a = Random(4, 3, 40, 17).Transpose(1, 2);          // (3, 17, 40), strided
        var b = Random(5, 3, 40, 70).Narrow(2, 3, 65);          // (3, 40, 65), row stride 70
        AssertClose(Reference.MatMul(a, b), cpu.MatMul(a, b), GemmTolerance(40, a, b), "batched strided matmul");
        var q = Random(6, 2, 19, 3 * 24).Narrow(2, 24, 24);     // key-like view of a packed projection
        var kk = Random(7, 2, 23, 3 * 24).Narrow(2, 48, 24);
        AssertClose(Reference.MatMul(q, kk, true), cpu.MatMul(q, kk, true), GemmTolerance(24, q, kk), "batched q·kᵀ on views");
        // Over 32 rows B is packed (not read in place): row-major slices of B starting off a vector boundary.
        var a2 = Random(8, 2, 45, 30);
        var b2 = Random(9, 2, 30, 70).Narrow(2, 1, 66);
        AssertClose(Reference.MatMul(a2, b2), cpu.MatMul(a2, b2), GemmTolerance(30, a2, b2), "batched matmul, B packed per task");
    }

    public static IEnumerable<object[]> PerHeadCases()
    {
        // (batch, m, n, k): A read in place by the wide kernel (few B panels) with 1, 5 and 0 ragged rows past its
        // 12-row panels, a ragged last B panel, K in one block or two equal ones (296 = 148 + 148, 333 = 167 + 166);
        // A packed by its one task (13 panels); on 2 threads, one batch row split into two column blocks of 13 and 12
        // panels, A packed up front in equal K blocks.
        int[][] shapes = [[3, 13, 70, 17], [2, 29, 65, 296], [3, 24, 333, 64], [2, 17, 400, 300], [1, 25, 800, 333]];
        foreach (var c in Configurations())
            foreach (var s in shapes)
                yield return [c[0], c[1], s[0], s[1], s[2], s[3]];
    }

    /// <summary>
    /// Batched products on the attention's operand layouts: A a per-head view of (M, batch, K) (rows batch·K apart,
    /// batch stride K), B row-major, transposed (N, K), or a per-head view itself.
    /// </summary>
    [Theory]
    [MemberData(nameof(PerHeadCases))]
    public void Batched_MatMul_on_per_head_views_matches_reference(SimdLevel simd, int threads, int batch, int m, int n, int k)
    {
        using var cpu = new CpuBackend(threads, simd);
        var a = Random(30, m, batch, k).Permute(1, 0, 2);
        var b = Random(31, batch, k, n);
        AssertClose(Reference.MatMul(a, b), cpu.MatMul(a, b), GemmTolerance(k, a, b), $"matmul {batch}x {m}x{k}·{k}x{n}, A per head");
        var bt = Random(32, batch, n, k);
        AssertClose(Reference.MatMul(a, bt, true), cpu.MatMul(a, bt, true), GemmTolerance(k, a, bt), $"matmul {batch}x {m}x{k}·({n}x{k})ᵀ, A per head");
        var bh = Random(33, k, batch, n).Permute(1, 0, 2);
        AssertClose(Reference.MatMul(a, bh), cpu.MatMul(a, bh), GemmTolerance(k, a, bh), $"matmul {batch}x {m}x{k}·{k}x{n}, both per head");
    }

    public static IEnumerable<object[]> LinearCases()
    {
        foreach (var c in Configurations())
            foreach (var act in new[] { Activation.None, Activation.Gelu, Activation.QuickGelu, Activation.Tanh })
            {
                yield return [c[0], c[1], act, 333, 300, 65, true, true];
                yield return [c[0], c[1], act, 1, 17, 3, false, false];
                yield return [c[0], c[1], act, 16, 65, 1000, true, false];
            }
    }

    [Theory]
    [MemberData(nameof(LinearCases))]
    public void Linear_with_fused_epilogue_matches_reference(SimdLevel simd, int threads, Activation activation,
        int rows, int inF, int outF, bool withBias, bool withResidual)
    {
        using var cpu = new CpuBackend(threads, simd);
        var x = Random(10, rows, inF);
        var w = Random(11, outF, inF);
        var bias = withBias ? Random(12, outF) : null;
        var residual = withResidual ? Random(13, rows, outF) : null;
        var expected = Reference.Linear(x, Reference.PrepareLinear(w, bias), activation, residual);
        using var prepared = cpu.PrepareLinear(w, bias);
        var actual = cpu.Linear(x, prepared, activation, residual);
        // The activations are 1-Lipschitz up to GELU's 1.13, so the GEMM bound carries through.
        double gemmBound = 1.2e-6 * Math.Sqrt(inF) * MaxAbs(x) * MaxAbs(w);
        AssertClose(expected, actual, v => gemmBound + 1e-6 * (1 + Math.Abs(v)),
            $"linear {rows}x{inF}->{outF} {activation} bias={withBias} residual={withResidual}");
    }

    [Fact]
    public void Linear_keeps_leading_dimensions_and_accepts_bf16_weights()
    {
        using var cpu = new CpuBackend(2);
        var x = Random(20, 2, 5, 24);
        var w = Random(21, 40, 24).To(DType.BF16);
        var bias = Random(22, 40).To(DType.F16);
        var expected = Reference.Linear(x, Reference.PrepareLinear(w, bias));
        var actual = cpu.Linear(x, cpu.PrepareLinear(w, bias));
        Assert.Equal(new[] { 2, 5, 40 }, actual.ShapeArray());
        AssertClose(expected, actual, _ => 1e-6 * Math.Sqrt(24) * 2, "linear on bf16 weights");
    }

    [Fact]
    public void Shape_errors_name_the_argument_and_shapes()
    {
        using var cpu = new CpuBackend(1);
        var lin = cpu.PrepareLinear(Random(1, 4, 3), null);
        var e = Assert.Throws<ArgumentException>(() => cpu.Linear(Random(2, 2, 5), lin));
        Assert.Contains("[2, 5]", e.Message);
        Assert.Throws<ArgumentException>(() => cpu.Linear(Random(2, 2, 3), lin, residual: Random(3, 2, 5)));
        Assert.Throws<ArgumentException>(() => cpu.Linear(Random(2, 2, 3), Reference.PrepareLinear(Random(1, 4, 3), null)));
        var m = Assert.Throws<ArgumentException>(() => cpu.MatMul(Random(1, 2, 3), Random(2, 4, 5)));
        Assert.Contains("do not chain", m.Message);
        Assert.Throws<ArgumentException>(() => cpu.PrepareLinear(Random(1, 4, 3), Random(2, 5)));
    }

    [Fact]
    public void Zero_inner_dimension_gives_bias_only()
    {
        using var cpu = new CpuBackend(1);
        var y = cpu.Linear(Tensor.Zeros(3, 0), cpu.PrepareLinear(Tensor.Zeros(4, 0), Tensor.FromArray(new[] { 1f, 2, 3, 4 }, 4)));
        Assert.Equal(new float[] { 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4 }, y.ToFloatArray());
    }

    [Fact]
    public void Weights_packed_for_another_tile_layout_are_rejected()
    {
        if (SimdSupport.Detected < SimdLevel.Avx512) return; // one layout only on this machine
        using var wide = new CpuBackend(1, SimdLevel.Avx512);
        using var narrow = new CpuBackend(1, SimdLevel.Avx2Fma);
        using var packed = wide.PrepareLinear(Random(1, 4, 3), null);
        var e = Assert.Throws<ArgumentException>(() => narrow.Linear(Random(2, 2, 3), packed));
        Assert.Contains("weights", e.Message);
    }
}
