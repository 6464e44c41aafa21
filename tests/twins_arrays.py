"""The array functions and constructors (gradcli/ops/arrays.py, reshaping.py, ranges.py) in the
differential suite: how torch computes each (with gradcli's parameter names, as the float32
test calls them), and generator forms that write them in PyTorch's and numpy's spellings.
"""

from __future__ import annotations

import math

import numpy as np
import torch

T = torch.float64


def _dims(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _flat_or(fn):
    """A running operation as numpy reads it: over the flattened array when no axis is given."""
    return lambda x, axis=None: fn(x.reshape(-1), 0) if axis is None else fn(x, axis)


def _squeeze(x, axis=None):
    return x.squeeze() if axis is None else x.squeeze(_dims(axis))


def twins(d) -> dict:
    twin = d.Twin
    return {
        "flip": twin(lambda x, dims=None: torch.flip(x, tuple(range(x.ndim)) if dims is None else _dims(dims)),
                     "array"),
        "roll": twin(lambda x, shifts, dims=None: torch.roll(x, shifts, dims), "array"),
        "tril": twin(lambda x, diagonal=0: torch.tril(x, diagonal), "array"),
        "triu": twin(lambda x, diagonal=0: torch.triu(x, diagonal), "array"),
        "diagonal": twin(lambda x, offset=0, dim1=0, dim2=1: torch.diagonal(x, offset, dim1, dim2), "array"),
        "diag": twin(lambda x, diagonal=0: torch.diag(x, diagonal), "array"),
        "cumsum": twin(_flat_or(torch.cumsum), "array"),
        "cumprod": twin(_flat_or(torch.cumprod), "array"),
        "cat": twin(lambda *xs, axis=0: torch.cat(xs, axis), "array"),
        "argmax": twin(lambda x, axis=None, keepdims=False: torch.argmax(x, axis, keepdims).to(T), "index"),
        "argmin": twin(lambda x, axis=None, keepdims=False: torch.argmin(x, axis, keepdims).to(T), "index"),
        "array_reshape": twin(lambda x, shape: x.reshape(_dims(shape)), "array"),
        "flatten": twin(lambda x, start_dim=0, end_dim=-1: torch.flatten(x, start_dim, end_dim), "array"),
        "squeeze": twin(_squeeze, "array"),
        "unsqueeze": twin(lambda x, axis: x.unsqueeze(axis), "array"),
        "array_permute": twin(lambda x, dims: x.permute(_dims(dims)), "array"),
        "movedim": twin(lambda x, source, destination: torch.movedim(x, source, destination), "array"),
        "swapaxes": twin(lambda x, dim0, dim1: torch.swapaxes(x, dim0, dim1), "array"),
        "array_expand": twin(lambda x, size: x.expand(_dims(size)), "array"),
        "tile": twin(lambda x, dims: torch.tile(x, _dims(dims)), "array"),
        "array_stack": twin(lambda *xs, axis=0: torch.stack(xs, axis), "array"),
        "arange": twin(lambda *a: torch.arange(*a, dtype=T), "constant"),
        "linspace": twin(lambda start, end, steps: torch.linspace(start, end, steps, dtype=T), "constant"),
        "full": twin(lambda size, fill_value: torch.full(_dims(size), fill_value, dtype=T), "constant"),
        "full_like": twin(lambda x, fill_value: torch.full_like(x, fill_value), "like"),
    }


# -- how a call is written ------------------------------------------------------------------------
def _literal(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(map(str, v)) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def _written(b, names: tuple[str, ...], positional: list, keywords: dict, *, method: bool = True,
             torch_prefix: bool = True, numpy_prefix: bool = True):
    """text(children) for a call of one of names on the first child, in a style the builder picks:
    a function, torch.name, np.name or a method; values by position, or by keyword."""
    name = b.pick(names)
    styles = ["plain"] + ["method"] * method + ["torch"] * torch_prefix + ["np"] * numpy_prefix
    style = b.pick(styles)
    args = [_literal(v) for v in positional] + [f"{k}={_literal(v)}" for k, v in keywords.items()]

    def text(c):
        if style == "method":
            return f"({c[0]}).{name}({', '.join(args)})"
        prefix = {"plain": "", "torch": "torch.", "np": "np."}[style]
        return f"{prefix}{name}({', '.join([c[0], *args])})"
    return text


def _unary_node(d, b, shape, inner_shape, depth, op, text_of, params):
    inner = b.expr(inner_shape, depth)
    return d._op_node(shape, [inner], text_of, op, lambda v, fn: fn(v[0], **params))


# -- forms: each builds a value of the requested shape ---------------------------------------------
def _moved(d, b, shape, depth):
    """flip, roll, cumsum, cumprod, tril/triu: the shape stays."""
    ndim = len(shape)
    name = b.pick(["flip", "roll", "cumsum", "cumprod"] + ["tril", "triu"] * 2 * (ndim == 2))
    axis = b.rng.randint(-ndim, ndim - 1)
    if name == "flip":
        dims = b.pick([axis, (axis,), tuple(range(ndim))])
        return _unary_node(d, b, shape, shape, depth, name, _written(b, ["flip"], [dims], {}), {"dims": dims})
    if name == "roll":
        shift = b.rng.randint(-2, 2)
        if b.rng.random() < 0.3:  # the flattened array
            return _unary_node(d, b, shape, shape, depth, name, _written(b, ["roll"], [shift], {}), {"shifts": shift})
        return _unary_node(d, b, shape, shape, depth, name, _written(b, ["roll"], [shift], {"dims": axis}),
                           {"shifts": shift, "dims": axis})
    if name in ("tril", "triu"):
        k = b.rng.randint(-1, 1)
        by_position = b.rng.random() < 0.5
        text = _written(b, [name], [k] if by_position else [], {} if by_position else {"diagonal": k},
                        numpy_prefix=by_position)
        return _unary_node(d, b, shape, shape, depth, name, text, {"diagonal": k})
    if ndim == 1 and b.rng.random() < 0.3:  # numpy's running sum of the flattened array
        inner = b.pick([(1, shape[0]), (shape[0], 1)])
        return _unary_node(d, b, shape, inner, depth, name, _written(b, [name], [], {}, method=False,
                                                                     torch_prefix=False), {})
    key = b.pick(["dim", "axis", None])
    text = _written(b, [name], [axis] if key is None else [], {} if key is None else {key: axis},
                    numpy_prefix=key != "dim")
    return _unary_node(d, b, shape, shape, depth, name, text, {"axis": axis})


def _reshaped(d, b, shape, depth):
    """reshape/view, flatten, squeeze, unsqueeze, permute, movedim, expand, repeat/tile."""
    ndim = len(shape)
    size = math.prod(shape)
    # (a 0-d result: squeeze, as the language has no empty tuple for reshape(x, ()))
    name = b.pick(["array_reshape", "array_reshape", "flatten"] * bool(ndim) + ["squeeze"]
                  + ["unsqueeze"] * (1 in shape)
                  + ["array_expand", "tile"] * (ndim >= 1)
                  + ["array_permute", "movedim", "swapaxes"] * 2 * (ndim >= 2))
    if name == "array_reshape":
        inner = b.pick([(size,), tuple(reversed(shape)), (*shape, 1), (1, *shape)])
        sizes = tuple(shape) if ndim != 1 or b.rng.random() < 0.5 else (-1,)
        style = b.rng.randint(0, 2)
        spelled = b.pick(["reshape", "view"])
        if style == 0:  # x.reshape(2, 3)
            text = lambda c: f"({c[0]}).{spelled}({', '.join(map(str, sizes))})"  # noqa: E731
        else:  # reshape(x, (2, 3)), torch.reshape(x, shape=(2, 3))
            text = _written(b, ["reshape"], [sizes] if style == 1 else [], {} if style == 1 else {"shape": sizes},
                            method=False)
        return _unary_node(d, b, shape, inner, depth, name, text, {"shape": sizes})
    if name == "flatten" and ndim:
        if ndim == 1:
            inner = b.pick([(1, size), (size, 1), (1, size, 1)])
            text = _written(b, ["flatten"], [], {}, numpy_prefix=False)
            return _unary_node(d, b, shape, inner, depth, name, text, {})
        inner = (*shape[:-1], 1, shape[-1])
        return _unary_node(d, b, shape, inner, depth, name,
                           _written(b, ["flatten"], [ndim - 1], {}, numpy_prefix=False), {"start_dim": ndim - 1})
    if name in ("squeeze", "flatten"):
        name = "squeeze"
        at = b.rng.randint(0, ndim)
        inner = (*shape[:at], 1, *shape[at:])
        if 1 not in shape and b.rng.random() < 0.5:
            return _unary_node(d, b, shape, inner, depth, name, _written(b, ["squeeze"], [], {}), {})
        key = b.pick(["dim", "axis", None])
        text = _written(b, ["squeeze"], [at] if key is None else [], {} if key is None else {key: at})
        return _unary_node(d, b, shape, inner, depth, name, text, {"axis": at})
    if name == "unsqueeze":
        at = b.pick([i for i, n in enumerate(shape) if n == 1])
        inner = shape[:at] + shape[at + 1:]
        axis = at if b.rng.random() < 0.5 else at - ndim
        text = _written(b, ["unsqueeze", "expand_dims"], [axis], {}, numpy_prefix=False)
        return _unary_node(d, b, shape, inner, depth, name, text, {"axis": axis})
    if name == "array_expand":
        cut = b.rng.randint(0, ndim)
        inner = tuple(1 if b.rng.random() < 0.5 else n for n in shape[cut:])
        sizes = tuple(shape[:cut]) + tuple(-1 if n == i and b.rng.random() < 0.3 else n
                                           for n, i in zip(shape[cut:], inner))
        if b.rng.random() < 0.5:
            text = lambda c: f"({c[0]}).expand({', '.join(map(str, sizes))})"  # noqa: E731
        else:
            sizes = tuple(shape)
            text = _written(b, ["broadcast_to"], [sizes], {}, method=False, torch_prefix=True)
        return _unary_node(d, b, shape, inner, depth, name, text, {"size": sizes})
    if name == "tile":
        reps = tuple(b.pick([1, n]) for n in shape)
        inner = tuple(n // r for n, r in zip(shape, reps))
        if b.rng.random() < 0.5:
            text = lambda c: f"({c[0]}).repeat({', '.join(map(str, reps))})"  # noqa: E731
        else:
            text = _written(b, ["tile"], [reps], {}, method=False)
        return _unary_node(d, b, shape, inner, depth, name, text, {"dims": reps})
    if name == "array_permute":
        order = list(range(ndim))
        b.rng.shuffle(order)
        inner = [0] * ndim
        for i, p in enumerate(order):
            inner[p] = shape[i]
        order = tuple(order)
        if b.rng.random() < 0.5:
            text = lambda c: f"({c[0]}).permute({', '.join(map(str, order))})"  # noqa: E731
        else:
            text = _written(b, ["permute"], [order], {}, method=False, numpy_prefix=False)
        return _unary_node(d, b, shape, tuple(inner), depth, name, text, {"dims": order})
    if name == "swapaxes":  # swapaxes, swapdims, and torch's transpose(x, dim0, dim1)
        dims = [b.rng.randint(-ndim, ndim - 1) for _ in range(2)]
        inner = list(shape)
        inner[dims[0]], inner[dims[1]] = inner[dims[1]], inner[dims[0]]
        spelled = b.pick(["swapaxes", "swapdims", "transpose"])
        text = _written(b, [spelled], dims, {}, numpy_prefix=spelled == "swapaxes")
        return _unary_node(d, b, shape, tuple(inner), depth, "transpose" if spelled == "transpose" else name, text,
                           {"dim0": dims[0], "dim1": dims[1]})
    source, destination = b.rng.randint(0, ndim - 1), b.rng.randint(-ndim, ndim - 1)
    inner = np.moveaxis(np.empty(shape), destination, source).shape
    text = _written(b, ["movedim", "moveaxis"], [source, destination], {}, numpy_prefix=False)
    return _unary_node(d, b, shape, inner, depth, name, text, {"source": source, "destination": destination})


def _joined(d, b, shape, depth):
    """cat and stack of a list or tuple of arrays."""
    ndim = len(shape)
    axis = b.rng.randint(0, ndim - 1)
    if b.rng.random() < 0.5:  # stack
        parts = [b.expr(shape[:axis] + shape[axis + 1:], depth) for _ in range(shape[axis])]
        name, spelled = "array_stack", "stack"
    else:
        cut = b.rng.randint(1, shape[axis] - 1) if shape[axis] > 1 else shape[axis]
        sizes = [cut, shape[axis] - cut] if cut < shape[axis] else [cut]
        parts = [b.expr(shape[:axis] + (n,) + shape[axis + 1:], depth) for n in sizes]
        name, spelled = "cat", b.pick(["cat", "concatenate", "concat"])
    written_axis = axis if b.rng.random() < 0.5 else axis - ndim
    open_, close = b.pick([("[", "]"), ("(", ",)" if len(parts) == 1 else ")")])
    prefix = b.pick(["", "torch.", "np."]) if spelled != "concatenate" else b.pick(["", "np."])
    key = b.pick(["", "dim=", "axis="]) if prefix != "np." else b.pick(["", "axis="])

    def text(c):
        return f"{prefix}{spelled}({open_}{', '.join(c)}{close}, {key}{written_axis})"
    return d._op_node(shape, parts, text, name, lambda v, fn: fn(*v, axis=written_axis))


def _diagonals(d, b, shape, depth):
    """diag of a vector or a matrix, diagonal over two axes."""
    if len(shape) == 2 and shape[0] == shape[1]:
        n = shape[0]
        k = b.pick([0, 0] + ([-1, 1] if n > 1 else []))
        text = _written(b, ["diag"], [k] if k else [], {}, method=False)
        return _unary_node(d, b, shape, (n - abs(k),), depth, "diag", text, {"diagonal": k})
    if len(shape) == 1 and b.rng.random() < 0.5:
        n, k = shape[0], b.pick([0, 1, -1])
        inner = (n, n + 1) if k == 1 else (n + 1, n) if k == -1 else (n, n)
        text = _written(b, ["diag"], [k] if k else [], {}, method=False)
        return _unary_node(d, b, shape, inner, depth, "diag", text, {"diagonal": k})
    n, lead = shape[-1], shape[:-1]
    if b.rng.random() < 0.5:  # the first and last axes
        inner, dim1, dim2 = (n, *lead, n), 0, -1
    else:
        inner, dim1, dim2 = (*lead, n, n), len(lead), len(lead) + 1
    text = _written(b, ["diagonal"], [], {"dim1": dim1, "dim2": dim2})
    return _unary_node(d, b, shape, inner, depth, "diagonal", text, {"offset": 0, "dim1": dim1, "dim2": dim2})


def _indices(d, b, shape, depth):
    """argmax/argmin, constants in an expression (a number times one keeps the variables' gradient)."""
    name = b.pick(["argmax", "argmin"])
    other = b.expr(shape, depth)
    if shape == () and b.rng.random() < 0.5:
        inner_shape, params, args = tuple(b.rng.randint(1, 3) for _ in range(b.rng.randint(1, 2))), {}, []
    else:
        inner_shape, params, args = (*shape, b.rng.randint(1, 3)), {"axis": -1}, [-1]
    keyed = params and b.rng.random() < 0.5
    text = _written(b, [name], [] if keyed else args, {b.pick(["dim", "axis"]): -1} if keyed else {})
    picked = _unary_node(d, b, shape, inner_shape, depth, name, text, params)
    return d._op_node(shape, [other, picked], lambda c: f"({c[0]}) * ({c[1]})", "mul", lambda v, fn: fn(*v))


def _made(d, b, shape, depth):
    """arange, linspace, full, full_like: constants times a sub-expression."""
    other = b.expr(shape, depth)
    name = b.pick((["arange", "linspace"] if len(shape) == 1 else []) + ["full", "full_like"])
    if name == "full_like" or not shape:
        v = b.pick([0.5, -2.0, 3.0])
        made = _unary_node(d, b, shape, shape, depth, "full_like", _written(b, ["full_like"], [v], {}, method=False),
                           {"fill_value": v})
    elif name == "full":
        v, prefix = b.pick([0.5, -2.0, 3.0]), b.pick(["", "torch.", "np."])
        made = d._op_node(shape, [], lambda c: f"{prefix}full({_literal(tuple(shape))}, {v})",
                          name, lambda v_, fn: fn(tuple(shape), v))
    elif name == "arange":
        n = shape[0]
        start, step = b.pick([(0, 1), (0.5, 0.5), (2, -1.5)])
        end = start + (n - 0.5) * step
        if start == 0 and step == 1:
            made = d._op_node(shape, [], lambda c: f"arange({n})", name, lambda v_, fn: fn(n))
        else:
            made = d._op_node(shape, [], lambda c: f"torch.arange({start}, {end}, {step})", name,
                              lambda v_, fn: fn(start, end, step))
    else:
        n = shape[0]
        made = d._op_node(shape, [], lambda c: f"linspace(-1, 2, {n})", name, lambda v_, fn: fn(-1.0, 2.0, n))
    return d._op_node(shape, [other, made], lambda c: f"({c[0]}) * ({c[1]})", "mul", lambda v, fn: fn(*v))


def _arranged(d, b, shape, depth):
    """One of the array functions that move, reshape, join or take diagonals of entries."""
    forms = [_reshaped] + [_moved, _joined, _diagonals] * bool(shape)
    return b.pick(forms)(d, b, shape, depth)


def _constant_made(d, b, shape, depth):
    """An index (argmax, argmin) or a constructor's array, times a sub-expression."""
    return b.pick([_indices, _made])(d, b, shape, depth)


def add(d) -> None:
    d.TWINS.update(twins(d))
    d.FORMS.extend([(lambda s: True, lambda b, s, depth: _arranged(d, b, s, depth)),
                    (lambda s: True, lambda b, s, depth: _constant_made(d, b, s, depth))])
