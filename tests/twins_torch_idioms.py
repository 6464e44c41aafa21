"""PyTorch's tensor idioms without a numpy counterpart (gradcli/ops/shape.py's clone, binary.py's
masked_fill, nn.py's normalize) in the differential suite: how torch computes each, and generator
forms that write them as PyTorch code does (x.masked_fill(x > 0, 0.5), F.normalize(x, dim=0)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF

T = torch.float64


def normalize(x, p=2.0, axis=1, eps=1e-12):
    return TF.normalize(x, p, axis, eps)


def masked_fill(x, mask, value):
    return x.masked_fill(mask != 0, value)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator form in d.FORMS."""
    d.TWINS.update({"clone": d._unary(torch.clone), "masked_fill": d.Twin(masked_fill, "mask"),
                    "normalize": d.Twin(normalize, "array")})
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _idiom(d, b, shape, depth)))


def _idiom(d, b, shape, depth):
    return b.pick([_cloned, _masked_fill] + [_normalized] * bool(shape))(d, b, shape, depth)


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
