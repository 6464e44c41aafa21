"""The three-way check: the engine's derivatives against SymPy's and central finite differences.

    >>> from gradcli import functional
    >>> report = verify(functional.grad("mean(2*x)", {"x": [1, 2, 3]}))
    >>> report.ok, [(f.label, str(f.expr)) for f in report.formulas["x"]]
    (True, [('∂f/∂x_i', '2/3')])

The entries compared: for a gradient, ∂f/∂x_i; for a vector-Jacobian product, the
gradient of v·f; for a Jacobian, ∂f_o/∂x_i; for a Hessian, the gradient's entries and
∂²f/∂a_i∂b_j. At most `samples` coordinates of the variables (and `samples` output
entries of a Jacobian) are compared, chosen at random with a fixed seed; the report says
how many of each variable were.

Finite differences: central, with step 1e-6·max(1, |x_i|) on one sampled coordinate at a
time, compared as torch.autograd.gradcheck does: |engine - fd| <= atol + rtol·|fd|. Where
the one-sided differences disagree, and still do at a step 16 times smaller, the point is
a kink: the engine's value passes when it lies between the two one-sided slopes. Hessian
entries are differences of the engine's gradient, as torch's gradgradcheck does (the
gradient itself is checked against differences of f in the same report).

SymPy: the derivative of the translated expression (symbolic.py), evaluated at the point
with 30 digits, compared with |engine - sympy| <= 1e-12 + 1e-9·|sympy|. Where SymPy's
value is undefined (zoo, nan, a DiracDelta at its spike, a complex number) the entry is
not comparable at this point; where the expression cannot be translated, the SymPy
sub-check says why and the finite differences decide alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.autodiff.engine import Tensor, no_grad, run_backward
from gradcli.errors import GradcliError, param
from gradcli.api.evaluate import evaluate
from gradcli.api.functional import jacobian
from gradcli.api.problem import Result, leaf_cotangents, problem
from gradcli.api.functional import grad as engine_grad
from gradcli.autodiff.op import FUNCTIONS
from gradcli.lang.parser import Expr
from gradcli.analysis.symbolic import Index, symbol_name, translate

STEP = 1e-6
SMALL_STEP_RATIO = 16  # a kink's one-sided gap does not shrink with the step; a curve's does
SIMPLIFY_OPS = 60  # simplify() only formulas up to this many operations (it can take long)
NOT_COMPARABLE = "not comparable at this point"


@dataclass(frozen=True)
class Tolerance:
    """|engine - reference| <= atol + rtol·|reference|, per reference."""

    rtol: float = 1e-3
    atol: float = 1e-5
    sympy_rtol: float = 1e-9
    sympy_atol: float = 1e-12

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GradcliError(f"{param(name)} must be a finite number >= 0, not {value}", kind="usage")


@dataclass
class Entry:
    """One derivative compared three ways.

    wrt: one (name, index) for a first derivative, two for a second; out: the output
    entry of a Jacobian (None for a scalar).
    """

    head: str  # f, f_0 (an output entry), (v·f)
    wrt: tuple[tuple[str, Index], ...]
    out: Index | None
    engine: float
    formula: Any = None
    sympy: float | None = None
    sympy_undefined: str = ""  # what SymPy gave where its value is undefined, e.g. zoo
    sympy_ok: bool | None = None  # None: not compared
    fd: float | None = None
    fd_undefined: str = ""  # what the differences gave where they are not finite
    kink: str = ""  # the one-sided slopes where the differences found a kink
    fd_ok: bool | None = None

    @property
    def ok(self) -> bool:
        return self.sympy_ok is not False and self.fd_ok is not False

    @property
    def note(self) -> str:
        """Why a reference was not compared, or was compared as at a kink; '' otherwise."""
        undefined = [n for n in (self.sympy_undefined, self.fd_undefined) if n]
        parts = [f"{NOT_COMPARABLE} ({'; '.join(undefined)})"] if undefined else []
        return "; ".join(parts + ([self.kink] if self.kink else []))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(symbol_name(n, i) for n, i in self.wrt)

    @property
    def label(self) -> str:
        return derivative_label(self.head, self.names)


@dataclass
class Formula:
    """∂head/∂wrt[0] (∂²head/∂wrt[0]∂wrt[1]) = expr, with symbol names for the coordinates."""

    head: str
    wrt: tuple[str, ...]
    expr: Any
    general: bool = False  # one formula for every entry of a variable, in x_i

    @property
    def label(self) -> str:
        return derivative_label(self.head, self.wrt)


def derivative_label(head: str, wrt: tuple[str, ...]) -> str:
    """∂f/∂x_0, ∂f_1/∂x_0, ∂²f/∂x_0∂y_1."""
    return f"∂{'²' if len(wrt) == 2 else ''}{head}/" + "".join(f"∂{w}" for w in wrt)


@dataclass
class SubCheck:
    """One reference's summary: the largest errors over the entries it was compared on."""

    max_abs_err: float | None = None
    max_rel_err: float | None = None
    compared: int = 0
    note: str = ""  # why it could not run at all

    def add(self, engine: float, reference: float, atol: float) -> None:
        """Count one comparison. The relative error counts only where |reference| > atol:
        nearer 0 the absolute tolerance decides, and a ratio of two roundings means nothing."""
        abs_err = abs(engine - reference)
        self.max_abs_err = abs_err if self.max_abs_err is None else max(self.max_abs_err, abs_err)
        if abs(reference) > atol:
            rel_err = abs_err / abs(reference)
            self.max_rel_err = rel_err if self.max_rel_err is None else max(self.max_rel_err, rel_err)
        self.compared += 1


