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
                    "logical_not": d.Twin(_mask(torch.logical_not), "mask"), "isclose": d.Twin(isclose, "mask")})
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _elementwise(d, b, shape, depth)))


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
    name = b.pick(sorted(BINARY))
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
    """A mask of logical_xor, logical_not or isclose (rtol=, atol=, equal_nan= at times) times an expression."""
    name = b.pick(["logical_xor", "logical_not", "isclose"])
    x, y, other = b.expr(shape, depth), b.expr(shape, depth), b.expr(shape, depth)
    if name == "logical_not":
        mask = d._op_node(shape, [x], b.pick([lambda c: f"torch.logical_not({c[0]})", lambda c: f"({c[0]}).logical_not()"]),
                          name, lambda v, fn: fn(v[0]))
    elif name == "logical_xor":
        mask = d._op_node(shape, [x, y], lambda c: f"torch.logical_xor({c[0]}, {c[1]})", name, lambda v, fn: fn(*v))
    else:
        params = b.pick([{}, {"rtol": 0.5}, {"atol": 1.0, "equal_nan": True}])
        written = "".join(f", {k}={v}" for k, v in params.items())
        mask = d._op_node(shape, [x, y], lambda c: f"torch.isclose({c[0]}, {c[1]}{written})", name,
                          lambda v, fn: fn(*v, **params))
    return d._op_node(shape, [mask, other], lambda c: f"({c[0]}) * ({c[1]})", "mul", lambda v, fn: fn(*v))
