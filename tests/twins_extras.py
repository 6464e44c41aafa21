"""The elementwise extras (gradcli/ops/arithmetic.py) and the index, scatter and stacking functions
(gradcli/ops/scatter.py) in the differential suite: how torch computes each, and generator forms that
write them as PyTorch code does (torch.addcmul(x, a, b, value=0.5), x.lerp(y, 0.25), torch.fmax(a, b),
torch.special.erfcx(x), x.index_select(0, torch.tensor([2, 0])), x.scatter_add(1, index, src),
torch.hstack([a, b]), ...).

A twin takes gradcli's parameter names (value=, alpha=, axis=); a mask's twin gives 0/1 in the dtype.
"""

from __future__ import annotations

import torch


def addcmul(x, t1, t2, value=1.0):
    return torch.addcmul(x, t1, t2, value=value)


def addcdiv(x, t1, t2, value=1.0):
    return torch.addcdiv(x, t1, t2, value=value)


def rsub(x, other, alpha=1.0):
    return torch.rsub(x, other, alpha=alpha)


def float_power(a, b):
    # (torch's result is float64 whatever the inputs: gradcli keeps the expression's one dtype)
    return torch.float_power(a, b).to(a.dtype)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return torch.isclose(a, b, rtol, atol, bool(equal_nan)).to(a.dtype)


def index_select(x, index, axis):
    return torch.index_select(x, axis, index.long().reshape(-1))


def take(x, index):
    return torch.take(x, index.long())


def scatter(x, index, src, axis, value=None):
    if value is not None:
        return x.scatter(axis, index.long(), value)
    return x.scatter(axis, index.long(), src.expand(index.shape) if src.ndim == 0 and index.ndim else src)


def scatter_add(x, index, src, axis):
    # (torch's rule for src gives a gradient shaped as index: its src is cut to index's shape)
    return torch.scatter_add(x, axis, index.long(), src[tuple(slice(0, n) for n in index.shape)])


def index_add(x, index, source, axis, alpha=1.0):
    return torch.index_add(x, axis, index.long().reshape(-1), source, alpha=alpha)


def index_fill(x, index, value, axis):
    return x.index_fill(axis, index.long().reshape(-1), value)


def repeat_interleave(x, repeats, axis=None):
    counts = int(repeats) if repeats.ndim == 0 else repeats.long()
    return torch.repeat_interleave(x, counts, dim=axis)


def numel(x):
    return torch.tensor(float(torch.numel(x)), dtype=x.dtype)


def count_nonzero(x, axis=None):
    return torch.count_nonzero(x, dim=axis).to(x.dtype)


def _mask(fn):
    return lambda *xs: fn(*xs).to(xs[0].dtype)


UNARY = {"positive": torch.positive, "deg2rad": torch.deg2rad, "rad2deg": torch.rad2deg,
         "erfcx": torch.special.erfcx}
BINARY = {"copysign": torch.copysign, "fmax": torch.fmax, "fmin": torch.fmin, "logaddexp2": torch.logaddexp2,
          "float_power": float_power, "rsub": rsub}


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    d.TWINS.update({name: d.Twin(fn, "array") for name, fn in UNARY.items()})
    d.TWINS.update({name: d.Twin(fn, "binary") for name, fn in BINARY.items()})
    # float_power is pow: it follows gradcli's documented pow conventions
    d.TWINS["float_power"] = d.Twin(float_power, "binary", dict(d.TWINS["pow"].variants))
    # (torch fuses rsub's product with alpha into the difference: in float32 the last bits differ where it cancels)
    d.TWINS["rsub"] = d.Twin(rsub, "array")
    d.TWINS.update({"addcmul": d.Twin(addcmul, "array"), "addcdiv": d.Twin(addcdiv, "array"),
                    "linear_interpolation": d.Twin(torch.lerp, "array"),
                    "logical_xor": d.Twin(_mask(torch.logical_xor), "mask"),
                    "logical_not": d.Twin(_mask(torch.logical_not), "mask"), "isclose": d.Twin(isclose, "mask"),
                    "logical_and": d.Twin(_mask(torch.logical_and), "mask"),
                    "logical_or": d.Twin(_mask(torch.logical_or), "mask"),
                    # torch raises for floor_divide's derivative; gradcli's is 0, as a floor's (docs/differences.md)
                    "floor_divide": d.Twin(lambda a, b: torch.floor_divide(a.detach(), b.detach()), "mask")})
    d.TWINS.update({"index_select": d.Twin(index_select, "index"), "take_flat": d.Twin(take, "index"),
                    "narrow": d.Twin(torch.narrow, "array"), "scatter": d.Twin(scatter, "index"),
                    "scatter_add": d.Twin(scatter_add, "index"), "index_add": d.Twin(index_add, "index"),
                    "index_fill": d.Twin(index_fill, "index"), "repeat_interleave": d.Twin(repeat_interleave, "index"),
                    "numel": d.Twin(numel, "constant"), "count_nonzero": d.Twin(count_nonzero, "array"),
                    "ravel": d.Twin(torch.ravel, "array")})
    d.TWINS.update({name: d.Twin(lambda *xs, fn=getattr(torch, name): fn(xs), "array")
                    for name in ("hstack", "vstack", "dstack", "column_stack")})
    d.TWINS.update({f"atleast_{n}d": d.Twin(getattr(torch, f"atleast_{n}d"), "array") for n in (1, 2, 3)})
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _elementwise(d, b, shape, depth)))
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _indexing(d, b, shape, depth)))
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _joining(d, b, shape, depth)))


