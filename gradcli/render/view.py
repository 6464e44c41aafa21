"""The one output pipeline: each result becomes a View, and `emit` writes it in one format.

A View holds, for each format, a function giving the result's data shaped for that format,
or a sentence saying why the format does not apply (emit refuses it, exit status 2):

- json: JSON objects (one for a result; one per line, JSON Lines, for a stream of points)
- csv: rows, the first of them the header; a float array is a block of rows of numbers
- plain: lines with numbers only, in the syntax VALUE accepts, so they read back; a float
  array is a block of such lines, one per row
- table: draws the result for people on a rich Console
- text: other line formats of one command (the graph's dot and mermaid)

The functions yield batches, so a stream of points is written, and flushed, as it arrives;
a single result is one batch. `emit` is the only place that picks a format and the only
place that writes standard output or an --output file.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union

import numpy as np

from gradcli.errors import GradcliError
from gradcli.lang.numbers import as_written, plain_number
from gradcli.render.output import write_atomic


class Format(str, Enum):
    table = "table"
    json = "json"
    plain = "plain"
    csv = "csv"


Batches = Callable[[], Iterable[Any]]
Producer = Union[Batches, str]  # a str: why this format does not apply
def encode(obj: Any) -> str:
    """obj as strict JSON (its non-finite numbers are strings already: lang.numbers.to_json)."""
    return _encoder().encode(obj)


@functools.cache
def _encoder() -> Any:
    # NOTE: one encoder for every object (json.dumps(allow_nan=False) would build one per call),
    # made on first use, so that a table loads no json module.
    import json

    return json.JSONEncoder(allow_nan=False, check_circular=False)


def once(make: Callable[[], Any]) -> Batches:
    """A single result's producer: one batch, made when the format is chosen."""
    return lambda: [make()]


@dataclass
class View:
    """A result ready for every format: a producer (or a refusal) per format, and its files."""

    json: Producer
    csv: Producer
    plain: Producer
    table: Callable[[Any], None] | str
    text: Mapping[str, Batches] = field(default_factory=dict)
    # --output: extension -> writer of that file; .json writes the json object. A str refuses --output.
    files: Mapping[str, Callable[[str], None]] | str = field(default_factory=dict)


def _cell(v: Any) -> Any:
    return plain_number(v) if isinstance(v, (float, np.floating)) else v


def _numbers(rows: np.ndarray) -> str:
    # numbers never need CSV quoting, so rows are joined directly (the csv module is slower)
    return "".join(",".join(map(plain_number, row)) + "\n" for row in as_written(rows).tolist())


def _write_json(out: Any, batch: list[Any]) -> None:
    out.write("".join(encode(obj) + "\n" for obj in batch))


def _write_csv(out: Any, batch: Any) -> None:
    if isinstance(batch, np.ndarray):
        out.write(_numbers(batch))
    else:
        import csv  # (start-up: only CSV output needs it)

        csv.writer(out, lineterminator="\n").writerows([_cell(v) for v in row] for row in batch)


def _write_lines(out: Any, batch: Any) -> None:
    out.write(_numbers(batch) if isinstance(batch, np.ndarray) else "".join(line + "\n" for line in batch))


WRITERS = {"json": _write_json, "csv": _write_csv, "plain": _write_lines}


def emit(view: View, fmt: Format | str, output: str | None = None) -> None:
    """Write view in format fmt to standard output, or to the file output (by its extension)."""
    if output:
        return save(view, output)
    name = fmt.value if isinstance(fmt, Format) else fmt
    make = view.text[name] if name in view.text else getattr(view, name)
    if isinstance(make, str):
        raise GradcliError(make, kind="usage")
    out = sys.stdout
    if name == "table":
        from rich.console import Console

        make(Console())
    else:
        write = WRITERS.get(name, _write_lines)
        for batch in make():
            write(out, batch)
            out.flush()
    out.flush()


def save(view: View, path: str) -> None:
    """Write view to path: .json is the json object; other extensions are the view's files."""
    if isinstance(view.files, str):
        raise GradcliError(view.files, kind="usage")
    extension = os.path.splitext(path.lower())[1]
    if extension == ".json" and not isinstance(view.json, str):
        (obj,) = [obj for batch in view.json() for obj in batch]
        text = encode(obj) + "\n"
        write_atomic(path, lambda fh: fh.write(text), binary=False)
        return
    if extension not in view.files:
        known = [*([] if isinstance(view.json, str) else [".json"]), *view.files]
        listed = ", ".join(known[:-1]) + " or " + known[-1] if len(known) > 1 else known[0]
        raise GradcliError(f"--output {path!r}: use a {listed} file", kind="usage")
    view.files[extension](path)
