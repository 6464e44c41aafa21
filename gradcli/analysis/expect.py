"""Checking a hand-derived derivative (--expect): a formula against autograd at the point, on
random points and symbolically, naming the shape of a mistake where it can be seen.

    >>> from gradcli.api import functional
    >>> r = functional.grad("(w*x - y)**2", {"w": 1, "x": 2, "y": 4}, wrt="w")
    >>> v = expect(r, {"w": "2*x*(x*w - y)"}).verdicts[0]
    >>> v.at_point, v.first_difference is None, v.symbolic, v.ok
    (True, True, 'equal', True)

A formula is written in the expression language over the expression's variables, shaped
like the derivative it stands for (numpy's broadcasting applies): the gradient's shape for
a gradient, output.shape + variable.shape for a Jacobian, a.shape + b.shape for the Hessian
block "a,b". Both sides are exact computations, so they are held to a tight tolerance
(RTOL). The random points redraw every variable, in four styles (normal, positive, near the
given point, small integers, where kinks and ties sit); a point where either side is not
finite, or where the expression is undefined, is not compared. Where autograd meets a kink
(api/kinks.py) it follows PyTorch's convention, and a formula that differs only there is
right, with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from gradcli.analysis.symbolic import translate
from gradcli.api import functional
from gradcli.api.evaluate import check_functions, evaluate, variables
from gradcli.api.problem import Problem, Result
from gradcli.autodiff.engine import Tensor, as_array, no_grad
from gradcli.errors import GradcliError, format_shape, param
from gradcli.lang.parser import parse

DRAWS = 200  # random points drawn
RTOL = {np.dtype(np.float64): 1e-8, np.dtype(np.float32): 1e-4}  # per entry, relative to the larger side
SYMBOLIC_ENTRIES = 36  # SymPy is asked only when the variables have at most this many entries
SIMPLIFY_OPS = 80  # differences longer than this are expanded, not simplified (simplify can take long)
FACTOR_OPS = 6  # a ratio of the two formulas up to this many operations is named as a missing factor
TARGET = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:,\s*([A-Za-z_]\w*)\s*)?$")


@dataclass
class Difference:
    """A point where the formula and autograd differ: every variable's value there, and both sides."""

    point: dict[str, np.ndarray]
    yours: np.ndarray
    autograd: np.ndarray


@dataclass
class Verdict:
    """One formula's three verdicts and the diagnosis of what is wrong ('' when it is right)."""

    target: str  # the variable, or "a,b" for a Hessian block
    label: str  # ∂f/∂w, ∂²f/∂a∂b, J_w
    formula: str
    yours: np.ndarray  # both sides at the given point
    autograd: np.ndarray
    at_point: bool
    checked: int  # random points compared
    first_difference: Difference | None
    symbolic: str  # equal, different or undecided
    symbolic_difference: str = ""  # autograd's minus yours, simplified, when SymPy sees them differ
    symbolic_note: str = ""  # why SymPy could not decide
    sign_slip: str = ""  # a term of yours whose sign, flipped, makes it right
    symbolic_factor: str = ""  # autograd's over yours, when that is a short formula (a missing chain-rule factor)
    diagnosis: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.at_point and self.first_difference is None and self.symbolic != "different"


@dataclass
class ExpectReport:
    result: Result
    verdicts: list[Verdict]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


def expect(result: Result, formulas: Mapping[str, str], draws: int = DRAWS, seed: int = 0) -> ExpectReport:
    """Each formula (by target: a variable, "a,b" for a Hessian block, "" for the only one) against result."""
    targets = derivatives(result)
    chosen = {_target(result, key, targets): text for key, text in formulas.items()}
    if len(chosen) != len(formulas):
        raise GradcliError(f"{param('expect')} gives two formulas for one derivative", kind="usage")
    points = list(_draws(result, draws, seed))
    return ExpectReport(result, [_verdict(result, target, text, targets[target], points)
                                 for target, text in chosen.items()])


def derivatives(result: Result) -> dict[str, np.ndarray]:
    """The derivatives a formula may stand for, by target name."""
    if result.kind == "jacobian":
        return dict(result.jacobian)
    if result.kind == "hessian":
        return {f"{a},{b}": result.hessian[a][b] for a in result.wrt for b in result.wrt}
    return dict(result.gradients)


def _target(result: Result, key: str, targets: Mapping[str, Any]) -> str:
    if not key:
        if len(targets) != 1:
            raise GradcliError(f"{param('expect')} needs a name for each formula here, as NAME=FORMULA: the "
                               f"derivatives are {', '.join(targets)}", kind="usage")
        return next(iter(targets))
    m = TARGET.match(key)
    name = None if m is None else m.group(1) + ("," + m.group(2) if m.group(2) else
                                                 "," + m.group(1) if result.kind == "hessian" else "")
    if name not in targets:
        raise GradcliError(f"{param('expect')} names {key!r}, which is not a derivative computed here "
                           f"(they are: {', '.join(targets)})", kind="usage")
    return name


