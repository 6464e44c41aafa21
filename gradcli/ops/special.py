"""Special functions, one argument: erf, gelu, silu, elu, log2, asinh, floor, sinc, logit, ...

Each rule has the form of PyTorch's derivative formula (tools/autograd/derivatives.yaml),
written in the engine's differentiable operations so that second order follows: a mask
is an F.where selection (an entry it rejects gets 0, even where the formula is inf or nan),
a zero derivative is zeros. A parameter PyTorch takes as a number (elu's alpha, hardtanh's
bounds, logit's eps) is an input with a default here, as clip's bounds are, so a
variable may stand there and gets its gradient. Functions of two arguments are in
ops/special_binary.py.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.common import F, broadcast_shapes, sympy_elementwise
from gradcli.ops.elementwise import SAMPLE_SHAPES, unary
from gradcli.ops.kinkchecks import broadcast_mask, saved_inputs
from gradcli.autodiff.op import DOMAINS, Kink, KinkCheck, Sample, Words, primitive
from gradcli.autodiff.power import rsqrt

LN2, LN10 = math.log(2.0), math.log(10.0)
SQRT1_2 = math.sqrt(0.5)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
NORMAL_PDF_AT_0 = 1.0 / math.sqrt(2.0 * math.pi)  # PyTorch's kAlpha in gelu_backward

# logit's test inputs: inside (0, 1), away from its ends.
DOMAINS["probability"] = lambda rng, shape: rng.uniform(0.05, 0.95, shape)

# NOTE: numpy has no erf ufunc; math's, entry by entry, costs about 0.1 s per million entries.
_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erf(x), dtype=np.result_type(x, 0.0))


def erfc(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erfc(x), dtype=np.result_type(x, 0.0))


def _sigmoid(x):
    # One exp of -|x|: never overflows (as elementwise's sigmoid).
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _zeros(n, g):
    # A constant, as PyTorch's zeros_like(grad): an inf or nan in g does not pass, now or at second order.
    return (F.zeros_like(g),)


STEP_KINK = "gradient 0 everywhere, also where the value jumps (as PyTorch)"

unary("rsqrt", rsqrt, lambda n, g: (g * (n.ans * n.ans * n.ans) * -0.5,),
      lambda sp, x: 1 / sp.sqrt(x), "1 / sqrt(x) (gradient -inf at 0)", domain="positive", saves="output",
      local="-0.5*out**3", taylor=lambda n, x: T.power(x, -0.5, n.ans),
      kinks=(Kink((0.0,), (-np.inf,), note="rsqrt'(0) = -0.5/0**1.5", noted=False),))
unary("reciprocal", np.reciprocal, lambda n, g: (-(g * (n.ans * n.ans)),), lambda sp, x: 1 / x,
      "1 / x", domain="nonzero", saves="output", local="-out**2", taylor=lambda n, x: T.power(x, -1.0, n.ans))
unary("log2", np.log2, lambda n, g: (g / (n.x * LN2),), lambda sp, x: sp.log(x, 2),
      "base-2 logarithm", domain="positive", local="1/(x*log(2))",
      taylor=lambda n, x: T.integrate(n.ans, x, T.reciprocal(x) / LN2))
unary("log10", np.log10, lambda n, g: (g / (n.x * LN10),), lambda sp, x: sp.log(x, 10),
      "base-10 logarithm", domain="positive", local="1/(x*log(10))",
      taylor=lambda n, x: T.integrate(n.ans, x, T.reciprocal(x) / LN10))
unary("exp2", np.exp2, lambda n, g: (g * n.ans * LN2,), lambda sp, x: 2 ** x,
      "2 to the power x", saves="output", local="out*log(2)", taylor=lambda n, x: T.riccati(n.ans, x, 0.0, LN2, 0.0))
unary("erf", erf, lambda n, g: (g * (F.exp(-(n.x * n.x)) * TWO_OVER_SQRT_PI),), lambda sp, x: sp.erf(x),
      "error function 2/sqrt(pi) * integral of exp(-t**2) from 0 to x", local="2/sqrt(pi)*exp(-x**2)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.exp(-T.cauchy(x, x)) * TWO_OVER_SQRT_PI))
unary("erfc", erfc, lambda n, g: (g * (F.exp(-(n.x * n.x)) * -TWO_OVER_SQRT_PI),), lambda sp, x: sp.erfc(x),
      "complementary error function 1 - erf(x), accurate for large x", local="-2/sqrt(pi)*exp(-x**2)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.exp(-T.cauchy(x, x)) * -TWO_OVER_SQRT_PI))


def _gelu(x):
    return x * 0.5 * (1.0 + erf(x * SQRT1_2))


def _gelu_slope(x):
    """gelu'(x) = Phi(x) + x * phi(x), the normal distribution's cdf and density."""
    return (1.0 + erf(x * SQRT1_2)) * 0.5 + x * np.exp(x * x * -0.5) * NORMAL_PDF_AT_0


def _gelu_backward_backward(n, gg):
    g, x = n.inputs
    # NOTE: gelu''(x) = phi(x) * (2 - x**2) in one product, as PyTorch's gelu_double_backward: an inf
    # in g then gives inf, where the sum of its parts would give inf - inf = nan.
    return (F.gelu_backward(gg, x) if n.needs[0] else None,
            gg * g * (F.exp(x * x * -0.5) * NORMAL_PDF_AT_0 * (2.0 - x * x)) if n.needs[1] else None)


def _gelu_backward_taylor(n, g, x):
    density = T.exp(T.cauchy(x, x) * -0.5) * NORMAL_PDF_AT_0
    cdf = T.integrate(0.5 * erfc(-x[0] * SQRT1_2), x, density)
    return T.cauchy(g, cdf + T.cauchy(x, density))


# gelu's rule is an operation of its own, g * gelu'(x), with its own derivative (as PyTorch's gelu_backward).
primitive(name="gelu_backward", doc="g * gelu'(x): the cotangent gelu's rule gives x", signature="gelu_backward(g, x)",
          family="internal", public=False, forward=lambda g, x: g * _gelu_slope(x), backward=_gelu_backward_backward,
          taylor=_gelu_backward_taylor,
          shape=broadcast_shapes, arity=2, elementwise=True,
          sympy=sympy_elementwise(lambda sp, g, x: g * ((1 + sp.erf(x / sp.sqrt(2))) / 2
                                                        + x * sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi))),
          words=Words(("g", "x"), ("(1 + erf(x/sqrt(2)))/2 + x*exp(-x**2/2)/sqrt(2*pi)",
                                   "g*exp(-x**2/2)/sqrt(2*pi)*(2 - x**2)")),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,)))))


GELU_BETA = math.sqrt(2.0 / math.pi)  # PyTorch's kBeta of the tanh form
GELU_KAPPA = 0.044715


def _gelu_forward(x, approximate="none"):
    if approximate == "none":
        return _gelu(x)
    return x * 0.5 * (1.0 + np.tanh(GELU_BETA * (x + GELU_KAPPA * x * x * x)))


def _gelu_rule(n, g):
    if n.params.get("approximate", "none") == "none":
        return (F.gelu_backward(g, n.x),)
    # The tanh form, as PyTorch's gelu_backward: 0.5 (1 + t) + 0.5 x (1 - t**2) beta (1 + 3 kappa x**2).
    x = n.x
    t = F.tanh((x + x * x * x * GELU_KAPPA) * GELU_BETA)
    return (g * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * ((x * x * (3.0 * GELU_KAPPA) + 1.0) * GELU_BETA)),)


def _gelu_taylor(n, x):
    if n.params.get("approximate", "none") == "none":  # x Phi(x), Phi' the normal density
        cdf = T.integrate(0.5 * erfc(-x[0] * SQRT1_2), x, T.exp(T.cauchy(x, x) * -0.5) * NORMAL_PDF_AT_0)
        return T.cauchy(x, cdf)
    inner = (x + T.power(x, 3.0) * GELU_KAPPA) * GELU_BETA
    return T.cauchy(x, T.offset(T.riccati(np.tanh(inner[0]), inner, 1.0, 0.0, -1.0), 1.0)) * 0.5


def _mish_taylor(n, x):
    softplus = T.integrate(np.logaddexp(0.0, x[0]), x, T.sigmoid(x, _sigmoid(x[0])))
    return T.cauchy(x, T.riccati(np.tanh(softplus[0]), softplus, 1.0, 0.0, -1.0))


def _sympy_gelu(sp, x, approximate="none"):
    if approximate == "none":
        form = lambda v: v / 2 * (1 + sp.erf(v / sp.sqrt(2)))  # noqa: E731
    else:
        form = lambda v: v / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (v + sp.Float(GELU_KAPPA) * v ** 3)))  # noqa: E731
    return np.vectorize(form, otypes=[object])(x)


primitive(name="gelu", doc="Gaussian error linear unit x * Phi(x), the exact erf form; approximate=\"tanh\": "
                           "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))), as PyTorch",
          signature="gelu(x, approximate='none')", family="elementwise", forward=_gelu_forward, backward=_gelu_rule,
          shape=lambda s, **_: s, sympy=_sympy_gelu, elementwise=True, keywords=("approximate",),
          kinds={"approximate": ("none", "tanh")}, taylor=_gelu_taylor,
          words=Words(("x",), vjp=("g × ((1 + erf({x}/sqrt(2)))/2 + {x} exp(-{x}**2/2)/sqrt(2 pi)), or the tanh "
                                   "form's derivative",)),
          samples=(*(Sample((s,)) for s in SAMPLE_SHAPES), Sample(((2, 3),), params={"approximate": "tanh"})))


def _silu_backward(n, g):
    s = F.sigmoid(n.x)
    return (g * (s * (1.0 + n.x * (1.0 - s))),)


unary("silu", lambda x: x * _sigmoid(x), _silu_backward, lambda sp, x: x / (1 + sp.exp(-x)),
      "x * sigmoid(x), also called swish", aliases=("swish",), local="sigmoid(x)*(1 + x*(1 - sigmoid(x)))",
      taylor=lambda n, x: T.cauchy(x, T.sigmoid(x, _sigmoid(x[0]))))


def _mish_backward(n, g):
    s = F.sigmoid(n.x)
    t = F.tanh(F.softplus(n.x))
    return (g * (t + n.x * s * (1.0 - t * t)),)


unary("mish", lambda x: x * np.tanh(np.logaddexp(0.0, x)), _mish_backward,
      lambda sp, x: x * sp.tanh(sp.log(1 + sp.exp(x))), "x * tanh(softplus(x))",
      local="tanh(softplus(x)) + x*sigmoid(x)*(1 - tanh(softplus(x))**2)", taylor=_mish_taylor)
unary("logsigmoid", lambda x: -np.logaddexp(0.0, -x), lambda n, g: (g * F.sigmoid(-n.x),),
      lambda sp, x: -sp.log(1 + sp.exp(-x)), "log(sigmoid(x)), computed without overflow",
      aliases=("log_sigmoid",), local="sigmoid(-x)", torch_name="LogSigmoidBackward0",
      taylor=lambda n, x: T.integrate(n.ans, x, T.sigmoid(-x, _sigmoid(-x[0]))))
# A composite, as PyTorch's: its derivatives at +-inf are nan (inf/inf), as PyTorch's are.
primitive(name="softsign", torch_name="DivBackward0",
          batching="trailing", doc="x / (1 + abs(x))", signature="softsign(x)", family="elementwise",
          composite=lambda x: x / (F.abs(x) + 1.0), sympy=sympy_elementwise(lambda sp, x: x / (1 + sp.Abs(x))),
          samples=tuple(Sample((s,), "nonzero") for s in SAMPLE_SHAPES))
unary("asinh", np.arcsinh, lambda n, g: (g * F.rsqrt(n.x * n.x + 1.0),), lambda sp, x: sp.asinh(x),
      "inverse hyperbolic sine", aliases=("arcsinh",), local="1/sqrt(x**2 + 1)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.power(T.offset(T.cauchy(x, x), 1.0), -0.5)))
unary("acosh", np.arccosh, lambda n, g: (g * F.rsqrt(n.x * n.x - 1.0),), lambda sp, x: sp.acosh(x),
      "inverse hyperbolic cosine, for x >= 1 (gradient inf at 1)", domain="above_one", aliases=("arccosh",),
      local="1/sqrt(x**2 - 1)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.power(T.offset(T.cauchy(x, x), -1.0), -0.5)),
      kinks=(Kink((1.0,), (np.inf,), note="acosh'(1) = 1/sqrt(0)", noted=False),))
unary("atanh", np.arctanh, lambda n, g: (g / (1.0 - n.x * n.x),), lambda sp, x: sp.atanh(x),
      "inverse hyperbolic tangent, for |x| < 1", domain="unit", aliases=("arctanh",), local="1/(1 - x**2)",
      taylor=lambda n, x: T.integrate(n.ans, x, T.reciprocal(T.offset(-T.cauchy(x, x), 1.0))))
for _name, _forward, _sympy, _doc, _aliases in (
    ("floor", np.floor, lambda sp, x: sp.floor(x), "the largest whole number <= x", ()),
    ("ceil", np.ceil, lambda sp, x: sp.ceiling(x), "the smallest whole number >= x", ()),
    ("round", np.rint, lambda sp, x: sp.floor(x + sp.Rational(1, 2)),
     "the nearest whole number (a half rounds to even, as torch.round)", ("rint",)),
    ("trunc", np.trunc, lambda sp, x: sp.sign(x) * sp.floor(sp.Abs(x)), "x with its fraction dropped", ("fix",)),
):
    unary(_name, _forward, _zeros, _sympy, f"{_doc} (gradient 0)", saves="none", local="0", aliases=_aliases,
          taylor=T.zero,
          kinks=(Kink((1.0,), (0.0,), note=STEP_KINK, noted=False),))


def _sinc_backward(n, g):
    # As PyTorch: 0 where x*x*pi is 0 (x = 0, or so small its square underflows).
    x_pi = n.x * math.pi
    squared_pi = n.x * n.x * math.pi
    return (F.where(F.eq(squared_pi, 0.0), 0.0, g * (x_pi * F.cos(x_pi) - F.sin(x_pi)) / squared_pi),)


def _sinc_taylor(n, x):
    # sin(pi x) / (pi x) by the division recurrence away from 0; near 0 (where it divides by almost 0) the
    # power series sum over m of (-1)**m (pi x)**(2 m) / (2 m + 1)!, carried far enough to converge.
    u = x * math.pi
    near = np.abs(u[0]) < 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        far = T.divide(T.sin_cos(np.sin(u[0]), np.cos(u[0]), u)[0], u)
    if not near.any():
        return far
    square = T.cauchy(u, u)
    term, total = T.constant(np.ones_like(u[0]), len(u) - 1), 0.0
    for m in range(1, len(u) // 2 + 20):
        total = total + term
        term = T.cauchy(term, square) * (-1.0 / ((2 * m) * (2 * m + 1)))
    return T.select(near, total, far)


unary("sinc", np.sinc, _sinc_backward, lambda sp, x: sp.sinc(sp.pi * x),
      "normalized sinc sin(pi*x) / (pi*x), 1 at 0 (gradient 0 there)", domain="nonzero",
      local="(pi*x*cos(pi*x) - sin(pi*x))/(pi*x**2)", taylor=_sinc_taylor,
      kinks=(Kink((0.0,), (0.0,), note="sinc(0) = 1, sinc'(0) = 0; the second derivative at 0 is nan, "
                  "as PyTorch", noted=False),))


# -- functions with a parameter PyTorch takes as a number -----------------------------------

def _parametrised(name, inputs, optional, forward, backward, sympy, doc, *, local, domain, kinks=(),
                  kink_check=None, aliases=(), torch_name="", taylor=None):
    """An elementwise function of x and parameters given as inputs with defaults (optional)."""
    defaults = ", ".join(f"{p}={optional[p]:g}" for p in inputs[1:])
    primitive(name=name, doc=doc, signature=f"{name}(x, {defaults})", family="elementwise",
              inputs=inputs, optional=optional, forward=forward, backward=backward,
              shape=broadcast_shapes, sympy=sympy_elementwise(sympy),
              samples=tuple(Sample((s,) + ((),) * (len(inputs) - 1), domain) for s in SAMPLE_SHAPES),
              words=Words(inputs, local), kinks=kinks, kink_check=kink_check, arity=len(inputs),
              elementwise=True, aliases=aliases, torch_name=torch_name, taylor=taylor)


def _at_zero(node):
    x, *params = saved_inputs(node)
    return broadcast_mask(x == 0, x, *params)


def _expm1_below(x):
    """The series of expm1(x) where x[0] <= 0 (x[0] clipped there, so the branch not taken cannot overflow)."""
    below = np.array(x)
    below[0] = np.minimum(x[0], 0.0)
    return T.riccati(np.expm1(below[0]), below, 1.0, 1.0, 0.0)


def _elu_backward_taylor(n, g, x, alpha):
    # The piece elu's rule takes: alpha exp(x) for x <= 0.
    return T.select(x[0] <= 0, T.cauchy(g, T.cauchy(alpha, T.offset(_expm1_below(x), 1.0))), g)


def _elu_slope_times(g, x, alpha):
    """g * elu'(x): alpha * exp(x) for x <= 0, else 1."""
    return np.where(x <= 0, g * alpha * np.exp(np.minimum(x, 0.0)), g)


