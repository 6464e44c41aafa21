"""Special functions of two arguments, with broadcasting: xlogy, hypot, atan2, logaddexp, fmod, ...

Rules have the form of PyTorch's derivative formulas, as in ops/special.py. The divisor
of fmod and remainder gets -g times the rounded quotient (a trunc or floor division), an
internal operation here as PyTorch's `self.div(other, rounding_mode=...)` is: piecewise
constant, with zeros for its gradient.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.binary import binary, pair_samples
from gradcli.ops.common import F, broadcast_shapes, sympy_elementwise
from gradcli.ops.kinkchecks import equal_arguments
from gradcli.autodiff.op import Kink, KinkCheck, Words, primitive


def _xlogy(x, y):
    # As torch.xlogy: 0 where x == 0 (also where log(y) is -inf or nan), unless y is nan.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log(y))


def _xlogy_taylor(n, x, y):
    # x log y, and 0 where x == 0 and y <= 0 (log y has no value there; PyTorch's gradient is 0 then).
    with np.errstate(divide="ignore", invalid="ignore"):
        product = T.cauchy(x, T.log(y))
    return T.select((x[0] == 0) & (y[0] <= 0), T.zero(n, x, y), product)


binary("xlogy", "", _xlogy,
       lambda n, g: (F.where(F.eq(n.x, 0.0) * F.le(n.y, 0.0), 0.0, F.xlogy(g, n.y)) if n.needs[0] else None,
                     g * n.x / n.y if n.needs[1] else None),
       lambda sp, x, y: sp.Piecewise((0, sp.Eq(x, 0)), (x * sp.log(y), True)),
       "x * log(y), and 0 where x == 0 (unless y is nan), as torch.xlogy", domain=("real", "positive"),
       local=("where((a == 0)*(b <= 0), 0, log(b))", "a/b"), taylor=_xlogy_taylor,
       kinks=(Kink((0.0, 0.0), (0.0, np.nan), note="d/dx xlogy(x, y) = 0 at x = 0 where y <= 0, as PyTorch",
                   noted=False),))
binary("hypot", "", np.hypot,
       lambda n, g: (g * n.x / n.ans if n.needs[0] else None, g * n.y / n.ans if n.needs[1] else None),
       lambda sp, a, b: sp.sqrt(a ** 2 + b ** 2), "sqrt(a**2 + b**2), without overflow (gradient nan at 0, 0)",
       domain="nonzero", saves="both", local=("a/out", "b/out"),
       taylor=lambda n, a, b: T.power(T.cauchy(a, a) + T.cauchy(b, b), 0.5, n.ans),
       kinks=(Kink((0.0, 0.0), (np.nan, np.nan), note="0/0 at the origin, as PyTorch", noted=False),))


def _atan2_backward(n, g):
    y, x = n.inputs
    squares = y * y + x * x
    # As PyTorch: 1/(y**2 + x**2) taken as 0 where the squares are 0 (the origin, or so near it that they
    # underflow), so the gradient there is 0 (nan where g is inf).
    recip = F.where(F.eq(squares, 0.0), 0.0, F.reciprocal(squares))
    return (g * x * recip if n.needs[0] else None, g * -y * recip if n.needs[1] else None)


def _atan2_taylor(n, y, x):
    # d atan2(y, x) = (x dy - y dx) / (x**2 + y**2)
    slope = T.divide(T.cauchy(x, T.rate(y)) - T.cauchy(y, T.rate(x)), T.cauchy(x, x) + T.cauchy(y, y))
    return T.antiderivative(n.ans, slope)


def _logaddexp_taylor(n, a, b):
    a, b = np.broadcast_arrays(a, b)
    peak = np.maximum(a[0], b[0])
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return T.log(T.exp(T.offset(a, -peak)) + T.exp(T.offset(b, -peak)))


binary("atan2", "", np.arctan2, _atan2_backward, lambda sp, y, x: sp.atan2(y, x),
       "the angle of the point (b, a) from the x axis: atan2(y, x), in [-pi, pi] (gradient 0 at 0, 0)",
       domain="nonzero", aliases=("arctan2",), local=("b/(a**2 + b**2)", "-a/(a**2 + b**2)"), taylor=_atan2_taylor,
       kinks=(Kink((0.0, 0.0), (0.0, 0.0), note="gradient 0 at the origin, as PyTorch", noted=False),))
binary("logaddexp", "", np.logaddexp,
       lambda n, g: (g / (F.exp(n.y - n.x) + 1.0) if n.needs[0] else None,
                     g / (F.exp(n.x - n.y) + 1.0) if n.needs[1] else None),
       lambda sp, a, b: sp.log(sp.exp(a) + sp.exp(b)), "log(exp(a) + exp(b)), computed without overflow",
       local=("1/(1 + exp(b - a))", "1/(1 + exp(a - b))"), taylor=_logaddexp_taylor)


def _rounded_quotient(name, forward, sympy, doc):
    """a / b rounded (as PyTorch's div with a rounding mode): piecewise constant, its gradient zeros."""
    primitive(name=name, doc=doc, signature=f"{name}(a, b)", family="internal", public=False, forward=forward,
              backward=lambda n, g: (F.zeros_like(g) if n.needs[0] else None, F.zeros_like(g) if n.needs[1] else None),
              shape=broadcast_shapes, sympy=sympy_elementwise(sympy), arity=2, elementwise=True, taylor=T.zero,
              words=Words(("a", "b"), ("0", "0")), samples=pair_samples(("real", "nonzero")))


def _trunc_quotient(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.trunc(a / b)


def _floor_quotient(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.floor_divide(a, b)  # as Python's //: 1 // 0.1 is 9, where floor(1 / 0.1) is 10


_rounded_quotient("div_trunc", _trunc_quotient, lambda sp, a, b: sp.sign(a / b) * sp.floor(sp.Abs(a / b)),
                  "a / b rounded toward zero")
_rounded_quotient("div_floor", _floor_quotient, lambda sp, a, b: sp.floor(a / b), "a / b rounded down")


def _divisor_taylor(quotient):
    """fmod's or remainder's series: a - q b with the rounded quotient q a constant, as the rule has it."""
    def rule(n, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return a - b * quotient(a[0], b[0])
    return rule


def _divisor_rule(quotient):
    """fmod's or remainder's rule, as PyTorch's: a gets g, b gets -g times the rounded quotient of a by b."""
    def rule(n, g):
        return (g if n.needs[0] else None, -(g * quotient(n.x, n.y)) if n.needs[1] else None)
    return rule


binary("fmod", "", np.fmod, _divisor_rule(lambda a, b: F.div_trunc(a, b)),
       lambda sp, a, b: a - b * sp.sign(a / b) * sp.floor(sp.Abs(a / b)),
       "remainder of a / b with the sign of a, as C's fmod (gradient as PyTorch: 1 and -trunc(a/b))",
       domain=("real", "nonzero"), local=("1", "-trunc(a/b)"), taylor=_divisor_taylor(_trunc_quotient),
       kinks=(Kink((3.0, 1.5), (1.0, -2.0), note="where the value jumps (a/b whole) the gradient is "
                   "1 and -trunc(a/b), as PyTorch", noted=False),))
def _remainder(a, b):
    # PyTorch's: fmod, moved by b where its sign differs from b's. A zero keeps fmod's sign
    # (remainder(-3, 3) is -0.0, where numpy's np.remainder gives 0.0), as a / remainder(...) shows.
    mod = np.fmod(a, b)
    return np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


binary("remainder", "%", _remainder, _divisor_rule(lambda a, b: F.div_floor(a, b)),
       lambda sp, a, b: sp.Mod(a, b),
       "remainder of a / b with the sign of b, as Python's % (gradient as PyTorch: 1 and -floor(a/b))",
       domain=("real", "nonzero"), aliases=("remainder", "mod"), local=("1", "-floor(a/b)"),
       taylor=_divisor_taylor(_floor_quotient),
       kinks=(Kink((-3.0, 1.5), (1.0, 2.0), note="where the value jumps (a/b whole) the gradient is "
                   "1 and -floor(a/b), as PyTorch", noted=False),))

_TIE = ("has x equal to its bound{where}: x gets the gradient there and the bound 0 (as PyTorch's {op}); "
        "the one-sided derivative from the other side would give x 0 and the bound 1")
binary("clamp_min", "", np.maximum,
       lambda n, g: (F.where(F.ge(n.x, n.y), g, 0.0) if n.needs[0] else None,
                     F.where(F.lt(n.x, n.y), g, 0.0) if n.needs[1] else None),
       lambda sp, x, m: sp.Piecewise((x, x >= m), (m, True)),
       "max(x, min) elementwise; on a tie x gets the gradient (as torch.clamp_min)", torch_name="ClampMinBackward1",
       taylor=lambda n, x, m: T.select(x[0] >= m[0], x, m),
       local=("a >= b", "a < b"), kinks=(Kink((1.0, 1.0), (1.0, 0.0), note="a tie: x gets the gradient"),),
       kink_check=KinkCheck(equal_arguments, _TIE))
binary("clamp_max", "", np.minimum,
       lambda n, g: (F.where(F.le(n.x, n.y), g, 0.0) if n.needs[0] else None,
                     F.where(F.gt(n.x, n.y), g, 0.0) if n.needs[1] else None),
       lambda sp, x, m: sp.Piecewise((x, x <= m), (m, True)),
       "min(x, max) elementwise; on a tie x gets the gradient (as torch.clamp_max)", torch_name="ClampMaxBackward1",
       taylor=lambda n, x, m: T.select(x[0] <= m[0], x, m),
       local=("a <= b", "a > b"), kinks=(Kink((1.0, 1.0), (1.0, 0.0), note="a tie: x gets the gradient"),),
       kink_check=KinkCheck(equal_arguments, _TIE))
