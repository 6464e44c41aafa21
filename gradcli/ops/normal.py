"""The normal distribution's functions and the error function's inverse: erfinv, ndtr, ndtri, log_ndtr.

Values follow torch's CPU kernels (aten's Math.h): erfinv a rational first guess and two
Newton steps on erf; ndtri Cephes' rational approximations (the Cephes Math Library,
3-clause BSD, Copyright (c) 2018 Steven Moshier); ndtr = (1 + erf(x / sqrt 2)) / 2, a
composite as torch's; log_ndtr = log1p(-erfc(x / sqrt 2) / 2) from -1 up, log(erfc(-x / sqrt 2) / 2)
below, and past x = -35 (where erfc underflows) the asymptotic series of erfcx. Rules are
derivatives.yaml's, written with the function again (erfinv) or its result (ndtri, log_ndtr),
so that second order follows. Their series (Taylor mode) solve y' = f'(y) x' coefficient by
coefficient, as an inverse function's derivative is written in its own value.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Kink, Sample, composite
from gradcli.ops.common import F, sympy_elementwise
from gradcli.ops.elementwise import SAMPLE_SHAPES, unary
from gradcli.ops.gamma import polevl
from gradcli.ops.special import erf, erfc

SQRT_PI_OVER_2 = 0.5 * math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)
SQRT1_2 = math.sqrt(0.5)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# erfinv's first guess (torch's, after Pavlis's erfinv.m): a rational function of y**2 inside |y| <= 0.7,
# of sqrt(-log((1 - |y|)/2)) beyond.
_A = (-0.140543331, 0.914624893, -1.645349621, 0.886226899)
_B = (0.012229801, -0.329097515, 1.442710462, -2.118377725, 1.0)
_C = (1.641345311, 3.429567803, -1.624906493, -1.970840454)
_D = (1.637067800, 3.543889200, 1.0)


def erfinv(y):
    y64 = np.asarray(y, dtype=np.float64)
    size = np.abs(y64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = y64 * y64
        central = y64 * polevl(z, _A) / polevl(z, _B)
        w = np.sqrt(-np.log((1.0 - np.minimum(size, 1.0)) / 2.0))
        tail = np.copysign(polevl(w, _C), y64) / polevl(w, _D)
        x = np.where(size <= 0.7, central, tail)
        for _ in range(2):  # Newton's steps on erf(x) = y
            x = x - (erf(x) - y64) / (TWO_OVER_SQRT_PI * np.exp(-x * x))
    x = np.where(size == 1.0, np.copysign(np.inf, y64), x)
    x = np.where(size > 1.0, np.nan, x)  # (nan stays nan)
    return np.asarray(x, dtype=np.result_type(y, 0.0))


# ndtri's rational approximations: |y - 0.5| <= 3/8, then z = sqrt(-2 log y) in [2, 8) and [8, 64).
_P0 = (-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1, 1.39312609387279679503E1,
       -1.23916583867381258016E0)
_Q0 = (1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
       -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1, 1.59056225126211695515E1,
       -1.18331621121330003142E0)
_P1 = (4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1, 4.40805073893200834700E1,
       1.46849561928858024014E1, 2.18663306850790267539E0, -1.40256079171354495875E-1, -3.50424626827848203418E-2,
       -8.57456785154685413611E-4)
_Q1 = (1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
       1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1, -3.80806407691578277194E-2,
       -9.33259480895457427372E-4)
_P2 = (3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0, 1.33303460815807542389E0,
       2.01485389549179081538E-1, 1.23716634817820021358E-2, 3.01581553508235416007E-4, 2.65806974686737550832E-6,
       6.23974539184983293730E-9)
_Q2 = (1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
       2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4, 2.89247864745380683936E-6,
       6.79019408009981274425E-9)
_EXP_MINUS_2 = 0.13533528323661269189


def ndtri(p):
    y0 = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = y0 > 1.0 - _EXP_MINUS_2
        y = np.where(upper, 1.0 - y0, y0)
        middle = y - 0.5
        square = middle * middle
        central = (middle + middle * (square * polevl(square, _P0) / polevl(square, _Q0))) * SQRT_2PI
        root = np.sqrt(-2.0 * np.log(np.where(y > 0, y, 1.0)))
        z = 1.0 / root
        correction = np.where(root < 8.0, z * polevl(z, _P1) / polevl(z, _Q1), z * polevl(z, _P2) / polevl(z, _Q2))
        tail = root - np.log(root) / root - correction
        out = np.where(y > _EXP_MINUS_2, central, np.where(upper, tail, -tail))
    out = np.where(y0 == 0.0, -np.inf, np.where(y0 == 1.0, np.inf, out))
    out = np.where((y0 < 0.0) | (y0 > 1.0) | np.isnan(y0), np.nan, out)
    return np.asarray(out, dtype=np.result_type(p, 0.0))


def _erfcx_large(y: np.ndarray) -> np.ndarray:
    """exp(y**2) erfc(y) for y >= 25 by its asymptotic series 1/(y sqrt(pi)) sum (-1)**k (2k-1)!! / (2 y**2)**k,
    whose eighth term is below 1e-17 there."""
    u = 1.0 / (2.0 * y * y)
    series = np.ones_like(y)
    for k in range(8, 0, -1):
        series = 1.0 - (2 * k - 1) * u * series
    return series / (y * math.sqrt(math.pi))


def log_ndtr(x):
    x64 = np.asarray(x, dtype=np.float64)
    t = x64 * SQRT1_2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        upper = np.log1p(-erfc(t) / 2.0)
        lower = np.log(erfc(-t) / 2.0)
        far = -t > 25.0
        y = np.where(far, -t, 25.0)
        asymptotic = np.log(_erfcx_large(y) / 2.0) - t * t
        out = np.where(x64 < -1.0, np.where(far, asymptotic, lower), upper)
    return np.asarray(out, dtype=np.result_type(x, 0.0))


def _solved(y0, x, rate):
    """The series of y with y(0) = y0 and y' = rate(y) x', where rate(y)'s coefficient k needs y's up to k."""
    y = np.zeros(np.broadcast_shapes(x.shape, np.shape(y0)), x.dtype)
    y[0] = y0
    for k in range(1, len(y)):
        g = rate(y)
        j = np.arange(1, k + 1).reshape((k,) + (1,) * (y.ndim - 1))
        y[k] = (j * x[1:k + 1] * g[k - 1::-1][:k]).sum(0) / k
    return y


def _erfinv_rule(n, g):
    # derivatives.yaml: 0.5 * sqrt(pi) * exp(self.erfinv().pow(2)) * grad
    inverse = F.erfinv(n.x)
    return (F.exp(inverse * inverse) * SQRT_PI_OVER_2 * g,)


unary("erfinv", erfinv, _erfinv_rule, lambda sp, x: sp.erfinv(x),
      "the inverse of erf, for -1 <= x <= 1 (+-inf at +-1, nan beyond)", domain="unit",
      local="sqrt(pi)/2*exp(erfinv(x)**2)",
      taylor=lambda n, x: _solved(n.ans, x, lambda y: T.exp(T.cauchy(y, y)) * SQRT_PI_OVER_2),
      kinks=(Kink((1.0,), (np.inf,), note="erfinv(1) = inf, its gradient inf, as PyTorch", noted=False),))
unary("ndtri", ndtri, lambda n, g: (g * SQRT_2PI * F.exp(n.ans * n.ans / 2.0),),
      lambda sp, x: sp.sqrt(2) * sp.erfinv(2 * x - 1), "the inverse of ndtr, the normal quantile function, "
      "for 0 <= p <= 1 (+-inf at 1 and 0)", domain="probability", saves="output", torch_name="SpecialNdtriBackward0",
      local="sqrt(2*pi)*exp(out**2/2)",
      taylor=lambda n, x: _solved(n.ans, x, lambda y: T.exp(T.cauchy(y, y) * 0.5) * SQRT_2PI),
      kinks=(Kink((0.0,), (np.inf,), note="ndtri(0) = -inf, its gradient inf, as PyTorch", noted=False),))


def _log_ndtr_rate(x):
    # log_ndtr' = exp(-(log_ndtr(x) + x**2/2)) / sqrt(2 pi), in y's own series
    return lambda y: T.exp(-(y + T.cauchy(x, x) * 0.5)) / SQRT_2PI


unary("log_ndtr", log_ndtr, lambda n, g: (g / SQRT_2PI * F.exp(-(n.ans + n.x * n.x / 2.0)),),
      lambda sp, x: sp.log((1 + sp.erf(x / sp.sqrt(2))) / 2),
      "log of the standard normal distribution function, accurate far into both tails", saves="both",
      torch_name="SpecialLogNdtrBackward0",
      local="exp(-(out + x**2/2))/sqrt(2*pi)", taylor=lambda n, x: _solved(n.ans, x, _log_ndtr_rate(x)))
composite(name="ndtr", torch_name="MulBackward1",
          doc="the standard normal distribution function (1 + erf(x / sqrt(2))) / 2",
          signature="ndtr(x)", family="elementwise", batching="trailing",
          composite=lambda x: (F.erf(x * SQRT1_2) + 1.0) * 0.5,
          sympy=sympy_elementwise(lambda sp, x: (1 + sp.erf(x / sp.sqrt(2))) / 2),
          samples=tuple(Sample((s,)) for s in SAMPLE_SHAPES))
