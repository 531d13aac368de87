using BridgeTower.Tensors;

namespace BridgeTower.Kernels.Cpu;

/// <summary>Row gather out of an embedding table; every id is range-checked before the output is allocated.</summary>
internal static unsafe class EmbeddingKernel
{
    public static Tensor Gather(Tensor table, Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(ids);
        if (table.Rank != 2) throw new ArgumentException($"table: expected rank 2 (V, D), got {table.ShapeString}", nameof(table));
        if (ids.DType is not (DType.I64 or DType.I32)) throw new ArgumentException($"ids: expected I64 or I32, got {ids.DType}", nameof(ids));
        int vocab = table.Dim(0), dim = table.Dim(1);
        var idv = ids.ToInt64Array();
        for (int i = 0; i < idv.Length; i++)
            if (idv[i] < 0 || idv[i] >= vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {idv[i]} at position {i} is outside the table's {vocab} rows");
        var y = Tensor.Rent(ids.ShapeArray().Append(dim).ToArray()); // every row is written below
        float* dst = (float*)y.DataPointer;
        if (table.DType == DType.F32 && table.Strides[1] == 1)
        {
            // Gather straight from the (possibly memory-mapped) table: no full-table conversion.
            float* src = (float*)table.DataPointer;
            long rowStride = table.Strides[0];
            for (int i = 0; i < idv.Length; i++)
                new ReadOnlySpan<float>(src + idv[i] * rowStride, dim).CopyTo(new Span<float>(dst + (long)i * dim, dim));
        }
        else
        {
            for (int i = 0; i < idv.Length; i++)
            {
                using var row = table.Narrow(0, (int)idv[i], 1).ToF32(); // a conversion: ours to give back
                row.ReadOnlySpan<float>().CopyTo(new Span<float>(dst + (long)i * dim, dim));
            }
        }
        GC.KeepAlive(table);
        return y;
    }
}
