"""The elementwise primitives the losses of ops/losses.py are built from: bce, huber, soft_margin, their rules.

Each follows PyTorch's kernels and derivative formulas (tools/autograd/derivatives.yaml and
FunctionsManual.cpp), first and second order, so that the losses agree with PyTorch also at
the clamps (bce's logs at -100, its denominator at 1e-12) and at nan: huber's rule is its
clamped slope, whose derivative is 1 strictly inside (-delta, delta) and 0 elsewhere.
"""

from __future__ import annotations

import numpy as np

import gradcli.ops.special  # noqa: F401 (its "probability" domain draws the samples of bce)
from gradcli.autodiff import taylor as T
from gradcli.ops.common import F, broadcast_shapes, same_shape, sympy_elementwise
from gradcli.autodiff.op import Sample, Words, primitive

# PyTorch's bce rule divides by max(x (1 - x), EPSILON), a float constant 1e-12 (so in float64
# 1e-12 rounded to float32); its second-order formulas use 1e-12 itself.
EPSILON = float(np.float32(1e-12))
EPSILON2 = 1e-12


def _bce(x, y):
    # As PyTorch: each log no lower than -100, so x = 0 or 1 gives a finite loss.
    with np.errstate(divide="ignore", invalid="ignore"):
        return (y - 1.0) * np.maximum(np.log1p(-x), -100.0) - y * np.maximum(np.log(x), -100.0)


def _bce_slope_times(g, x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return g * (x - y) / np.maximum((1.0 - x) * x, EPSILON)


def _bce_backward_backward(n, gg):
    g, x, y = n.inputs
    # PyTorch's binary_cross_entropy_double_backward (x) and its target form (y).
    gx = gg * g * ((x * x - x * y * 2.0 + y) / ((x + EPSILON2) * (x + EPSILON2) * (1.0 - x + EPSILON2)
                                                * (1.0 - x + EPSILON2)))
    return (F.bce_backward(gg, x, y) if n.needs[0] else None,
            gx if n.needs[1] else None,
            -(gg * g) / F.maximum((1.0 - x) * x, EPSILON2) if n.needs[2] else None)


primitive(name="bce_backward", doc="g (x - y) / x (1 - x): the cotangent bce's rule gives x",
          signature="bce_backward(g, x, y)", family="internal", public=False, forward=_bce_slope_times,
          backward=_bce_backward_backward, shape=broadcast_shapes, arity=3, elementwise=True,
          taylor=lambda n, g, x, y: T.divide(T.cauchy(g, x - y), T.cauchy(x, T.offset(-x, 1.0))),
          sympy=sympy_elementwise(lambda sp, g, x, y: g * (x - y) / (x * (1 - x))),
          words=Words(("g", "x", "y"), ("(x - y)/(x*(1 - x))", "g*(x**2 - 2*x*y + y)/(x**2*(1 - x)**2)",
                                        "-g/(x*(1 - x))")),
          samples=(Sample(((3,), (3,), (3,)), ("real", "probability", "probability")),))
primitive(name="bce", doc="elementwise binary cross-entropy of probabilities x against targets y",
          signature="bce(x, y)", family="internal", public=False, forward=_bce, shape=broadcast_shapes, arity=2,
          backward=lambda n, g: (F.bce_backward(g, n.x, n.y) if n.needs[0] else None,
                                 -(g * F.logit(n.x, -1.0)) if n.needs[1] else None),
          elementwise=True, torch_name="BinaryCrossEntropyBackward0",
          taylor=lambda n, x, y: T.cauchy(T.offset(y, -1.0), T.log(T.offset(-x, 1.0))) - T.cauchy(y, T.log(x)),
          sympy=sympy_elementwise(lambda sp, x, y: -(y * sp.log(x) + (1 - y) * sp.log(1 - x))),
          words=Words(("x", "y"), ("(x - y)/(x*(1 - x))", "-logit(x)")),
          samples=(Sample(((3,), (3,)), "probability"), Sample(((2, 3), (3,)), "probability")))


def _clamp_slope(d, bound):
    return np.clip(d, -bound, bound)  # nan stays nan, as PyTorch's rule gives it


primitive(name="clamp_slope", doc="d limited to [-bound, bound], its derivative 1 strictly inside and 0 elsewhere "
                                  "(also at nan): huber's rule", signature="clamp_slope(d, bound)",
          family="internal", public=False, forward=_clamp_slope, shape=same_shape, elementwise=True,
          keywords=("bound",), kinds={"bound": "real"},
          # A product with the mask, as PyTorch's huber_loss_double_backward: a nan or inf in g gives nan outside.
          backward=lambda n, g: (g * F.lt(F.abs(n.x), n.params["bound"]),),
          taylor=lambda n, d: T.select(np.abs(d[0]) < n.params["bound"], d, T.zero(n, d)),
          sympy=lambda sp, d, bound: np.vectorize(lambda v: sp.Max(-bound, sp.Min(v, bound)), otypes=[object])(d),
          words=Words(("d",), vjp=("g where |{d}| < bound, else 0",)),
          samples=(Sample(((3,),), params={"bound": 0.5}), Sample(((2, 3),), params={"bound": 1.0})))


def _huber(x, y, delta):
    d = x - y
    size = np.abs(d)
    return np.where(size < delta, d * d * 0.5, (size - delta * 0.5) * delta)


def _huber_backward(n, g):
    slope = g * F.clamp_slope(n.x - n.y, bound=n.params["delta"])
    return (slope if n.needs[0] else None, -slope if n.needs[1] else None)


def _huber_taylor(n, x, y):
    d, delta = x - y, n.params["delta"]
    return T.select(np.abs(d[0]) < delta, T.cauchy(d, d) * 0.5, d * (np.sign(d[0]) * delta))


def _l1_backward(n, g):
    # PyTorch's l1_loss rule: g times the sign of the difference, a constant to a second derivative (its
    # double backward gives 0 there, where a chain through sign would carry 0 · nan from the inputs).
    slope = g * F.detach(F.sign(n.x - n.y))
    return (slope if n.needs[0] else None, -slope if n.needs[1] else None)


primitive(name="abs_diff", doc="|x - y|, its gradient sign(x - y) a constant to a second derivative (l1_loss)",
          signature="abs_diff(x, y)", family="internal", public=False, forward=lambda x, y: np.abs(x - y),
          backward=_l1_backward, shape=broadcast_shapes, arity=2, elementwise=True,
          taylor=lambda n, x, y: (x - y) * np.sign(x[0] - y[0]),
          sympy=sympy_elementwise(lambda sp, x, y: sp.Abs(x - y)),
          words=Words(("x", "y"), vjp=("g × sign(x - y)", "-g × sign(x - y)")),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,)))))


