namespace BridgeTower.Bench;

/// <summary>Script-friendly measurements that finish in seconds and end with one parsable line.</summary>
public static class Quick
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("usage: quick <gemm|attention|peak> ...");
        return 2;
    }
}
