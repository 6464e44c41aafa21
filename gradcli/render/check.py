"""The check's output: its View (the result's, with the check's JSON object and rich
table added), and the View of symbolic derivatives (--symbolic, --latex).

Both the table and the JSON are built from a check.Report; formulas are written by SymPy
(pretty, LaTeX or its plain `str`). rich and sympy are imported by the functions that
draw or print with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradcli.analysis.check import Formula, Report, SubCheck
from gradcli.api.problem import Result
from gradcli.lang.numbers import json_number, table_number, to_json
from gradcli.render.result import payload, result_view
from gradcli.render.view import View, once

FORMULA_WIDTH = 48  # characters of a formula shown in a table cell (JSON has it whole)
MAX_ENTRIES = 40  # table rows before only disagreeing entries and the first others are shown


def _number(v: float | None) -> float | str | None:
    return None if v is None else json_number(v)


def _errors(sub: SubCheck) -> dict[str, Any]:
    return {"max_abs_err": _number(sub.max_abs_err), "max_rel_err": _number(sub.max_rel_err), "compared": sub.compared}


def check_payload(report: Report, latex: bool = False) -> dict[str, Any]:
    """The "check" object of the JSON output."""
    tol = report.tolerance
    sympy: dict[str, Any] = {**_errors(report.sympy), "derivatives": formula_strings(report)}
    if latex:
        sympy["latex"] = formula_strings(report, latex=True)
    if report.sympy.note:
        sympy["unavailable"] = report.sympy.note
    p = report.result.problem
    out: dict[str, Any] = {
        "ok": report.ok,
        "sympy": sympy,
        "finite_difference": {**_errors(report.finite_difference), "step": report.step},
        "tolerance": {"finite_difference": {"rtol": tol.rtol, "atol": tol.atol},
                      "sympy": {"rtol": tol.sympy_rtol, "atol": tol.sympy_atol}},
        "sampled": {n: {"checked": k, "of": int(p.values[n].size)} for n, k in report.sampled.items()},
        # (the engine's numbers in its dtype's digits; the references are float64)
        "entries": [{"entry": e.label, "autograd": to_json(np.asarray(e.engine, p.dtype)), "sympy": _number(e.sympy),
                     "finite_difference": _number(e.fd), "ok": e.ok,
                     "agrees": {"sympy": e.sympy_ok, "finite_difference": e.fd_ok},
                     "note": e.note} for e in report.entries],
        "disagreeing": report.disagreeing(),
    }
    if report.along:
        out["along"] = report.along
    if report.outputs is not None:
        out["sampled"]["output entries"] = {"checked": report.outputs, "of": int(report.result.value.size)}
    return out


def formula_strings(report: Report, latex: bool = False) -> dict[str, dict[str, str]]:
    """{variable: {∂f/∂x_i: formula}} in SymPy's plain (or LaTeX) spelling."""
    import sympy as sp

    return {name: {_latex_label(f) if latex else f.label: sp.latex(f.expr) if latex else str(f.expr) for f in fs}
            for name, fs in report.formulas.items()}


def _latex_label(f: Formula) -> str:
    import sympy as sp

    head = r"(v \cdot f)" if f.head == "(v·f)" else sp.latex(sp.Symbol(f.head))
    order = "^{2}" if len(f.wrt) == 2 else ""
    below = " ".join(rf"\partial {sp.latex(sp.Symbol(w))}" for w in f.wrt)
    return rf"\frac{{\partial{order} {head}}}{{{below}}}"


def formula_lines(formulas: Iterable[Formula], *, latex: bool = False, pretty: bool = True) -> list[str]:
    """One `∂f/∂x_i = ...` per formula: SymPy's pretty form (several lines for a fraction), LaTeX, or plain."""
    import sympy as sp

    lines = []
    for f in formulas:
        if latex:
            lines.append(f"{_latex_label(f)} = {sp.latex(f.expr)}")
        elif not pretty:
            lines.append(f"{f.label} = {f.expr}")
        else:
            # A placeholder as wide as the label keeps SymPy's alignment of tall formulas.
            placeholder = "X" * len(f.label)
            art = sp.pretty(sp.Eq(sp.Symbol(placeholder), f.expr, evaluate=False), use_unicode=True, wrap_line=False)
            lines.append(art.replace(placeholder, f.label))
    return lines


def _cell(expr: Any, latex: bool) -> str:
    import sympy as sp

    if expr is None:
        return ""
    # One line per cell: SymPy's plain spelling (its pretty form stacks powers and fractions).
    text = sp.latex(expr) if latex else str(expr)
    return text if len(text) <= FORMULA_WIDTH else text[:FORMULA_WIDTH - 1] + "…"


