"""The View of a derivative or taylor result: f^(k)(x0), or f^(k)(x0)/k!, for k = 0..order.

    json   {"expression", "value", "shape", "wrt", "at", "order", ["dtype"],
            "derivatives" | "taylor" (a list, entry k shaped like the value), ["sympy"], ["warnings"]}
    csv    a header line (k, then the output's entries), then a row per order k
    plain  one line per order k: the output's entries in the syntax VALUE accepts
    table  the expression, the point and a row per order k (with SymPy's coefficient beside it)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.api.higher import SeriesResult
from gradcli.lang.numbers import plain_array, plain_number, to_json
from gradcli.render.output import write_atomic
from gradcli.render.rows import entry_labels
from gradcli.render.view import View, once


def numbers(result: SeriesResult) -> np.ndarray:
    """The derivatives, or the Taylor coefficients: (order + 1,) + the output's shape."""
    return result.derivatives if result.kind == "derivative" else result.taylor


def key(result: SeriesResult) -> str:
    return "derivatives" if result.kind == "derivative" else "taylor"


def heading(result: SeriesResult) -> str:
    """The column's name: f^(k)(x0) or f^(k)(x0)/k!."""
    point = f"{result.variable}={plain_number(result.at)}"
    return f"f^(k)({point})" + ("" if result.kind == "derivative" else "/k!")


def payload(result: SeriesResult, sympy: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"expression": result.expression, "value": to_json(result.value),
                           "shape": list(result.shape), "wrt": list(result.wrt), "at": to_json(result.at),
                           "order": result.order}
    if result.problem.dtype == np.float32:
        out["dtype"] = "float32"
    out[key(result)] = to_json(numbers(result))
    if sympy is not None:
        out["sympy"] = sympy
    if result.warnings:
        out["warnings"] = [w.message for w in result.warnings]
    return out


def csv_rows(result: SeriesResult) -> list[Any]:
    """The header (k, then one column per output entry), then a row per order."""
    entries = entry_labels("f", result.shape)
    table = numbers(result).reshape(result.order + 1, -1)
    return [[["k", *entries]], np.concatenate([np.arange(result.order + 1.0)[:, None], table], axis=1)]


def draw(result: SeriesResult, sympy: list[str] | None, precision: int, console: Any) -> None:
    from rich.console import Group
    from rich.text import Text

    from gradcli.render.tables import LABEL, array_cell, simple_table

    lines = [("f", result.expression), ("at", f"{result.variable} = {plain_number(result.at)}")]
    constants = [n for n in result.problem.names if n not in result.wrt]
    if constants:
        lines.append(("constant", ", ".join(constants)))
    width = max(len(label) for label, _ in lines) + 2
    header = Text("\n").join(Text.assemble((label.ljust(width), LABEL), text) for label, text in lines)
    table = simple_table()
    table.add_column(Text("k"), justify="right")
    table.add_column(Text(heading(result)), justify="right")
    if sympy is not None:
        table.add_column(Text("SymPy's series coefficient"), justify="left")
    for k, entry in enumerate(numbers(result)):
        cells = [Text(str(k)), Text(array_cell(entry, precision))]
        table.add_row(*cells, *([Text(sympy[k])] if sympy is not None else []))
    console.print(Group(header, Text(""), table))


def write_npy(result: SeriesResult, path: str) -> None:
    write_atomic(path, lambda fh: np.save(fh, numbers(result), allow_pickle=False), binary=True)


def series_view(result: SeriesResult, precision: int, sympy: list[str] | None = None) -> View:
    """Every format of a derivative or taylor result; sympy: SymPy's coefficient of each order, beside them."""
    return View(json=once(lambda: [payload(result, sympy)]),
                csv=lambda: csv_rows(result),
                plain=once(lambda: [plain_array(entry) for entry in numbers(result)]),
                table=lambda console: draw(result, sympy, precision, console),
                files={".npy": lambda path: write_npy(result, path)})


def _verdict(ok: bool, checked: bool) -> str:
    return "" if not checked else ("ok" if ok else "DISAGREE")


def order_payload(report: Any) -> dict[str, Any]:
    out = payload(report.result)
    rows = [{"k": row.k, "sympy": None if row.sympy is None else to_json(row.sympy),
             "finite_difference": None if row.difference is None else to_json(row.difference), "agree": row.ok}
            for row in report.rows]
    out["check"] = {"ok": report.ok, "orders": rows, **({"sympy_note": report.sympy_note} if report.sympy_note else {})}
    return out


def draw_order_check(report: Any, precision: int, console: Any) -> None:
    from rich.text import Text

    from gradcli.render.tables import array_cell, simple_table

    result = report.result
    console.print(Text.assemble(("f   ", "bold cyan"), result.expression, "\n", ("at  ", "bold cyan"),
                                f"{result.variable} = {plain_number(result.at)}\n"))
    table = simple_table()
    for header in ("k", heading(result), "SymPy", "finite difference", ""):
        table.add_column(Text(header), justify="right" if header != "" else "left")
    for row in report.rows:
        cells = [array_cell(x, precision) if x is not None else "" for x in (row.engine, row.sympy, row.difference)]
        checked = row.sympy is not None or row.difference is not None
        table.add_row(Text(str(row.k)), *map(Text, cells),
                      Text(_verdict(row.ok, checked), style="green" if row.ok else "bold red"))
    console.print(table)
    verdict = "every order agrees" if report.ok else f"{', '.join(report.disagreeing())} disagree"
    console.print(Text(f"check: {verdict} (SymPy's diff at every order; finite differences up to order 4)",
                       style="green" if report.ok else "bold red"))


def order_check_view(report: Any, precision: int) -> View:
    """`check --order K`: the derivatives with SymPy's and the finite differences beside them."""
    result = report.result

    def rows() -> list[Any]:
        header = ["k", "derivative", "sympy", "finite_difference", "agree"]
        return [[header], [[row.k, *(plain_number(float(x)) if x is not None else "" for x in
                                    (row.engine, row.sympy, row.difference)), "yes" if row.ok else "no"]
                           for row in report.rows]]

    scalar = result.value.size == 1
    return View(json=once(lambda: [order_payload(report)]),
                csv=rows if scalar else "csv gives a row per order for an expression with one number as its "
                                        "value: use --format json",
                plain=once(lambda: [plain_array(entry) for entry in result.derivatives]),
                table=lambda console: draw_order_check(report, precision, console),
                files={})
