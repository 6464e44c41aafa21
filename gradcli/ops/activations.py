"""More of torch.nn.functional's activations, with PyTorch's derivatives at their kinks: selu, celu,
hardswish, hardsigmoid, tanhshrink, frac, hardshrink, softshrink, threshold, glu and prelu.

selu and celu are elu scaled (their derivative at 0 is elu's from the left, as PyTorch's
elu_backward gives them); hardswish, hardsigmoid, the shrinks, threshold and prelu are
primitives whose rules are operations of their own, as PyTorch's hardswish_backward,
hardsigmoid_backward, hardshrink_backward, softshrink_backward, threshold_backward and
_prelu_kernel_backward, so that second order follows PyTorch's double backward (prelu's takes
x = 0 with the upper piece, where its first derivative takes the lower one). glu is a * sigmoid(b)
of x's two halves.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.errors import GradcliError
from gradcli.ops.common import F, broadcast_shapes, normalize_axes, same_shape, sympy_elementwise, zeros_like
from gradcli.ops.losses import given
from gradcli.ops.elementwise import SAMPLE_SHAPES
from gradcli.autodiff.op import Kink, Sample, Words, composite, primitive

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
                         noted=False),), torch_name="EluBackward0")
_elementwise("tanhshrink", "x - tanh(x)", lambda x: x - F.tanh(x), lambda sp, x: x - sp.tanh(x), domain="real",
             torch_name="SubBackward0")
_elementwise("frac", "x - trunc(x), the fractional part with x's sign (gradient 1, as PyTorch)",
             lambda x: x - F.trunc(x), lambda sp, x: x - sp.sign(x) * sp.floor(sp.Abs(x)),
             kinks=(Kink(([1.0],), ([1.0],), note="frac'(1) = 1, as PyTorch (trunc passes no gradient)",
                         noted=False),))


def _celu(x, alpha=None):
    # As PyTorch's celu, elu with input scale 1/alpha and output scale alpha: x above 0, alpha (exp(x/alpha) - 1)
    # below, and the derivative 1 at 0 (elu's from the left).
    if given(alpha) is None:
        return F.elu(x, 1.0)
    # alpha gets no gradient where x > 0 (exactly 0, as PyTorch's: the value is x there)
    alpha = F.where(F.gt(x, 0.0), F.detach(alpha), alpha)
    return F.elu(x * (1.0 / alpha), 1.0) * alpha


composite(name="celu", doc="max(0, x) + min(0, alpha * (exp(x/alpha) - 1)) (gradient 1 at 0, as PyTorch)",
          signature="celu(x, alpha=1)", family="elementwise", inputs=("x", "alpha"), optional={"alpha": 1.0},
          arity=2, elementwise=True, composite=_celu,
          sympy=sympy_elementwise(lambda sp, x, alpha: sp.Piecewise((x, x > 0), (alpha * (sp.exp(x / alpha) - 1), True))),
          samples=(*(Sample((s, ()), ("nonzero", "positive")) for s in SAMPLE_SHAPES),
                   Sample(((2, 3), (3,)), ("nonzero", "positive"))),
          kinks=(Kink(([0.0],), ([1.0],), note="celu'(0) = 1", noted=False),
                 Kink(([0.0, -1.0], 2.0), ([1.0, np.exp(-0.5)], np.expm1(-0.5) + 0.5 * np.exp(-0.5)),
                      note="celu'(0) = 1 whatever alpha; alpha gets expm1(x/alpha) - x/alpha exp(x/alpha)",
                      noted=False)))


# -- the shrinks and threshold: selections by x, whose rules are selections of g by x ---------------------

def _in_band(x, lambd):
    # As PyTorch's hardshrink_backward: the band [-lambd, lambd] gets 0 (a nan x is outside it).
    return (x >= -lambd) & (x <= lambd)


def _hardshrink(x, lambd=0.5):
    return np.where(_in_band(x, lambd), 0.0, x)


def _softshrink(x, lambd=0.5):
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x * 0.0))


def _at_or_below(x, threshold):
    return x <= threshold


def _selection_backward(name, doc, mask, keywords, torch_name):
    """The internal operation `name`(g, x, **params) = where(mask(x, *params), 0, g), the rule of a selection by
    x: its own rule passes gg through the same selection and sends x zeros, as PyTorch's double backward.
    (mask takes SymPy's numbers too, for the SymPy form.)"""
    def backward(n, gg):
        return (getattr(F, name)(gg, n.y, **n.params) if n.needs[0] else None,
                zeros_like(gg) if n.needs[1] else None)

    params = {k: 0.5 for k in keywords}
    primitive(name=name, doc=doc, signature=f"{name}(g, x, {', '.join(keywords)})",
              family="internal", public=False, forward=lambda g, x, **p: np.where(mask(x, *p.values()), 0.0, g),
              backward=backward, shape=broadcast_shapes, arity=2, elementwise=True, keywords=keywords,
              kinds={k: "real" for k in keywords}, torch_name=torch_name,
              sympy=lambda sp, g, x, **p: sympy_elementwise(
                  lambda sp, g, v: sp.Piecewise((0, mask(v, *p.values())), (g, True)))(sp, g, x),
              taylor=lambda n, g, x: T.select(mask(x[0], *n.params.values()), np.zeros_like(g), g),
              words=Words(("g", "x"), vjp=("g where the selection passes x, else 0", "0")),
              samples=(Sample(((3,), (3,)), ("real", "nonzero"), params=params),
                       Sample(((2, 3), (3,)), ("real", "nonzero"), params=params)))


_selection_backward("hardshrink_backward", "where(-lambd <= x <= lambd, 0, g): hardshrink's rule", _in_band, ("lambd",),
                    "HardshrinkBackwardBackward0")
_selection_backward("softshrink_backward", "where(-lambd <= x <= lambd, 0, g): softshrink's rule", _in_band, ("lambd",),
                    "SoftshrinkBackwardBackward0")
_selection_backward("threshold_at_backward", "where(x <= threshold, 0, g): threshold's rule", _at_or_below, ("threshold",),
                    "ThresholdBackwardBackward0")


def _soft_lambd(shape, lambd=0.5):
    if not lambd >= 0:
        raise GradcliError(f"softshrink() takes lambd >= 0, as PyTorch, not {lambd:g}", kind="value")
    return {"lambd": lambd}


SHRINK_SAMPLES = (*(Sample((s,), "nonzero") for s in SAMPLE_SHAPES), Sample(((2, 3),), params={"lambd": 1.5}))
primitive(name="hardshrink", doc="x where |x| > lambd, else 0 (gradient 0 at ±lambd, as PyTorch)",
          signature="hardshrink(x, lambd=0.5)", family="elementwise", forward=_hardshrink,
          backward=lambda n, g: (F.hardshrink_backward(g, n.x, **n.params),), shape=same_shape, elementwise=True,
          keywords=("lambd",), kinds={"lambd": "real"}, prepare=lambda shape, lambd=0.5: {"lambd": lambd},
          sympy=lambda sp, x, lambd=0.5: sympy_elementwise(
              lambda sp, v: sp.Piecewise((0, (v >= -lambd) & (v <= lambd)), (v, True)))(sp, x),
          taylor=lambda n, x: T.select(_in_band(x[0], n.params["lambd"]), np.zeros_like(x), x),
          words=Words(("x",), vjp=("g where |{x}| > lambd, else 0",)), samples=SHRINK_SAMPLES,
          kinks=(Kink(([-0.5, 0.5],), ([0.0, 0.0],), note="hardshrink'(±lambd) = 0, as PyTorch", noted=False),))
primitive(name="softshrink", doc="x - lambd above lambd, x + lambd below -lambd, else 0 (gradient 0 at ±lambd, as "
                                 "PyTorch)",
          signature="softshrink(x, lambd=0.5)", family="elementwise", forward=_softshrink,
          backward=lambda n, g: (F.softshrink_backward(g, n.x, **n.params),), shape=same_shape, elementwise=True,
          keywords=("lambd",), kinds={"lambd": "real"}, method=False,
          prepare=_soft_lambd,
          sympy=lambda sp, x, lambd=0.5: sympy_elementwise(
              lambda sp, v: sp.Piecewise((v - lambd, v > lambd), (v + lambd, v < -lambd), (0, True)))(sp, x),
          taylor=lambda n, x: T.select(_in_band(x[0], n.params["lambd"]), np.zeros_like(x),
                                       T.offset(x, np.where(x[0] > 0, -n.params["lambd"], n.params["lambd"]))),
          words=Words(("x",), vjp=("g where |{x}| > lambd, else 0",)), samples=SHRINK_SAMPLES,
          kinks=(Kink(([-0.5, 0.5],), ([0.0, 0.0],), note="softshrink'(±lambd) = 0, as PyTorch", noted=False),))
primitive(name="threshold", doc="x where x > threshold, else value (gradient 0 at the threshold, as PyTorch)",
          signature="threshold(x, threshold, value)", family="elementwise",
          forward=lambda x, threshold, value: np.where(_at_or_below(x, threshold), value, x),
          backward=lambda n, g: (F.threshold_at_backward(g, n.x, threshold=n.params["threshold"]),),
          prepare=lambda shape, threshold, value: {"threshold": threshold, "value": value},
          shape=same_shape, elementwise=True, keywords=("threshold", "value"), positional=2,
          kinds={"threshold": "real", "value": "real"}, method=False,
          sympy=lambda sp, x, threshold, value: sympy_elementwise(
              lambda sp, v: sp.Piecewise((value, v <= threshold), (v, True)))(sp, x),
          taylor=lambda n, x: T.select(_at_or_below(x[0], n.params["threshold"]), T.constant(n.ans, len(x) - 1), x),
          words=Words(("x",), vjp=("g where {x} > threshold, else 0",)),
          samples=(Sample(((3,),), params={"threshold": 0.1, "value": 2.0}),
                   Sample(((2, 3),), params={"threshold": -0.5, "value": -1.0})),
          kinks=(Kink(([0.5, 1.0],), ([0.0, 1.0],), params={"threshold": 0.5, "value": 2.0},
                      note="threshold'(threshold) = 0, as PyTorch", noted=False),))


def _glu(x, axis=-1):
    """torch.nn.functional.glu: a * sigmoid(b), a and b the first and second halves of x along axis."""
    if x.ndim == 0:
        raise GradcliError("glu() takes an array with an axis to halve, not a number", kind="shape")
    axis = normalize_axes(axis, x.ndim)[0] + x.ndim
    size = x.shape[axis]
    if size % 2:
        raise GradcliError(f"glu() halves dim={axis}, which has {size} entries: it needs an even number, as "
                           f"PyTorch", kind="shape")
    before = (slice(None),) * axis
    a, b = (F.index(x, key=before + (half,), src=x.shape) for half in (slice(0, size // 2), slice(size // 2, size)))
    return a * F.sigmoid(b)


composite(name="glu", doc="a * sigmoid(b), a and b the two halves of x along dim (default the last), as "
                          "torch.nn.functional.glu",
          signature="glu(x, dim=-1)", family="nn", composite=_glu, keywords=("axis",), torch_name="GluBackward0",
          method=False, samples=(Sample(((4,),)), Sample(((2, 4),)), Sample(((2, 3),), params={"axis": 0}),
                                 Sample(((2, 2, 2),), params={"axis": 1})))


# -- prelu: x above 0, weight * x below, one weight per channel (dim 1) or one for all ---------------------

def _prelu_input_backward_backward(n, gg):
    g, x, w = n.inputs
    # NOTE: as PyTorch's double backward of _prelu_kernel, which takes x = 0 with the upper piece (x >= 0),
    # where the first backward takes the lower one (x > 0): the derivative of the slope at 0 is not its own.
    upper = F.ge(x, 0.0)
    return (F.where(upper, gg, gg * w) if n.needs[0] else None, zeros_like(gg) if n.needs[1] else None,
            F.where(upper, 0.0, g * gg) if n.needs[2] else None)


def _prelu_weight_backward_backward(n, gg):
    g, x = n.inputs
    upper = F.ge(x, 0.0)
    return (F.where(upper, 0.0, gg * x) if n.needs[0] else None, F.where(upper, 0.0, g * gg) if n.needs[1] else None)


primitive(name="prelu_input_backward", doc="where(x > 0, g, weight * g): the cotangent prelu's rule gives x",
          signature="prelu_input_backward(g, x, weight)", family="internal", public=False,
          forward=lambda g, x, w: np.where(x > 0, g, w * g), backward=_prelu_input_backward_backward,
          shape=broadcast_shapes, arity=3, elementwise=True, torch_name="PreluKernelBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x, w: sp.Piecewise((g, x > 0), (w * g, True))),
          taylor=lambda n, g, x, w: T.select(x[0] > 0, g, T.cauchy(w, g)),
          words=Words(("g", "x", "weight"), ("where(x >= 0, 1, weight)", "0", "where(x >= 0, 0, g)")),
          samples=(Sample(((3,), (3,), ()), ("real", "nonzero", "unit")),
                   Sample(((2, 3), (3,), (3,)), ("real", "nonzero", "unit"))))
primitive(name="prelu_weight_backward", doc="where(x > 0, 0, x * g): the cotangent prelu's rule gives weight "
                                            "(summed to weight's shape)",
          signature="prelu_weight_backward(g, x)", family="internal", public=False,
          forward=lambda g, x: np.where(x > 0, 0.0, x * g), backward=_prelu_weight_backward_backward,
          shape=broadcast_shapes, arity=2, elementwise=True, torch_name="PreluKernelBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x: sp.Piecewise((0, x > 0), (x * g, True))),
          taylor=lambda n, g, x: T.select(x[0] > 0, np.zeros_like(g), T.cauchy(x, g)),
          words=Words(("g", "x"), ("where(x >= 0, 0, x)", "where(x >= 0, 0, g)")),
          samples=(Sample(((3,), (3,)), ("real", "nonzero")), Sample(((2, 3), (3,)), ("real", "nonzero"))))
primitive(name="prelu_kernel", doc="where(x > 0, x, weight * x), weight broadcast against x",
          signature="prelu_kernel(x, weight)", family="internal", public=False,
          forward=lambda x, w: np.where(x > 0, x, w * x),
          backward=lambda n, g: (F.prelu_input_backward(g, n.x, n.y) if n.needs[0] else None,
                                 F.prelu_weight_backward(g, n.x) if n.needs[1] else None),
          shape=broadcast_shapes, arity=2, elementwise=True, torch_name="PreluKernelBackward0",
          sympy=sympy_elementwise(lambda sp, x, w: sp.Piecewise((x, x > 0), (w * x, True))),
          taylor=lambda n, x, w: T.select(x[0] > 0, x, T.cauchy(w, x)),
          words=Words(("x", "weight"), ("where(x > 0, 1, weight)", "where(x > 0, 0, x)")),
          samples=(Sample(((3,), ()), ("nonzero", "unit")), Sample(((2, 3), (3,)), ("nonzero", "unit"))))


def _prelu(x, weight):
    """torch.nn.functional.prelu: weight holds one number, or one per channel (x's dim 1)."""
    if weight.ndim > 1:
        raise GradcliError(f"prelu() takes a weight of one number or a vector, not {weight.ndim} axes, as PyTorch",
                           kind="shape")
    if weight.size == 1:
        return F.prelu_kernel(x, F.reshape(weight, src=weight.shape, dst=()) if weight.ndim else weight)
    channels = x.shape[1] if x.ndim > 1 else 1
    if weight.size != channels:
        raise GradcliError(f"prelu() takes one weight or one per channel (dim 1 of x, {channels}), not "
                           f"{weight.size}", kind="shape")
    return F.prelu_kernel(x, F.reshape(weight, src=weight.shape, dst=(channels,) + (1,) * (x.ndim - 2)))


composite(name="prelu", doc="x above 0, weight * x at or below 0 (gradient weight at 0, as PyTorch), weight one "
                            "number or one per channel (dim 1)",
          signature="prelu(x, weight)", family="nn", inputs=("x", "weight"), arity=2, composite=_prelu,
          torch_name="PreluKernelBackward0",
          samples=(Sample(((3,), (1,)), ("nonzero", "unit")), Sample(((2, 3), (3,)), ("nonzero", "unit")),
                   Sample(((2, 3, 2), (3,)), ("nonzero", "unit")), Sample(((2, 3), ()), ("nonzero", "unit"))),
          kinks=(Kink(([0.0, -1.0], [0.25]), ([0.25, 0.25], [-1.0]), note="prelu'(0) = weight, as PyTorch",
                      noted=False),))