def _summary(report: Report) -> list[str]:
    tol = report.tolerance
    lines = [report.along] if report.along else []
    sub = report.sympy
    if sub.note:
        lines.append(f"SymPy: not checked: {sub.note}")
    else:
        lines.append(f"SymPy: {_errors_text(sub)} (tolerance {_g(tol.sympy_atol)} + {_g(tol.sympy_rtol)}·|SymPy|)")
    lines.append(f"finite differences (central, step {_g(report.step)}·max(1, |x|)): "
                 f"{_errors_text(report.finite_difference)} (tolerance {_g(tol.atol)} + {_g(tol.rtol)}·|fd|)")
    p = report.result.problem
    for name, k in report.sampled.items():
        if k < p.values[name].size:
            lines.append(f"sampled {k} of {p.values[name].size:,} coordinates of {name} (--check-samples)")
    if report.outputs is not None and report.outputs < report.result.value.size:
        lines.append(f"sampled {report.outputs} of {report.result.value.size:,} output entries (--check-samples)")
    return lines


def verdict(report: Report) -> str:
    """One line: all agree, none disagrees (some not comparable), or which disagree."""
    n = len(report.entries)
    bad = report.disagreeing()
    if bad:
        return f"✗ {len(bad)} of {n} entries disagree: {', '.join(bad)}"
    unmatched = sum(e.sympy_ok is None and e.fd_ok is None for e in report.entries)
    if unmatched:
        return f"✓ no entry disagrees; {unmatched} of {n} not comparable at this point"
    return "✓ the entry agrees" if n == 1 else f"✓ all {n} entries agree"


def _g(v: float) -> str:
    return table_number(v, 6)


def _errors_text(sub: SubCheck) -> str:
    if not sub.compared:
        return "no entry comparable"
    relative = "" if sub.max_rel_err is None else f", max rel error {table_number(sub.max_rel_err, 3)}"
    return f"max abs error {table_number(sub.max_abs_err, 3)}{relative} over {sub.compared} entr{'y' if sub.compared == 1 else 'ies'}"


def render_check(report: Report, console: Any, precision: int = 4, latex: bool = False) -> None:
    """The check table (entry, autograd, SymPy formula and value, finite differences, ✓/✗) and its summary."""
    from rich.text import Text

    from gradcli.render.tables import number, simple_table, titled

    shared = [f for fs in report.formulas.values() for f in fs if f.general]
    if shared:
        console.print(Text("\n".join(formula_lines(shared, latex=latex))))
    table = simple_table()
    for header, justify in (("entry", "left"), ("autograd", "right"), ("SymPy formula", "left"), ("SymPy", "right"),
                            ("finite diff.", "right"), ("", "center"), ("note", "left")):
        table.add_column(Text(header), justify=justify)
    shown = report.entries
    if len(shown) > MAX_ENTRIES:
        bad = [e for e in shown if not e.ok]
        shown = bad + [e for e in shown if e.ok][:max(0, MAX_ENTRIES - len(bad))]
    for e in shown:
        table.add_row(Text(e.label), number(e.engine, precision), Text(_cell(e.formula, latex)),
                      number(e.sympy, precision) if e.sympy is not None else Text("-"),
                      number(e.fd, precision) if e.fd is not None else Text("-"),
                      Text("✓", style="green") if e.ok else Text("✗", style="bold red"),
                      Text(e.note, style="dim"))
    console.print(titled("check: autograd against SymPy and finite differences", table))
    notes = _summary(report)
    if len(shown) < len(report.entries):
        notes.append(f"{len(report.entries) - len(shown)} agreeing entries not shown; --format json for all")
    notes.append(verdict(report))
    console.print(Text("\n".join(notes), style="dim" if report.ok else ""))


def check_view(result: Result, report: Report, precision: int, latex: bool) -> View:
    """The result's View with the check added: a "check" object in the JSON, its table below the result's.

    CSV, plain and the files stay the result's own, so they still read back.
    """
    own = result_view(result, precision)

    def table(console: Any) -> None:
        own.table(console)
        render_check(report, console, precision, latex)

    return View(json=once(lambda: [{**payload(result), "check": check_payload(report, latex)}]),
                csv=own.csv, plain=own.plain, table=table, files=own.files)


def formulas_view(report: Report, latex: bool) -> View:
    """The symbolic derivatives alone: SymPy's pretty form for people, its plain (or LaTeX) spelling
    one per line for plain, a row per derivative for CSV, and {"derivatives": ...} for JSON."""
    every = [f for fs in report.formulas.values() for f in fs]

    def data() -> dict[str, Any]:
        out: dict[str, Any] = {"expression": report.result.expression, "wrt": report.result.wrt,
                               "derivatives": formula_strings(report)}
        if latex:
            out["latex"] = formula_strings(report, latex=True)
        return out

    def rows() -> list[list[str]]:
        plain = formula_strings(report)
        spelled = formula_strings(report, latex=True) if latex else plain
        return [["variable", "derivative", "formula", *(["latex"] if latex else [])],
                *([name, label, text, *([tex] if latex else [])]
                  for name in plain for (label, text), tex in zip(plain[name].items(), spelled[name].values()))]

    def table(console: Any) -> None:
        # SymPy's pretty form is laid out already: written as it is, never re-wrapped.
        console.file.write("\n".join(formula_lines(every, latex=latex)) + "\n")

    return View(json=once(lambda: [data()]), csv=once(rows),
                plain=once(lambda: formula_lines(every, latex=latex, pretty=False)), table=table)