def _elu_backward_backward(n, gg):
    g, x, alpha = n.inputs
    below = F.where(F.lt(x, 0.0), x, 0.0)  # exp of it is finite for any x, and exp(x) where it is read
    # NOTE: d/dx as PyTorch's elu_double_backward: the rule again, times the mask x < 0 (a product: an
    # inf in g gives nan above 0, as PyTorch's does; the second derivative at 0 is 0).
    return (F.elu_backward(gg, x, alpha) if n.needs[0] else None,
            F.elu_backward(gg * g, x, alpha) * F.lt(x, 0.0) if n.needs[1] else None,
            F.where(F.le(x, 0.0), gg * g * F.exp(below), 0.0) if n.needs[2] else None)


primitive(name="elu_backward", doc="g * elu'(x): the cotangent elu's rule gives x", signature="elu_backward(g, x, alpha)",
          family="internal", public=False, forward=_elu_slope_times, backward=_elu_backward_backward,
          shape=broadcast_shapes, arity=3, elementwise=True,
          sympy=sympy_elementwise(lambda sp, g, x, alpha: sp.Piecewise((g * alpha * sp.exp(x), x <= 0), (g, True))),
          taylor=_elu_backward_taylor,
          words=Words(("g", "x", "alpha"), ("where(x <= 0, alpha*exp(x), 1)", "where(x < 0, g*alpha*exp(x), 0)",
                                            "where(x <= 0, g*exp(x), 0)")),
          samples=(Sample(((3,), (3,), ()), ("real", "nonzero", "positive")),
                   Sample(((2, 3), (3,), ()), ("real", "nonzero", "positive"))))


