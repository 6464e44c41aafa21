"""Elementwise functions of one argument: exp, log, sin, tanh, relu, ...

Each row: name, numpy forward, backward rule (cotangent g, node n), SymPy form, domain
of its test samples, what the rule needs saved. Rules reuse the forward output where
that is cheaper (exp: g * ans), and name with `reuse=` the arrays they read once (their
own temporaries, and g when the rule reads it once) so large results need no new memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.ops.common import F, same_shape, sympy_elementwise
from gradcli.autodiff.op import Kink, Sample, primitive

SAMPLE_SHAPES = ((), (3,), (2, 3))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # NOTE: one exp of -|x| never overflows and keeps full relative precision in both tails.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def unary(name: str, forward, backward, sympy, doc: str, *, domain: str = "real", saves: str = "inputs",
          aliases: tuple[str, ...] = (), kinks: tuple[Kink, ...] = (), differentiable: bool = True,
          torch_name: str = "") -> None:
    primitive(
        name=name, doc=doc, signature=f"{name}(x)", family="elementwise",
        forward=forward, backward=backward, shape=same_shape, sympy=sympy_elementwise(sympy),
        samples=tuple(Sample((s,), domain) for s in SAMPLE_SHAPES),
        saves=saves, aliases=aliases, kinks=kinks, differentiable=differentiable, torch_name=torch_name,
    )


def _zero_rule(n: Any, g: Any) -> tuple:
    return (F.mul(g, 0.0),)


unary("neg", np.negative, lambda n, g: (F.neg(g, reuse=(0,)),), lambda sp, x: -x,
      "negation, -x", saves="none")
unary("exp", np.exp, lambda n, g: (F.mul(g, n.ans, reuse=(0,)),), lambda sp, x: sp.exp(x),
      "e to the power x", saves="output")
unary("log", np.log, lambda n, g: (F.div(g, n.x, reuse=(0,)),), lambda sp, x: sp.log(x),
      "natural logarithm (gradient inf at 0)", domain="positive",
      kinks=(Kink((0.0,), (np.inf,), note="log'(0) = 1/0 = inf"),))
unary("log1p", np.log1p, lambda n, g: (g / (n.x + 1.0),), lambda sp, x: sp.log(1 + x),
      "log(1 + x), accurate for small x", domain="positive")
unary("expm1", np.expm1, lambda n, g: (g * (n.ans + 1.0),), lambda sp, x: sp.exp(x) - 1,
      "exp(x) - 1, accurate for small x", saves="output")
unary("sqrt", np.sqrt, lambda n, g: (F.div(g, n.ans * 2.0, reuse=(1, 0)),), lambda sp, x: sp.sqrt(x),
      "square root (gradient inf at 0)", domain="positive", saves="output",
      kinks=(Kink((0.0,), (np.inf,), note="sqrt'(0) = 1/(2*0) = inf"),))
unary("abs", np.abs, lambda n, g: (g * F.sign(n.x),), lambda sp, x: sp.Abs(x),
      "absolute value (gradient 0 at 0)", domain="nonzero",
      kinks=(Kink((0.0,), (0.0,), note="|x|' = sign(0) = 0, as PyTorch"),))
unary("sign", np.sign, _zero_rule, lambda sp, x: sp.sign(x),
      "sign of x: -1, 0 or 1 (gradient 0)", saves="none", domain="nonzero",
      kinks=(Kink((0.0,), (0.0,), note="sign has gradient 0 everywhere"),))
unary("sin", np.sin, lambda n, g: (F.mul(g, F.cos(n.x), reuse=(1, 0)),), lambda sp, x: sp.sin(x), "sine")
unary("cos", np.cos, lambda n, g: (F.neg(F.mul(g, F.sin(n.x), reuse=(1, 0)), reuse=(0,)),),
      lambda sp, x: sp.cos(x), "cosine")
unary("tan", np.tan, lambda n, g: (g * (n.ans * n.ans + 1.0),), lambda sp, x: sp.tan(x),
      "tangent", domain="unit", saves="output")
unary("asin", np.arcsin, lambda n, g: (g / F.sqrt(1.0 - n.x * n.x),), lambda sp, x: sp.asin(x),
      "inverse sine, for |x| < 1", domain="unit", aliases=("arcsin",))
unary("acos", np.arccos, lambda n, g: (-(g / F.sqrt(1.0 - n.x * n.x)),), lambda sp, x: sp.acos(x),
      "inverse cosine, for |x| < 1", domain="unit", aliases=("arccos",))
unary("atan", np.arctan, lambda n, g: (g / (n.x * n.x + 1.0),), lambda sp, x: sp.atan(x),
      "inverse tangent", aliases=("arctan",))
unary("sinh", np.sinh, lambda n, g: (g * F.cosh(n.x),), lambda sp, x: sp.sinh(x), "hyperbolic sine")
unary("cosh", np.cosh, lambda n, g: (g * F.sinh(n.x),), lambda sp, x: sp.cosh(x), "hyperbolic cosine")
unary("tanh", np.tanh, lambda n, g: (F.mul(g, F.sub(1.0, n.ans * n.ans, reuse=(1,)), reuse=(1, 0)),),
      lambda sp, x: sp.tanh(x), "hyperbolic tangent", saves="output")
unary("sigmoid", _sigmoid, lambda n, g: (F.mul(g, F.mul(n.ans, 1.0 - n.ans, reuse=(1,)), reuse=(1, 0)),),
      lambda sp, x: 1 / (1 + sp.exp(-x)), "logistic function 1 / (1 + exp(-x))", saves="output")
unary("relu", lambda x: np.maximum(x, 0.0), lambda n, g: (g * F.gt(n.x, 0.0),),
      lambda sp, x: sp.Piecewise((x, x > 0), (0, True)),
      "max(x, 0) (gradient 0 at 0)", domain="nonzero",
      kinks=(Kink((0.0,), (0.0,), note="relu'(0) = 0, as PyTorch"),))
unary("softplus", lambda x: np.logaddexp(0.0, x), lambda n, g: (g * F.sigmoid(n.x),),
      lambda sp, x: sp.log(1 + sp.exp(x)), "log(1 + exp(x)), computed without overflow")
