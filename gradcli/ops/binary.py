"""Arithmetic operators and elementwise functions of several arguments, with broadcasting.

Rules return cotangents shaped like the broadcast output; the engine sums them back to
each input's shape, once. The product's rule may return a scalar factor's cotangent
already summed (a dot product, see factor_cotangent).
"""

from __future__ import annotations

import numpy as np

from gradcli.ops.common import F, broadcast_shapes, factor_cotangent, sympy_elementwise, uniform
from gradcli.autodiff.op import Kink, Sample, primitive

PAIR_SAMPLES = ((3,), (3,)), ((2, 3), (3,)), ((), (2, 3)), ((2, 1), (1, 3))


def pair_samples(domain: str | tuple[str, ...] = "real") -> tuple[Sample, ...]:
    return tuple(Sample(shapes, domain) for shapes in PAIR_SAMPLES)


def binary(name: str, symbol: str, forward, backward, sympy, doc: str, *, domain="real",
           saves="inputs", torch_name="", kinks=(), aliases=()) -> None:
    primitive(
        name=name, doc=doc, signature=f"a {symbol} b" if symbol else f"{name}(a, b)",
        family="operator" if symbol else "binary", forward=forward, backward=backward,
        shape=broadcast_shapes, sympy=sympy_elementwise(sympy), samples=pair_samples(domain),
        saves=saves, torch_name=torch_name, kinks=kinks, arity=2, symbol=symbol, aliases=aliases,
    )


def _pow_backward(n, g):
    a, b = n.x, n.y
    grad_a = grad_b = None
    if n.needs[0]:
        if not b.requires_grad and b.ndim == 0:
            # NOTE: a constant exponent (x**2): no mask needed unless it is 0, and 2 is common.
            c = float(b.data)
            v = uniform(n, g) if c == 2.0 else None
            if c == 0.0:
                grad_a = g * 0.0
            elif c == 1.0:
                grad_a = g
            elif v is not None:  # a sum's cotangent: one pass (2v is exact: the same numbers)
                grad_a = F.mul(a, 2.0 * v, reuse=(0,))
            elif c == 2.0 and g.size > a.size:  # batch axes: 2a is the small factor, one pass over g
                grad_a = F.mul(g, a * 2.0, reuse=(0,))
            elif c == 2.0:  # g * 2a as (g a) 2: doubling is exact, and g's array can take both
                grad_a = F.mul(F.mul(g, a, reuse=(0,)), 2.0, reuse=(0,))
            else:
                grad_a = F.mul(g, F.mul(a ** (c - 1.0), c, reuse=(0,)), reuse=(1,))
        else:
            # d/da a**b = b a**(b-1), taken as 0 where a == b == 0 (so d/dx x**0 = 0 at x = 0).
            # NOTE: masking only that point, not every b == 0, keeps d/db of this rule (1/a at
            # b = 0), so the Hessian of a**b is symmetric there.
            grad_a = g * F.where(F.eq(b, 0.0) * F.eq(a, 0.0), 0.0, b * a ** (b - 1.0))
    if n.needs[1]:
        # d/db a**b = a**b log(a), taken as 0 where a == 0 and b >= 0 (PyTorch's convention).
        mask = F.eq(a, 0.0) * F.ge(b, 0.0)
        grad_b = g * F.where(mask, 0.0, a ** b * F.log(a))
    return grad_a, grad_b


def _selection_mask(a, b, *, larger: bool):
    """1 where a wins, 0.5 at a tie (each side gets half, as PyTorch), else 0."""
    wins = F.gt(a, b) if larger else F.lt(a, b)
    return wins + F.eq(a, b) * 0.5


def _maximum_backward(n, g, larger=True):
    m = _selection_mask(n.x, n.y, larger=larger)
    return g * m, g * (1.0 - m)


binary("add", "+", np.add, lambda n, g: (g, g), lambda sp, a, b: a + b, "sum", saves="none")
binary("sub", "-", np.subtract, lambda n, g: (g, -g if n.needs[1] else None), lambda sp, a, b: a - b,
       "difference", saves="none")
binary("mul", "*", np.multiply,
       lambda n, g: (factor_cotangent(n, g, 0, n.y) if n.needs[0] else None,
                     factor_cotangent(n, g, 1, n.x, last=True) if n.needs[1] else None),
       lambda sp, a, b: a * b, "product")
