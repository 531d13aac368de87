using System.Runtime.CompilerServices;

// The tests check internal kernels (float erf, packing) directly; the bench times them.
[assembly: InternalsVisibleTo("BridgeTower.Tests")]
[assembly: InternalsVisibleTo("BridgeTower.Bench")]
