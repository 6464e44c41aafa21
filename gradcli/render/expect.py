"""The output of --expect: a hand-derived formula's verdicts beside the result (or the check).

JSON gains an "expect" object, one entry per formula; the table gains a table of verdicts
and a line per mistake; CSV and plain stay the result's own (they read back), and the
verdicts go to standard error (summary_lines).
"""

from __future__ import annotations

from typing import Any

from gradcli.analysis.expect import ExpectReport, Verdict
from gradcli.lang.numbers import array_text, table_number, to_json
from gradcli.render.view import View, once

DIFFERENCE_WIDTH = 300  # characters of SymPy's difference shown in a diagnosis (JSON has it whole)


def expect_payload(report: ExpectReport) -> dict[str, Any]:
    """The "expect" object of the JSON output: {target: verdicts}."""
    return {v.target: _verdict_payload(v) for v in report.verdicts}


def _verdict_payload(v: Verdict) -> dict[str, Any]:
    first = v.first_difference
    return {
        "derivative": v.label, "formula": v.formula, "ok": v.ok,
        "at_point": {"agrees": v.at_point, "yours": to_json(v.yours), "autograd": to_json(v.autograd)},
        "random_points": {"checked": v.checked, "first_difference": None if first is None else {
            "point": {n: to_json(a) for n, a in first.point.items()},
            "yours": to_json(first.yours), "autograd": to_json(first.autograd)}},
        "symbolic": v.symbolic,
        "symbolic_difference": v.symbolic_difference or None,
        **({"symbolic_note": v.symbolic_note} if v.symbolic_note else {}),
        "diagnosis": v.diagnosis or None,
        "notes": v.notes,
    }


def one_line(formula: str) -> str:
    """A formula on one line: a program from a file as its statements between `;`, without comments."""
    from gradcli.lang.parser import parse
    from gradcli.lang.printer import unparse

    return unparse(parse(formula)) if "\n" in formula.strip() else formula


def _short(text: str, width: int = DIFFERENCE_WIDTH) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _at_point(v: Verdict, precision: int) -> str:
    if v.yours.size == 1:
        sign = "=" if v.at_point else "≠"
        return f"{table_number(float(v.yours.flat[0]), precision)} {sign} {table_number(float(v.autograd.flat[0]), precision)}"
    return "agrees" if v.at_point else f"yours {_short(array_text(v.yours), 40)}"


def _random(v: Verdict) -> str:
    if v.first_difference is not None:
        return "differ"
    return f"{v.checked} agree" if v.checked else "none compared"


def mistake_lines(v: Verdict) -> list[str]:
    """What is wrong with one formula: the diagnosis, the first point it fails at, SymPy's difference."""
    if v.ok:
        return [f"  note: {n}" for n in v.notes]
    lines = [f"✗ {v.label}: {_short(v.diagnosis)}"]
    first = v.first_difference
    if not v.at_point:
        lines.append(f"  at the point: yours {array_text(v.yours)}, autograd {array_text(v.autograd)}")
    elif first is not None:  # right at the point by accident
        point = ", ".join(f"{n}={array_text(a)}" for n, a in first.point.items())
        lines.append(f"  right at the point, but not at {point}: yours {array_text(first.yours)}, autograd "
                     f"{array_text(first.autograd)}")
    if v.symbolic_difference and v.symbolic_difference not in v.diagnosis:
        lines.append(f"  SymPy: the derivative minus yours is {_short(v.symbolic_difference)}")
    return lines


def summary_lines(report: ExpectReport) -> list[str]:
    """One verdict line per formula, then what is wrong: for standard error, or below the table."""
    lines = []
    for v in report.verdicts:
        if v.ok:
            sympy = {"equal": "SymPy: equal", "undecided": "SymPy: undecided"}[v.symbolic]
            lines.append(f"✓ {v.label} = {one_line(v.formula)}: right at the point and at {v.checked} random points; {sympy}")
        lines += mistake_lines(v)
    return lines


def render_expect(report: ExpectReport, console: Any, precision: int) -> None:
    from rich.text import Text

    from gradcli.render.tables import simple_table, titled

    table = simple_table()
    for header, justify in (("derivative", "left"), ("your formula", "left"), ("at the point", "right"),
                            ("random points", "right"), ("SymPy", "left"), ("", "center")):
        table.add_column(Text(header), justify=justify)
    for v in report.verdicts:
        table.add_row(Text(v.label), Text(_short(one_line(v.formula), 48)), Text(_at_point(v, precision)), Text(_random(v)),
                      Text(v.symbolic), Text("✓", style="green") if v.ok else Text("✗", style="bold red"))
    console.print(titled("expect: your derivative against autograd", table))
    console.print(Text("\n".join(summary_lines(report)), style="" if report.ok else "bold"))


def with_expect(view: View, report: ExpectReport, precision: int) -> View:
    """view with the verdicts added: an "expect" object in its JSON, a table below its own."""
    def table(console: Any) -> None:
        view.table(console)
        render_expect(report, console, precision)

    def json() -> Any:
        (obj,) = [obj for batch in view.json() for obj in batch]
        return [{**obj, "expect": expect_payload(report)}]

    return View(json=once(json), csv=view.csv, plain=view.plain, table=table, files=view.files)


def failure(report: ExpectReport) -> str:
    """The error message when a formula is wrong (exit status 1); what is wrong is in the output."""
    wrong = [v.label for v in report.verdicts if not v.ok]
    return f"your {' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong (--expect)"

