using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace BridgeTower.Bench;

/// <summary>A benchmark parameter that knows how many floating-point operations one call performs.</summary>
public interface IFlopCount
{
    double Flops { get; }
}

/// <summary>Adds "GFLOP/s" (from the median time) to every benchmark whose parameter is an <see cref="IFlopCount"/>.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => "GFLOPs";
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Billions of floating-point operations per second at the median time";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var flops = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<IFlopCount>().FirstOrDefault();
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (flops is null || stats is null) return "-";
        return (flops.Flops / stats.Median).ToString("F1"); // flops per ns = GFLOP/s
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
