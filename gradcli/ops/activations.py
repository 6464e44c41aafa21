"""More of torch.nn.functional's activations, each a composite of the engine's operations with
PyTorch's derivative at its kinks: selu, celu, hardswish, hardsigmoid, tanhshrink, and frac.

selu and celu are elu scaled (their derivative at 0 is elu's from the left, as PyTorch's
elu_backward gives them); hardswish and hardsigmoid are primitives whose rules are operations
of their own, as PyTorch's hardswish_backward and hardsigmoid_backward, with the pieces they
take at x = ±3.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.common import F, broadcast_shapes, same_shape, sympy_elementwise
from gradcli.ops.elementwise import SAMPLE_SHAPES
from gradcli.autodiff.op import Kink, Sample, Words, primitive

# PyTorch's selu constants (torch/nn/functional.py, from the paper's fixed point)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _elementwise(name, doc, composite, sympy, *, kinks=(), domain="nonzero", **fields):
    primitive(name=name, batching="trailing", doc=doc, signature=f"{name}(x)", family="elementwise",
              composite=composite, sympy=sympy_elementwise(sympy), kinks=kinks,
              samples=tuple(Sample((s,), domain) for s in SAMPLE_SHAPES), **fields)


def _hardswish(x):
    # As PyTorch's kernel: x * min(max(x + 3, 0), 6) / 6 (-inf gives nan, -4 gives -0).
    return x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0


def _hardswish_slope_times(g, x):
    # PyTorch's hardswish_backward: 0 up to -3, g from 3 on, else g * (x/3 + 1/2) (so nan at a nan x).
    return np.where(x <= -3.0, 0.0, np.where(x >= 3.0, g, g * (x / 3.0 + 0.5)))


def _inside(x):
    return (x > -3.0) & (x < 3.0)


def _hardswish_backward_backward(n, gg):
    g, x = n.inputs
    return (F.hardswish_backward(gg, x) if n.needs[0] else None,
            F.where(F.gt(x, -3.0) * F.lt(x, 3.0), gg * g / 3.0, 0.0) if n.needs[1] else None)


def _hardswish_taylor(n, x):
    middle = T.cauchy(x, T.offset(x, 3.0)) / 6.0
    return T.select(x[0] <= -3.0, T.constant(n.ans, len(x) - 1), T.select(x[0] < 3.0, middle, x))


def _hardsigmoid(x):
    return np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0


# Their rules are operations of their own, as PyTorch's hardswish_backward and hardsigmoid_backward, so
# second order follows PyTorch's double backward: a selection of x's pieces alone would send nan through
# the pieces not taken, where x is inf or nan.
primitive(name="hardswish_backward", doc="g * hardswish'(x): the cotangent hardswish's rule gives x",
          signature="hardswish_backward(g, x)", family="internal", public=False, forward=_hardswish_slope_times,
          backward=_hardswish_backward_backward, shape=broadcast_shapes, arity=2, elementwise=True,
          torch_name="HardswishBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x: sp.Piecewise((0, x <= -3), (g * (x / 3 + sp.Rational(1, 2)), x < 3),
                                                                (g, True))),
          taylor=lambda n, g, x: T.select(x[0] <= -3.0, np.zeros_like(g),
                                          T.select(x[0] < 3.0, T.cauchy(g, T.offset(x / 3.0, 0.5)), g)),
          words=Words(("g", "x"), ("where(x <= -3, 0, where(x >= 3, 1, x/3 + 1/2))",
                                   "where(x > -3 and x < 3, g/3, 0)")),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,)))))
primitive(name="hardswish", doc="x * relu6(x + 3) / 6 (gradient 0 at -3 and 1 at 3, as PyTorch)",
          signature="hardswish(x)", family="elementwise", forward=_hardswish,
          backward=lambda n, g: (F.hardswish_backward(g, n.x),), shape=same_shape, elementwise=True,
          sympy=sympy_elementwise(lambda sp, x: sp.Piecewise((0, x <= -3), (x * (x + 3) / 6, x < 3), (x, True))),
          taylor=_hardswish_taylor, words=Words(("x",), ("where(x <= -3, 0, where(x >= 3, 1, x/3 + 1/2))",)),
          samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES),
          kinks=(Kink(([-3.0, 3.0],), ([0.0, 1.0],), note="hardswish takes the outer pieces at ±3, as PyTorch",
                      noted=False),))
primitive(name="hardsigmoid_backward", doc="where(-3 < x < 3, g / 6, 0): hardsigmoid's rule",
          signature="hardsigmoid_backward(g, x)", family="internal", public=False,
          forward=lambda g, x: np.where(_inside(x), g / 6.0, 0.0),
          backward=lambda n, gg: (F.hardsigmoid_backward(gg, n.y) if n.needs[0] else None,
                                  F.zeros_like(gg) if n.needs[1] else None),
          shape=broadcast_shapes, arity=2, elementwise=True, torch_name="HardsigmoidBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x: sp.Piecewise((g / 6, (x > -3) & (x < 3)), (0, True))),
          taylor=lambda n, g, x: T.select(_inside(x[0]), g / 6.0, np.zeros_like(g)),
          words=Words(("g", "x"), ("where(x > -3 and x < 3, 1/6, 0)", "0")),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,)))))
primitive(name="hardsigmoid", doc="relu6(x + 3) / 6 (gradient 0 at ±3, as PyTorch; 1/6 inside, where PyTorch's is "
                                  "float32's 1/6: docs/differences.md)",
          signature="hardsigmoid(x)", family="elementwise", forward=_hardsigmoid,
          backward=lambda n, g: (F.hardsigmoid_backward(g, n.x),), shape=same_shape, elementwise=True,
          sympy=sympy_elementwise(lambda sp, x: sp.Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + sp.Rational(1, 2), True))),
          taylor=lambda n, x: T.select(_inside(x[0]), T.offset(x / 6.0, 0.5), T.constant(n.ans, len(x) - 1)),
          words=Words(("x",), ("where(x > -3 and x < 3, 1/6, 0)",)),
          samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES),
          kinks=(Kink(([-3.0, 3.0],), ([0.0, 0.0],), note="hardsigmoid'(±3) = 0, as PyTorch", noted=False),))


_elementwise("selu", "scale * elu(x, alpha) with PyTorch's constants (alpha 1.6733, scale 1.0507; gradient "
             "alpha * scale at 0, as PyTorch)",
             lambda x: F.elu(x, SELU_ALPHA) * SELU_SCALE,
             lambda sp, x: SELU_SCALE * sp.Piecewise((x, x > 0), (SELU_ALPHA * (sp.exp(x) - 1), True)),
             kinks=(Kink(([0.0],), ([SELU_ALPHA * SELU_SCALE],), note="selu'(0) = alpha * scale, as PyTorch",
                         noted=False),))
_elementwise("celu", "max(0, x) + min(0, exp(x) - 1), elu with alpha 1 (gradient 1 at 0, as PyTorch)",
             lambda x: F.elu(x, 1.0),
             lambda sp, x: sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)),
             kinks=(Kink(([0.0],), ([1.0],), note="celu'(0) = 1", noted=False),))
_elementwise("tanhshrink", "x - tanh(x)", lambda x: x - F.tanh(x), lambda sp, x: x - sp.tanh(x), domain="real")
_elementwise("frac", "x - trunc(x), the fractional part with x's sign (gradient 1, as PyTorch)",
             lambda x: x - F.trunc(x), lambda sp, x: x - sp.sign(x) * sp.floor(sp.Abs(x)),
             kinks=(Kink(([1.0],), ([1.0],), note="frac'(1) = 1, as PyTorch (trunc passes no gradient)",
                         noted=False),))