# -- the elementwise extras -------------------------------------------------------------------------------
def _elementwise(d, b, shape, depth):
    return b.pick([_unary, _binary, _binary, _products, _lerp, _masks])(d, b, shape, depth)


def _unary(d, b, shape, depth):
    name = b.pick(sorted(UNARY))
    inner = b.expr(shape, depth)
    spelled = "torch.special.erfcx" if name == "erfcx" else f"torch.{name}"
    text = b.pick([lambda c: f"{spelled}({c[0]})", lambda c: f"({c[0]}).{name}()"])
    return d._op_node(shape, [inner], text, name, lambda v, fn: fn(v[0]))


def _binary(d, b, shape, depth):
    name = b.pick([*sorted(BINARY), "rsub"])  # (rsub twice: its forms are the fewest)
    x, y = b._broadcast_pair(shape, depth)
    if name == "rsub" and b.rng.random() < 0.5:
        alpha = b.pick(["2", "-0.5"])
        return d._op_node(shape, [x, y], lambda c: f"torch.rsub({c[0]}, {c[1]}, alpha={alpha})", name,
                          lambda v, fn: fn(v[0], v[1], alpha=float(alpha)))
    text = b.pick([lambda c: f"torch.{name}({c[0]}, {c[1]})", lambda c: f"({c[0]}).{name}({c[1]})"])
    return d._op_node(shape, [x, y], text, name, lambda v, fn: fn(*v))


def _products(d, b, shape, depth):
    """torch.addcmul(x, t1, t2, value=...) and addcdiv: t1 and t2 of shape, or one of them a number."""
    name = b.pick(["addcmul", "addcdiv"])
    x = b.expr(shape, depth)
    t1, t2 = (b.expr(b.pick([shape, shape, ()]), depth) for _ in range(2))
    value = b.pick([None, None, "0.5", "-2"])
    named = f", value={value}" if value else ""
    params = {"value": float(value)} if value else {}
    text = b.pick([lambda c: f"torch.{name}({c[0]}, {c[1]}, {c[2]}{named})",
                   lambda c: f"({c[0]}).{name}({c[1]}, {c[2]}{named})",
                   lambda c: f"torch.{name}({c[0]}, tensor1={c[1]}, tensor2={c[2]}{named})"])
    return d._op_node(shape, [x, t1, t2], text, name, lambda v, fn: fn(*v, **params))


def _lerp(d, b, shape, depth):
    """torch.lerp(start, end, weight): weight a number (on both sides of PyTorch's switch at 0.5) or an array."""
    start, end = b.expr(shape, depth), b.expr(b.pick([shape, ()]), depth)
    if b.rng.random() < 0.5:
        w = b.pick(["0.25", "0.5", "0.75", "-0.5", "1.5", "1"])
        weight = torch.tensor(float(w), dtype=d.T)
        text = b.pick([lambda c: f"torch.lerp({c[0]}, {c[1]}, {w})", lambda c: f"({c[0]}).lerp({c[1]}, weight={w})"])
        return d._op_node(shape, [start, end], text, "linear_interpolation", lambda v, fn: fn(v[0], v[1], weight))
    weight = b.expr(b.pick([shape, ()]), depth)
    text = b.pick([lambda c: f"torch.lerp({c[0]}, {c[1]}, {c[2]})", lambda c: f"({c[0]}).lerp({c[1]}, {c[2]})"])
    return d._op_node(shape, [start, end, weight], text, "linear_interpolation", lambda v, fn: fn(*v))