def _elu_backward(n, g):
    x, alpha = n.inputs
    below = F.where(F.lt(x, 0.0), x, 0.0)  # expm1 of it is finite for any x, and expm1(x) where it is read
    return (F.elu_backward(g, x, alpha) if n.needs[0] else None,
            F.where(F.le(x, 0.0), g * F.expm1(below), 0.0) if n.needs[1] else None)


_parametrised(
    "elu", ("x", "alpha"), {"alpha": 1.0}, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)), _elu_backward,
    lambda sp, x, alpha: sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True)),
    "x for x > 0, else alpha * (exp(x) - 1) (gradient alpha at 0, as PyTorch)",
    local=("where(x <= 0, alpha*exp(x), 1)", "where(x <= 0, exp(x) - 1, 0)"), domain=("nonzero", "positive"),
    kinks=(Kink((0.0, 0.5), (0.5, 0.0), note="elu'(0) = alpha, the derivative from the left, as PyTorch"),),
    kink_check=KinkCheck(_at_zero, "is evaluated at 0{where}: gradcli uses the derivative from the left, alpha "
                         "(as PyTorch); from the right it is 1"),
    taylor=lambda n, x, alpha: T.select(x[0] > 0, x, T.cauchy(alpha, _expm1_below(x))))


def _leaky_relu_backward_backward(n, gg):
    g, x, slope = n.inputs
    return (F.leaky_relu_backward(gg, x, slope) if n.needs[0] else None,
            F.zeros_like(gg) if n.needs[1] else None,
            F.where(F.gt(x, 0.0), 0.0, gg * g) if n.needs[2] else None)


