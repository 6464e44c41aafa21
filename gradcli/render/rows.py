"""Results as rows of numbers: the column layout shared by one result and many points, and
the View of a --points run, written as the points arrive.

CSV columns are the inputs, the value, then one column per derivative entry:

    x, w[0,1], value, d/dx, d/dw[0,1]          (grad)
    value[0], d[0]/dx                            (jacobian of a vector output)
    d/dx, d2/dx/dy                               (hessian: gradient, then second derivatives)

A JSON Lines object per point mirrors `--format json` of one point, plus "line" (its line
in the input) and "values" (its inputs). rich is imported only when a table is drawn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcli.errors import GradcliError
from gradcli.lang.numbers import table_number, to_json
from gradcli.render.view import View

if TYPE_CHECKING:  # (one result's table and JSON need no reading of points: start-up)
    from gradcli.api.batch import Results

TABLE_ROWS = 10  # rows kept at each end of a table
POINTS_OUTPUT = ("--output takes one result; with --points, choose --format json or csv and redirect "
                 "standard output")


def index_label(name: str, index: tuple[int, ...], separator: str = ", ") -> str:
    """name for a scalar's empty index, else name[i, j]."""
    return name if not index else f"{name}[{separator.join(str(i) for i in index)}]"


def entry_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """name[i,j] for every entry of an array of shape, in row-major order (name alone for a scalar)."""
    return [index_label(name, index, ",") for index in np.ndindex(shape)]


Block = Mapping[str, np.ndarray]


def columns(inputs: Block, value: np.ndarray, *, gradients: Block | None = None, jacobian: Block | None = None,
            hessian: Mapping[str, Block] | None = None, points: int | None = None) -> list[tuple[list[str], np.ndarray]]:
    """Column groups: their names and an (n, entries) array each, in output order.

    With points=n every array has a leading point axis of length n; without, the arrays
    are one result's and make one row.
    """
    lead = 0 if points is None else 1
    n = 1 if points is None else points
    groups: list[tuple[list[str], np.ndarray]] = []

    def shape(a: np.ndarray) -> tuple[int, ...]:
        return np.shape(a)[lead:]

    def add(names: list[str], a: np.ndarray) -> None:
        a = np.asarray(a)  # (float32 stays float32, so that its cells are written with float32 digits)
        groups.append((names, (a if a.dtype == np.float32 else a.astype(np.float64)).reshape(n, -1)))

    for name, a in inputs.items():
        add(entry_labels(name, shape(a)), a)
    out_shape = shape(value)
    add(entry_labels("value", out_shape), value)
    if jacobian is not None:
        outs = entry_labels("d", out_shape)
        for name, a in jacobian.items():
            add([f"{o}/{v}" for o in outs for v in entry_labels("d" + name, shape(inputs[name]))], a)
        return groups
    for name, a in (gradients or {}).items():
        add(entry_labels("d/d" + name, shape(a)), a)
    for a_name, row in (hessian or {}).items():
        for b_name, a in row.items():
            firsts = entry_labels("d" + a_name, shape(inputs[a_name]))
            seconds = entry_labels("d" + b_name, shape(inputs[b_name]))
            add([f"d2/{f}/{s}" for f in firsts for s in seconds], a)
    return groups


def flat(results: Results, header: list[str] | None = None, what: str = "a CSV") -> tuple[list[str], np.ndarray]:
    """All column names and an (n, columns) array; the names must match header when one is given."""
    groups = columns(results.inputs, results.value, gradients=results.gradients, jacobian=results.jacobian,
                     hessian=results.hessian, points=len(results))
    names = [name for names, _ in groups for name in names]
    if header is not None and names != header:
        raise GradcliError(f"line {results.lines[0]}: its shapes differ from the first point's, and {what} "
                           f"holds one shape per column (--format json takes any shapes)", kind="shape")
    return names, np.concatenate([a for _, a in groups], axis=1)


def _each_point(a: np.ndarray) -> list:
    """to_json of each point's entry; a value every point shares (a zero stride) is converted once."""
    if a.ndim and a.strides[0] == 0:
        return [to_json(a[0])] * len(a)
    return to_json(a)


def objects(results: Results) -> Iterator[dict[str, Any]]:
    """One JSON object per point."""
    inputs = {name: _each_point(a) for name, a in results.inputs.items()}
    value = to_json(results.value)
    derived = {k: {name: to_json(a) for name, a in block.items()}
               for k, block in (("gradients", results.gradients), ("jacobian", results.jacobian)) if block is not None}
    hessian = None if results.hessian is None else \
        {a: {b: to_json(h) for b, h in row.items()} for a, row in results.hessian.items()}
    for i, line in enumerate(results.lines):
        obj: dict[str, Any] = {"line": line, "values": {name: col[i] for name, col in inputs.items()},
                               "value": value[i]}
        if results.value.dtype == np.float32:  # as one point's --format json says it
            obj["dtype"] = "float32"
        for k, block in derived.items():
            obj[k] = {name: col[i] for name, col in block.items()}
        if hessian is not None:
            obj["hessian"] = {a: {b: col[i] for b, col in row.items()} for a, row in hessian.items()}
        if results.warnings and results.warnings[i]:
            obj["warnings"] = results.warnings[i]
        yield obj


def _rows(stream: Iterable[Results], what: str, header: bool) -> Iterator[Any]:
    """Blocks of numbers (n, columns), after the header row when header is set; one shape throughout."""
    names = None
    for results in stream:
        names, table = flat(results, names, what)
        if header:
            yield [names]
            header = False
        yield table


def _table(stream: Iterable[Results], precision: int, console: Any) -> None:
    """A rich table drawn when the input ends (or stops): the first and last rows, the count of the rest."""
    header: list[str] | None = None
    first: list[list[str]] = []
    last: deque[list[str]] = deque(maxlen=TABLE_ROWS)
    count = 0
    try:
        for results in stream:
            header, table = flat(results, header, "a table")
            for line, row in zip(results.lines, table.tolist()):
                cells = [str(line), *(table_number(v, precision) for v in row)]
                count += 1
                (first if len(first) < TABLE_ROWS else last).append(cells)
    finally:
        if header is not None:
            _draw(header, first, last, count, console)


def _draw(header: list[str], first: list[list[str]], last: Iterable[list[str]], count: int, console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for i, name in enumerate(["line", *header]):
        table.add_column(Text(name), justify="right" if i else "left")
    hidden = count - len(first) - len(list(last))
    for cells in first:
        table.add_row(*(Text(c) for c in cells))
    if hidden:
        table.add_row(*(Text("…") for _ in table.columns))
    for cells in last:
        table.add_row(*(Text(c) for c in cells))
    if hidden:
        table.caption = Text(f"{hidden:,} of {count:,} points not shown; --format csv or json for all")
    console.print(table)


def points_view(stream: Iterable[Results], precision: int) -> View:
    """A --points run: JSON Lines, CSV, plain rows (CSV without its header) or a table; no --output file."""
    return View(json=lambda: (list(objects(results)) for results in stream),
                csv=lambda: _rows(stream, "a CSV", header=True),
                plain=lambda: _rows(stream, "plain output", header=False),
                table=lambda console: _table(stream, precision, console),
                files=POINTS_OUTPUT)