binary("div", "/", np.divide,
       lambda n, g: (F.div(g, n.y, reuse=() if n.needs[1] else (0,)) if n.needs[0] else None,
                     F.div(F.neg(F.mul(g, n.x, reuse=(0,)), reuse=(0,)), n.y * n.y, reuse=(0, 1))
                     if n.needs[1] else None),  # (the tuple is built left to right: g's last read)
       lambda sp, a, b: a / b, "quotient", domain=("real", "nonzero"))
binary("pow", "**", np.power, _pow_backward, lambda sp, a, b: a ** b,
       "power a**b (also a^b and pow(a, b)); a numeric exponent gets no gradient",
       domain=("positive", "real"), aliases=("pow",),
       kinks=(Kink((0.0, 0.0), (0.0, 0.0), note="d/dx x**0 = 0 at x = 0"),))
binary("maximum", "", np.maximum, _maximum_backward,
       lambda sp, a, b: sp.Piecewise((a, a > b), ((a + b) / 2, sp.Eq(a, b)), (b, True)),
       "elementwise larger of a and b (a tie gives each side half the gradient)",
       kinks=(Kink((1.0, 1.0), (0.5, 0.5), note="a tie gives each side half"),))
binary("minimum", "", np.minimum, lambda n, g: _maximum_backward(n, g, larger=False),
       lambda sp, a, b: sp.Piecewise((a, a < b), ((a + b) / 2, sp.Eq(a, b)), (b, True)),
       "elementwise smaller of a and b (a tie gives each side half the gradient)",
       kinks=(Kink((1.0, 1.0), (0.5, 0.5), note="a tie gives each side half"),))

for _name, _symbol, _fn, _rel in (
    ("lt", "<", np.less, "Lt"), ("le", "<=", np.less_equal, "Le"), ("gt", ">", np.greater, "Gt"),
    ("ge", ">=", np.greater_equal, "Ge"), ("eq", "==", np.equal, "Eq"), ("ne", "!=", np.not_equal, "Ne"),
):
    primitive(
        name=_name, doc=f"1.0 where a {_symbol} b else 0.0 (a mask for where; no gradient)",
        signature=f"a {_symbol} b", family="comparison",
        forward=lambda a, b, _fn=_fn: _fn(a, b).astype(np.float64), shape=broadcast_shapes,
        sympy=sympy_elementwise(lambda sp, a, b, _rel=_rel: sp.Piecewise((1, getattr(sp, _rel)(a, b)), (0, True))),
        samples=pair_samples(), differentiable=False, arity=2, symbol=_symbol,
    )


def _where_shape(c, a, b, **_):
    return broadcast_shapes(c, a, b)


primitive(
    name="where", doc="a where cond is nonzero, else b (cond gets no gradient)",
    signature="where(cond, a, b)", family="binary",
    forward=lambda c, a, b: np.where(c != 0, a, b),
    backward=lambda n, g: (None, F.where(n.x, g, 0.0) if n.needs[1] else None,
                           F.where(n.x, 0.0, g) if n.needs[2] else None),
    shape=_where_shape,
    sympy=sympy_elementwise(lambda sp, c, a, b: sp.Piecewise((a, sp.Ne(c, 0)), (b, True))),
    samples=(Sample(((3,), (3,), (3,)), ("mask", "real", "real")),
             Sample(((2, 3), (3,), ()), ("mask", "real", "real"))),
    arity=3,
)


def _clip_backward(n, g):
    x, lo, hi = n.inputs
    inside = F.ge(x, lo) * F.le(x, hi)
    # As the forward min(max(x, lo), hi): with lo > hi every entry is hi, so hi takes the gradient.
    return (g * inside if n.needs[0] else None,
            g * F.lt(x, lo) * F.le(lo, hi) if n.needs[1] else None,
            g * F.gt(F.maximum(x, lo), hi) if n.needs[2] else None)


primitive(
    name="clip", doc="x limited to [lo, hi] (gradient 1 on the bounds, as torch.clamp)",
    signature="clip(x, lo, hi)", family="binary",
    forward=lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), backward=_clip_backward,
    shape=_where_shape, torch_name="ClampBackward1",
    # NOTE: hi wins when lo > hi, as numpy's minimum(maximum(x, lo), hi) and torch.clamp do.
    sympy=sympy_elementwise(lambda sp, x, lo, hi: sp.Piecewise((hi, (x > hi) | (lo > hi)), (lo, x < lo), (x, True))),
    samples=(Sample(((3,), (), ()), ("real", "real", "above_one")),
             Sample(((2, 3), (3,), ()), ("real", "real", "above_one"))),
    kinks=(Kink((1.0, 1.0, 2.0), (1.0, 0.0, 0.0), note="on a bound x passes the gradient"),),
    arity=3,
)