@dataclass
class Report:
    """What a check found: every entry, each reference's summary, how much was sampled."""

    result: Result
    entries: list[Entry]
    tolerance: Tolerance
    samples: int  # the budget of coordinates (and of output entries)
    sampled: dict[str, int]  # coordinates compared per variable
    outputs: int | None  # output entries compared (Jacobian), else None
    sympy: SubCheck = field(default_factory=SubCheck)
    finite_difference: SubCheck = field(default_factory=SubCheck)
    step: float = STEP
    formulas: dict[str, list[Formula]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    def disagreeing(self) -> list[str]:
        return [e.label for e in self.entries if not e.ok]


def verify(result: Result, tolerance: Tolerance = Tolerance(), samples: int = 32, seed: int = 0) -> Report:
    """Compare result's derivatives with SymPy's and with central finite differences."""
    report = plan(result, samples, seed, tolerance)
    finite_differences(report)
    symbolic_side(report, evaluate=True)
    return report


def derivative(expr: str, values: dict[str, Any], wrt: Any = None) -> Result:
    """The gradient of a scalar expression, the Jacobian of any other: what `gradcli check` checks."""
    p = problem(expr, values, wrt)
    with no_grad():
        out, _ = p.forward()
    return engine_grad(p, {}) if out.size == 1 else jacobian(p, {})


def formulas(result: Result, samples: int = 32, seed: int = 0) -> Report:
    """The symbolic derivatives alone (simplified), as a report without numeric comparisons."""
    report = plan(result, samples, seed, Tolerance())
    symbolic_side(report, evaluate=False)
    if report.sympy.note:
        raise GradcliError(f"no symbolic derivative: {report.sympy.note}", kind="symbolic")
    return report


# -- which entries --------------------------------------------------------------------
def choose(shapes: dict[str, tuple[int, ...]], budget: int, rng: np.random.Generator) -> dict[str, list[Index]]:
    """All indices when there are at most budget in total, else about budget, spread by size."""
    if budget < 1:
        raise GradcliError(f"{param('check_samples')} must be at least 1", kind="usage")
    sizes = {name: int(np.prod(shape, dtype=np.int64)) for name, shape in shapes.items()}
    total = sum(sizes.values())
    out = {}
    for name, shape in shapes.items():
        if total <= budget:
            flat = np.arange(sizes[name])
        else:
            share = min(sizes[name], max(1, round(budget * sizes[name] / total)))
            flat = np.sort(rng.choice(sizes[name], share, replace=False))
        out[name] = [tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]
    return out


def plan(result: Result, samples: int, seed: int, tolerance: Tolerance) -> Report:
    """The entries to compare, with the engine's values and labels."""
    p = result.problem
    rng = np.random.default_rng(seed)
    coords = choose({n: p.values[n].shape for n in p.wrt}, samples, rng)
    first = [(n, i) for n in p.wrt for i in coords[n]]
    entries: list[Entry] = []
    outputs = None
    if result.kind == "jacobian":
        outs = choose({"f": result.value.shape}, samples, rng)["f"]
        outputs = len(outs)
        for o in outs:
            for n, i in first:
                entries.append(Entry(symbol_name("f", o), ((n, i),), o, float(result.jacobian[n][o + i])))
    else:
        head = "(v·f)" if result.kind == "vjp" else "f"
        for n, i in first:
            entries.append(Entry(head, ((n, i),), None, float(result.gradients[n][i])))
    if result.kind == "hessian":
        for a, i in first:
            for b, j in first:
                entries.append(Entry("f", ((a, i), (b, j)), None, float(result.hessian[a][b][i + j])))
    return Report(result, entries, tolerance, samples, {n: len(c) for n, c in coords.items()}, outputs)


# -- finite differences ------------------------------------------------------------------
class FrozenFunction:
    """f at moved values, and the engine's gradient there, with every detached sub-expression
    (detach, stop_gradient) frozen at its value at the point: the function whose derivative
    autograd and SymPy both compute, since no gradient flows through those values.

    The first evaluation must be at the point itself: it records the values to freeze.
    """

    def __init__(self, result: Result):
        self.problem = result.problem
        self.cotangent = result.grad_output
        self.frozen: dict[int, np.ndarray] = {}

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
        with no_grad():
            data = self._forward(values)[0].data
        # A copy: f may be a variable itself, whose array the differences move in place.
        return np.array(np.sum(data * self.cotangent) if self.cotangent is not None else data, ndmin=1).reshape(-1)

    def gradient(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """The engine's gradient of a scalar f, every variable of wrt flattened one after another."""
        wrt = self.problem.wrt
        out, leaves = self._forward(values, wrt)
        with np.errstate(all="ignore"):
            found = run_backward([(out, Tensor(np.ones_like(out.data)))]) if out.requires_grad else {}
        grads = leaf_cotangents(leaves, wrt, found)
        return np.concatenate([np.zeros(leaves[n].size) if grads[n] is None else np.ravel(grads[n].data) for n in wrt])


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
        entry.fd_undefined = f"rounding swamps the step: differences are good to ±{slopes.noise[row]:.2g} only"
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
            entry.kink = f"kink: one-sided slopes {low:.4g} and {high:.4g}"
            slack = tol.atol + tol.rtol * max(abs(low), abs(high))
            entry.fd_ok = bool(low - slack <= entry.engine <= high + slack)
            return
    report.finite_difference.add(entry.engine, central, tol.atol)
    entry.fd_ok = bool(abs(entry.engine - central) <= allowed)


# -- SymPy ---------------------------------------------------------------------------------
def symbolic_side(report: Report, *, evaluate: bool) -> None:
    """Fill each entry's SymPy formula (and, with evaluate, its value at the point)."""
    import sympy as sp

    result = report.result
    p = result.problem
    # Small problems get every entry of every variable as a symbol: general formulas.
    if sum(v.size for v in p.values.values()) <= report.samples:
        free = {n: list(np.ndindex(v.shape)) for n, v in p.values.items()}
    else:
        free = {n: sorted({i for e in report.entries for m, i in e.wrt if m == n}) for n in p.wrt}
    try:
        t = translate(p, free)
    except GradcliError as err:
        if err.kind != "symbolic":
            raise
        report.sympy.note = err.message
        return
    f = t.output
    if result.kind == "vjp":
        # v·f, leaving out the entries no symbol reaches: they are constants to every derivative.
        terms = [(float(c), e) for c, e in zip(np.ravel(result.grad_output), f.reshape(-1))
                 if getattr(e, "free_symbols", None)]
        f = np.asarray(sp.Add(*((sp.Integer(int(c)) if c.is_integer() else sp.Float(c)) * e for c, e in terms)),
                       dtype=object)
    point = {s: sp.Float(v, 30) for s, v in t.point.items()}
    firsts: dict[tuple, Any] = {}
    for entry in report.entries:
        (a, i), *rest = entry.wrt
        key = (entry.out, a, i)
        try:
            if key not in firsts:
                # NOTE: a gradient's entries name no output index; its output may still be
                # shaped, with one entry, as (1,) or (1, 1).
                out = f[entry.out] if entry.out else f.reshape(-1)[0]
                firsts[key] = sp.diff(sp.sympify(out), t.symbols[a][i])
            d = firsts[key]
            if rest:
                b, j = rest[0]
                d = sp.diff(d, t.symbols[b][j])
            entry.formula = d if evaluate else _tidy(sp, d)
            if evaluate:
                _judge_sympy(sp, report, entry, d, point)
        except Exception as err:  # noqa: BLE001 - SymPy fails in many ways (huge integers, ...); one entry says so
            entry.sympy_undefined = f"SymPy fails here ({type(err).__name__}: {err})"
    report.formulas = group_formulas(sp, report, t.symbols)


def _tidy(sp: Any, expr: Any) -> Any:
    return sp.simplify(expr) if sp.count_ops(expr) <= SIMPLIFY_OPS else expr


def _judge_sympy(sp: Any, report: Report, entry: Entry, d: Any, point: dict) -> None:
    value = d.xreplace(point).evalf(30) if d.free_symbols else d.evalf(30)
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        entry.sympy_undefined = f"SymPy gives {value}"
        return
    try:
        c = complex(value)
    except (TypeError, ValueError):
        entry.sympy_undefined = f"SymPy gives {value}"
        return
    if abs(c.imag) > 1e-12 * max(1.0, abs(c.real)):
        entry.sympy_undefined = f"SymPy gives the complex value {c:.6g}"
        return
    tol = report.tolerance
    entry.sympy = c.real
    agrees = math.isfinite(entry.engine) and \
        abs(entry.engine - entry.sympy) <= tol.sympy_atol + tol.sympy_rtol * abs(entry.sympy)
    if not agrees and entry.kink and entry.fd_ok:
        # NOTE: SymPy has conventions of its own at some kinks (a three-way tie in Max gives each
        # Heaviside(0) = 1/2, gradcli 1/3); the engine lies between the one-sided slopes, so
        # neither is wrong there.
        entry.sympy_undefined = f"SymPy's convention at this kink gives {entry.sympy:.6g}"
        return
    if math.isfinite(entry.engine):
        report.sympy.add(entry.engine, entry.sympy, tol.sympy_atol)
    entry.sympy_ok = agrees


def group_formulas(sp: Any, report: Report, symbols: dict[str, dict[Index, Any]]) -> dict[str, list[Formula]]:
    """Formulas by variable; one, in x_i, when every first derivative of a variable reads alike.

    Each coordinate's own symbol is rewritten with letter indices (x_i, W_i_j) to compare.
    """
    out: dict[str, list[Formula]] = {}
    for name in report.result.wrt:
        mine = [e for e in report.entries if e.wrt[0][0] == name and e.formula is not None]
        out[name] = [Formula(e.head, e.names, e.formula) for e in mine]
        if len(mine) < 2 or any(len(e.wrt) > 1 or e.out is not None for e in mine):
            continue
        rank = len(mine[0].wrt[0][1])
        letters = tuple("ijklmn"[k] for k in range(rank)) if rank <= 6 else tuple(f"i{k}" for k in range(rank))
        general = sp.Symbol(symbol_name(name, letters), real=True)
        shared = {e.formula.xreplace({symbols[name][e.wrt[0][1]]: general}) for e in mine}
        if len(shared) == 1:
            out[name] = [Formula(mine[0].head, (general.name,), shared.pop(), general=True)]
    return out
