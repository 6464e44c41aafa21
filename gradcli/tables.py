"""Rich tables for people: the expression as parsed, the value, and per variable its
value and derivative side by side. Vectors are rows; matrices are grids with row and
column indices; large arrays are cut to their first and last rows.

User text always goes through rich.text.Text, never markup: expressions are full of [].
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .functional import Result

MAX_ROWS = 20  # rows shown before the middle is elided


def fmt(v: float, precision: int) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = f"{v:.{precision}g}"
    return "0" if text == "-0" else text


def index_label(name: str, index: tuple[int, ...]) -> str:
    return name if not index else f"{name}[{', '.join(str(i) for i in index)}]"


def _elided(n: int) -> list[int | None]:
    if n <= MAX_ROWS:
        return list(range(n))
    half = MAX_ROWS // 2
    return [*range(half), None, *range(n - half, n)]


def array_cell(a: np.ndarray, precision: int) -> str:
    """A compact one-cell form of a small array (value column of the summary)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return fmt(float(a), precision)
    if a.size > 8:
        return f"array of shape {a.shape}"
    return np.array2string(a, separator=", ", formatter={"float_kind": lambda v: fmt(v, precision)})


def entries_table(title: str, columns: list[tuple[str, np.ndarray]], name: str, precision: int) -> Table:
    """One row per entry: index, then each column's entry (arrays of one shape)."""
    shape = columns[0][1].shape
    table = Table(title=Text(title), title_justify="left", show_edge=True)
    table.add_column(Text("entry"), style="bold")
    for header, _ in columns:
        table.add_column(Text(header), justify="right")
    flat = [np.asarray(col).reshape(-1) for _, col in columns]
    indices = list(np.ndindex(shape)) if shape else [()]
    for i in _elided(len(indices)):
        if i is None:
            table.add_row(Text("…"), *[Text("…") for _ in columns])
            continue
        table.add_row(Text(index_label(name, indices[i])), *[Text(fmt(float(c[i]), precision)) for c in flat])
    if len(indices) > MAX_ROWS:
        table.caption = Text(f"{len(indices) - MAX_ROWS:,} of {len(indices):,} entries not shown; "
                             f"--format json or --output for all")
    return table


def grid_table(title: str, a: np.ndarray, row_name: str, col_name: str, precision: int) -> Table:
    """A matrix as a grid: rows labelled row_name[i], columns col_name[j]."""
    table = Table(title=Text(title), title_justify="left")
    cols = _elided(a.shape[1]) if a.shape[1] <= MAX_ROWS else _elided(a.shape[1])[:MAX_ROWS // 2] + [None]
    table.add_column(Text(""), style="bold")
    for j in cols:
        table.add_column(Text("…" if j is None else index_label(col_name, (j,))), justify="right")
    for i in _elided(a.shape[0]):
        if i is None:
            table.add_row(Text("…"), *[Text("…") for _ in cols])
            continue
        cells = [Text("…" if j is None else fmt(float(a[i, j]), precision)) for j in cols]
        table.add_row(Text(index_label(row_name, (i,))), *cells)
    return table


def _header(result: Result, precision: int) -> Table:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold cyan")
    head.add_column()
    head.add_row(Text("f ="), Text(result.expression))
    value = result.value
    if value.ndim == 0 or value.size <= 8:
        head.add_row(Text("value"), Text(array_cell(value, precision)))
    else:
        head.add_row(Text("value"), Text(f"shape {value.shape} (see the table below)"))
    if result.grad_output is not None:
        head.add_row(Text("grad_output"), Text(array_cell(result.grad_output, precision)))
    return head


def _matrix_view(a: np.ndarray) -> bool:
    return a.ndim == 2


def _derivative_blocks(result: Result, precision: int) -> list[Any]:
    blocks: list[Any] = []
    p = result.problem
    if result.kind in ("grad", "vjp"):
        label = "∂f/∂{}" if result.kind == "grad" else "vᵀ·∂f/∂{}"
        for name in result.wrt:
            value, grad = p.values[name], result.gradients[name]
            if _matrix_view(value) and value.shape[1] <= MAX_ROWS:
                blocks.append(Group(grid_table(f"{name}", value, "row", "col", precision),
                                    grid_table(label.format(name), grad, "row", "col", precision)))
            else:
                blocks.append(entries_table(name, [("value", value), (label.format(name), grad)], name, precision))
    elif result.kind == "jacobian":
        if result.value.ndim > 0 and result.value.size > 1:
            blocks.append(entries_table("f", [("value", result.value)], "f", precision))
        for name in result.wrt:
            jac = result.jacobian[name]
            if result.value.ndim == 1 and p.values[name].ndim == 1:
                blocks.append(grid_table(f"∂f/∂{name}  (row i: ∂f[i]/∂{name})", jac, "f", name, precision))
            else:
                flat = jac.reshape(-1)
                shape = jac.shape
                blocks.append(entries_table(f"∂f/∂{name}  (shape {shape})", [("∂f/∂" + name, flat.reshape(shape))],
                                            "∂f/∂" + name, precision))
    else:
        for name in result.wrt:
            blocks.append(entries_table(name, [("value", p.values[name]), (f"∂f/∂{name}", result.gradients[name])],
                                        name, precision))
        for a in result.wrt:
            for b in result.wrt:
                block = result.hessian[a][b]
                va, vb = p.values[a], p.values[b]
                title = f"∂²f/∂{a}∂{b}"
                if va.ndim <= 1 and vb.ndim <= 1:
                    blocks.append(grid_table(title, block.reshape(max(va.size, 1), max(vb.size, 1)), a, b, precision))
                else:
                    blocks.append(entries_table(title, [(title, block)], "H", precision))
    return blocks


def render_table(result: Result, console: Console, precision: int = 4) -> None:
    console.print(_header(result, precision))
    for block in _derivative_blocks(result, precision):
        console.print(block)