# leaky_relu's and hardtanh's rules are operations of their own, as PyTorch's leaky_relu_backward and
# hardtanh_backward: their own rules send x zeros, which in a second pass meet x's other factors (times an
# inf, a nan, as in torch), where a selection by a mask of x would send x nothing.
primitive(name="leaky_relu_backward", doc="where(x > 0, g, g * negative_slope): leaky_relu's rule",
          signature="leaky_relu_backward(g, x, negative_slope)", family="internal", public=False,
          forward=lambda g, x, slope: np.where(x > 0, g, g * slope), backward=_leaky_relu_backward_backward,
          taylor=lambda n, g, x, slope: T.select(x[0] > 0, g, T.cauchy(g, slope)),
          shape=broadcast_shapes, arity=3, elementwise=True, torch_name="LeakyReluBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x, slope: sp.Piecewise((g, x > 0), (g * slope, True))),
          words=Words(("g", "x", "negative_slope"), ("where(x > 0, 1, negative_slope)", "0", "where(x > 0, 0, g)")),
          samples=(Sample(((3,), (3,), ()), ("real", "nonzero", "unit")),
                   Sample(((2, 3), (3,), ()), ("real", "nonzero", "unit"))))


def _leaky_relu_backward(n, g):
    x, slope = n.inputs
    return (F.leaky_relu_backward(g, x, slope) if n.needs[0] else None,
            F.where(F.gt(x, 0.0), 0.0, g * x) if n.needs[1] else None)


