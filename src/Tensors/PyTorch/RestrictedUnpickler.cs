using System.Buffers.Binary;
using System.Text;

namespace BridgeTower.Tensors.PyTorch;

/// <summary>A storage as torch.save references it: persistent id ('storage', type, key, location, numel).</summary>
internal sealed record PickledStorage(DType DType, string Key, long ElementCount);

/// <summary>What torch._utils._rebuild_tensor_v2 would build: a strided view of a storage.</summary>
internal sealed record PickledTensor(PickledStorage Storage, long Offset, long[] Size, long[] Stride);

/// <summary>An ordered Python dict (OrderedDict or plain dict); keys stay in pickle order.</summary>
internal sealed class PickledDict
{
    public List<KeyValuePair<object?, object?>> Items { get; } = [];
}

internal sealed record PickledGlobal(string Module, string Name);

/// <summary>
/// A pickle reader for torch state dicts that executes nothing. It is not a Python unpickler: it
/// knows the handful of opcodes torch.save emits and models the few callables a state dict needs
/// (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter, the typed storages) as data. Any other
/// global is refused the moment it is named, before anything could call it.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private static readonly Dictionary<(string, string), DType> Storages = new()
    {
        [("torch", "FloatStorage")] = DType.F32,
        [("torch", "HalfStorage")] = DType.F16,
        [("torch", "BFloat16Storage")] = DType.BF16,
        [("torch", "DoubleStorage")] = DType.F64,
        [("torch", "LongStorage")] = DType.I64,
        [("torch", "IntStorage")] = DType.I32,
        [("torch", "ShortStorage")] = DType.I16,
        [("torch", "CharStorage")] = DType.I8,
        [("torch", "ByteStorage")] = DType.U8,
        [("torch", "BoolStorage")] = DType.BOOL,
    };

    private static readonly HashSet<(string, string)> Callables =
    [
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"),
    ];

    private static readonly object Mark = new();

    private readonly string _path;
    private readonly byte[] _data;
    private int _pos;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];

    private RestrictedUnpickler(string path, byte[] data)
    {
        _path = path;
        _data = data;
    }

    /// <summary>The object the pickle describes; throws <see cref="PyTorchFormatException"/> on anything outside a state dict.</summary>
    public static object? Load(string path, byte[] pickle) => new RestrictedUnpickler(path, pickle).Run();

    private PyTorchFormatException Error(string rule) => new(_path, null, $"pickle at byte {_pos}: {rule}");

    private object? Run()
    {
        while (true)
        {
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break; // PROTO n
                case 0x95: Take(8); break; // FRAME length: frames only group opcodes
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error("STOP with an unbalanced stack");
                    return _stack[0];
                case (byte)'(': _marks.Add(_stack.Count); Push(Mark); break;
                case (byte)'}': Push(new PickledDict()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case (byte)'t': Push(PopToMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'l': Push(PopToMark()); break; // LIST
                case (byte)'d': Push(ToDict(PopToMark())); break; // DICT
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(ReadLong1()); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;
                case (byte)'X': Push(ReadString(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case 0x8c: Push(ReadString(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadString(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))); break; // BINUNICODE8
                case (byte)'q': _memo[ReadByte()] = Peek(); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break;
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'c': Push(ResolveGlobal(ReadLine(), ReadLine())); break;
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Error("STACK_GLOBAL name is not a string");
                    var module = Pop() as string ?? throw Error("STACK_GLOBAL module is not a string");
                    Push(ResolveGlobal(module, name));
                    break;
                }
                case (byte)'Q': Push(PersistentLoad(Pop())); break; // BINPERSID
                case (byte)'R': { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args)); break; }
                case (byte)'b': // BUILD: only OrderedDict's attribute dict (_metadata) reaches here; it carries no weights
                {
                    Pop();
                    if (Peek() is not PickledDict) throw Error("BUILD on something other than a dict");
                    break;
                }
                case (byte)'s': { var v = Pop(); var k = Pop(); DictOf(Peek()).Items.Add(new(k, v)); break; }
                case (byte)'u':
                {
                    var items = PopToMark();
                    if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
                    var dict = DictOf(Peek());
                    for (int i = 0; i < items.Count; i += 2) dict.Items.Add(new(items[i], items[i + 1]));
                    break;
                }
                case (byte)'a': { var v = Pop(); ListOf(Peek()).Add(v); break; }
                case (byte)'e': { var items = PopToMark(); ListOf(Peek()).AddRange(items); break; }
                default:
                    throw Error($"opcode 0x{op:x2} ('{(op is >= 0x20 and < 0x7f ? (char)op : '?')}') is not one a state dict uses");
            }
        }
    }

    private void Push(object? o) => _stack.Add(o);

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks[^1] == _stack.Count - 1 && ReferenceEquals(_stack[^1], Mark)))
            throw Error("stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek() => _stack.Count > 0 && !ReferenceEquals(_stack[^1], Mark) ? _stack[^1] : throw Error("stack underflow");

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m + 1, _stack.Count - m - 1);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private object? Recall(long index) =>
        _memo.TryGetValue(index, out var o) ? o : throw Error($"memo {index} read before it was written");

    private PickledDict DictOf(object? o) => o as PickledDict ?? throw Error("SETITEM on something other than a dict");

    private List<object?> ListOf(object? o) => o as List<object?> ?? throw Error("APPEND on something other than a list");

    private PickledDict ToDict(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Error("DICT with an odd number of items");
        var d = new PickledDict();
        for (int i = 0; i < items.Count; i += 2) d.Items.Add(new(items[i], items[i + 1]));
        return d;
    }

    private byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Error("pickle ends without STOP");

    private ReadOnlySpan<byte> Take(ulong n)
    {
        if (n > (ulong)(_data.Length - _pos)) throw Error($"a {n}-byte field runs past the end of the pickle");
        var span = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return span;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private string ReadString(ulong n)
    {
        try { return StrictUtf8.GetString(Take(n)); }
        catch (DecoderFallbackException) { throw Error("string is not valid UTF-8"); }
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 256) throw Error("GLOBAL name is not a short line");
        string s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private long ReadLong1()
    {
        int n = ReadByte();
        if (n > 8) throw Error($"a {n}-byte integer does not fit 64 bits");
        var bytes = Take((ulong)n);
        if (n == 0) return 0;
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | bytes[i];
        if (n < 8 && (bytes[n - 1] & 0x80) != 0) v -= 1L << (8 * n); // two's complement sign
        return v;
    }

    private PickledGlobal ResolveGlobal(string module, string name)
    {
        if (!Storages.ContainsKey((module, name)) && !Callables.Contains((module, name)))
            throw Error($"refusing global {module}.{name}: a state dict needs only OrderedDict, torch tensors, parameters and storages (nothing was executed)");
        return new PickledGlobal(module, name);
    }

    private PickledStorage PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Error("persistent id is not ('storage', type, key, location, numel)");
        if (t[1] is not PickledGlobal g || !Storages.TryGetValue((g.Module, g.Name), out var dtype))
            throw Error("persistent id names no storage type");
        if (t[2] is not string key || key.Length == 0 || key.Length > 64 || !key.All(char.IsAsciiLetterOrDigit))
            throw Error("storage key must be a short alphanumeric name");
        if (t[4] is not long numel || numel < 0) throw Error($"storage '{key}' has an invalid element count");
        return new PickledStorage(dtype, key, numel);
    }

    private object? Reduce(object? callable, object? args)
    {
        if (callable is not PickledGlobal g || !Callables.Contains((g.Module, g.Name)))
            throw Error($"REDUCE of {(callable is PickledGlobal s ? $"{s.Module}.{s.Name}" : "a non-callable")} is not allowed");
        if (args is not object?[] a) throw Error($"{g.Name} arguments are not a tuple");
        switch (g.Name)
        {
            case "OrderedDict":
                if (a.Length != 0) throw Error("OrderedDict with arguments");
                return new PickledDict();
            case "_rebuild_tensor_v2":
                if (a.Length is < 6 or > 7 || a[0] is not PickledStorage storage || a[1] is not long offset
                    || a[2] is not object?[] size || a[3] is not object?[] stride)
                    throw Error("_rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks)");
                return new PickledTensor(storage, offset, Longs(size, "size"), Longs(stride, "stride"));
            default: // _rebuild_parameter(data, requires_grad, hooks[, state]): the parameter is its data
                if (a.Length is < 3 or > 4 || a[0] is not PickledTensor data)
                    throw Error($"{g.Name} expects (tensor, requires_grad, hooks)");
                return data;
        }
    }

    private long[] Longs(object?[] items, string what)
    {
        var result = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = items[i] is long v ? v : throw Error($"tensor {what} holds a non-integer");
        return result;
    }
}
