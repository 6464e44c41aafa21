"""Derivatives of higher order with respect to one variable, and Taylor coefficients, by Taylor mode.

    >>> r = derivative("x**3", {"x": 2.0}, order=3)
    >>> r.derivatives.tolist()
    [8.0, 12.0, 12.0, 6.0]
    >>> taylor("exp(x)", {"x": 0.0}, order=3).taylor.tolist()
    [1.0, 1.0, 0.5, 0.16666666666666666]

The variable is one scalar (the one wrt names, else the only variable that is a number); the
other variables are constants, and the expression may use them as arrays (sum(exp(x*v))).
Shapes: derivatives[k] and taylor[k] are shaped like the output, k = 0..order
(derivatives[0] and taylor[0] are the value). One evaluation records the operations
applied, then each one's Taylor rule (its record's `taylor`) carries the truncated power
series through: the cost grows as order**2, not 2**order (autodiff/taylor.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.api.problem import Problem, Result, differentiating, problem
from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.taylor import constant, propagate, tracing, variable
from gradcli.errors import GradcliError, format_shape, param
from gradcli.lang.tree import Expr, postorder

MAX_ORDER = 100  # beyond it the derivatives' k! overflows long before anything useful is left
DERIVATIVE_ORDER = 1  # derivative: f and f', as d/dx is asked most
TAYLOR_ORDER = 5  # taylor: up to the x**5 term, as SymPy's series(f, x) gives by default


@dataclass
class SeriesResult(Result):
    """A Result of derivative or taylor: the derivatives f^(k)(x0) and Taylor coefficients f^(k)(x0)/k!."""

    order: int = 0
    derivatives: np.ndarray | None = None  # (order + 1,) + output shape
    taylor: np.ndarray | None = None  # the same shape: derivatives[k] / k!

    @property
    def variable(self) -> str:
        return self.problem.wrt[0]

    @property
    def at(self) -> float:
        return float(self.problem.values[self.variable].reshape(-1)[0])


def derivative(expr: str | Expr, values: Mapping[str, Any], *, wrt: Iterable[str] | str | None = None,
               order: int = DERIVATIVE_ORDER, dtype: Any = None) -> SeriesResult:
    """f, f', ..., f^(order) at the point, with respect to one scalar variable: derivatives[k] is shaped like f."""
    return _series_result("derivative", expr, values, wrt, order, dtype)


def taylor(expr: str | Expr, values: Mapping[str, Any], *, wrt: Iterable[str] | str | None = None,
           order: int = TAYLOR_ORDER, dtype: Any = None) -> SeriesResult:
    """The Taylor coefficients f^(k)(x0) / k!, k = 0..order, about the variable's value x0."""
    return _series_result("taylor", expr, values, wrt, order, dtype)


def series_problem(expr: str | Expr, values: Mapping[str, Any], wrt: Iterable[str] | str | None,
                   order: int, dtype: Any = None) -> Problem:
    """The problem with its one variable checked: a scalar, the one wrt names, else the only variable (or the
    only one that is a number, the others being arrays)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= MAX_ORDER:
        raise GradcliError(f"{param('order')} must be a whole number from 0 to {MAX_ORDER}, not {order!r}",
                           kind="usage")
    p = expr if isinstance(expr, Problem) else problem(expr, values, wrt, dtype=dtype)
    if wrt is None and len(p.wrt) > 1:
        scalars = [n for n in p.wrt if p.values[n].size == 1]
        if len(scalars) == 1:  # sum(exp(x*v)) with v a vector: x
            p.wrt = scalars
    if len(p.wrt) != 1:
        raise GradcliError(f"derivatives of higher order are taken with respect to one variable, and the "
                           f"expression has {len(p.wrt)} numbers ({', '.join(p.wrt)}): name one with "
                           f"{param('wrt')} (the others are constants)", kind="name")
    name = p.wrt[0]
    if p.values[name].size != 1:
        first = next(node for node in postorder(p.tree) if node.kind == "name" and node.value == name)
        raise GradcliError(f"{name} has shape {format_shape(p.values[name].shape)}: derivatives of higher order "
                           f"are with respect to one number (other variables may be arrays)", kind="shape",
                           variable=name, span=first.span, source=p.source)
    return p


def coefficients(p: Problem, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, Taylor coefficients of the output in p's variable, (order + 1,) + output shape)."""
    name = p.wrt[0]
    leaves = {n: Tensor(v) for n, v in p.values.items()}  # no graph: the trace is enough
    with differentiating(p):
        with tracing() as trace:
            out, _ = p.forward(leaves)
        found = propagate(trace, {id(leaves[name]): variable(p.values[name], order)}, order)
    return out.data, found.get(id(out), constant(out.data, order))


def factorials(order: int, ndim: int, dtype: Any) -> np.ndarray:
    """k! for k = 0..order, shaped to multiply a series of ndim value axes."""
    return np.array([float(math.factorial(k)) for k in range(order + 1)], dtype).reshape((-1,) + (1,) * ndim)


def _series_result(kind: str, expr: str | Expr, values: Mapping[str, Any], wrt: Any, order: int,
                   dtype: Any) -> SeriesResult:
    from gradcli.api.diagnose import finite

    p = series_problem(expr, values, wrt, order, dtype)
    value, series = coefficients(p, order)
    with np.errstate(over="ignore"):
        derivatives = series * factorials(order, value.ndim, series.dtype)
    result = SeriesResult(kind, p, value, order=order, derivatives=derivatives, taylor=series)
    if not finite(series):
        result.warnings = [GradcliError("some derivatives are not finite (inf or nan): the function or one of its "
                                        "derivatives is not defined at the point", kind="value")]
    return result