def huber_entry(sp, d, delta):
    """huber of one difference d, as SymPy."""
    return sp.Piecewise((d ** 2 / 2, sp.Abs(d) < delta), (delta * (sp.Abs(d) - delta / 2), True))


def _sympy_huber(sp, x, y, delta):
    return np.vectorize(lambda a, b: huber_entry(sp, a - b, delta), otypes=[object])(x, y)


primitive(name="huber", doc="0.5 d**2 where |d| < delta, else delta (|d| - delta/2), d = x - y",
          signature="huber(x, y, delta)", family="internal", public=False, forward=_huber,
          backward=_huber_backward, shape=broadcast_shapes, arity=2, elementwise=True, sympy=_sympy_huber,
          taylor=_huber_taylor,
          keywords=("delta",), kinds={"delta": "real"}, torch_name="HuberLossBackward0",
          words=Words(("x", "y"), vjp=("g × clip(x - y, -delta, delta)", "-g × clip(x - y, -delta, delta)")),
          samples=(Sample(((3,), (3,)), params={"delta": 0.5}), Sample(((2, 3), (3,)), params={"delta": 1.0})))


# -- soft_margin_loss's kernel: log(1 + exp(-x y)) computed as torch computes it (log1p of exp: an inf
# where -x y passes 709, and a gradient -y z / (1 + z) that is nan there, as torch's inf / inf) ----------

def _soft_margin(x, y):
    with np.errstate(over="ignore"):
        return np.log1p(np.exp(-x * y))


def _soft_margin_slope_times(g, x, y):
    # As torch's soft_margin_loss_backward: -y z / (1 + z) g, z = exp(-x y).
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(-x * y)
        return -(y * z) / (z + 1.0) * g


def _soft_margin_backward_backward(n, gg):
    g, x, y = n.inputs
    z = F.exp(-(x * y))
    after = z + 1.0
    # x: torch's soft_margin_loss_double_backward, gg g y**2 z / (1 + z)**2; y: the same slope's derivative in y,
    # -z / (1 + z) + x y z / (1 + z)**2 (torch takes the target as a constant)
    return (F.soft_margin_backward(gg, x, y) if n.needs[0] else None,
            gg * g * (y * y) * z / (after * after) if n.needs[1] else None,
            gg * g * (x * y * z / (after * after) - z / after) if n.needs[2] else None)


def _soft_margin_backward_taylor(n, g, x, y):
    product = -T.cauchy(x, y)
    with np.errstate(over="ignore"):
        start = 1.0 / (1.0 + np.exp(-product[0]))
    return T.cauchy(T.cauchy(g, -y), T.sigmoid(product, start))


primitive(name="soft_margin_backward", doc="-g y z / (1 + z), z = exp(-x y): the cotangent soft_margin's rule gives x",
          signature="soft_margin_backward(g, x, y)", family="internal", public=False, forward=_soft_margin_slope_times,
          backward=_soft_margin_backward_backward, shape=broadcast_shapes, arity=3, elementwise=True,
          taylor=_soft_margin_backward_taylor,
          sympy=sympy_elementwise(lambda sp, g, x, y: -g * y * sp.exp(-x * y) / (1 + sp.exp(-x * y))),
          words=Words(("g", "x", "y"), ("-y*exp(-x*y)/(1 + exp(-x*y))",
                                        "g*y**2*exp(-x*y)/(1 + exp(-x*y))**2",
                                        "g*(x*y*exp(-x*y)/(1 + exp(-x*y))**2 - exp(-x*y)/(1 + exp(-x*y)))")),
          samples=(Sample(((3,), (3,), (3,))), Sample(((2, 3), (3,), (2, 3)), ("real", "real", "nonzero"))))
primitive(name="soft_margin", doc="elementwise log(1 + exp(-x y)): soft_margin_loss's entries",
          signature="soft_margin(x, y)", family="internal", public=False, forward=_soft_margin, shape=broadcast_shapes,
          arity=2, elementwise=True, torch_name="SoftMarginLossBackward0",
          # the target's slope is the input's with the two exchanged
          backward=lambda n, g: (F.soft_margin_backward(g, n.x, n.y) if n.needs[0] else None,
                                 F.soft_margin_backward(g, n.y, n.x) if n.needs[1] else None),
          taylor=lambda n, x, y: T.log(T.offset(T.exp(-T.cauchy(x, y)), 1.0)),
          sympy=sympy_elementwise(lambda sp, x, y: sp.log(1 + sp.exp(-x * y))),
          words=Words(("x", "y"), ("-y*exp(-x*y)/(1 + exp(-x*y))", "-x*exp(-x*y)/(1 + exp(-x*y))")),
          samples=(Sample(((3,), (3,)), ("real", "nonzero")), Sample(((2, 3), (3,)))))
