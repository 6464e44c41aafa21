"""Modified Bessel functions of the first kind, as torch's: i0, i1 and their scaled forms
i0e(x) = exp(-|x|) i0(x), i1e(x) = exp(-|x|) i1(x).

Values are torch's CPU kernels': Chebyshev expansions on [0, 8] and (8, inf), derived from
the Cephes Math Library (3-clause BSD, Copyright (c) 2018 Steven Moshier). Rules are
derivatives.yaml's: i0' = i1; i0e' = i1e - sgn(x) i0e; i1' = i0 - i1/x and i1e' = i0e -
i1e (sgn(x) + 1/x), both 1/2 where |x| is at most the dtype's epsilon, as torch's
i1_backward and i1e_backward. Their series (Taylor mode) take the derivatives
I_v^(k) = 2**-k sum over j of C(k, j) I_(v - k + 2j), with I_n of higher n from its power
series for |x| <= 30, by upward recurrence beyond.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff.op import Kink
from gradcli.ops.common import F
from gradcli.ops.elementwise import unary
from gradcli.ops.gamma import series_from_derivatives

# Chebyshev coefficients of exp(-x) I0(x) on [0, 8] and exp(-x) sqrt(x) I0(x) on (8, inf) (Cephes' i0).
_I0_INNER = (
    -4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16, 1.71539128555513303061E-15,
    -1.16853328779934516808E-14, 7.67618549860493561688E-14, -4.85644678311192946090E-13, 2.95505266312963983461E-12,
    -1.72682629144155570723E-11, 9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
    -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7, 1.11738753912010371815E-6,
    -4.41673835845875056359E-6, 1.64484480707288970893E-5, -5.75419501008210370398E-5, 1.88502885095841655729E-4,
    -5.76375574538582365885E-4, 1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
    -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2, 1.71620901522208775349E-1,
    -3.04682672343198398683E-1, 6.76795274409476084995E-1)
_I0_OUTER = (
    -7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17, 3.46122286769746109310E-17,
    -2.82762398051658348494E-16, -3.42548561967721913462E-16, 1.77256013305652638360E-15, 3.81168066935262242075E-15,
    -9.55484669882830764870E-15, -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
    7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11, -3.14991652796324136454E-11,
    1.18891471078464383424E-11, 4.94060238822496958910E-10, 3.39623202570838634515E-9, 2.26666899049817806459E-8,
    2.04891858946906374183E-7, 2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
    8.04490411014108831608E-1)
# The same for exp(-x) I1(x) / x on [0, 8] and exp(-x) sqrt(x) I1(x) on (8, inf) (Cephes' i1).
_I1_INNER = (
    2.77791411276104639959E-18, -2.11142121435816608115E-17, 1.55363195773620046921E-16, -1.10559694773538630805E-15,
    7.60068429473540693410E-15, -5.04218550472791168711E-14, 3.22379336594557470981E-13, -1.98397439776494371520E-12,
    1.17361862988909016308E-11, -6.66348972350202774223E-11, 3.62559028155211703701E-10, -1.88724975172282928790E-9,
    9.38153738649577178388E-9, -4.44505912879632808065E-8, 2.00329475355213526229E-7, -8.56872026469545474066E-7,
    3.47025130813767847674E-6, -1.32731636560394358279E-5, 4.78156510755005422638E-5, -1.61760815825896745588E-4,
    5.12285956168575772895E-4, -1.51357245063125314899E-3, 4.15642294431288815669E-3, -1.05640848946261981558E-2,
    2.47264490306265168283E-2, -5.29459812080949914269E-2, 1.02643658689847095384E-1, -1.76416518357834055153E-1,
    2.52587186443633654823E-1)
_I1_OUTER = (
    7.51729631084210481353E-18, 4.41434832307170791151E-18, -4.65030536848935832153E-17, -3.20952592199342395980E-17,
    2.96262899764595013876E-16, 3.30820231092092828324E-16, -1.88035477551078244854E-15, -3.81440307243700780478E-15,
    1.04202769841288027642E-14, 4.27244001671195135429E-14, -2.10154184277266431302E-14, -4.08355111109219731823E-13,
    -7.19855177624590851209E-13, 2.03562854414708950722E-12, 1.41258074366137813316E-11, 3.25260358301548823856E-11,
    -1.89749581235054123450E-11, -5.58974346219658380687E-10, -3.83538038596423702205E-9, -2.63146884688951950684E-8,
    -2.51223623787020892529E-7, -3.88256480887769039346E-6, -1.10588938762623716291E-4, -9.76109749136146840777E-3,
    7.78576235018280120474E-1)


def _chebyshev(y: np.ndarray, coefficients) -> np.ndarray:
    """Clenshaw's sum of a Chebyshev series at y / 2, as Cephes' chbevl (coefficients highest order first)."""
    b0, b1, b2 = np.full_like(y, coefficients[0]), np.zeros_like(y), np.zeros_like(y)
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = y * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _scaled(x, inner, outer, times_x: bool) -> np.ndarray:
    """exp(-|x|) I(|x|) from the two expansions (times |x| on [0, 8] for I1, whose inner one is of I1(x) / x)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        near = _chebyshev(a / 2.0 - 2.0, inner)
        far = _chebyshev(32.0 / np.where(a > 8.0, a, 32.0) - 2.0, outer) / np.sqrt(a)
    return np.where(a <= 8.0, near * a if times_x else near, far)


