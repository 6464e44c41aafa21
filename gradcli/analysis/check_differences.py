"""The finite-difference side of a check.

Central differences, with step 1e-6·max(1, |x_i|) on one sampled coordinate at a time,
compared as torch.autograd.gradcheck does: |engine - fd| <= atol + rtol·|fd|. Where the
one-sided differences disagree, and still do at a step 16 times smaller, the point is a
kink: the engine's value passes when it lies between the two one-sided slopes. Hessian
entries are differences of the engine's gradient, as torch's gradgradcheck does (the
gradient itself is checked against differences of f in the same report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gradcli.analysis.check_plan import STEP, Entry, Report
from gradcli.analysis.symbolic import Index
from gradcli.api.evaluate import evaluate
from gradcli.api.problem import Result, leaf_cotangents
from gradcli.autodiff.engine import Tensor, no_grad, run_backward
from gradcli.autodiff.op import FUNCTIONS
from gradcli.autodiff.trace import Traced
from gradcli.lang.numbers import table_number
from gradcli.lang.tree import Expr

SMALL_STEP_RATIO = 16  # a kink's one-sided gap does not shrink with the step; a curve's does


class FrozenFunction:
    """f at moved values, and the engine's gradient there, with every detached sub-expression
    (detach, stop_gradient) frozen at its value at the point: the function whose derivative
    autograd and SymPy both compute, since no gradient flows through those values.

    The first evaluation must be at the point itself: it records the values to freeze.
    Both run as traced programs (autodiff/trace.py): the differences move one coordinate at
    a time, at one shape, so every evaluation after the first replays the first's numpy calls
    (a frozen value is an array no step made: a constant of the program, as it should be).
    """

    def __init__(self, result: Result):
        self.problem = result.problem
        self.cotangent = result.grad_output
        self.frozen: dict[int, np.ndarray] = {}
        self._output = Traced(self._eager_output)
        self._gradient = Traced(self._eager_gradient)

    def _freeze(self, expr: Expr, value: Any) -> None:
        op = FUNCTIONS.get(expr.value) if expr.kind == "call" else None
        if op is not None and not op.differentiable and op.sympy is None and not op.constructor:
            if id(expr) not in self.frozen:
                self.frozen[id(expr)] = np.array(value.data)  # a copy: detach returns its input's array
            value.data = self.frozen[id(expr)]

    def _forward(self, values: dict[str, np.ndarray], wrt: Iterable[str] = ()) -> tuple[Tensor, dict]:
        leaves = {n: Tensor(v, requires_grad=n in wrt) for n, v in values.items()}
        p = self.problem
        with np.errstate(all="ignore"):
            return evaluate(p.tree, leaves, source=p.source, on_node=self._freeze), leaves

    def output(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """f's entries (v·f for a vector-Jacobian product), flat."""
        data = self._output(values)[0]
        # A copy: f may be a variable itself, whose array the differences move in place.
        return np.array(np.sum(data * self.cotangent) if self.cotangent is not None else data, ndmin=1).reshape(-1)

    def gradient(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """The engine's gradient of a scalar f, every variable of wrt flattened one after another."""
        grads = self._gradient(values)
        return np.concatenate([np.zeros(values[n].size) if g is None else np.ravel(g)
                               for n, g in zip(self.problem.wrt, grads)])

    def _eager_output(self, values: dict[str, np.ndarray]) -> list[np.ndarray]:
        with no_grad():
            return [self._forward(values)[0].data]

    def _eager_gradient(self, values: dict[str, np.ndarray]) -> list[np.ndarray | None]:
        wrt = self.problem.wrt
        out, leaves = self._forward(values, wrt)
        with np.errstate(all="ignore"):
            found = run_backward([(out, Tensor(np.ones_like(out.data)))]) if out.requires_grad else {}
        return [None if g is None else g.data for g in leaf_cotangents(leaves, wrt, found).values()]


def finite_differences(report: Report) -> None:
    """Fill each entry's fd value by central differences in the sampled coordinates."""
    result = report.result
    p = result.problem
    values = {n: np.array(v, dtype=np.float64) for n, v in p.values.items()}
    f = FrozenFunction(result)
    offsets = np.cumsum([0] + [p.values[n].size for n in p.wrt])
    position = {n: k for n, k in zip(p.wrt, offsets)}
    columns: dict[tuple, Slopes] = {}
    for order, fn in ((1, f.output), (2, f.gradient)):
        needed = [e for e in report.entries if len(e.wrt) == order]
        if not needed:
            continue
        base = fn(values)
        for entry in needed:
            coord = entry.wrt[-1]
            key = (order, coord)
            if key not in columns:
                columns[key] = Slopes(fn, values, base, coord)
            if order == 2:
                a, i = entry.wrt[0]
                row = position[a] + int(np.ravel_multi_index(i, p.values[a].shape)) if i else position[a]
            else:
                row = int(np.ravel_multi_index(entry.out, result.value.shape)) if entry.out else 0
            _judge_fd(report, entry, columns[key], row)


class Slopes:
    """Differences of every output entry of fn in one coordinate, at step h and, when a verdict
    needs it, at h/16.

    At h: the central difference, the one-sided slopes, and the rounding noise of the central
    difference (8·eps·|f| / 2h). At h/16 the differences tell a kink (one-sided slopes that
    keep disagreeing while the central difference stays) from f changing faster than the
    step resolves (the central difference moves: a jump, a saturated exponential).
    """

    def __init__(self, fn: Callable, values: dict[str, np.ndarray], base: np.ndarray, coord: tuple[str, Index]):
        self.fn, self.values, self.base, self.coord = fn, values, base, coord
        self.x0 = float(values[coord[0]][coord[1]])
        self.h = STEP * max(1.0, abs(self.x0))
        self.central, self.right, self.left, self.noise = self._at(self.h)
        self._fine: tuple[np.ndarray, ...] | None = None

    def _at(self, h: float) -> tuple[np.ndarray, ...]:
        name, index = self.coord
        x, x0 = self.values[name], self.x0
        up, down = x0 + h, x0 - h
        try:
            x[index] = up
            f_up = self.fn(self.values)
            x[index] = down
            f_down = self.fn(self.values)
        finally:
            x[index] = x0
        with np.errstate(all="ignore"):
            noise = 8 * np.finfo(np.float64).eps * np.maximum(np.abs(f_up), np.abs(f_down)) / (up - down)
            return (f_up - f_down) / (up - down), (f_up - self.base) / (up - x0), (self.base - f_down) / (x0 - down), noise

    def fine(self) -> tuple[np.ndarray, ...]:
        if self._fine is None:
            self._fine = self._at(self.h / SMALL_STEP_RATIO)
        return self._fine


def _judge_fd(report: Report, entry: Entry, slopes: Slopes, row: int) -> None:
    tol = report.tolerance
    central = float(slopes.central[row])
    right, left = float(slopes.right[row]), float(slopes.left[row])
    entry.fd = central
    allowed = tol.atol + tol.rtol * abs(central)
    if not np.isfinite(central):
        entry.fd_undefined = f"differences give {central}"
        return
    if slopes.noise[row] > allowed:
        entry.fd_undefined = f"rounding swamps the step: differences are good to ±{table_number(slopes.noise[row], 2)} only"
        return
    gap = abs(right - left)
    if gap > allowed or abs(entry.engine - central) > allowed:
        # Before reading a kink or blaming the engine, look again at a smaller step.
        central2, right2, left2, _ = (float(a[row]) for a in slopes.fine())
        if not abs(central2 - central) <= allowed:
            entry.fd_undefined = "f changes faster than the step resolves: the differences do not settle"
            return
        if gap > allowed and abs(right2 - left2) > gap / 4:
            low, high = min(left, right), max(left, right)
            entry.kink = f"kink: one-sided slopes {table_number(low, 4)} and {table_number(high, 4)}"
            slack = tol.atol + tol.rtol * max(abs(low), abs(high))
            entry.fd_ok = bool(low - slack <= entry.engine <= high + slack)
            return
    report.finite_difference.add(entry.engine, central, tol.atol)
    entry.fd_ok = bool(abs(entry.engine - central) <= allowed)