_parametrised(
    "leaky_relu", ("x", "negative_slope"), {"negative_slope": 0.01},
    lambda x, slope: np.where(x > 0, x, x * slope), _leaky_relu_backward,
    lambda sp, x, slope: sp.Piecewise((x, x > 0), (slope * x, True)),
    "x for x > 0, else negative_slope * x (gradient negative_slope at 0, as PyTorch)",
    local=("where(x > 0, 1, negative_slope)", "where(x > 0, 0, x)"), domain=("nonzero", "unit"),
    kinks=(Kink((0.0, 0.2), (0.2, 0.0), note="leaky_relu'(0) = negative_slope, as PyTorch"),),
    kink_check=KinkCheck(_at_zero, "is evaluated at 0{where}: gradcli uses the slope from the left, "
                         "negative_slope (as PyTorch); from the right it is 1"),
    taylor=lambda n, x, slope: T.select(x[0] > 0, x, T.cauchy(x, slope)))


def _off_bounds(x, lo, hi):
    return (x <= lo) | (x >= hi)


primitive(name="hardtanh_backward", doc="where(x <= min_val or x >= max_val, 0, g): hardtanh's rule",
          signature="hardtanh_backward(g, x, min_val, max_val)", family="internal", public=False,
          forward=lambda g, x, lo, hi: np.where(_off_bounds(x, lo, hi), 0.0, g),
          backward=lambda n, gg: (F.hardtanh_backward(gg, *n.inputs[1:]) if n.needs[0] else None,
                                  F.zeros_like(gg) if n.needs[1] else None, None, None),
          taylor=lambda n, g, x, lo, hi: T.select(_off_bounds(x[0], lo[0], hi[0]), np.zeros_like(g), g),
          shape=broadcast_shapes, arity=4, elementwise=True, torch_name="HardtanhBackwardBackward0",
          sympy=sympy_elementwise(lambda sp, g, x, lo, hi: sp.Piecewise((0, (x <= lo) | (x >= hi)), (g, True))),
          words=Words(("g", "x", "min_val", "max_val"), ("(x > min_val)*(x < max_val)", "0", "0", "0")),
          samples=(Sample(((3,), (3,), (), ()), ("real", "real", "unit", "above_one")),
                   Sample(((2, 3), (3,), (), ()), ("real", "real", "unit", "above_one"))))