def _masks(d, b, shape, depth):
    """A mask of logical_xor, logical_and, logical_or, logical_not or isclose (rtol=, atol=, equal_nan= at times),
    or torch.floor_divide, times an expression."""
    name = b.pick(["logical_xor", "logical_not", "isclose", "logical_and", "logical_or", "floor_divide"])
    x, y, other = b.expr(shape, depth), b.expr(shape, depth), b.expr(shape, depth)
    if name == "logical_not":
        mask = d._op_node(shape, [x], b.pick([lambda c: f"torch.logical_not({c[0]})", lambda c: f"({c[0]}).logical_not()"]),
                          name, lambda v, fn: fn(v[0]))
    elif name in ("logical_xor", "logical_and", "logical_or", "floor_divide"):
        text = b.pick([lambda c: f"torch.{name}({c[0]}, {c[1]})", lambda c: f"({c[0]}).{name}({c[1]})"])
        mask = d._op_node(shape, [x, y], text, name, lambda v, fn: fn(*v))
    else:
        params = b.pick([{}, {"rtol": 0.5}, {"atol": 1.0, "equal_nan": True}])
        written = "".join(f", {k}={v}" for k, v in params.items())
        mask = d._op_node(shape, [x, y], lambda c: f"torch.isclose({c[0]}, {c[1]}{written})", name,
                          lambda v, fn: fn(*v, **params))
    return d._op_node(shape, [mask, other], lambda c: f"({c[0]}) * ({c[1]})", "mul", lambda v, fn: fn(*v))


# -- reading, writing and adding at an index ---------------------------------------------------------------
def _indexing(d, b, shape, depth):
    if not shape and b.rng.random() < 0.7:
        return _summed(d, b, depth, _indexing)
    if not shape:
        return b.pick([_taken, _counted])(d, b, shape, depth)
    return b.pick([_selected, _taken, _narrowed, _scattered, _scatter_added, _scatter_added, _index_added, _filled,
                   _interleaved])(d, b, shape, depth)


def _summed(d, b, depth, form):
    """A form of a vector or a matrix, summed to a number."""
    inner = form(d, b, b.pick([(2,), (3,), (2, 2), (1, 3)]), depth)
    return d.Node((), [inner], lambda c: f"({c[0]}).sum()", lambda v: v[0].sum())


def _dim(b, axis, ndim):
    return b.pick([str(axis), str(axis - ndim)])


def _constant(values) -> str:
    return f"torch.tensor({values})"


def _selected(d, b, shape, depth):
    """x.index_select(dim, index): index of shape[axis] entries (a repeat reads a slice twice)."""
    axis = b.rng.randrange(len(shape))
    length = b.rng.randint(1, 3)
    index = [b.rng.randrange(length) for _ in range(shape[axis])]
    x = b.expr(shape[:axis] + (length,) + shape[axis + 1:], depth)
    dim, written = _dim(b, axis, len(shape)), _constant(index)
    text = b.pick([lambda c: f"({c[0]}).index_select({dim}, {written})",
                   lambda c: f"torch.index_select({c[0]}, {dim}, {written})"])
    return d._op_node(shape, [x], text, "index_select", lambda v, fn: fn(v[0], torch.tensor(index), int(dim)))


def _taken(d, b, shape, depth):
    """torch.take(x, index): index shaped as the result, its entries anywhere in x (negative ones too)."""
    source = b.pick([(3,), (2, 2), (1, 3), ()])
    size = max(1, len(source) and source[0] * (source[1] if len(source) > 1 else 1))
    flat = [b.rng.randrange(-size, size) for _ in range(max(1, _size(shape)))]
    index = flat[0] if not shape else torch.tensor(flat).reshape(shape).tolist()
    x = b.expr(source, depth)
    written = _constant(index)
    text = b.pick([lambda c: f"torch.take({c[0]}, {written})", lambda c: f"({c[0]}).take({written})"])
    return d._op_node(shape, [x], text, "take_flat", lambda v, fn: fn(v[0], torch.tensor(index)))


def _size(shape):
    out = 1
    for n in shape:
        out *= n
    return out


