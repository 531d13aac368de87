using System.Runtime.CompilerServices;

// The tests compare internal routes of one module (absorbed against projected attention) directly.
[assembly: InternalsVisibleTo("BridgeTower.Tests")]
