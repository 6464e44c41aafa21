"""The gamma function's family: lgamma, digamma, polygamma(n, x) and mvlgamma(x, p).

Values are PyTorch's: lgamma is the C library's (torch's own is within an ulp of it),
digamma, trigamma and the higher polygammas follow torch's CPU kernels (aten's Math.h,
derived from the Cephes Math Library, 3-clause BSD, Copyright (c) 2018 Steven Moshier):
digamma by recurrence to x >= 10 and its asymptotic series, with the reflection formula
below 0; trigamma by six steps of recurrence and a short series (so within about 1e-9 of
the true value, as torch's); polygamma(n >= 2) as (-1)**(n+1) n! zeta(n + 1, x), the Hurwitz
zeta by direct summation and the Euler-Maclaurin tail. Poles as torch's: lgamma is inf at
0 and the negative whole numbers, digamma -inf at +0, +inf at -0, nan at the negative
whole numbers. Each rule is derivatives.yaml's: lgamma' = digamma, digamma' =
polygamma(1, x), polygamma(n)' = polygamma(n + 1), so every order follows.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Kink, Sample, Words, composite, primitive
from gradcli.errors import GradcliError
from gradcli.ops.common import F, sympy_elementwise
from gradcli.ops.elementwise import SAMPLE_SHAPES, unary


def _c_lgamma():
    """The C library's lgamma, the function torch's kernels approximate to an ulp (Python's math.lgamma
    is a Lanczos sum off by up to 1e-11 of the value near its zeros at 1 and 2); math.lgamma where the
    process's own symbols do not include it."""
    try:
        function = ctypes.CDLL(None).lgamma  # (the C library the interpreter is linked with: no search)
    except (OSError, AttributeError, TypeError):
        return math.lgamma
    function.restype, function.argtypes = ctypes.c_double, [ctypes.c_double]
    return function


_lgamma_entry = np.frompyfunc(_c_lgamma(), 1, 1)


def _float(x) -> np.ndarray:
    """x as float64, the dtype every kernel here computes in (a float32 result is rounded once, at the end)."""
    return np.asarray(x, dtype=np.float64)


def _as_input(out: np.ndarray, x) -> np.ndarray:
    return np.asarray(out, dtype=np.result_type(x, 0.0))


def polevl(x: np.ndarray, coefficients) -> np.ndarray:
    """The polynomial of the given coefficients, highest power first, at x (Horner's rule)."""
    out = np.zeros_like(x)
    for c in coefficients:
        out = out * x + c
    return out


def lgamma(x):
    x64 = _float(x)
    # NOTE: the C library's lgamma is inf at the poles, where math.lgamma raises.
    poles = (x64 <= 0) & (x64 == np.floor(x64))
    with np.errstate(invalid="ignore"):
        out = np.where(poles, np.inf, np.asarray(_lgamma_entry(np.where(poles, 1.0, x64)), dtype=np.float64))
    return _as_input(out, x)


PSI_10 = 2.25175258906672110764  # digamma(10)
_DIGAMMA_SERIES = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
                   -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
                   8.33333333333333333333E-2)


def _digamma_positive(x: np.ndarray) -> np.ndarray:
    """digamma at x > 0 (or nan, inf): up to x >= 10 by psi(x) = psi(x + 1) - 1/x, then the series."""
    result = np.zeros_like(x)
    for _ in range(10):  # (each step raises x by 1: ten reach 10 from any x > 0)
        below = x < 10
        if not below.any():
            break
        result = np.where(below, result - 1.0 / np.where(below, x, 1.0), result)
        x = np.where(below, x + 1.0, x)
    z = np.where(x < 1.0e17, 1.0 / (x * x), 0.0)
    series = z * polevl(z, _DIGAMMA_SERIES)
    return np.where(x == 10, result + PSI_10, result + np.log(x) - 0.5 / x - series)