def _narrowed(d, b, shape, depth):
    axis = b.rng.randrange(len(shape))
    extra = b.rng.randint(0, 2)
    start = b.rng.randint(0, extra)
    length = shape[axis]
    source = shape[:axis] + (length + extra,) + shape[axis + 1:]
    written = b.pick([start, start - length - extra]) if start < length + extra else start
    x = b.expr(source, depth)
    dim = _dim(b, axis, len(shape))
    text = b.pick([lambda c: f"torch.narrow({c[0]}, {dim}, {written}, {length})",
                   lambda c: f"({c[0]}).narrow({dim}, {written}, {length})"])
    return d._op_node(shape, [x], text, "narrow", lambda v, fn: fn(v[0], int(dim), written, length))


def _positions(b, shape, axis, rows, distinct):
    """An index of shape with `rows` entries along axis, each in [0, shape[axis]): distinct within each column
    (a scatter's, whose result PyTorch defines only then) or not."""
    index_shape = shape[:axis] + (rows,) + shape[axis + 1:]
    columns = _size(shape[:axis] + shape[axis + 1:])
    picks = [b.rng.sample(range(shape[axis]), rows) if distinct else
             [b.rng.randrange(shape[axis]) for _ in range(rows)] for _ in range(columns)]
    index = torch.tensor(picks).reshape(shape[:axis] + shape[axis + 1:] + (rows,)).movedim(-1, axis)
    return index_shape, index


def _scattered(d, b, shape, depth):
    """x.scatter(dim, index, src) or value=: distinct positions along dim in each column."""
    axis = b.rng.randrange(len(shape))
    index_shape, index = _positions(b, shape, axis, b.rng.randint(1, shape[axis]), True)
    x, dim, written = b.expr(shape, depth), _dim(b, axis, len(shape)), _constant(index.tolist())
    if b.rng.random() < 0.4:
        value = b.pick(["0.5", "-2", "0"])
        text = b.pick([lambda c: f"({c[0]}).scatter({dim}, {written}, value={value})",
                       lambda c: f"torch.scatter({c[0]}, {dim}, {written}, {value})"])
        return d._op_node(shape, [x], text, "scatter", lambda v, fn: fn(v[0], index, None, int(dim), float(value)))
    src = b.expr(index_shape, depth)
    text = b.pick([lambda c: f"({c[0]}).scatter({dim}, {written}, {c[1]})",
                   lambda c: f"torch.scatter({c[0]}, {dim}, {written}, src={c[1]})"])
    return d._op_node(shape, [x, src], text, "scatter", lambda v, fn: fn(v[0], index, v[1], int(dim)))


def _scatter_added(d, b, shape, depth):
    axis = b.rng.randrange(len(shape))
    index_shape, index = _positions(b, shape, axis, b.rng.randint(1, 3), False)
    x, src = b.expr(shape, depth), b.expr(index_shape, depth)
    dim, written = _dim(b, axis, len(shape)), _constant(index.tolist())
    text = b.pick([lambda c: f"({c[0]}).scatter_add({dim}, {written}, {c[1]})",
                   lambda c: f"torch.scatter_add({c[0]}, {dim}, {written}, {c[1]})"])
    return d._op_node(shape, [x, src], text, "scatter_add", lambda v, fn: fn(v[0], index, v[1], int(dim)))


def _index_added(d, b, shape, depth):
    axis = b.rng.randrange(len(shape))
    index = [b.rng.randrange(shape[axis]) for _ in range(b.rng.randint(1, 3))]
    x, source = b.expr(shape, depth), b.expr(shape[:axis] + (len(index),) + shape[axis + 1:], depth)
    dim, written = _dim(b, axis, len(shape)), _constant(index)
    alpha = b.pick([None, None, "2", "-0.5"])
    named = f", alpha={alpha}" if alpha else ""
    params = {"alpha": float(alpha)} if alpha else {}
    text = b.pick([lambda c: f"({c[0]}).index_add({dim}, {written}, {c[1]}{named})",
                   lambda c: f"torch.index_add({c[0]}, {dim}, {written}, {c[1]}{named})"])
    return d._op_node(shape, [x, source], text, "index_add",
                      lambda v, fn: fn(v[0], torch.tensor(index), v[1], int(dim), **params))


