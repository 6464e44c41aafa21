"""PyTorch's elementwise extras: addcmul, addcdiv, lerp, copysign, float_power, fmax, fmin, logaddexp2,
rsub, positive, deg2rad, rad2deg, special.erfcx, and the 0/1 results of logical_xor, logical_not and
isclose.

A function PyTorch computes as a formula of others (rsub's other - alpha * input, deg2rad's product) is
a composite here, so its derivatives are those of the formula; one whose rule in derivatives.yaml is
not the formula's at a kink or an infinity (addcmul, addcdiv, lerp, copysign, fmax, fmin,
logaddexp2, erfcx) is a primitive with that rule, written in the engine's operations so that
second order follows. The logical functions and isclose are constants, as the comparisons are.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.binary import binary, pair_samples
from gradcli.ops.common import F, broadcast_shapes, sympy_elementwise, zeros_like
from gradcli.ops.elementwise import SAMPLE_SHAPES, unary
from gradcli.ops.kinkchecks import equal_arguments, first_input_at_zero
from gradcli.ops.normal import _erfcx_large, _solved
from gradcli.ops.special import erfc
from gradcli.autodiff.op import Kink, KinkCheck, Sample, Words, composite, primitive

LN2 = math.log(2.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_TRIPLES = (Sample(((3,), (3,), (3,))), Sample(((2, 3), (3,), (2, 1))), Sample(((), (2, 3), ())))


# -- addcmul, addcdiv, rsub: formulas of products and sums ------------------------------------------
def _addcmul(x, t1, t2, value=1.0):
    # PyTorch's kernel: self + value * t1 * t2, the products from the left.
    return x + (t1 * value if value != 1.0 else t1) * t2


def _addcdiv(x, t1, t2, value=1.0):
    return x + (t1 * value if value != 1.0 else t1) / t2


def _addcmul_backward(n, g):
    x, t1, t2 = n.inputs
    value = n.params.get("value", 1.0)
    return (g if n.needs[0] else None, g * (t2 * value) if n.needs[1] else None,
            g * (t1 * value) if n.needs[2] else None)


def _addcdiv_backward(n, g):
    # derivatives.yaml: g * (value / t2) and -g * (value * t1 / (t2 * t2))
    x, t1, t2 = n.inputs
    value = n.params.get("value", 1.0)
    return (g if n.needs[0] else None, g * (value / t2) if n.needs[1] else None,
            -g * (t1 * value / (t2 * t2)) if n.needs[2] else None)


def _sympy_addc(combine):
    def rule(sp, x, t1, t2, value=1.0):
        return np.asarray(np.frompyfunc(lambda a, b, c: a + value * combine(b, c), 3, 1)(x, t1, t2), dtype=object)
    return rule


for _name, _fn, _rule, _what, _combine, _series, _local in (
        ("addcmul", _addcmul, _addcmul_backward, "t1 * t2", lambda b, c: b * c, T.cauchy,
         ("1", "value*t2", "value*t1")),
        ("addcdiv", _addcdiv, _addcdiv_backward, "t1 / t2", lambda b, c: b / c, T.divide,
         ("1", "value/t2", "-value*t1/t2**2"))):
    primitive(name=_name, doc=f"x + value * {_what}, as torch.{_name} (value= a number, 1 by default)",
              signature=f"{_name}(input, tensor1, tensor2, value=1)", family="binary", arity=3,
              inputs=("input", "tensor1", "tensor2"), keywords=("value",), kinds={"value": "real"},
              forward=_fn, backward=_rule, shape=broadcast_shapes, elementwise=True, sympy=_sympy_addc(_combine),
              taylor=lambda n, x, t1, t2, _series=_series: x + _series(t1, t2) * n.params.get("value", 1.0),
              words=Words(("x", "t1", "t2"), vjp=tuple(f"g × {w}" for w in _local)),
              samples=(*_TRIPLES[:2], Sample(((2, 3), (3,), (2, 1)), ("real", "real", "nonzero"), {"value": -0.5}),
                       Sample(((3,), (3,), (3,)), ("real", "real", "nonzero"))))


composite(name="rsub", doc="other - alpha * input, as torch.rsub (input subtracted from other)",
          signature="rsub(input, other, alpha=1)", family="binary", arity=2, inputs=("input", "other"),
          keywords=("alpha",), kinds={"alpha": "real"}, torch_name="RsubBackward0",
          composite=lambda x, other, alpha=1.0: other - (x if alpha == 1.0 else x * alpha),
          samples=(*pair_samples(), Sample(((2, 3), (3,)), params={"alpha": 2.5})))
composite(name="positive", doc="x itself, as torch.positive (+x)", signature="positive(x)", family="elementwise",
          composite=lambda x: x, samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES))
# As PyTorch's kernels: one product with the constant pi/180 (or 180/pi), whose rule is the same product.
composite(name="deg2rad", doc="degrees to radians, x * (pi / 180)", signature="deg2rad(x)", family="elementwise",
          aliases=("radians",), torch_name="Deg2RadBackward0", composite=lambda x: x * (math.pi / 180.0),
          samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES))
composite(name="rad2deg", doc="radians to degrees, x * (180 / pi)", signature="rad2deg(x)", family="elementwise",
          aliases=("degrees",), torch_name="Rad2DegBackward0", composite=lambda x: x * (180.0 / math.pi),
          samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES))
composite(name="float_power", torch_name="PowBackward1", doc="a ** b, as torch.float_power (the gradient of pow)",
          signature="float_power(input, exponent)", family="binary", arity=2, inputs=("input", "exponent"),
          composite=lambda a, b: a ** b, samples=pair_samples(("positive", "real")))
# -- lerp ---------------------------------------------------------------------------------------------
def _lerp(start, end, weight):
    # PyTorch's two formulas: from start where |weight| < 0.5, from end elsewhere (exact at weight 1).
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(np.abs(weight) < 0.5, start + weight * (end - start), end - (end - start) * (1.0 - weight))


def _lerp_backward(n, g):
    start, end, weight = n.inputs
    return (g * (1.0 - weight) if n.needs[0] else None, g * weight if n.needs[1] else None,
            g * (end - start) if n.needs[2] else None)


def _lerp_taylor(n, start, end, weight):
    out = start + T.cauchy(weight, end - start)
    out[0] = n.ans  # (the value by PyTorch's formula of the two)
    return out


# (torch.lerp's record; quantile reads it too, ops/statistics.py)
primitive(name="linear_interpolation", aliases=("lerp",),
          doc="start + weight * (end - start), as torch.lerp (weight a number or an array)",
          signature="lerp(input, end, weight)", family="binary", arity=3, inputs=("input", "end", "weight"),
          forward=_lerp, backward=_lerp_backward, shape=broadcast_shapes, elementwise=True,
          sympy=sympy_elementwise(lambda sp, s, e, w: s + w * (e - s)), torch_name="LerpBackward1",
          taylor=_lerp_taylor,
          words=Words(("start", "end", "weight"), ("1 - weight", "weight", "end - start")), samples=_TRIPLES)


# -- copysign -----------------------------------------------------------------------------------------
def _copysign_backward(n, g):
    # PyTorch's copysign_tensor_self_backward: g * result / self, 0 where self is 0; other gets zeros.
    ratio = F.where(F.eq(n.x, 0.0), 0.0, n.ans / n.x)
    return (g * ratio if n.needs[0] else None, zeros_like(g) if n.needs[1] else None)


def _copysign_taylor(n, a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(a[0] == 0, 0.0, n.ans / a[0])
    out = a * ratio
    out[0] = n.ans
    return out


binary("copysign", "", np.copysign, _copysign_backward,
       lambda sp, a, b: sp.Piecewise((sp.Abs(a), b >= 0), (-sp.Abs(a), True)),
       "|a| with the sign of b (-0.0 counts as negative), as torch.copysign (a's gradient 0 at a = 0, b's 0)",
       saves="both", local=("where(a == 0, 0, out/a)", "0"), taylor=_copysign_taylor,
       kinks=(Kink((0.0, -1.0), (0.0, 0.0), note="gradient 0 at a = 0, as PyTorch"),),
       kink_check=KinkCheck(first_input_at_zero, "is evaluated at a = 0{where}, where |a| has no derivative: gradcli "
                            "gives 0 there (as PyTorch's {op}); the one-sided derivatives are -1 and +1"))


# -- fmax and fmin --------------------------------------------------------------------------------------
def _fextreme_backward(larger):
    # derivatives.yaml: self gets g where self >= other (<= for fmin) or other is nan, other gets the rest.
    def rule(n, g):
        a, b = n.x, n.y
        a_wins = (F.ge(a, b) if larger else F.le(a, b)) + F.ne(b, b)
        return (F.where(a_wins, g, 0.0) if n.needs[0] else None, F.where(a_wins, 0.0, g) if n.needs[1] else None)
    return rule


def _fextreme_taylor(larger):
    def rule(n, a, b):
        a0, b0 = a[0], b[0]
        return T.select(((a0 >= b0) if larger else (a0 <= b0)) | np.isnan(b0), a, b)
    return rule


_FTIE = KinkCheck(equal_arguments, "has a tie between its arguments{where}: the first gets the whole gradient (as "
                  "PyTorch's {op}); choosing the second would give it all instead")
for _name, _fn, _larger, _cmp in (("fmax", np.fmax, True, ">="), ("fmin", np.fmin, False, "<=")):
    binary(_name, "", _fn, _fextreme_backward(_larger),
           (lambda sp, a, b: sp.Piecewise((a, a >= b), (b, True))) if _larger else
           (lambda sp, a, b: sp.Piecewise((a, a <= b), (b, True))),
           f"elementwise {'larger' if _larger else 'smaller'} of a and b, a nan ignored (as torch.{_name}); a tie "
           f"gives a the gradient", local=(f"(a {_cmp} b) + (b != b) > 0", f"(a {_cmp} b) + (b != b) == 0"),
           taylor=_fextreme_taylor(_larger), kink_check=_FTIE,
           kinks=(Kink((1.0, 1.0), (1.0, 0.0), note="a tie gives the first the gradient, as PyTorch"),))


# -- logaddexp2 -----------------------------------------------------------------------------------------
def _logaddexp2_taylor(n, a, b):
    a, b = np.broadcast_arrays(a, b)
    peak = np.maximum(a[0], b[0])
    peak = np.where(np.isfinite(peak), peak, 0.0)
    out = T.log(T.exp(T.offset(a, -peak) * LN2) + T.exp(T.offset(b, -peak) * LN2)) / LN2
    out[0] = n.ans
    return out


binary("logaddexp2", "", np.logaddexp2,
       lambda n, g: (g / (F.exp2(n.y - n.x) + 1.0) if n.needs[0] else None,
                     g / (F.exp2(n.x - n.y) + 1.0) if n.needs[1] else None),
       lambda sp, a, b: sp.log(2 ** a + 2 ** b, 2), "log2(2**a + 2**b), computed without overflow",
       local=("1/(1 + exp2(b - a))", "1/(1 + exp2(a - b))"), taylor=_logaddexp2_taylor)


# -- erfcx ----------------------------------------------------------------------------------------------
def _exp_of_square(t):
    """exp(t**2) for 0 <= t < 25 with t**2 split in two exact parts (t's upper 24 bits squared is exact), so that
    its rounding does not grow with t**2."""
    high = np.asarray(t, dtype=np.float32).astype(np.float64)
    low = t - high
    return np.exp(high * high) * np.exp(low * (high + t))


def _erfcx_far(t):
    """erfcx for t >= 50, as PyTorch's kernel (Faddeeva's): the continued fraction to five terms, 1/(t sqrt(pi)) past
    5e7. (Its second derivative cancels twice, magnifying the last bit of the value by (2 t**2)**2: the same
    formula gives the same numbers.)"""
    inv_sqrt_pi = 0.56418958354775628694807945156
    with np.errstate(over="ignore", invalid="ignore"):
        square = t * t
        fraction = inv_sqrt_pi * (square * (square + 4.5) + 2.0) / (t * (square * (square + 5.0) + 3.75))
    return np.where(t > 5e7, inv_sqrt_pi / t, fraction)


def erfcx(x):
    """exp(x**2) erfc(x): from erfc below 25, the asymptotic series up to 50 and PyTorch's continued fraction
    above; for x < 0, 2 exp(x*x) - erfcx(-x) with x*x rounded, as PyTorch's kernel computes it (inf below -26.7)."""
    x64 = np.asarray(x, dtype=np.float64)
    t = np.abs(x64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        near = np.minimum(t, 25.0)
        positive = np.where(t < 25.0, _exp_of_square(near) * erfc(near),
                            np.where(t < 50.0, _erfcx_large(np.clip(t, 25.0, 50.0)), _erfcx_far(np.maximum(t, 50.0))))
        out = np.where(x64 < 0, np.where(x64 < -26.7, np.inf, 2.0 * np.exp(x64 * x64) - positive), positive)
    return np.asarray(out, dtype=np.result_type(x, 0.0))


def _erfcx_taylor(n, x):
    # y' = 2 x y - 2/sqrt(pi)
    return _solved(n.ans, x, lambda y: T.offset(2.0 * T.cauchy(x, y), -TWO_OVER_SQRT_PI))


unary("erfcx", erfcx, lambda n, g: ((n.x * 2.0 * n.ans - TWO_OVER_SQRT_PI) * g,),
      lambda sp, x: sp.exp(x ** 2) * sp.erfc(x), "scaled complementary error function exp(x**2) erfc(x), as "
      "torch.special.erfcx", saves="both", local="2*x*out - 2/sqrt(pi)", torch_name="SpecialErfcxBackward0",
      taylor=_erfcx_taylor)


# -- logical functions and isclose: 0/1, no gradient ------------------------------------------------------
# (logical_and and logical_or are the records of `and` and `or`, ops/operators.py)
composite(name="logical_xor", doc="1.0 where exactly one of a and b is nonzero (nan counts), else 0.0 (a mask; no "
          "gradient)", signature="logical_xor(input, other)", family="comparison", arity=2, elementwise=True,
          composite=lambda a, b: F.ne(F.ne(a, 0.0), F.ne(b, 0.0)), differentiable=False,
          samples=(*pair_samples("mask"), Sample(((3,), ()), ("real", "real"))))
composite(name="logical_not", doc="1.0 where x is 0, else 0.0 (a mask; no gradient)", signature="logical_not(x)",
          family="comparison", composite=lambda x: F.eq(x, 0.0), elementwise=True, differentiable=False,
          samples=tuple(Sample((s,), "mask") for s in SAMPLE_SHAPES))


def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=bool(equal_nan)).astype(np.result_type(a, b))


primitive(name="isclose", doc="1.0 where |a - b| <= atol + rtol * |b| (equal infinities too; nan only with "
          "equal_nan=True), else 0.0, as torch.isclose (no gradient)",
          signature="isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False)", family="comparison", arity=2,
          inputs=("input", "other"), forward=_isclose, shape=broadcast_shapes, differentiable=False,
          keywords=("rtol", "atol", "equal_nan"), kinds={"rtol": "real", "atol": "real"}, positional=3,
          samples=(*pair_samples(), Sample(((3,), (3,)), params={"rtol": 0.5, "atol": 0.1})))