def _in_dtype(out, x):
    return np.asarray(out, dtype=np.result_type(x, 0.0))


def i0e(x):
    return _in_dtype(_scaled(x, _I0_INNER, _I0_OUTER, False), x)


def i1e(x):
    out = _scaled(x, _I1_INNER, _I1_OUTER, True)
    return _in_dtype(np.where(np.asarray(x) < 0, -out, out), x)


def i0(x):
    a = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        # As torch: exp(x) times the series on [0, 8], exp(x) times it over sqrt(x) beyond.
        near = np.exp(a) * _chebyshev(a / 2.0 - 2.0, _I0_INNER)
        far = np.exp(a) * _chebyshev(32.0 / np.where(a > 8.0, a, 32.0) - 2.0, _I0_OUTER) / np.sqrt(a)
    return _in_dtype(np.where(a <= 8.0, near, far), x)


def i1(x):
    a = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        near = np.exp(a) * a * _chebyshev(a / 2.0 - 2.0, _I1_INNER)
        far = np.exp(a) * _chebyshev(32.0 / np.where(a > 8.0, a, 32.0) - 2.0, _I1_OUTER) / np.sqrt(a)
    out = np.where(a <= 8.0, near, far)
    return _in_dtype(np.where(np.asarray(x) < 0, -out, out), x)


def _scaled_orders(x: np.ndarray, count: int) -> list[np.ndarray]:
    """exp(-|x|) I_n(x) for n = 0 .. count - 1."""
    out = [np.asarray(i0e(x), np.float64), np.asarray(i1e(x), np.float64)]
    half_square = x * x / 4.0
    near = np.abs(x) <= 30.0
    small = np.where(near, x, 0.0)
    for n in range(2, count):
        # The power series (x/2)**n sum over m of (x**2/4)**m / (m! (m + n)!) near 0: upward recurrence loses
        # the digits of I_n there, where it falls fast with n.
        term = (small / 2.0) ** n / math.factorial(n)
        total = term
        for m in range(1, 80):
            term = term * np.where(near, half_square, 0.0) / (m * (m + n))
            total = total + term
        with np.errstate(divide="ignore", invalid="ignore"):
            upward = out[n - 2] - (2.0 * (n - 1) / x) * out[n - 1]
        out.append(np.where(near, total * np.exp(-np.abs(small)), upward))
    return out