def _filled(d, b, shape, depth):
    axis = b.rng.randrange(len(shape))
    index = [b.rng.randrange(shape[axis]) for _ in range(b.rng.randint(1, 3))]
    x, dim, written = b.expr(shape, depth), _dim(b, axis, len(shape)), _constant(index)
    if b.rng.random() < 0.5:
        value = b.pick(["0.5", "-2", "0"])
        return d._op_node(shape, [x], lambda c: f"({c[0]}).index_fill({dim}, {written}, {value})", "index_fill",
                          lambda v, fn: fn(v[0], torch.tensor(index), torch.tensor(float(value), dtype=d.T),
                                           int(dim)))
    value = b.expr((), depth)
    text = b.pick([lambda c: f"({c[0]}).index_fill({dim}, {written}, {c[1]})",
                   lambda c: f"torch.index_fill({c[0]}, {dim}, {written}, {c[1]})"])
    return d._op_node(shape, [x, value], text, "index_fill", lambda v, fn: fn(v[0], torch.tensor(index), v[1], int(dim)))


def _interleaved(d, b, shape, depth):
    """x.repeat_interleave(repeats, dim): counts summing to the result's length (an int where it divides it);
    without dim, of a flattened x, for a vector."""
    axis = b.rng.randrange(len(shape))
    total = shape[axis]
    if b.rng.random() < 0.4:
        repeats = b.pick([r for r in (1, 2, 3) if total % r == 0])
        counts_text, counts = str(repeats), torch.tensor(repeats)
        length = total // repeats
    else:
        length = b.rng.randint(1, 3)
        cuts = sorted(b.rng.randint(0, total) for _ in range(length - 1))
        listed = [hi - lo for lo, hi in zip([0, *cuts], [*cuts, total])]
        counts_text, counts = _constant(listed), torch.tensor(listed)
    flat = len(shape) == 1 and b.rng.random() < 0.4
    source = b.pick([(length,), (1, length), (length, 1)]) if flat else shape[:axis] + (length,) + shape[axis + 1:]
    x = b.expr(source, depth)
    dim = _dim(b, axis, len(shape))
    if flat:
        text = b.pick([lambda c: f"({c[0]}).repeat_interleave({counts_text})",
                       lambda c: f"torch.repeat_interleave({c[0]}, {counts_text})"])
        return d._op_node(shape, [x], text, "repeat_interleave", lambda v, fn: fn(v[0], counts))
    text = b.pick([lambda c: f"({c[0]}).repeat_interleave({counts_text}, dim={dim})",
                   lambda c: f"torch.repeat_interleave({c[0]}, {counts_text}, {dim})"])
    return d._op_node(shape, [x], text, "repeat_interleave", lambda v, fn: fn(v[0], counts, int(dim)))


def _counted(d, b, shape, depth):
    """torch.numel(x) or torch.count_nonzero(x), constants, times an expression."""
    name = b.pick(["numel", "count_nonzero"])
    x, other = b.expr(b.pick([(3,), (2, 2), ()]), depth), b.expr(shape, depth)
    inner = d._op_node(shape, [x], b.pick([lambda c: f"torch.{name}({c[0]})", lambda c: f"({c[0]}).{name}()"])
                       if name == "count_nonzero" else lambda c: f"torch.numel({c[0]})", name, lambda v, fn: fn(v[0]))
    return d._op_node(shape, [inner, other], lambda c: f"({c[0]}) * ({c[1]})", "mul", lambda v, fn: fn(*v))


# -- joining ------------------------------------------------------------------------------------------------
def _joining(d, b, shape, depth):
    if not shape and b.rng.random() < 0.7:
        return _summed(d, b, depth, _joining)
    if len(shape) == 2 and b.rng.random() < 0.4:
        return _last_axis_of(d, b, shape, depth)
    forms = [_at_least, _raveled] + [_stacked] * 2 * bool(shape)
    if len(shape) == 1 and shape[0] > 1:
        forms.append(_count_along)
    return b.pick(forms)(d, b, shape, depth)


def _split(b, total):
    cuts = sorted(b.rng.sample(range(1, total), b.rng.randint(0, min(2, total - 1)))) if total > 1 else []
    return [hi - lo for lo, hi in zip([0, *cuts], [*cuts, total])]


