"""What a check compares: the entries chosen, the engine's value of each, and the report
that the finite differences and SymPy fill in.

The entries compared: for a gradient, ∂f/∂x_i; for a vector-Jacobian product, the
gradient of v·f; for a Jacobian, ∂f_o/∂x_i; for a Hessian, the gradient's entries and
∂²f/∂a_i∂b_j. At most `samples` coordinates of the variables (and `samples` output
entries of a Jacobian) are compared, chosen at random with a fixed seed; the report says
how many of each variable were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.analysis.symbolic import Index, symbol_name
from gradcli.api.problem import Result
from gradcli.errors import GradcliError, param

STEP = 1e-6  # finite differences' step, relative to max(1, |x_i|)
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
    along: str = ""  # a derivative along a direction: what the step variable moves (check_forward.py)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    def disagreeing(self) -> list[str]:
        return [e.label for e in self.entries if not e.ok]


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
