"""Rich tables for people: the expression as parsed, its value, and per variable its
value and derivative side by side.

Vectors are tables of entries; matrices (and Jacobian or Hessian blocks, flattened to
output entries by input entries) are grids with row and column indices; long arrays
show their first and last entries. Each table's heading is printed as its own line, so a
heading never wraps to the width of a narrow table. Colour comes only on a terminal
(rich decides, and honours NO_COLOR).

User text always goes through rich.text.Text, never markup: expressions are full of [].
"""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradcli.api.problem import Result
from gradcli.errors import format_shape
from gradcli.lang.numbers import table_number
from gradcli.render.rows import entry_labels, index_label

MAX_ROWS = 20  # rows shown before the middle is elided
MAX_COLUMNS = 8  # columns of a grid shown before the middle is elided
LABEL = "bold cyan"
INDEX = "dim"


def number(v: float, precision: int) -> Text:
    """A table cell: the number with `precision` significant digits, red when not finite."""
    return Text(table_number(v, precision), style="" if np.isfinite(v) else "bold red")


def _elided(n: int, limit: int) -> list[int | None]:
    """Positions to show out of n: all, or the first and last halves around a None gap."""
    if n <= limit:
        return list(range(n))
    half = limit // 2
    return [*range(half), None, *range(n - half, n)]


def array_cell(a: np.ndarray, precision: int) -> str:
    """A compact one-cell form of a small array, e.g. [0.6667, 0.6667]."""
    a = np.asarray(a)
    if a.ndim == 0:
        return table_number(float(a), precision)
    if a.size > 8:
        return f"array of shape {format_shape(a.shape)}"
    text = np.array2string(a, separator=", ", formatter={"float_kind": lambda v: table_number(v, precision)})
    return " ".join(text.split())  # one line: [[2, 4], [6, 8]]


def titled(title: str, body: RenderableType) -> Group:
    """A heading on its own line above a table (a table title would wrap to the table's width)."""
    return Group(Text(title, style="bold"), body)


