using BridgeTower.Tensors;

namespace BridgeTower.Model.Modules;

/// <summary>
/// The intermediate tensors of one computation, given back to the pool together at its end. For code that
/// takes views of its intermediates (reshapes, permutes, a Contiguous that may be the view itself), freeing each
/// one the moment it looks dead would risk freeing storage a later view still reads.
/// </summary>
internal sealed class Temporaries : IDisposable
{
    private readonly List<Tensor> _tensors = [];

    /// <summary>Remembers <paramref name="t"/> (an owner or a view: disposing a view does nothing) and returns it.</summary>
    public Tensor Add(Tensor t)
    {
        _tensors.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }
}