def _hardtanh_backward(n, g):
    x, lo, hi = n.inputs
    # As PyTorch: x gets 0 on a bound. A bound gets the gradient there (the value is the bound's);
    # as clip, hi wins when lo > hi.
    return (F.hardtanh_backward(g, x, lo, hi) if n.needs[0] else None,
            F.where(F.le(x, lo) * F.lt(lo, hi), g, 0.0) if n.needs[1] else None,
            F.where(F.ge(F.maximum(x, lo), hi), g, 0.0) if n.needs[2] else None)


def _hardtanh_taylor(n, x, lo, hi):
    # The piece the rule follows: x strictly inside, else the bound that gets the gradient.
    inside = (x[0] > lo[0]) & (x[0] < hi[0])
    return T.select(inside, x, T.select((x[0] <= lo[0]) & (lo[0] < hi[0]), lo, hi))


def _on_a_bound(node):
    x, lo, hi = saved_inputs(node)
    return broadcast_mask((x == lo) | (x == hi), x, lo, hi)


_parametrised(
    "hardtanh", ("x", "min_val", "max_val"), {"min_val": -1.0, "max_val": 1.0},
    lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), _hardtanh_backward,
    lambda sp, x, lo, hi: sp.Piecewise((hi, (x >= hi) | (lo > hi)), (lo, x <= lo), (x, True)),
    "x limited to [min_val, max_val] (gradient 0 on the bounds, as PyTorch)",
    local=("(x > min_val)*(x < max_val)", "(x <= min_val)*(min_val < max_val)", "maximum(x, min_val) >= max_val"),
    domain=("real", "unit", "above_one"),
    kinks=(Kink((1.0, -1.0, 1.0), (0.0, 0.0, 1.0), note="on a bound x gets 0, as PyTorch's hardtanh"),),
    kink_check=KinkCheck(_on_a_bound, "has x exactly on a bound{where}: x gets the gradient 0 there (as PyTorch's "
                         "hardtanh; clip gives it 1)"),
    taylor=_hardtanh_taylor)