def simple_table() -> Table:
    """The tables of results and checks: a rule under the header, no outer edge."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))


def entry_rows(columns: list[np.ndarray], name: str, precision: int) -> tuple[list[list[Text]], int]:
    """Rows for arrays of one shape: the entry's label, then each array's value; and how many
    entries the elision left out."""
    shape = np.shape(columns[0])
    flat = [np.asarray(col, dtype=np.float64).reshape(-1) for col in columns]
    indices = list(np.ndindex(shape))
    rows = []
    for i in _elided(len(indices), MAX_ROWS):
        if i is None:
            rows.append([Text("⋮") for _ in range(len(columns) + 1)])
        else:
            rows.append([Text(index_label(name, indices[i])), *(number(c[i], precision) for c in flat)])
    return rows, max(0, len(indices) - MAX_ROWS)


def with_note(table: Table, note: str | None) -> RenderableType:
    """The table, and below it a note that may be wider than the table (a caption would wrap)."""
    return table if note is None else Group(table, Text(note + "; --format json or --output for all", style="dim"))


def _not_shown(hidden: int) -> str | None:
    return f"{hidden:,} entries not shown" if hidden else None


def entries_table(columns: list[tuple[str, np.ndarray]], name: str, precision: int) -> RenderableType:
    """One row per entry of arrays of one shape: the entry's index, then each column's value."""
    table = simple_table()
    table.add_column(Text("entry"), style=INDEX)
    for header, _ in columns:
        table.add_column(Text(header), justify="right")
    rows, hidden = entry_rows([col for _, col in columns], name, precision)
    for row in rows:
        table.add_row(*row)
    return with_note(table, _not_shown(hidden))


def _fitting_columns(widths: list[int], label_width: int, budget: int) -> list[int | None]:
    """The most columns (first and last, around a gap) whose cells fit in budget characters."""
    for limit in range(min(len(widths), MAX_COLUMNS), 1, -1):
        shown = _elided(len(widths), limit) if limit < len(widths) else list(range(len(widths)))
        # each column costs its cells, a space of padding on each side and one between columns
        if label_width + sum(3 + (1 if j is None else widths[j]) for j in shown) <= budget:
            return shown
    return _elided(len(widths), 2) if len(widths) > 2 else list(range(len(widths)))


def grid_table(a: np.ndarray, rows: list[str], columns: list[str], precision: int, corner: str = "",
               width: int = 80) -> RenderableType:
    """A 2-d array as a grid: row labels down the left, column labels across the top; as many
    columns as fit in width characters, the middle ones elided."""
    if a.size == 0:
        return Text(f"(no entries: {a.shape[0]} × {a.shape[1]})", style="dim")
    shown_rows = _elided(a.shape[0], MAX_ROWS)
    texts = {i: [table_number(v, precision) for v in a[i]] for i in shown_rows if i is not None}
    widths = [max([len(columns[j]), *(len(t[j]) for t in texts.values())]) for j in range(a.shape[1])]
    label_width = max([len(corner), *(len(rows[i]) for i in texts)]) + 2
    shown_columns = _fitting_columns(widths, label_width, width)
    table = simple_table()
    table.add_column(Text(corner, style=INDEX), style=INDEX, no_wrap=True)
    for j in shown_columns:
        table.add_column(Text("…" if j is None else columns[j]), justify="right", no_wrap=True)
    for i in shown_rows:
        if i is None:
            table.add_row(Text("⋮"), *(Text("⋮") for _ in shown_columns))
            continue
        cells = [Text("…") if j is None else number(a[i, j], precision) for j in shown_columns]
        table.add_row(Text(rows[i]), *cells)
    cut = len(shown_rows) < a.shape[0] or len(shown_columns) < a.shape[1]
    return with_note(table, f"{a.shape[0]} × {a.shape[1]}, cut to fit" if cut else None)


def block_grid(block: np.ndarray, row_name: str, row_shape: tuple, col_name: str, col_shape: tuple,
               precision: int, width: int) -> RenderableType:
    """A derivative block shaped row_shape + col_shape as a grid of row entries by column entries."""
    rows, cols = int(np.prod(row_shape)), int(np.prod(col_shape))
    return grid_table(np.asarray(block).reshape(rows, cols), entry_labels(row_name, row_shape),
                      entry_labels(col_name, col_shape), precision, width=width)


def _header(result: Result, precision: int) -> Text:
    """Label and text lines: the expression as parsed, its value, the cotangent, the constants."""
    value = result.value
    if value.ndim == 0:
        shown = number(float(value), precision)
    elif value.size <= 8:
        shown = Text(f"{array_cell(value, precision)}   shape {format_shape(value.shape)}")
    else:
        shown = Text(array_cell(value, precision) + ("   (entries below)" if result.kind == "jacobian" else ""))
    lines = [("f", Text(result.expression)), ("value", shown)]
    if result.problem.dtype == np.float32:  # (float64, the default, goes unsaid)
        lines.append(("dtype", Text("float32")))
    if result.grad_output is not None:
        lines.append(("v", Text(array_cell(result.grad_output, precision))))
    if result.kind == "jvp":
        lines += [(f"t {name}", Text(array_cell(t, precision))) for name, t in result.tangents.items()]
    if result.mode is not None:
        lines.append(("mode", Text(result.mode)))
    constants = [n for n in result.problem.names if n not in result.wrt]
    if constants:
        lines.append(("constant", Text(", ".join(constants))))
    width = max(len(label) for label, _ in lines) + 2
    return Text("\n").join(Text.assemble((label.ljust(width), LABEL), text) for label, text in lines)


def _variable_blocks(result: Result, label: str, precision: int, width: int) -> list[RenderableType]:
    """Per variable in wrt, its value and its derivative side by side: scalars and vectors in
    one table (a section per variable), each matrix as two grids."""
    values, derivatives = result.problem.values, result.gradients
    flat = [name for name in result.wrt if values[name].ndim < 2]
    blocks: list[RenderableType] = []
    if flat:
        table = simple_table()
        table.add_column(Text("variable"), style=INDEX)
        table.add_column(Text("value"), justify="right")
        table.add_column(Text("vᵀ·J" if result.kind == "vjp" else "gradient"), justify="right")
        hidden = 0
        for name in flat:
            rows, left_out = entry_rows([values[name], derivatives[name]], name, precision)
            for row in rows:
                table.add_row(*row)
            table.add_section()
            hidden += left_out
        blocks.append(with_note(table, _not_shown(hidden)))
    for name in result.wrt:
        value = values[name]
        if value.ndim < 2:
            continue
        if value.ndim > 2:
            blocks.append(titled(f"{name}   shape {format_shape(value.shape)}",
                                 entries_table([("value", value), (label.format(name), derivatives[name])],
                                               name, precision)))
            continue
        rows, cols = [str(i) for i in range(value.shape[0])], [str(j) for j in range(value.shape[1])]
        pair = [titled(f"{name}   shape {format_shape(value.shape)}",
                       grid_table(value, rows, cols, precision, corner="i \\ j", width=width)),
                titled(label.format(name),
                       grid_table(derivatives[name], rows, cols, precision, corner="i \\ j", width=width))]
        from rich.columns import Columns  # (only side by side blocks need it: start-up)

        blocks.append(Columns(pair, padding=(0, 4)))
    return blocks


def _derivative_blocks(result: Result, precision: int, width: int) -> list[RenderableType]:
    p = result.problem
    if result.kind == "jvp":
        return [titled(f"J·t   shape {format_shape(result.shape)}",
                       entries_table([("value", result.value), ("J·t", result.jvp)], "f", precision))]
    if result.kind == "hvp":
        return [titled(f"{name}   shape {format_shape(p.values[name].shape)}",
                       entries_table([("value", p.values[name]), ("∂f/∂" + name, result.gradients[name]),
                                      ("v", result.tangents[name]), ("H·v", result.hvp[name])], name, precision))
                for name in result.wrt]
    if result.kind in ("grad", "vjp"):
        return _variable_blocks(result, "∂f/∂{}" if result.kind == "grad" else "vᵀ·∂f/∂{}", precision, width) + \
            _step_blocks(result, precision)
    if result.kind == "jacobian":
        blocks: list[RenderableType] = []
        if result.value.size > 8:
            blocks.append(titled("value", entries_table([("f", result.value)], "f", precision)))
        for name in result.wrt:
            jac = result.jacobian[name]
            heading = f"∂f/∂{name}   shape {format_shape(jac.shape)}"
            blocks.append(titled(heading, block_grid(jac, "f", result.value.shape, name, p.values[name].shape,
                                                     precision, width)))
        return blocks
    blocks = _variable_blocks(result, "∂f/∂{}", precision, width)
    if len(result.wrt) > 1 and sum(p.values[name].size for name in result.wrt) <= MAX_COLUMNS:
        heading = f"∂²f/∂({', '.join(result.wrt)})²   every block at once"
        blocks.append(titled(heading, _whole_hessian(result, precision, width)))
        return blocks
    for a in result.wrt:
        for b in result.wrt:
            block = result.hessian[a][b]
            heading = f"∂²f/∂{a}∂{b}   shape {format_shape(block.shape)}"
            blocks.append(titled(heading, block_grid(block, a, p.values[a].shape, b, p.values[b].shape, precision,
                                                     width)))
    return blocks


def _step_blocks(result: Result, precision: int) -> list[RenderableType]:
    """Each shown step of a program: its value and the output's gradient with respect to it."""
    label = "∂f/∂{}" if result.kind == "grad" else "vᵀ·∂f/∂{}"
    return [titled(f"step {name}   shape {format_shape(step['value'].shape)}",
                   entries_table([("value", step["value"]), (label.format(name), step["gradient"])], name, precision))
            for name, step in (result.steps or {}).items()]


def _whole_hessian(result: Result, precision: int, width: int) -> RenderableType:
    """All Hessian blocks as one symmetric grid over the entries of every variable."""
    p = result.problem
    labels = [label for name in result.wrt for label in entry_labels(name, p.values[name].shape)]
    sizes = [p.values[name].size for name in result.wrt]
    rows = [np.concatenate([result.hessian[a][b].reshape(sizes[i], sizes[j]) for j, b in enumerate(result.wrt)],
                           axis=1) for i, a in enumerate(result.wrt)]
    return grid_table(np.concatenate(rows, axis=0), labels, labels, precision, width=width)


def render_table(result: Result, console: Console, precision: int = 4) -> None:
    """Print the result for people: header, then one titled table per derivative."""
    console.print(_header(result, precision))
    for block in _derivative_blocks(result, precision, console.width):
        console.print()
        console.print(block)