def _label(result: Result, target: str) -> str:
    if result.kind == "hessian":
        a, b = target.split(",")
        return f"∂²f/∂{a}∂{b}" if a != b else f"∂²f/∂{a}²"
    head = "(v·f)" if result.kind == "vjp" else "f"
    return f"∂{head}/∂{target}"


# -- the formula and autograd at a point ------------------------------------------------
class _Formula:
    """A parsed formula, evaluated at any values of the expression's variables."""

    def __init__(self, text: str, result: Result, target: str):
        self.text = text
        self.tree = parse(text)
        check_functions(self.tree, text)
        self.names = variables(self.tree)
        unknown = [n for n in self.names if n not in result.problem.values]
        if unknown:
            raise GradcliError(f"the formula for {target} uses {', '.join(unknown)}, which "
                               f"{'is not a variable' if len(unknown) == 1 else 'are not variables'} of the "
                               f"expression (its variables: {', '.join(result.problem.names)})", kind="name")

    def at(self, values: Mapping[str, np.ndarray], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        with no_grad():
            out = evaluate(self.tree, {n: Tensor(values[n]) for n in self.names}, source=self.text).data
        try:
            return np.broadcast_to(out, shape).astype(dtype)
        except ValueError:
            raise GradcliError(f"the formula has shape {format_shape(out.shape)}, and the derivative it stands "
                               f"for {format_shape(shape)}", kind="shape", source=self.text) from None


def _autograd_at(result: Result, values: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], bool] | None:
    """Every target's derivative at values, and whether autograd met a kink there; None where undefined."""
    p = replace(result.problem, values={n: as_array(v, result.problem.dtype) for n, v in values.items()})
    try:
        with np.errstate(all="ignore"):
            if result.kind in ("grad", "vjp"):
                again = functional.grad(p, {}, grad_output=result.grad_output)
            else:
                again = getattr(functional, result.kind)(p, {})
    except GradcliError:
        return None
    if not np.all(np.isfinite(again.value)):
        return None
    return derivatives(again), bool(again.notes)


def _agree(yours: np.ndarray, autograd: np.ndarray) -> np.ndarray:
    """Entry by entry, within RTOL of the larger side (and of the largest entry, for entries near 0)."""
    rtol = RTOL.get(autograd.dtype, RTOL[np.dtype(np.float64)])
    y, a = yours.astype(np.float64), autograd.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
    return np.abs(y - a) <= rtol * np.maximum(np.maximum(np.abs(y), np.abs(a)), scale * 1e-2)


