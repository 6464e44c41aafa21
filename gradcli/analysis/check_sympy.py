"""The SymPy side of a check.

The derivative of the translated expression (symbolic.py), evaluated at the point with
30 digits, compared with |engine - sympy| <= 1e-12 + 1e-9·|sympy|. Where SymPy's value is
undefined (zoo, nan, a DiracDelta at its spike, a complex number) the entry is not
comparable at this point; where the expression cannot be translated, the SymPy sub-check
says why and the finite differences decide alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.analysis.check_plan import Entry, Formula, Report
from gradcli.analysis.symbolic import Index, symbol_name, translate
from gradcli.errors import GradcliError
from gradcli.lang.numbers import table_number

SIMPLIFY_OPS = 60  # simplify() only formulas up to this many operations (it can take long)


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
        entry.sympy_undefined = f"SymPy's convention at this kink gives {table_number(entry.sympy, 6)}"
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