def digamma(x):
    x64 = _float(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        negative = x64 < 0
        whole = x64 == np.trunc(x64)
        reflected = _digamma_positive(np.where(negative, 1.0 - x64, np.where(x64 == 0, 1.0, x64)))
        # psi(x) = psi(1 - x) - pi / tan(pi x), with x's fraction in the tangent (as torch, for accuracy)
        fraction = x64 - np.trunc(x64)
        out = np.where(negative, reflected - math.pi / np.tan(math.pi * fraction), reflected)
        out = np.where(negative & whole, np.nan, out)
        out = np.where(x64 == 0, np.copysign(np.inf, -x64), out)
    return _as_input(out, x)


def trigamma(x):
    x64 = _float(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        low = x64 < 0.5
        sine = np.sin(math.pi * x64)
        result = np.where(low, -(math.pi * math.pi) / (sine * sine), 0.0)
        y = np.where(low, 1.0 - x64, x64)
        for _ in range(6):
            result = result + 1.0 / (y * y)
            y = y + 1.0
        ixx = 1.0 / (y * y)
        result = result + (1.0 + 1.0 / (2.0 * y) + ixx * (1.0 / 6 - ixx * (1.0 / 30 - ixx * (1.0 / 42)))) / y
        out = np.where(low, -result, result)
    return _as_input(out, x)


_MACHEP = 1.11022302462515654042E-16
_ZETA_TAIL = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
              -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
              1.8152105401943546773e17, -7.1661652561756670113e18)


def _zeta_sums(s: float, q: np.ndarray):
    """The direct part of the Hurwitz zeta(s, q): sum of (q + i)**-s from i = 0 while i < 9 or q + i <= 9, each
    entry stopping early where a term falls below the sum's rounding. Returns (sum, last term, last q + i, done):
    done marks the entries whose sum is their value. Steps are taken a block at a time (a cumulative sum adds in
    order, as one step at a time does), so a q far below 0 costs numpy calls per block, not per step."""
    total, a = q ** -s, q.copy()
    b, done = np.zeros_like(q), np.zeros(q.shape, bool)
    steps, open_ = 0, np.ones(q.shape, bool)
    width = 16
    while open_.any():
        idx = np.nonzero(open_)[0]
        ones = np.ones((idx.size, width))
        run_a = np.cumsum(np.concatenate([a[idx, None], ones], axis=1), axis=1)[:, 1:]
        terms = run_a ** -s
        run_s = np.cumsum(np.concatenate([total[idx, None], terms], axis=1), axis=1)[:, 1:]
        converged = (-_MACHEP * run_s < terms) & (terms < _MACHEP * run_s)
        count = steps + np.arange(1, width + 1)
        leaves = ~((count < 9) | (run_a <= 9.0))  # the loop's test before its next step
        stop = converged | leaves
        first = np.where(stop.any(axis=1), np.argmax(stop, axis=1), width - 1)
        rows = np.arange(idx.size)
        a[idx], b[idx], total[idx] = run_a[rows, first], terms[rows, first], run_s[rows, first]
        done[idx] = converged[rows, first]
        open_[idx] = ~stop[rows, first]
        steps += width
        width = int(min(width * 2, max(16, (1 << 20) // idx.size)))  # (at most a million terms a block)
    return total, b, a, done


def zeta(s: float, q: np.ndarray) -> np.ndarray:
    """The Hurwitz zeta function sum over i >= 0 of (q + i)**-s, for a whole s >= 2, as torch's (Cephes') zeta."""
    q = np.array(q, dtype=np.float64).reshape(-1)
    out = np.full(q.shape, np.inf)
    on = ~((q <= 0) & (q == np.floor(q)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total, b, w, done = _zeta_sums(s, q[on])
        # The Euler-Maclaurin tail past w, term by term until one falls below the sum's rounding.
        total = np.where(done, total, total + b * w / (s - 1.0) - 0.5 * b)
        a, k = 1.0, 0.0
        for c in _ZETA_TAIL:
            a *= s + k
            b = b / w
            term = a * b / c
            total = np.where(done, total, total + term)
            done = done | (np.abs(term / total) < _MACHEP)
            k += 1.0
            a *= s + k
            b = b / w
            k += 1.0
    out[on] = total
    return out


def polygamma(x, n: int = 0):
    """The n-th derivative of digamma: torch's digamma and trigamma for n = 0 and 1, (-1)**(n+1) n! zeta(n+1, x)
    beyond."""
    if n == 0:
        return digamma(x)
    if n == 1:
        return trigamma(x)
    factorial = math.exp(float(_lgamma_entry(n + 1.0)))  # (as torch: exp(lgamma(n + 1)))
    x64 = _float(x)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (1.0 if n % 2 else -1.0) * factorial * zeta(n + 1.0, x64).reshape(x64.shape)
    return _as_input(out, x)


def series_from_derivatives(x: np.ndarray, derivatives: list) -> np.ndarray:
    """The series of f(x(t)) from f's derivatives at x[0] (derivatives[k] = f^(k)(x[0]), k = 0..K): the sum over k
    of f^(k)(x0) / k! (x - x0)**k, powers of x - x0 by Cauchy products."""
    order = len(x) - 1
    h = np.array(x)
    h[0] = 0.0
    out = T.constant(derivatives[0], order)
    power = T.constant(np.ones_like(x[0]), order)
    for k in range(1, order + 1):
        power = T.cauchy(power, h)
        out = out + power * (derivatives[k] / math.factorial(k))
    return out


def _polygamma_series(x: np.ndarray, first: int, y0) -> np.ndarray:
    """The series of polygamma(first - 1, x) (lgamma's for first = 0, whose value y0 is): its derivatives are the
    polygammas of the orders after it."""
    order = len(x) - 1
    return series_from_derivatives(x, [y0] + [polygamma(x[0], first - 1 + k) for k in range(1, order + 1)])


def _valid_order(n) -> int:
    if isinstance(n, bool) or float(n) != int(n) or int(n) < 0:
        raise GradcliError(f"polygamma takes n as a whole number >= 0, not {n!r}", kind="value")
    return int(n)


unary("lgamma", lgamma, lambda n, g: (g * F.digamma(n.x),), lambda sp, x: sp.loggamma(x),
      "log of the absolute value of the gamma function (inf at 0 and the negative whole numbers)",
      domain="positive", aliases=("gammaln",), local="digamma(x)",
      taylor=lambda n, x: _polygamma_series(x, 0, n.ans),
      kinks=(Kink((0.0,), (-np.inf,), note="lgamma(0) = inf, its gradient digamma(+0) = -inf, as PyTorch",
                  noted=False),))
unary("digamma", digamma, lambda n, g: (g * F.polygamma(n.x, n=1),), lambda sp, x: sp.polygamma(0, x),
      "the derivative of lgamma (-inf at +0, nan at the negative whole numbers, as PyTorch)",
      domain="positive", aliases=("psi",), local="polygamma(1, x)",
      taylor=lambda n, x: _polygamma_series(x, 1, n.ans),
      kinks=(Kink((0.0,), (np.inf,), note="digamma(+0) = -inf, its gradient polygamma(1, 0) = inf, as PyTorch",
                  noted=False),))


def _polygamma_forward(x, n=0):
    return polygamma(x, _valid_order(n))


primitive(name="polygamma", doc="the n-th derivative of digamma, torch.polygamma(n, x) (n a whole number >= 0)",
          signature="polygamma(n, x)", family="elementwise", forward=_polygamma_forward,
          backward=lambda n, g: (g * F.polygamma(n.x, n=_valid_order(n.params.get("n", 0)) + 1),),
          shape=lambda s, **_: s, elementwise=True, keywords=("n",), preceding=("n",), batching="trailing",
          sympy=lambda sp, x, n=0: sympy_elementwise(lambda sp_, v: sp_.polygamma(int(n), v))(sp, x),
          taylor=lambda s, x: _polygamma_series(x, _valid_order(s.params.get("n", 0)) + 1, s.ans),
          words=Words(("x",), vjp=("g × polygamma(n + 1, {x})",)),
          samples=(*(Sample((s,), "positive", {"n": 1}) for s in SAMPLE_SHAPES),
                   Sample(((3,),), "positive", {"n": 2}), Sample(((2, 3),), "positive", {"n": 3}),
                   Sample(((3,),), "positive", {"n": 0})))

LOG_PI = math.log(math.pi)


def _mvlgamma(x, p):
    # As torch: the sum of lgamma(x - (p - 1)/2), ..., lgamma(x - 1/2), lgamma(x), plus p (p - 1)/4 log(pi).
    p = int(p)
    if p < 1:
        raise GradcliError(f"mvlgamma takes p as a whole number >= 1, not {p}", kind="value")
    total = F.lgamma(x + (-p / 2.0 + 0.5))
    for j in range(1, p):
        total = total + F.lgamma(x + (-p / 2.0 + 0.5 + 0.5 * j))
    return total + p * (p - 1) * LOG_PI / 4.0


composite(name="mvlgamma", doc="the multivariate log-gamma function of dimension p, torch.mvlgamma(x, p): "
                               "sum over j < p of lgamma(x - j/2), plus p (p - 1)/4 log(pi)",
          signature="mvlgamma(x, p)", family="elementwise", composite=_mvlgamma, keywords=("p",),
          aliases=("multigammaln",), batching="trailing",
          sympy=lambda sp, x, p: sympy_elementwise(
              lambda sp_, v: sum(sp_.loggamma(v - sp_.Rational(j, 2)) for j in range(int(p)))
              + int(p) * (int(p) - 1) * sp_.log(sp_.pi) / 4)(sp, x),
          samples=(Sample(((3,),), "above_one", {"p": 1}), Sample(((2, 3),), "above_one", {"p": 2}),
                   Sample(((),), "above_one", {"p": 3})))
