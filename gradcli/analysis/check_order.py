"""Derivatives of order K checked: Taylor mode against SymPy's diff (exact) and finite differences.

    >>> from gradcli.api.higher import derivative
    >>> report = verify_order(derivative("sin(x)", {"x": 0.0}, order=3))
    >>> report.ok, [float(row.sympy) for row in report.rows]
    (True, [0.0, 1.0, 0.0, -1.0])

SymPy differentiates the same expression k times (diff(f, x, k)) and evaluates each
derivative at the point with 30 digits; the engine's numbers must match within float64's
rounding of the recurrences: rtol 1e-8, and an absolute part that grows as k! times the
series' size (a coefficient may be a small difference of large terms). Finite differences
are meaningful up to order 4 only: central differences of order k, Richardson-extrapolated
from steps h and h/2 with h = eps**(1/(k+4)), held to the check's rtol and atol times
2**(k-1) (their error grows with k). Also here: SymPy's series coefficients for
`taylor --symbolic`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.api.higher import SeriesResult
from gradcli.autodiff.engine import Tensor, no_grad
from gradcli.errors import GradcliError

SYMPY_RTOL = 1e-8
SYMPY_SCALE_ATOL = 1e-12  # times k! and the largest Taylor coefficient up to k
FLOAT32_SYMPY_RTOL = 1e-4
FLOAT32_SYMPY_SCALE_ATOL = 1e-5
MAX_DIFFERENCE_ORDER = 4  # beyond it, rounding swamps a finite difference
DIGITS = 30


@dataclass
class OrderRow:
    """Order k: the engine's f^(k) at the point, SymPy's and the finite difference (None where not computed)."""

    k: int
    engine: np.ndarray
    sympy: np.ndarray | None = None
    difference: np.ndarray | None = None
    sympy_ok: bool = True
    difference_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.sympy_ok and self.difference_ok


@dataclass
class OrderReport:
    result: SeriesResult
    rows: list[OrderRow] = field(default_factory=list)
    sympy_note: str = ""  # why SymPy's side is missing, if it is

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def disagreeing(self) -> list[str]:
        return [f"f^({row.k})" for row in self.rows if not row.ok]


def verify_order(result: SeriesResult, rtol: float = 1e-3, atol: float = 1e-5) -> OrderReport:
    """Compare result's derivatives f^(k), k = 0..order, with SymPy's and with finite differences."""
    report = OrderReport(result, [OrderRow(k, result.derivatives[k]) for k in range(result.order + 1)])
    _sympy_side(report)
    _differences(report, rtol, atol)
    return report


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: Any) -> bool:
    same_nonfinite = ~np.isfinite(a) & (a == b)
    return bool(np.all(same_nonfinite | (np.abs(a - b) <= atol + rtol * np.abs(b))))


def _sympy_side(report: OrderReport) -> None:
    result = report.result
    try:
        exact = sympy_derivatives(result)
    except GradcliError as err:
        report.sympy_note = err.message
        return
    coefficients = np.abs(np.nan_to_num(result.taylor.reshape(result.order + 1, -1), posinf=0.0, neginf=0.0))
    float32 = result.problem.dtype == np.float32
    rtol = FLOAT32_SYMPY_RTOL if float32 else SYMPY_RTOL
    for row, values in zip(report.rows, exact):
        size = max(1.0, float(coefficients[:row.k + 1].max(initial=0.0)))
        atol = (FLOAT32_SYMPY_SCALE_ATOL if float32 else SYMPY_SCALE_ATOL) * math.factorial(row.k) * size
        row.sympy = values
        row.sympy_ok = _close(np.asarray(row.engine, np.float64), values, rtol, atol)


def _symbolic(result: SeriesResult) -> tuple[Any, np.ndarray, Any]:
    """(sympy, the output as an object array of SymPy expressions, the variable's symbol)."""
    import sympy as sp

    from gradcli.analysis.symbolic import translate

    index = tuple(0 for _ in result.problem.values[result.variable].shape)  # its one entry
    translation = translate(result.problem, {result.variable: [index]})

    (symbol,) = translation.symbols[result.variable].values()
    return sp, translation.output, symbol


def sympy_derivatives(result: SeriesResult) -> list[np.ndarray]:
    """SymPy's diff(f, x, k) at the point, k = 0..order, each shaped like the output (30 digits, then float64)."""
    sp, output, symbol = _symbolic(result)
    point = {symbol: sp.Float(result.at, DIGITS)}
    current = output.reshape(-1).tolist()
    out = []
    for k in range(result.order + 1):
        if k:
            current = [sp.diff(e, symbol) for e in current]
        numbers = [complex(sp.N(e, DIGITS, subs=point)) if hasattr(e, "free_symbols") else complex(e)
                   for e in current]
        out.append(np.array([z.real if z.imag == 0 else np.nan for z in numbers]).reshape(result.shape))
    return out


def series_coefficients(result: SeriesResult) -> list[Any]:
    """SymPy's exact Taylor coefficients of a scalar output about the point, k = 0..order.

    The point is read as the decimal it is written as (0.1 as 1/10)."""
    if result.value.size != 1:
        raise GradcliError("SymPy's series is shown for an expression with one number as its value", kind="symbolic")
    sp, output, symbol = _symbolic(result)
    h = sp.Symbol("h")
    x0 = sp.Rational(repr(result.at)) if np.isfinite(result.at) else sp.nan
    shifted = output.reshape(-1)[0].subs(symbol, x0 + h)
    try:
        series = sp.series(shifted, h, 0, result.order + 1).removeO()
    except (NotImplementedError, ValueError, TypeError) as err:
        raise GradcliError(f"SymPy could not expand the series: {err}", kind="symbolic") from None
    return [sp.simplify(series.coeff(h, k)) for k in range(result.order + 1)]


def _differences(report: OrderReport, rtol: float, atol: float) -> None:
    result = report.result
    p = result.problem
    name = result.variable
    x0 = float(p.values[name].reshape(-1)[0])
    scale = max(1.0, abs(x0))
    eps = float(np.finfo(np.float64).eps)

    def f(x: float) -> np.ndarray:
        leaves = {n: Tensor(np.asarray(x if n == name else v, np.float64).reshape(v.shape) if n == name
                            else np.asarray(v, np.float64)) for n, v in p.values.items()}
        with no_grad(), np.errstate(all="ignore"):
            out, _ = p.forward(leaves)
        return np.asarray(out.data, np.float64)

    def central(k: int, step: float) -> np.ndarray:
        return sum((-1) ** j * math.comb(k, j) * f(x0 + (k / 2 - j) * step) for j in range(k + 1)) / step ** k

    for row in report.rows[1:MAX_DIFFERENCE_ORDER + 1]:
        k = row.k
        h = eps ** (1.0 / (k + 4)) * scale
        row.difference = (4.0 * central(k, h / 2) - central(k, h)) / 3.0
        size = max(1.0, float(np.max(np.abs(f(x0)), initial=0.0)))
        grow = 2.0 ** (k - 1)
        row.difference_ok = _close(np.asarray(row.engine, np.float64), row.difference, rtol * grow, atol * grow * size)
