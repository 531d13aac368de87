global using Xunit;
global using BridgeTower.Tensors;
global using BridgeTower.Tests.Support;