primitive(name="relu6", torch_name="HardtanhBackward0",
          batching="trailing", doc="min(max(x, 0), 6), hardtanh(x, 0, 6) (gradient 0 at 0 and 6, as PyTorch)",
          signature="relu6(x)", family="elementwise", composite=lambda x: F.hardtanh(x, 0.0, 6.0),
          samples=tuple(Sample((s,), "nonzero") for s in SAMPLE_SHAPES),
          kinks=(Kink((0.0,), (0.0,), note="relu6'(0) = 0, as PyTorch", noted=False),
                 Kink((6.0,), (0.0,), note="relu6'(6) = 0, as PyTorch", noted=False)))


def _logit(x, eps):
    # eps < 0 stands for no eps (PyTorch's own encoding of eps=None); else x is clamped to [eps, 1 - eps].
    c = np.where(eps < 0, x, np.minimum(np.maximum(x, eps), 1.0 - eps))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(c / (1.0 - c))


def _logit_backward(n, g):
    x, eps = n.inputs
    unclamped = F.lt(eps, 0.0)
    # As PyTorch's logit_backward: x outside [0, 1] gets nan without eps, x outside [eps, 1 - eps] 0 with it.
    outside = F.where(unclamped, F.lt(x, 0.0) + F.gt(x, 1.0), F.lt(x, eps) + F.gt(x, 1.0 - eps))
    # NOTE: + 0.0 makes x*(1 - x) at x = -0.0 a +0.0: g times +inf there, as PyTorch's kernel.
    gx = F.where(outside, F.where(unclamped, np.nan, 0.0), g / (x * (1.0 - x) + 0.0)) if n.needs[0] else None
    if not n.needs[1]:
        return gx, None
    # The value is logit(eps) below the clamp, logit(1 - eps) above it: d/deps is +-1/(eps*(1 - eps)).
    side = F.lt(x, eps) * F.le(eps, 1.0 - eps) - F.gt(F.maximum(x, eps), 1.0 - eps)
    return gx, F.where(unclamped, 0.0, g * side / (eps * (1.0 - eps)))


def _logit_taylor(n, x, eps):
    # log(c / (1 - c)) of the clamped c, whose series follows x inside and the bound it is clamped to outside.
    unclamped = eps[0] < 0
    above = np.maximum(x[0], eps[0]) > 1.0 - eps[0]
    clamped = T.select(above, T.offset(-eps, 1.0), T.select(x[0] < eps[0], eps, x))
    c = T.select(unclamped, x, clamped)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = T.integrate(n.ans, c, T.reciprocal(T.cauchy(c, T.offset(-c, 1.0))))
    # Without eps, x outside [0, 1] has a nan gradient, as PyTorch's logit_backward.
    return np.where(unclamped & ((x[0] < 0) | (x[0] > 1)), np.nan, out)


def _sympy_logit(sp, x, eps):
    c = sp.Piecewise((x, eps < 0), (1 - eps, (x > 1 - eps) | (eps > 1 - eps)), (eps, x < eps), (x, True))
    return sp.log(c / (1 - c))


_parametrised(
    "logit", ("x", "eps"), {"eps": -1.0}, _logit, _logit_backward, _sympy_logit,
    "log(x / (1 - x)), with x clamped to [eps, 1 - eps] when eps >= 0 (gradient 0 outside, as PyTorch)",
    local=("where((eps >= 0)*((x < eps) + (x > 1 - eps)), 0, 1/(x*(1 - x)))",
           "where(eps < 0, 0, ((x < eps)*(eps <= 1 - eps) - (maximum(x, eps) > 1 - eps))/(eps*(1 - eps)))"),
    domain=("probability", "unit"), taylor=_logit_taylor,
    kinks=(Kink((0.05, 0.1), (0.0, 1.0 / 0.09), note="below eps x gets 0 and eps the gradient", noted=False),))