def _bessel_series(x: np.ndarray, order_v: int, scaled: bool, y0) -> np.ndarray:
    """The series of I_v(x(t)) (v = 0 or 1), or of exp(-|x|) I_v(x) when scaled, from its derivatives."""
    order = len(x) - 1
    values = _scaled_orders(x[0], order + order_v + 1)
    # d^k I_v = 2**-k sum_j C(k, j) I_|v - k + 2j|, of the scaled values: exp(|x0|) times these
    derivatives = [sum(math.comb(k, j) * values[abs(order_v - k + 2 * j)] for j in range(k + 1)) / 2.0 ** k
                   for k in range(order + 1)]
    if scaled:  # exp(-s x) I_v(x), s = sign(x0): the Leibniz rule with exp(-s x)'s derivatives (-s)**j
        s = np.sign(x[0])
        derivatives = [sum(math.comb(k, j) * (-s) ** (k - j) * derivatives[j] for j in range(k + 1))
                       for k in range(order + 1)]
        derivatives[0] = y0
        return series_from_derivatives(x, derivatives)
    with np.errstate(over="ignore", invalid="ignore"):
        grown = np.exp(np.abs(x[0]))
        derivatives = [y0] + [d * grown for d in derivatives[1:]]
    return series_from_derivatives(x, derivatives)


def _near_zero_rule(lead, shift):
    """As torch's i1_backward and i1e_backward: g * (lead(x) - ans * shift(x)), and g / 2 where |x| <= eps
    (x taken as eps there, so that the branch not taken stays finite)."""
    def rule(n, g):
        x = n.x
        eps = float(np.finfo(x.data.dtype).eps)
        not_tiny = F.gt(F.abs(x), eps)
        safe = F.where(not_tiny, x, eps)
        return (g * F.where(not_tiny, lead(safe) - n.ans * shift(safe), 0.5),)
    return rule


HALF_KINK = Kink((0.0,), (0.5,), note="the derivative at 0 is 1/2, as torch's rule takes it where |x| <= eps",
                 noted=False)

unary("i0", i0, lambda n, g: (g * F.i1(n.x),), lambda sp, x: sp.besseli(0, x),
      "the modified Bessel function of the first kind of order 0", local="i1(x)",
      taylor=lambda n, x: _bessel_series(x, 0, False, n.ans))
unary("i0e", i0e, lambda n, g: (g * (F.i1e(n.x) - F.sign(n.x) * n.ans),),
      lambda sp, x: sp.exp(-sp.Abs(x)) * sp.besseli(0, x), "exp(-|x|) i0(x), finite for any x", saves="both", torch_name="SpecialI0EBackward0",
      local="i1e(x) - sign(x)*out", taylor=lambda n, x: _bessel_series(x, 0, True, n.ans))
unary("i1", i1, _near_zero_rule(lambda x: F.i0(x), lambda x: F.reciprocal(x)), lambda sp, x: sp.besseli(1, x),
      "the modified Bessel function of the first kind of order 1", saves="both", torch_name="SpecialI1Backward0",
      local="where(abs(x) > 2.220446049250313e-16, i0(x) - out/x, 0.5)",
      taylor=lambda n, x: _bessel_series(x, 1, False, n.ans), kinks=(HALF_KINK,))
unary("i1e", i1e, _near_zero_rule(lambda x: F.i0e(x), lambda x: F.sign(x) + F.reciprocal(x)),
      lambda sp, x: sp.exp(-sp.Abs(x)) * sp.besseli(1, x), "exp(-|x|) i1(x), finite for any x", saves="both",
      torch_name="SpecialI1EBackward0", local="where(abs(x) > 2.220446049250313e-16, i0e(x) - out*(sign(x) + 1/x), 0.5)",
      taylor=lambda n, x: _bessel_series(x, 1, True, n.ans), kinks=(HALF_KINK,))
