"""Elementwise functions of one argument: exp, log, sin, tanh, relu, ...

Each row: name, numpy forward, backward rule (cotangent g, node n), SymPy form, domain
of its test samples, what the rule needs saved, and the local derivative in words. Rules
read the forward output where that is cheaper (exp: g * ans); a temporary they make, and g
when a rule reads it once, take the result in place (decided by the engine, not here).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.common import F, same_shape, sympy_elementwise, zeros_like
from gradcli.ops.kinkchecks import first_input_at_zero
from gradcli.autodiff.op import Kink, KinkCheck, Sample, Words, primitive

SAMPLE_SHAPES = ((), (3,), (2, 3))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # NOTE: one exp of -|x| never overflows and keeps full relative precision in both tails.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def unary(name: str, forward, backward, sympy, doc: str, *, local: str, domain: str = "real",
          saves: str = "inputs", aliases: tuple[str, ...] = (), kinks: tuple[Kink, ...] = (),
          kink_check: KinkCheck | None = None, torch_name: str = "", taylor=None) -> None:
    """local: d f(x) / dx in the expression language, over x and out (the forward value); taylor: the
    rule on series (autodiff/taylor.py)."""
    primitive(
        name=name, doc=doc, signature=f"{name}(x)", family="elementwise",
        forward=forward, backward=backward, shape=same_shape, sympy=sympy_elementwise(sympy),
        samples=tuple(Sample((s,), domain) for s in SAMPLE_SHAPES), words=Words(("x",), (local,)),
        saves=saves, aliases=aliases, kinks=kinks, kink_check=kink_check, elementwise=True,
        torch_name=torch_name, taylor=taylor,
    )


def _sign(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), 0.0, np.sign(x))  # 0 at nan, as torch.sign (so abs(nan) has gradient 0)


def _zero_rule(n: Any, g: Any) -> tuple:
    return (zeros_like(g),)


unary("neg", np.negative, lambda n, g: (-g,), lambda sp, x: -x,
      "negation, -x", saves="none", local="-1", aliases=("negative",), taylor=T.linear)
unary("exp", np.exp, lambda n, g: (g * n.ans,), lambda sp, x: sp.exp(x),
      "e to the power x", saves="output", local="out", taylor=lambda n, x: T.exp(x, n.ans))
unary("log", np.log, lambda n, g: (g / n.x,), lambda sp, x: sp.log(x),
      "natural logarithm (gradient inf at 0)", domain="positive", local="1/x", taylor=lambda n, x: T.log(x, n.ans),
      kinks=(Kink((0.0,), (np.inf,), note="log'(0) = 1/0 = inf", noted=False),))
unary("log1p", np.log1p, lambda n, g: (g / (n.x + 1.0),), lambda sp, x: sp.log(1 + x),
      "log(1 + x), accurate for small x", domain="positive", local="1/(1 + x)", torch_name="Log1PBackward0",
      taylor=lambda n, x: T.log(T.offset(x, 1.0), n.ans))
unary("expm1", np.expm1, lambda n, g: (g * (n.ans + 1.0),), lambda sp, x: sp.exp(x) - 1,
      "exp(x) - 1, accurate for small x", saves="output", local="out + 1",
      taylor=lambda n, x: T.riccati(n.ans, x, 1.0, 1.0, 0.0))
unary("sqrt", np.sqrt, lambda n, g: (g / (n.ans * 2.0),), lambda sp, x: sp.sqrt(x),
      "square root (gradient inf at 0)", domain="positive", saves="output", local="1/(2*out)",
      taylor=lambda n, x: T.power(x, 0.5, n.ans),
      kinks=(Kink((0.0,), (np.inf,), note="sqrt'(0) = 1/(2*0) = inf", noted=False),))
unary("abs", np.abs, lambda n, g: (g * F.detach(F.sign(n.x)),), lambda sp, x: sp.Abs(x),
      "absolute value (gradient 0 at 0)", domain="nonzero", local="sign(x)", aliases=("absolute",),
      taylor=lambda n, x: _sign(x[0]) * x,
      kinks=(Kink((0.0,), (0.0,), note="|x|' = sign(0) = 0, as PyTorch"),),
      kink_check=KinkCheck(first_input_at_zero, "is evaluated at 0{where}, where it has no derivative: gradcli "
                           "uses sign(0) = 0 (as PyTorch); the one-sided derivatives are -1 and +1, and any "
                           "value in [-1, 1] is a subgradient"))
unary("sign", _sign, _zero_rule, lambda sp, x: sp.sign(x),
      "sign of x: -1, 0 or 1 (0 at nan, as torch; gradient 0)", saves="none", domain="nonzero", local="0", aliases=("sgn",),
      taylor=T.zero,
      kinks=(Kink((0.0,), (0.0,), note="sign has gradient 0 everywhere", noted=False),))
unary("sin", np.sin, lambda n, g: (g * F.cos(n.x),), lambda sp, x: sp.sin(x), "sine",
      local="cos(x)", taylor=lambda n, x: T.sin_cos(n.ans, np.cos(x[0]), x)[0])
unary("cos", np.cos, lambda n, g: (-(g * F.sin(n.x)),),
      lambda sp, x: sp.cos(x), "cosine", local="-sin(x)", taylor=lambda n, x: T.sin_cos(np.sin(x[0]), n.ans, x)[1])
unary("tan", np.tan, lambda n, g: (g * (n.ans * n.ans + 1.0),), lambda sp, x: sp.tan(x),
      "tangent", domain="unit", saves="output", local="1 + out**2",
      taylor=lambda n, x: T.riccati(n.ans, x, 1.0, 0.0, 1.0))
unary("asin", np.arcsin, lambda n, g: (g / F.sqrt(1.0 - n.x * n.x),), lambda sp, x: sp.asin(x),
      "inverse sine, for |x| < 1", domain="unit", aliases=("arcsin",), local="1/sqrt(1 - x**2)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.power(T.offset(-T.cauchy(x, x), 1.0), -0.5)))
unary("acos", np.arccos, lambda n, g: (-(g / F.sqrt(1.0 - n.x * n.x)),), lambda sp, x: sp.acos(x),
      "inverse cosine, for |x| < 1", domain="unit", aliases=("arccos",), local="-1/sqrt(1 - x**2)",
      taylor=lambda n, x: T.integrate(n.ans, x, -T.power(T.offset(-T.cauchy(x, x), 1.0), -0.5)))
unary("atan", np.arctan, lambda n, g: (g / (n.x * n.x + 1.0),), lambda sp, x: sp.atan(x),
      "inverse tangent", aliases=("arctan",), local="1/(1 + x**2)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.reciprocal(T.offset(T.cauchy(x, x), 1.0))))
unary("sinh", np.sinh, lambda n, g: (g * F.cosh(n.x),), lambda sp, x: sp.sinh(x), "hyperbolic sine",
      local="cosh(x)", taylor=lambda n, x: T.sin_cos(n.ans, np.cosh(x[0]), x, 1.0)[0])
unary("cosh", np.cosh, lambda n, g: (g * F.sinh(n.x),), lambda sp, x: sp.cosh(x), "hyperbolic cosine",
      local="sinh(x)", taylor=lambda n, x: T.sin_cos(np.sinh(x[0]), n.ans, x, 1.0)[1])
unary("tanh", np.tanh, lambda n, g: (g * (1.0 - n.ans * n.ans),),
      lambda sp, x: sp.tanh(x), "hyperbolic tangent", saves="output", local="1 - out**2",
      taylor=lambda n, x: T.riccati(n.ans, x, 1.0, 0.0, -1.0))
unary("sigmoid", _sigmoid, lambda n, g: (g * (n.ans * (1.0 - n.ans)),),
      lambda sp, x: 1 / (1 + sp.exp(-x)), "logistic function 1 / (1 + exp(-x))", saves="output", aliases=("expit",),
      local="out*(1 - out)", taylor=lambda n, x: T.riccati(n.ans, x, 0.0, 1.0, -1.0))
# relu's rule, as torch's threshold_backward(g, x, 0): a selection, where(x <= 0, 0, g), not g * (x > 0), so an
# inf cotangent at x < 0 gives 0, not nan, and relu(nan) = nan passes the gradient. Its own rule sends x
# zeros, as torch's does: in a second pass they meet x's other factors (times an inf, a nan, as in torch).
primitive(name="threshold_backward", doc="where(x <= 0, 0, g): relu's rule", signature="threshold_backward(g, x)",
          family="internal", public=False, arity=2, elementwise=True, forward=lambda g, x: np.where(x <= 0, 0.0, g),
          backward=lambda n, gg: (F.threshold_backward(gg, n.y) if n.needs[0] else None,
                                  zeros_like(gg) if n.needs[1] else None),
          shape=lambda g, x: np.broadcast_shapes(g, x), torch_name="ThresholdBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x: sp.Piecewise((0, x <= 0), (g, True))),
          taylor=lambda n, g, x: T.select(x[0] <= 0, np.zeros_like(g), g),
          words=Words(("g", "x"), ("where(x <= 0, 0, 1)", "0")),
          samples=(Sample(((3,), (3,)), ("real", "nonzero")), Sample(((2, 3), (3,)), ("real", "nonzero"))))
unary("relu", lambda x: np.maximum(x, 0.0), lambda n, g: (F.threshold_backward(g, n.x),),
      lambda sp, x: sp.Piecewise((x, x > 0), (0, True)),
      "max(x, 0) (gradient 0 at 0)", domain="nonzero", local="where(x <= 0, 0, 1)",
      taylor=lambda n, x: T.select(x[0] > 0, x, T.zero(n, x)),
      kinks=(Kink((0.0,), (0.0,), note="relu'(0) = 0, as PyTorch"),),
      kink_check=KinkCheck(first_input_at_zero, "is evaluated at 0{where}, where it has no derivative: gradcli "
                           "uses relu'(0) = 0 (as PyTorch); the derivative from the right would give 1, and any "
                           "value in [0, 1] is a subgradient"))


def _softplus(x, beta=1.0, threshold=np.inf):
    scaled = x * beta if beta != 1.0 else x
    out = np.logaddexp(0.0, scaled)
    out = out / beta if beta != 1.0 else out
    return np.where(scaled > threshold, x, out) if threshold != np.inf else out


def _softplus_backward(n, g):
    beta, threshold = n.params.get("beta", 1.0), n.params.get("threshold", np.inf)
    scaled = n.x * beta if beta != 1.0 else n.x
    slope = g * F.sigmoid(scaled)
    # As PyTorch's softplus_backward: g itself where beta x is above the threshold (the value is x there).
    return (F.where(F.gt(scaled, threshold), g, slope) if threshold != np.inf else slope,)


def _softplus_taylor(n, x):
    beta, threshold = n.params.get("beta", 1.0), n.params.get("threshold", np.inf)
    smooth = T.integrate(n.ans, x, T.sigmoid(x * beta, _sigmoid(x[0] * beta)))
    return T.select(x[0] * beta > threshold, x, smooth) if threshold != np.inf else smooth


def _sympy_softplus(sp, x, beta=1.0, threshold=np.inf):
    def entry(v):
        smooth = sp.log(1 + sp.exp(beta * v)) / beta
        return smooth if threshold == np.inf else sp.Piecewise((v, beta * v > threshold), (smooth, True))
    return np.vectorize(entry, otypes=[object])(x)


# NOTE: without threshold= there is none (log(1 + exp(x)) computed without overflow, with its own
# derivatives); PyTorch's default is 20 (docs/differences.md, softplus-threshold). Given, it acts as PyTorch's.
primitive(name="softplus", doc="log(1 + exp(beta x)) / beta, computed without overflow; x itself where beta x > "
                               "threshold, when threshold= is given",
          signature="softplus(x, beta=1, threshold=None)", family="elementwise", forward=_softplus,
          backward=_softplus_backward, taylor=_softplus_taylor, shape=same_shape, sympy=_sympy_softplus,
          elementwise=True,
          keywords=("beta", "threshold"), kinds={"beta": "real", "threshold": "real"}, positional=2,
          words=Words(("x",), vjp=("g × sigmoid(beta × {x}) (g where beta × {x} > threshold)",)),
          samples=(*(Sample((s,)) for s in SAMPLE_SHAPES), Sample(((3,),), params={"beta": 2.0}),
                   Sample(((2, 3),), params={"beta": 0.5, "threshold": 0.3})))
primitive(name="square", torch_name="PowBackward0",
          batching="trailing", doc="x**2", signature="square(x)", family="elementwise",
          composite=lambda x: F.pow(x, 2.0), samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES))
