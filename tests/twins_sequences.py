"""The sequences family's torch twins and generator forms for the differential suite: gradcli/ops/sorting.py's
sort, argsort, msort, topk, kthvalue, median, cummax and cummin, and gradcli/ops/sequences.py's diff,
logcumsumexp, trapezoid, cumulative_trapezoid and pad, written as PyTorch code writes them
(torch.sort(x, 0)[0], x.topk(2).values, x.median(dim=1)[1], torch.diff(x, dim=0, prepend=y),
F.pad(x, (1, 2), mode='reflect')).

A twin takes gradcli's parameter names (axis=, keepdims=); a pair's twin gives its values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF


def sort(x, axis=-1, descending=False, stable=False):
    return torch.sort(x, dim=axis, descending=bool(descending), stable=bool(stable))[0]


def argsort(x, axis=-1, descending=False, stable=False):
    return torch.argsort(x, dim=axis, descending=bool(descending), stable=True).to(x.dtype)


def topk(x, k, axis=-1, largest=True, sorted=True):
    """torch.topk's values, as the first k of torch's stable sort: the same numbers, and among equal entries
    (the integer stream's) the gradient goes to the first, where torch.topk's own pick depends on its
    partial sort (docs/differences.md); tests/test_sorting.py compares torch.topk itself where no entries tie."""
    return torch.sort(x, dim=axis, descending=bool(largest), stable=True)[0].narrow(axis, 0, k)


def kthvalue(x, k, axis=-1, keepdims=False):
    return torch.kthvalue(x, k, axis, bool(keepdims))[0]


def median(x, axis=None, keepdims=False):
    return torch.median(x) if axis is None else torch.median(x, axis, bool(keepdims))[0]


def cummax(x, axis):
    return torch.cummax(x, axis)[0]


def cummin(x, axis):
    return torch.cummin(x, axis)[0]


def diff(x, prepend=None, append=None, n=1, axis=-1):
    return torch.diff(x, n, axis, prepend, append)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    return torch.trapezoid(y, dx=dx, dim=axis) if x is None else torch.trapezoid(y, x, dim=axis)


def cumulative_trapezoid(y, x=None, dx=1.0, axis=-1):
    return torch.cumulative_trapezoid(y, dx=dx, dim=axis) if x is None else torch.cumulative_trapezoid(y, x, dim=axis)


def pad(x, pad, mode="constant", value=0.0):
    return TF.pad(x, pad, mode, value if mode == "constant" else None)


def var_mean(x, axis=None, ddof=1, keepdims=False):
    return torch.var_mean(x, axis, correction=ddof, keepdim=bool(keepdims))[0]


def std_mean(x, axis=None, ddof=1, keepdims=False):
    return torch.std_mean(x, axis, correction=ddof, keepdim=bool(keepdims))[0]


def aminmax(x, axis=None, keepdims=False):
    return torch.aminmax(x, dim=axis, keepdim=bool(keepdims))[0]


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    d.TWINS.update({name: d.Twin(fn, "array") for name, fn in (
        ("sort", sort), ("argsort", argsort), ("msort", torch.msort), ("topk", topk), ("kthvalue", kthvalue),
        ("median", median), ("cummax", cummax), ("cummin", cummin), ("diff", diff),
        ("logcumsumexp", lambda x, axis: torch.logcumsumexp(x, axis)), ("trapezoid", trapezoid),
        ("cumulative_trapezoid", cumulative_trapezoid), ("pad", pad), ("var_mean", var_mean),
        ("std_mean", std_mean), ("aminmax", aminmax),
        ("amax", lambda x, axis=(), keepdims=False: torch.amax(x, () if axis is None else axis, bool(keepdims))),
        ("amin", lambda x, axis=(), keepdims=False: torch.amin(x, () if axis is None else axis, bool(keepdims))))})
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _sequence(d, b, shape, depth)))


def _sequence(d, b, shape, depth):
    if not shape:
        return b.pick([_median_whole, _reduced_along, _trapezoid, _moments, _extremes])(d, b, shape, depth)
    return b.pick([_sorted, _sorted, _msorted, _topk, _reduced_along, _running, _running, _running, _diff,
                   _trapezoid, _padded, _padded, _moments, _extremes])(d, b, shape, depth)


def _msorted(d, b, shape, depth):
    """torch.msort(x), or x.argsort(dim) (the indices, as whole numbers with no gradient)."""
    x = b.expr(shape, depth)
    if b.rng.random() < 0.5:
        axis, dim = _dim(b, shape)
        return d._op_node(shape, [x], lambda c: f"({c[0]}).argsort({dim})", "argsort",
                          lambda v, fn: fn(v[0], int(dim)))
    text = b.pick([lambda c: f"torch.msort({c[0]})", lambda c: f"({c[0]}).msort()"])
    return d._op_node(shape, [x], text, "msort", lambda v, fn: fn(v[0]))


def _dim(b, shape):
    axis = b.rng.randrange(len(shape))
    return axis, b.pick([str(axis), str(axis - len(shape))])


def _sorted(d, b, shape, depth):
    """torch.sort(x, dim)[0], x.sort(descending=True).values, torch.msort(x), sum-able argsort indices."""
    axis, dim = _dim(b, shape)
    x = b.expr(shape, depth)
    descending = b.rng.random() < 0.4
    flag = ", descending=True" if descending else ""
    r = b.rng.random()
    if r < 0.2:
        return d._op_node(shape, [x], lambda c: f"torch.msort({c[0]})", "msort", lambda v, fn: fn(v[0]))
    if r < 0.35:
        return d._op_node(shape, [x], lambda c: f"torch.argsort({c[0]}, dim={dim}{flag})", "argsort",
                          lambda v, fn: fn(v[0], int(dim), descending))
    text = b.pick([lambda c: f"torch.sort({c[0]}, {dim}{flag})[0]", lambda c: f"({c[0]}).sort(dim={dim}{flag}).values",
                   lambda c: f"torch.sort({c[0]}, dim={dim}{flag})[-2]"])
    return d._op_node(shape, [x], text, "sort", lambda v, fn: fn(v[0], int(dim), descending))


def _topk(d, b, shape, depth):
    """torch.topk(v, k, dim)[0] of a variable v one or two entries longer along dim than k."""
    axis, dim = _dim(b, shape)
    k = shape[axis]
    source = shape[:axis] + (k + b.rng.randint(0, 2),) + shape[axis + 1:]
    x = b.variable(source)
    largest = b.rng.random() < 0.6
    flag = "" if largest else ", largest=False"
    text = b.pick([lambda c: f"torch.topk({c[0]}, {k}, {dim}{flag})[0]",
                   lambda c: f"({c[0]}).topk({k}, dim={dim}{flag}).values"])
    return d._op_node(shape, [x], text, "topk", lambda v, fn: fn(v[0], k, int(dim), largest))


def _reduced_along(d, b, shape, depth):
    """kthvalue(x, k, dim) or median(x, dim), with keepdim or without: an axis of 1 to 4 entries taken away."""
    keep = bool(shape) and b.rng.random() < 0.3 and 1 in shape
    if keep:
        axis = shape.index(1)
        source = shape[:axis] + (b.rng.randint(1, 4),) + shape[axis + 1:]
    else:
        axis = b.rng.randint(0, len(shape))
        source = shape[:axis] + (b.rng.randint(1, 4),) + shape[axis:]
    dim = b.pick([str(axis), str(axis - len(source))])
    x = b.expr(source, depth)
    flag = ", keepdim=True" if keep else ""
    if b.rng.random() < 0.5:
        k = b.rng.randint(1, source[axis])
        text = b.pick([lambda c: f"torch.kthvalue({c[0]}, {k}, {dim}{flag})[0]",
                       lambda c: f"({c[0]}).kthvalue({k}, dim={dim}{flag}).values"])
        return d._op_node(shape, [x], text, "kthvalue", lambda v, fn: fn(v[0], k, int(dim), keep))
    text = b.pick([lambda c: f"torch.median({c[0]}, {dim}{flag})[0]", lambda c: f"({c[0]}).median(dim={dim}{flag}).values"])
    return d._op_node(shape, [x], text, "median", lambda v, fn: fn(v[0], int(dim), keep))


def _median_whole(d, b, shape, depth):
    x = b.expr(b.pick([(3,), (4,), (2, 3)]), depth)
    text = b.pick([lambda c: f"torch.median({c[0]})", lambda c: f"({c[0]}).median()"])
    return d._op_node(shape, [x], text, "median", lambda v, fn: fn(v[0]))


def _running(d, b, shape, depth):
    """torch.cummax(x, dim)[0], x.cummin(dim).values, torch.logcumsumexp(x, dim)."""
    axis, dim = _dim(b, shape)
    x = b.expr(shape, depth)
    name = b.pick(["cummax", "cummin", "logcumsumexp"])
    if name == "logcumsumexp":
        text = b.pick([lambda c: f"torch.logcumsumexp({c[0]}, {dim})", lambda c: f"({c[0]}).logcumsumexp(dim={dim})"])
    else:
        text = b.pick([lambda c: f"torch.{name}({c[0]}, {dim})[0]", lambda c: f"({c[0]}).{name}(dim={dim}).values"])
    return d._op_node(shape, [x], text, name, lambda v, fn: fn(v[0], int(dim)))


def _diff(d, b, shape, depth):
    """torch.diff(x, n, dim), or with an array prepended or appended along dim."""
    axis, dim = _dim(b, shape)
    n = b.rng.randint(1, 2)
    extra = b.rng.randint(0, n)
    source = shape[:axis] + (shape[axis] + n - extra,) + shape[axis + 1:]
    x = b.expr(source, depth)
    if not extra:
        text = b.pick([lambda c: f"torch.diff({c[0]}, {n}, {dim})", lambda c: f"({c[0]}).diff(n={n}, dim={dim})"])
        return d._op_node(shape, [x], text, "diff", lambda v, fn: fn(v[0], n=n, axis=int(dim)))
    end = b.expr(shape[:axis] + (extra,) + shape[axis + 1:], depth)
    where = b.pick(["prepend", "append"])
    return d._op_node(shape, [x, end], lambda c: f"torch.diff({c[0]}, n={n}, dim={dim}, {where}={c[1]})", "diff",
                      lambda v, fn: fn(v[0], n=n, axis=int(dim), **{where: v[1]}))


def _trapezoid(d, b, shape, depth):
    """torch.trapezoid(y, dim=...) (target shape: y's without dim) with dx or at points x; or
    torch.cumulative_trapezoid (y's axis one entry longer)."""
    cumulative = bool(shape) and b.rng.random() < 0.5
    axis = b.rng.randint(0, len(shape) - cumulative)
    length = shape[axis] + 1 if cumulative else b.rng.randint(1, 4)
    source = shape[:axis] + (length,) + (shape[axis + 1:] if cumulative else shape[axis:])
    name = "cumulative_trapezoid" if cumulative else "trapezoid"
    dim = b.pick([str(axis), str(axis - len(source))])
    y = b.expr(source, depth)
    if b.rng.random() < 0.5:
        dx = b.pick(["1", "0.5", "2.0"])
        flag = "" if dx == "1" else f", dx={dx}"
        return d._op_node(shape, [y], lambda c: f"torch.{name}({c[0]}{flag}, dim={dim})", name,
                          lambda v, fn: fn(v[0], dx=float(dx), axis=int(dim)))
    points = b.expr(b.pick([(length,), source]), depth)
    return d._op_node(shape, [y, points], lambda c: f"torch.{name}({c[0]}, {c[1]}, dim={dim})", name,
                      lambda v, fn: fn(v[0], v[1], axis=int(dim)))


def _padded(d, b, shape, depth):
    """F.pad(x, pad, mode=...): constant (with a value, or cropping), or reflect, replicate, circular on the
    last one or two axes of a value with one more axis at least."""
    modes = ["constant", "constant"] + ["reflect", "replicate", "circular"] * (len(shape) in (2, 3))
    mode = b.pick(modes)
    # (torch's other modes pad the last 1 or 2 axes of a value with one or two axes more)
    low, high = (1, min(len(shape), 2)) if mode == "constant" else (max(1, len(shape) - 2), len(shape) - 1)
    axes = b.rng.randint(low, high)
    pads, source = [], list(shape)
    for k in range(axes):
        axis = len(shape) - 1 - k
        out = shape[axis]
        length = b.rng.randint(1, out + 1) if mode != "constant" else b.rng.randint(max(1, out - 2), out + 2)
        total = out - length
        before = b.rng.randint(min(0, total), max(0, total)) if total else 0
        after = total - before
        if mode == "reflect" and max(before, after) >= length:
            before, after, length = 0, 0, out
        if mode == "circular" and max(before, after) > length:
            before, after, length = 0, 0, out
        pads += [before, after]
        source[axis] = length
    x = b.expr(tuple(source), depth)
    written = ", ".join(map(str, pads))
    value = b.pick(["", "", ", value=0.5"]) if mode == "constant" else ""
    spelled = b.pick(["F.pad", "torch.nn.functional.pad"])
    mode_text = "" if mode == "constant" and b.rng.random() < 0.5 else f", mode='{mode}'"
    return d._op_node(shape, [x], lambda c: f"{spelled}({c[0]}, ({written}){mode_text}{value})", "pad",
                      lambda v, fn: fn(v[0], tuple(pads), mode, 0.5 if value else 0.0))


def _moments(d, b, shape, depth):
    """torch.var_mean(x, dim)[0] or [1] (std_mean too), with a correction now and then. The mean, [1], of
    finite entries only: torch's var_mean and std_mean take it by Welford's running update, nan where an inf
    is followed by other entries (docs/differences.md), gradcli's is mean's."""
    name = b.pick(["var_mean", "std_mean"])
    axis = b.rng.randint(0, len(shape))
    source = shape[:axis] + (b.rng.randint(2, 4),) + shape[axis:]
    dim = b.pick([str(axis), str(axis - len(source))])
    correction = b.pick([None, None, 0, 2])
    flag = "" if correction is None else f", correction={correction}"
    part = b.rng.randint(0, 1)
    x = b.expr(source, depth)
    if part == 1:
        x = d._op_node(source, [x], lambda c: f"torch.tanh({c[0]})", "tanh", lambda v, fn: fn(v[0]))
    written = b.pick([f"torch.{name}({{}}, {dim}{flag})", f"torch.{name}({{}}, dim={dim}{flag})"])
    ddof = 1 if correction is None else correction
    torch_fn = getattr(torch, name)
    return d._op_node(shape, [x], lambda c: written.format(c[0]) + f"[{part}]", name,
                      lambda v, fn: fn(v[0], int(dim), ddof) if part == 0 else
                      torch_fn(v[0], int(dim), correction=ddof)[1])


def _extremes(d, b, shape, depth):
    """torch.aminmax(x, dim=...) or of the whole array (a number), one part by [0], [1], .min or .max; or
    torch.amax or torch.amin."""
    whole = not shape and b.rng.random() < 0.5
    name = b.pick(["aminmax", "amax", "amin"])
    axis = b.rng.randint(0, len(shape))
    source = (b.rng.randint(2, 4), 3) if whole else shape[:axis] + (b.rng.randint(2, 4),) + shape[axis:]
    dim = None if whole else b.pick([axis, axis - len(source)])
    part = b.rng.randint(0, 1) if name == "aminmax" else 0
    taken = b.pick([f"[{part}]", "." + ("min", "max")[part]]) if name == "aminmax" else ""
    written = f"torch.{name}({{}})" if whole else \
        b.pick([f"torch.{name}({{}}, dim={dim})", f"({{}}).{name}(dim={dim})"])
    x = b.expr(source, depth)
    return d._op_node(shape, [x], lambda c: written.format(c[0]) + taken, name,
                      lambda v, fn: fn(v[0], dim) if part == 0 else torch.aminmax(v[0], dim=dim)[1])
