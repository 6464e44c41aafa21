"""PyTorch's tensor idioms without a numpy counterpart (gradcli/ops/shape.py's clone, binary.py's
masked_fill, nn.py's normalize and linear, gather.py's gather and take_along_dim, splitting.py's chunk,
split, tensor_split and unbind) in the differential suite: how torch computes each, and generator forms
that write them as PyTorch code does (x.masked_fill(x > 0, 0.5), F.normalize(x, dim=0),
x.gather(1, torch.tensor([[0], [2]])), x.chunk(3, 1)[2]).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF

T = torch.float64


def normalize(x, p=2.0, axis=1, eps=1e-12):
    return TF.normalize(x, p, axis, eps)


def masked_fill(x, mask, value):
    return x.masked_fill(mask != 0, value)


def gather(x, index, axis):
    return torch.gather(x, axis, index.long())


def take_along_dim(x, indices, axis=None):
    return torch.take_along_dim(x, indices.long(), axis)


def linear(x, weight, bias=None):
    return TF.linear(x, weight, bias)


def chunk(x, chunks, axis=0, part=None):
    return torch.chunk(x, chunks, axis)[part]


def split(x, split_size_or_sections, axis=0, part=None):
    how = list(split_size_or_sections) if isinstance(split_size_or_sections, tuple) else split_size_or_sections
    return torch.split(x, how, axis)[part]


def tensor_split(x, indices_or_sections, axis=0, part=None):
    how = list(indices_or_sections) if isinstance(indices_or_sections, tuple) else indices_or_sections
    return torch.tensor_split(x, how, axis)[part]


def unbind(x, axis=0, part=None):
    return torch.unbind(x, axis)[part]


def add(d) -> None:
    """Put the twins in d.TWINS and the generator form in d.FORMS."""
    d.TWINS.update({"clone": d._unary(torch.clone), "masked_fill": d.Twin(masked_fill, "mask"),
                    "normalize": d.Twin(normalize, "array"), "gather": d.Twin(gather, "index"),
                    "take_along_dim": d.Twin(take_along_dim, "index"), "linear": d.Twin(linear, "matmul"),
                    **{name: d.Twin(fn, "array") for name, fn in (("chunk", chunk), ("split", split),
                                                                   ("tensor_split", tensor_split), ("unbind", unbind))}})
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _idiom(d, b, shape, depth)))


def _idiom(d, b, shape, depth):
    return b.pick([_cloned, _masked_fill, _unbound] + [_normalized, _gathered, _linear, _piece] * bool(shape))(
        d, b, shape, depth)


def _cloned(d, b, shape, depth):
    inner = b.expr(shape, depth)
    text = b.pick([lambda c: f"({c[0]}).clone()", lambda c: f"torch.clone({c[0]})"])
    return d._op_node(shape, [inner], text, "clone", lambda v, fn: fn(v[0]))


def _masked_fill(d, b, shape, depth):
    """x.masked_fill(a > b, value): value a number, or a sub-expression of one entry (it gets a gradient)."""
    cmp, symbol = b.pick([("gt", ">"), ("lt", "<"), ("ge", ">="), ("ne", "!=")])
    left, right = b.expr(shape, depth), b.expr(shape, depth)
    mask = d._op_node(shape, [left, right], lambda c: f"({c[0]}) {symbol} ({c[1]})", cmp, lambda v, fn: fn(*v))
    x = b.expr(shape, depth)
    if b.rng.random() < 0.5:
        number = b.pick(["0", "0.5", "-2.0"])
        return d._op_node(shape, [x, mask], lambda c: f"({c[0]}).masked_fill({c[1]}, {number})", "masked_fill",
                          lambda v, fn: fn(v[0], v[1], float(number)))
    value = b.expr((), depth)
    return d._op_node(shape, [x, mask, value], lambda c: f"({c[0]}).masked_fill({c[1]}, {c[2]})", "masked_fill",
                      lambda v, fn: fn(*v))


def _normalized(d, b, shape, depth):
    """F.normalize along an axis of a value of at least one axis (torch's default dim=1 where it has two)."""
    axis = b.rng.randint(-len(shape), len(shape) - 1)
    p, eps = b.pick([None, None, "1", "3"]), b.pick([None, None, "0.5"])
    written = ("" if axis == 1 and b.rng.random() < 0.5 else f", dim={axis}") + (f", p={p}" if p else "") + \
        (f", eps={eps}" if eps else "")
    params = {"axis": axis, **({"p": float(p)} if p else {}), **({"eps": float(eps)} if eps else {})}
    inner = b.expr(shape, depth)
    spelled = b.pick(["F.normalize", "torch.nn.functional.normalize", "normalize"])
    return d._op_node(shape, [inner], lambda c: f"{spelled}({c[0]}{written})", "normalize",
                      lambda v, fn: fn(v[0], **params))


def _gathered(d, b, shape, depth):
    """x.gather(dim, index) or take_along_dim(x, index, dim): an index of whole numbers written as a constant,
    shaped like the result, reading an axis of x of 1 to 3 entries (an entry may be read twice, or not at all)."""
    axis = b.rng.randrange(len(shape))
    length = b.rng.randint(1, 3)
    index = np.array([b.rng.randrange(length) for _ in range(int(np.prod(shape)))]).reshape(shape)
    source = shape[:axis] + (length,) + shape[axis + 1:]
    x = b.expr(source, depth)
    written, dim = f"torch.tensor({index.tolist()})", b.pick([str(axis), str(axis - len(shape))])
    positions = torch.tensor(index)
    if b.rng.random() < 0.3:
        return d._op_node(shape, [x], lambda c: f"torch.take_along_dim({c[0]}, {written}, dim={dim})",
                          "take_along_dim", lambda v, fn: fn(v[0], positions, int(dim)))
    text = b.pick([lambda c: f"({c[0]}).gather({dim}, {written})", lambda c: f"torch.gather({c[0]}, {dim}, {written})",
                   lambda c: f"torch.gather({c[0]}, dim={dim}, index={written})"])
    return d._op_node(shape, [x], text, "gather", lambda v, fn: fn(v[0], positions, int(dim)))


def _linear(d, b, shape, depth):
    """F.linear(x, W, b): x (..., in) and W (out, in) to (..., out), with a bias or without."""
    inner = b.rng.randint(1, 3)
    x, weight = b.expr(shape[:-1] + (inner,), depth), b.expr((shape[-1], inner), depth)
    spelled = b.pick(["F.linear", "torch.nn.functional.linear"])
    if b.rng.random() < 0.5:
        return d._op_node(shape, [x, weight], lambda c: f"{spelled}({c[0]}, {c[1]})", "linear", lambda v, fn: fn(*v))
    bias = b.expr(b.pick([(shape[-1],), ()]), depth)
    return d._op_node(shape, [x, weight, bias], lambda c: f"{spelled}({c[0]}, {c[1]}, {c[2]})", "linear",
                      lambda v, fn: fn(*v))


def _piece(d, b, shape, depth):
    """x.chunk(c, dim)[i], torch.split(x, n, dim)[i] (a size or sizes listed), x.tensor_split(2, dim)[i]: one
    piece of x, shaped as asked, cut along an axis of x as long as two or three such pieces."""
    axis = b.rng.randrange(len(shape))
    length, count = shape[axis], b.rng.randint(2, 3)
    x = b.expr(shape[:axis] + (length * count,) + shape[axis + 1:], depth)
    i = b.rng.randrange(count) - (count if b.rng.random() < 0.3 else 0)
    dim = b.pick([str(axis), str(axis - len(shape))])
    name, how, written = b.pick([("chunk", count, str(count)), ("split", length, str(length)),
                                 ("split", (length,) * count, str([length] * count)),
                                 ("tensor_split", count, str(count))])
    keyword = {"chunk": "chunks", "split": "split_size_or_sections", "tensor_split": "indices_or_sections"}[name]
    text = b.pick([lambda c: f"({c[0]}).{name}({written}, {dim})[{i}]",
                   lambda c: f"torch.{name}({c[0]}, {written}, dim={dim})[{i}]"])
    return d._op_node(shape, [x], text, name, lambda v, fn: fn(v[0], **{keyword: how, "axis": int(dim), "part": i}))


def _unbound(d, b, shape, depth):
    """x.unbind(dim)[i]: x with an axis of two or three entries more, at dim."""
    axis = b.rng.randint(0, len(shape))
    count = b.rng.randint(2, 3)
    x = b.expr(shape[:axis] + (count,) + shape[axis:], depth)
    i = b.rng.randrange(count)
    text = b.pick([lambda c: f"({c[0]}).unbind({axis})[{i}]", lambda c: f"torch.unbind({c[0]}, dim={axis})[{i}]"])
    return d._op_node(shape, [x], text, "unbind", lambda v, fn: fn(v[0], axis=axis, part=i))