def _stacked(d, b, shape, depth, name=None):
    """hstack, vstack/row_stack, dstack or column_stack of parts that make shape (vectors and numbers where they
    are read as rows, columns or slices)."""
    name = name or b.pick({1: ["hstack"], 2: ["hstack", "vstack", "row_stack", "column_stack"],
                           3: ["hstack", "vstack", "dstack"]}.get(len(shape), ["hstack", "vstack"]))
    axis = {"hstack": 0 if len(shape) == 1 else 1, "dstack": 2, "column_stack": 1}.get(name, 0)
    parts = []
    for n in _split(b, shape[axis]):
        part = shape[:axis] + (n,) + shape[axis + 1:]
        if n == 1 and b.rng.random() < 0.5:  # as a vector or a number
            if name == "hstack" and len(shape) == 1 or name in ("vstack", "row_stack") and len(shape) == 2 \
                    and shape[1] == 1 or name == "column_stack" and shape[0] == 1:
                part = ()
            elif name in ("vstack", "row_stack") and len(shape) == 2:
                part = (shape[1],)
            elif name == "column_stack":
                part = (shape[0],)
            elif name == "dstack" and shape[0] == 1:
                part = (shape[1],)
            elif name == "dstack":
                part = shape[:2]
        parts.append(b.expr(part, depth))
    twin = "vstack" if name == "row_stack" else name
    brackets = b.pick(["[]", "()"])
    text = lambda c: f"torch.{name}({brackets[0]}{', '.join(c)}{',' if len(c) == 1 else ''}{brackets[1]})"  # noqa: E731
    return d._op_node(shape, parts, text, twin, lambda v, fn: fn(*v))


def _at_least(d, b, shape, depth):
    """torch.atleast_Nd(x) of an x with fewer axes, where shape is what it makes of it."""
    options = [(1, ())] if shape == (1,) else []
    if len(shape) == 2 and shape[0] == 1:
        options += [(2, shape[1:])] + ([(2, ())] if shape == (1, 1) else [])
    if len(shape) == 3 and shape[2] == 1:
        options += [(3, shape[:2])] + ([(3, (shape[1],))] if shape[0] == 1 else []) + \
            ([(3, ())] if shape == (1, 1, 1) else [])
    if not options and not shape:
        return _counted(d, b, shape, depth)
    n, inner = b.pick(options) if options and b.rng.random() < 0.8 else (b.pick([1, 2, 3]) if len(shape) >= 3 else
                                                                         b.rng.randint(1, len(shape)), shape)
    x = b.expr(inner, depth)
    text = b.pick([lambda c: f"torch.atleast_{n}d({c[0]})", lambda c: f"({c[0]}).atleast_{n}d()"])
    return d._op_node(shape, [x], text, f"atleast_{n}d", lambda v, fn: fn(v[0]))


def _last_axis_of(d, b, shape, depth):
    """A form of shape (m, n, k) read back to (m, n): torch.dstack([...]) or torch.atleast_3d(x), summed over its
    last axis or taken at 0 there."""
    if b.rng.random() < 0.4:
        inner = _at_least(d, b, shape + (1,), depth)
    else:
        inner = _stacked(d, b, shape + (b.rng.randint(1, 3),), depth, "dstack")
    read = b.pick([(lambda c: f"({c[0]})[:, :, 0]", lambda v: v[0][:, :, 0]),
                   (lambda c: f"({c[0]}).sum(-1)", lambda v: v[0].sum(-1))])
    return d.Node(shape, [inner], *read)


def _raveled(d, b, shape, depth):
    if len(shape) != 1:
        return _counted(d, b, shape, depth) if not shape else _at_least(d, b, shape, depth)
    m = shape[0]
    x = b.expr(b.pick([(m,), (1, m), (m, 1)] + ([(2, m // 2)] if m % 2 == 0 else [])), depth)
    text = b.pick([lambda c: f"torch.ravel({c[0]})", lambda c: f"({c[0]}).ravel()"])
    return d._op_node(shape, [x], text, "ravel", lambda v, fn: fn(v[0]))


def _count_along(d, b, shape, depth):
    """count_nonzero(x, dim) of an x of shape (m, k), times an expression."""
    k = b.rng.randint(1, 3)
    x, other = b.expr((shape[0], k), depth), b.expr(shape, depth)
    dim = b.pick(["1", "-1"])
    inner = d._op_node(shape, [x], lambda c: f"torch.count_nonzero({c[0]}, dim={dim})", "count_nonzero",
                       lambda v, fn: fn(v[0], int(dim)))
    return d._op_node(shape, [inner, other], lambda c: f"({c[0]}) * ({c[1]})", "mul", lambda v, fn: fn(*v))
