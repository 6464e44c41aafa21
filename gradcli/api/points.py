"""Reading points: numbered lines of a file or standard input, turned into Points.

Points come from CSV (a header of variable names, one row of scalars per point) or JSON
Lines (one object per point, values of any shape); the first content line tells which.
Standard input is read by a thread and handed over in chunks of whatever has arrived, so
the first results appear before the input ends. A line that cannot be read as a point
becomes a BadRow, which the caller reports or skips.

    >>> reader = PointReader()
    >>> [reader.read(n, t) for n, t in enumerate(["x,y", "1,3"], start=1)]
    [None, Point(line=2, values={'x': 1.0, 'y': 3.0})]
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from gradcli.errors import GradcliError, param, spelled
from gradcli.lang.values import numeric_array, parse_numbers, parse_value
from gradcli.limits import LIMITS


@dataclass
class Point:
    """One point: its line in the input and a value per variable (floats for CSV rows)."""

    line: int
    values: dict[str, Any]


@dataclass
class BadRow:
    """A point that could not be read or computed, with the error (which may carry a span)."""

    line: int
    error: GradcliError

    @property
    def message(self) -> str:
        return spelled(f"line {self.line}: {self.error.words}")


def open_lines(path: str, stdin: IO[str] | None = None) -> tuple[Iterable[str], bool]:
    """The lines of a file, or of standard input for '-'; and whether they are streamed."""
    import sys

    if path == "-":
        return (stdin or sys.stdin), True
    try:
        return open(path, encoding="utf-8"), False
    except FileNotFoundError:
        raise GradcliError(f"{param('points')}: file {path!r} does not exist", kind="file") from None
    except IsADirectoryError:
        raise GradcliError(f"{param('points')}: {path!r} is a folder, not a file", kind="file") from None
    except OSError as err:
        raise GradcliError(f"{param('points')}: cannot read {path!r} ({err.strerror or err})", kind="file") from None


def bounded(lines: IO[str], path: str = "-") -> Iterator[str]:
    """The lines of a stream, each read only up to the text limit: an endless line cannot fill memory."""
    while True:
        line = lines.readline(LIMITS.max_text + 1)
        if not line:
            return
        if len(line) > LIMITS.max_text:
            where = "standard input" if path == "-" else repr(path)
            raise GradcliError(f"{param('points')}: a line of {where} is longer than the limit of {LIMITS.max_text:,} "
                               f"bytes (GRADCLI_MAX_TEXT)", kind="limit")
        yield line


def chunks(lines: Iterable[str], size: int, streaming: bool, path: str = "-") -> Iterator[list[tuple[int, str]]]:
    """Numbered lines (1-based) in lists of at most size.

    Streaming: a thread reads, and each list holds what has arrived (at least one line),
    so a slow producer's lines are handled as they come.
    """
    numbered = enumerate(lines, start=1)
    if not streaming:
        while True:
            try:
                block = [item for _, item in zip(range(size), numbered)]
            except (OSError, UnicodeDecodeError, ValueError) as err:
                raise GradcliError(f"{param('points')}: cannot read {path!r} ({err})", kind="file") from None
            if not block:
                return
            yield block
    arrived: queue.Queue = queue.Queue(maxsize=4 * size)
    end = object()

    def read() -> None:
        try:
            for item in numbered:
                arrived.put(item)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            arrived.put(GradcliError(f"{param('points')}: cannot read standard input ({err})", kind="file"))
        except GradcliError as err:  # a line over the limit: handed to the reading side
            arrived.put(err)
        arrived.put(end)

    threading.Thread(target=read, daemon=True).start()
    while True:
        block = [arrived.get()]
        while len(block) < size and not arrived.empty() and not isinstance(block[-1], GradcliError):
            block.append(arrived.get())
        last = block[-1]
        if last is end or isinstance(last, GradcliError):
            block.pop()
        if block:
            yield block
        if isinstance(last, GradcliError):
            raise last
        if last is end:
            return


class PointReader:
    """Turns numbered lines into Points: the first content line is a CSV header or a JSON object.

    Blank lines and lines starting with # are skipped. A CSV row holds one number per
    column; a JSON Lines object maps names to numbers, nested lists or VALUE strings.
    """

    def __init__(self, seed: int = 0):
        self.columns: list[str] | None = None
        self.jsonl: bool | None = None
        self.seed = seed

    def read(self, line: int, text: str) -> Point | BadRow | None:
        text = text.strip()
        if not text or text.startswith("#"):
            return None
        if self.jsonl is None:
            self.jsonl = text.startswith("{")
            if not self.jsonl:
                self.columns = self._header(line, text)
                return None
        try:
            return Point(line, self._object(text) if self.jsonl else self._row(text))
        except GradcliError as err:
            return BadRow(line, err)

    def _header(self, line: int, text: str) -> list[str]:
        names = [n.strip() for n in text.split(",")]
        if len(set(names)) != len(names):
            raise GradcliError(f"{param('points')}: line {line}: the CSV header names a variable twice", kind="file")
        return names

    def _row(self, text: str) -> dict[str, float]:
        assert self.columns is not None
        if ";" in text:
            raise GradcliError("a CSV row holds numbers separated by commas", kind="value")
        try:
            # NOTE: float() is the fast path; parse_numbers gives the error message (and refuses 1_000).
            if "_" in text:
                raise ValueError
            cells = [float(c) for c in text.split(",")]
        except ValueError:
            cells = np.atleast_1d(parse_numbers(text)).tolist()
        if len(cells) != len(self.columns):
            raise GradcliError(f"{len(cells)} value{'s' if len(cells) != 1 else ''} for {len(self.columns)} "
                               f"columns ({', '.join(self.columns)})", kind="value")
        return dict(zip(self.columns, cells))

    def _object(self, text: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise GradcliError(f"not valid JSON ({err})", kind="value") from None
        if not isinstance(data, dict):
            raise GradcliError("a JSON Lines point is an object such as {\"x\": 1.5}", kind="value")
        out: dict[str, Any] = {}
        for name, item in data.items():
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                out[name] = float(item)
            elif isinstance(item, str) and not item.strip().startswith("@"):
                out[name] = parse_value(item, name, seed=self.seed)
            elif isinstance(item, list):
                out[name] = numeric_array(item, name)
            else:
                raise GradcliError(f"{name}: {json.dumps(item)[:40]} is not a number, a list of numbers "
                                   f"or a VALUE string", kind="value")
        return out