def _draws(result: Result, count: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """Values for every variable, in turn: normal, positive, near the given point, small integers."""
    rng = np.random.default_rng(seed)
    given = result.problem.values
    for k in range(count):
        style = k % 4
        point = {}
        for name, v in given.items():
            if style == 0:
                point[name] = rng.normal(0.0, 1.5, v.shape)
            elif style == 1:
                point[name] = rng.uniform(0.1, 3.0, v.shape)
            elif style == 2:
                point[name] = v + rng.normal(0.0, 0.5, v.shape) * (1.0 + np.abs(v))
            else:
                point[name] = rng.integers(-3, 4, v.shape).astype(np.float64)
        yield point


# -- the verdicts --------------------------------------------------------------------------
@dataclass
class _Pair:
    point: dict[str, np.ndarray]
    yours: np.ndarray
    autograd: np.ndarray
    kink: bool

    @property
    def agree(self) -> np.ndarray:
        return _agree(self.yours, self.autograd)


def _verdict(result: Result, target: str, text: str, autograd: np.ndarray,
             points: list[dict[str, np.ndarray]]) -> Verdict:
    formula = _Formula(text, result, target)
    dtype = result.problem.dtype
    yours = formula.at(result.problem.values, autograd.shape, dtype)
    at_point = bool(np.all(_agree(yours, autograd)))
    pairs = [_Pair(dict(result.problem.values), yours, autograd, bool(result.notes))]
    for point in points:
        found = _autograd_at(result, point)
        if found is None:
            continue
        theirs, kink = found
        try:
            mine = formula.at({n: as_array(v, dtype) for n, v in point.items()}, autograd.shape, dtype)
        except GradcliError:
            continue
        if np.all(np.isfinite(mine)) and np.all(np.isfinite(theirs[target])):
            pairs.append(_Pair(point, mine, theirs[target], kink))
    compared = pairs[1:]
    differing = [p for p in compared if not p.agree.all()]
    away = [p for p in differing if not p.kink]
    first = away[0] if away else None
    verdict = Verdict(target, _label(result, target), text, yours, autograd, at_point, len(compared),
                      None if first is None else Difference(first.point, first.yours, first.autograd), "undecided")
    if differing and not away:
        p = differing[0]
        verdict.notes.append(f"differs only where autograd meets a kink, where the derivative does not exist and "
                             f"autograd follows PyTorch's convention (first at {_point_text(p.point)})")
    _symbolic(verdict, result, formula, pairs)
    if not verdict.ok:
        verdict.diagnosis = diagnose(result, target, [p for p in pairs if not p.kink], verdict.symbolic_difference,
                                     verdict.symbolic_factor, verdict.sign_slip)
    return verdict


def _point_text(point: Mapping[str, np.ndarray], limit: int = 6) -> str:
    from gradcli.lang.numbers import plain_array

    return ", ".join(f"{n}={plain_array(np.asarray(v))}" for n, v in list(point.items())[:limit])


# -- the diagnosis -------------------------------------------------------------------------
def diagnose(result: Result, target: str, pairs: list[_Pair], symbolic_difference: str = "",
             symbolic_factor: str = "", sign_slip: str = "") -> str:
    """The shape of the mistake, where it can be seen: a factor, a sign, a transpose, a subset, a term."""
    ys = np.stack([p.yours.astype(np.float64).ravel() for p in pairs])
    ag = np.stack([p.autograd.astype(np.float64).ravel() for p in pairs])
    factor = _constant_ratio(ys, ag)
    if factor is not None:
        if factor == 0:
            return "yours is 0 where the derivative is not"
        if factor == -1:
            return "yours has the wrong sign: it is −1 × the derivative"
        return f"yours is {_fraction(factor)} × the derivative: a constant factor is missing or extra"
    if _transposed(result, target, pairs):
        return ("yours is the transpose of the Jacobian: its rows must be the outputs and its columns the "
                "inputs, J[i, j] = ∂out_i/∂x_j")
    offset = ys - ag
    if offset.flat[0] != 0 and np.allclose(offset, offset.flat[0], rtol=1e-6,
                                           atol=1e-9 * max(1.0, float(np.abs(ag).max()))):
        return f"yours is the derivative plus {_fraction(float(offset.flat[0]))} everywhere: a constant term too many"
    region = _region(result, pairs)
    if region:
        return region
    if sign_slip:
        return f"a sign slip: the term {sign_slip} of yours has the wrong sign"
    if symbolic_factor:
        return f"the derivative is yours × {symbolic_factor}: a factor is missing (a chain rule's inner derivative?)"
    if symbolic_difference:
        return f"the derivative minus yours is {symbolic_difference}: a term is missing or wrong"
    return "yours differs from the derivative at the points shown"


def _constant_ratio(ys: np.ndarray, ag: np.ndarray) -> float | None:
    big = np.abs(ag) > 1e-9 * max(1.0, float(np.abs(ag).max()))
    if not big.any() or not np.allclose(ys[~big], 0.0, atol=1e-9 * max(1.0, float(np.abs(ag).max()))):
        return None
    ratios = ys[big] / ag[big]
    c = float(np.median(ratios))
    return c if np.allclose(ratios, c, rtol=1e-6, atol=1e-9) and not np.isclose(c, 1.0) else None


def _fraction(c: float) -> str:
    f = Fraction(c).limit_denominator(24)
    if abs(float(f) - c) <= 1e-9 * max(1.0, abs(c)):
        return str(f)
    return f"{c:.6g}"


def _transposed(result: Result, target: str, pairs: list[_Pair]) -> bool:
    """Whether yours, with the output's axes and the variable's swapped, is the Jacobian."""
    if result.kind != "jacobian":
        return False
    out_nd = result.value.ndim
    var_shape = result.problem.values[target].shape
    if result.value.shape != var_shape or not var_shape:
        return False
    swap = list(range(out_nd, 2 * out_nd)) + list(range(out_nd))
    return all(_agree(np.transpose(p.yours, swap), p.autograd).all() for p in pairs)


def _region(result: Result, pairs: list[_Pair]) -> str:
    """'agrees where x > 0 ...': agreement decided by the sign of a variable, entry by entry or as a whole."""
    for name, v in result.problem.values.items():
        shape = pairs[0].yours.shape
        if v.shape == shape and v.size > 1:  # entry by entry (an elementwise derivative)
            agree = np.concatenate([p.agree.ravel() for p in pairs])
            values = np.concatenate([np.broadcast_to(p.point[name], shape).ravel() for p in pairs])
        elif v.size == 1:
            agree = np.array([p.agree.all() for p in pairs])
            values = np.array([float(np.ravel(p.point[name])[0]) for p in pairs])
        else:
            continue
        if agree.all() or not agree.any():
            continue
        for sign, where, other in ((1, ">", "<"), (-1, "<", ">")):
            if np.array_equal(agree[values != 0], (sign * values > 0)[values != 0]):
                return (f"yours agrees where {name} {where} 0 and differs where {name} {other} 0: a case is "
                        f"missing (as of abs, relu or max)")
    return ""


# -- SymPy ----------------------------------------------------------------------------------
def _symbolic(verdict: Verdict, result: Result, formula: _Formula, pairs: list[_Pair]) -> None:
    p = result.problem
    if sum(v.size for v in p.values.values()) > SYMBOLIC_ENTRIES:
        verdict.symbolic_note = f"more than {SYMBOLIC_ENTRIES} entries in the variables"
        return
    try:
        import sympy as sp

        free = {n: list(np.ndindex(v.shape)) for n, v in p.values.items()}
        theirs = _symbolic_derivative(sp, result, verdict.target, free)
        mine_problem = Problem(formula.text, formula.tree, formula.names, formula.names,
                               {n: p.values[n] for n in formula.names}, p.dtype)
        mine = np.broadcast_to(translate(mine_problem, {n: free[n] for n in formula.names}).output, theirs.shape)
        differences = [_simplified(sp, sp.sympify(t) - sp.sympify(m)) for t, m in zip(theirs.ravel(), mine.ravel())]
    except (GradcliError, TypeError, ValueError, AttributeError) as err:
        verdict.symbolic_note = getattr(err, "message", None) or "SymPy cannot compare these formulas"
        return
    nonzero = [(i, d) for i, d in zip(np.ndindex(theirs.shape), differences) if d != 0]
    if not nonzero:
        verdict.symbolic = "equal"
        return
    # A difference SymPy leaves unsimplified may still be 0: the numbers decide whether it is not.
    if any(not pair.agree.all() for pair in pairs if not pair.kink):
        verdict.symbolic = "different"
        index, d = nonzero[0]
        where = "" if not index else f" (entry {list(index)})"
        verdict.symbolic_difference = f"{d}{where}"
        verdict.symbolic_factor = _factor(sp, theirs[index], mine[index])
        verdict.sign_slip = _sign_slip(sp, theirs[index], mine[index])
    else:
        verdict.symbolic_note = "SymPy cannot simplify the difference to 0, and no point shows it is not"


def _symbolic_derivative(sp: Any, result: Result, target: str, free: dict) -> np.ndarray:
    t = translate(result.problem, free)
    f = t.output
    symbols = t.symbols
    if result.kind == "vjp":
        f = np.asarray(sp.Add(*(float(c) * e for c, e in zip(np.ravel(result.grad_output), f.ravel()))), dtype=object)
    if result.kind in ("grad", "vjp"):
        (scalar,) = f.ravel()
        return _array(sp, [sp.diff(scalar, symbols[target][i]) for i in free[target]], result.problem.values[target].shape)
    if result.kind == "jacobian":
        entries = [sp.diff(out, symbols[target][i]) for out in f.ravel() for i in free[target]]
        return _array(sp, entries, f.shape + result.problem.values[target].shape)
    a, b = target.split(",")
    (scalar,) = f.ravel()
    entries = [sp.diff(scalar, symbols[a][i], symbols[b][j]) for i in free[a] for j in free[b]]
    return _array(sp, entries, result.problem.values[a].shape + result.problem.values[b].shape)


def _array(sp: Any, entries: list, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(len(entries), dtype=object)
    out[:] = entries
    return out.reshape(shape)


def _factor(sp: Any, theirs: Any, mine: Any) -> str:
    """theirs / mine when that is a short product, mine is not a number, and neither is the ratio (a
    constant factor is seen numerically): the shape of a chain rule's missing inner derivative."""
    mine = sp.sympify(mine)
    if mine.is_number:
        return ""
    ratio = _simplified(sp, sp.sympify(theirs) / mine)
    short = sp.count_ops(ratio) <= FACTOR_OPS and not ratio.has(sp.Add)
    return str(ratio) if short and not ratio.is_number else ""


def _sign_slip(sp: Any, theirs: Any, mine: Any) -> str:
    """The term of mine (a sum) whose sign, flipped, gives theirs; '' when there is none."""
    mine = sp.sympify(mine)
    terms = sp.Add.make_args(sp.expand(mine))
    if len(terms) < 2:
        return ""
    for term in terms:
        if _simplified(sp, sp.sympify(theirs) - (mine - 2 * term)) == 0:
            return str(term)
    return ""


def _simplified(sp: Any, d: Any) -> Any:
    return sp.simplify(d) if sp.count_ops(d) <= SIMPLIFY_OPS else sp.expand(d)

