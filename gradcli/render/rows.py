"""Results at many points as rows: CSV, JSON Lines or a table, written as they arrive.

CSV columns are the inputs, the value, then one column per derivative entry:

    x, w[0,1], value, d/dx, d/dw[0,1]          (grad)
    value[0], d[0]/dx                            (jacobian of a vector output)
    d/dx, d2/dx/dy                               (hessian: gradient, then second derivatives)

A JSON Lines object per point mirrors `--format json` of one point, plus "line" (its line
in the input) and "values" (its inputs). rich is imported only when a table is drawn.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from gradcli.api.batch import Results
from gradcli.errors import GradcliError
from gradcli.render.output import entry_labels, plain_number, to_json

TABLE_ROWS = 10  # rows kept at each end of a table
# NOTE: one strict encoder for every line; json.dumps(allow_nan=False) would build one per call.
encode = json.JSONEncoder(allow_nan=False, check_circular=False).encode


def columns(results: Results) -> list[tuple[list[str], np.ndarray]]:
    """Column groups: their names and an (n, entries) array each, in output order."""
    n = len(results)
    groups: list[tuple[list[str], np.ndarray]] = []

    def add(names: list[str], a: np.ndarray) -> None:
        groups.append((names, np.asarray(a, dtype=np.float64).reshape(n, -1)))

    for name, a in results.inputs.items():
        add(entry_labels(name, a.shape[1:]), a)
    out_shape = results.value.shape[1:]
    add(entry_labels("value", out_shape), results.value)
    if results.jacobian is not None:
        outs = entry_labels("d", out_shape)
        for name, a in results.jacobian.items():
            add([f"{o}/{v}" for o in outs for v in entry_labels("d" + name, results.inputs[name].shape[1:])], a)
        return groups
    for name, a in (results.gradients or {}).items():
        add(entry_labels("d/d" + name, a.shape[1:]), a)
    for a_name, row in (results.hessian or {}).items():
        for b_name, a in row.items():
            firsts = entry_labels("d" + a_name, results.inputs[a_name].shape[1:])
            seconds = entry_labels("d" + b_name, results.inputs[b_name].shape[1:])
            add([f"d2/{f}/{s}" for f in firsts for s in seconds], a)
    return groups


def flat(results: Results, header: list[str] | None = None, what: str = "a CSV") -> tuple[list[str], np.ndarray]:
    """All column names and an (n, columns) array; the names must match header when one is given."""
    groups = columns(results)
    names = [name for names, _ in groups for name in names]
    if header is not None and names != header:
        raise GradcliError(f"line {results.lines[0]}: its shapes differ from the first point's, and {what} "
                           f"holds one shape per column (--format json takes any shapes)", kind="shape")
    return names, np.concatenate([a for _, a in groups], axis=1)


class CsvRows:
    """CSV with one header (from the first results); later points must have the same columns."""

    def __init__(self, out: IO[str]):
        self.out = out
        self.header: list[str] | None = None

    def write(self, results: Results) -> None:
        names, table = flat(results, self.header)
        if self.header is None:
            self.header = names
            csv.writer(self.out, lineterminator="\n").writerow(names)
        # numbers never need CSV quoting, so rows are joined directly (the csv module is slower)
        self.out.write("".join(",".join(map(plain_number, row)) + "\n" for row in table.tolist()))
        self.out.flush()

    def close(self) -> None:
        pass


def objects(results: Results) -> Iterator[dict[str, Any]]:
    """One JSON object per point."""
    inputs = {name: to_json(a) for name, a in results.inputs.items()}
    value = to_json(results.value)
    derived = {k: {name: to_json(a) for name, a in block.items()}
               for k, block in (("gradients", results.gradients), ("jacobian", results.jacobian)) if block is not None}
    hessian = None if results.hessian is None else \
        {a: {b: to_json(h) for b, h in row.items()} for a, row in results.hessian.items()}
    for i, line in enumerate(results.lines):
        obj: dict[str, Any] = {"line": line, "values": {name: col[i] for name, col in inputs.items()},
                               "value": value[i]}
        for k, block in derived.items():
            obj[k] = {name: col[i] for name, col in block.items()}
        if hessian is not None:
            obj["hessian"] = {a: {b: col[i] for b, col in row.items()} for a, row in hessian.items()}
        if results.warnings and results.warnings[i]:
            obj["warnings"] = results.warnings[i]
        yield obj


class JsonRows:
    """JSON Lines: one object per point, flushed after each batch of results."""

    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, results: Results) -> None:
        self.out.write("".join(encode(obj) + "\n" for obj in objects(results)))
        self.out.flush()

    def close(self) -> None:
        pass


class TableRows:
    """A rich table drawn when the input ends: the first and last rows, the count of the rest."""

    def __init__(self, out: IO[str], precision: int):
        self.out = out
        self.precision = precision
        self.header: list[str] | None = None
        self.first: list[list[str]] = []
        self.last: deque[list[str]] = deque(maxlen=TABLE_ROWS)
        self.count = 0

    def write(self, results: Results) -> None:
        from gradcli.render.tables import fmt

        names, table = flat(results, self.header, "a table")
        self.header = names
        for line, row in zip(results.lines, table.tolist()):
            cells = [str(line), *(fmt(v, self.precision) for v in row)]
            self.count += 1
            if len(self.first) < TABLE_ROWS:
                self.first.append(cells)
            else:
                self.last.append(cells)

    def close(self) -> None:
        if self.header is None:
            return
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table()
        for i, header in enumerate(["line", *self.header]):
            table.add_column(Text(header), justify="right" if i else "left")
        hidden = self.count - len(self.first) - len(self.last)
        for cells in self.first:
            table.add_row(*(Text(c) for c in cells))
        if hidden:
            table.add_row(*(Text("…") for _ in table.columns))
        for cells in self.last:
            table.add_row(*(Text(c) for c in cells))
        if hidden:
            table.caption = Text(f"{hidden:,} of {self.count:,} points not shown; --format csv or json for all")
        Console(file=self.out).print(table)
