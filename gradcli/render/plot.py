"""Curves of an expression over a range: sampling, terminal drawing, picture files, and the
View of `gradcli plot`.

    >>> xs = parse_range("-3:3:7", "x")
    >>> f, df = curve("x**2", {}, "x", xs)
    >>> df.tolist()
    [-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0]

The terminal drawing uses braille characters (2 × 4 dots per character cell), so a
curve is drawn at twice the width and four times the height of the text; `chart` returns
plain strings and `draw` adds the colour. Picture files (.png, .svg, .pdf) use
matplotlib, an optional extra imported only here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.errors import GradcliError
from gradcli.lang.numbers import table_number, to_json
from gradcli.lang.values import parse_numbers
from gradcli.render.view import View, once

RANGE = re.compile(r"^\s*([^:]+):([^:]+)(?::([^:]+))?\s*$")
DEFAULT_POINTS = 201
BRAILLE = 0x2800
DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][column] within a cell
EXTRA = "pip install 'gradcli[plot]'"


def is_range(text: str) -> bool:
    return RANGE.match(text) is not None


def parse_range(text: str, name: str) -> np.ndarray:
    """start:stop[:num] -> num evenly spaced values from start to stop (both included)."""
    m = RANGE.match(text)
    if m is None:
        raise GradcliError(f"--{name}: {text!r} is not a range: write start:stop or start:stop:num", kind="value")
    start, stop = (float(parse_numbers(part)) for part in m.group(1, 2))
    num = DEFAULT_POINTS if m.group(3) is None else float(parse_numbers(m.group(3)))
    if not (math.isfinite(start) and math.isfinite(stop)) or start >= stop:
        raise GradcliError(f"--{name}: the range {text!r} needs finite start < stop", kind="value")
    if not (num >= 2 and float(num).is_integer() and num <= 100_000):
        raise GradcliError(f"--{name}: the number of points must be a whole number from 2 to 100000", kind="value")
    return np.linspace(start, stop, int(num))


def curve(expr: str, fixed: Mapping[str, Any], name: str, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f and df/dname at each x, the other variables fixed; f must be a scalar at each point.

    They are computed in the dtype of xs (float64, or float32 for a float32 range)."""
    from gradcli.api.batch import BadRow, Batch, Point

    batch = Batch("grad", expr, fixed, name, diagnose=False, dtype=xs.dtype)
    values, slopes = [], []
    for item in batch.compute([Point(i, {name: float(x)}) for i, x in enumerate(xs)]):
        if isinstance(item, BadRow):
            raise GradcliError(f"at {name} = {table_number(xs[item.line], 6)}: {item.error.message}", kind=item.error.kind,
                               span=item.error.span, source=item.error.source)
        values.append(item.value.reshape(-1))
        slopes.append(item.gradients[name].reshape(-1))
    return np.concatenate(values), np.concatenate(slopes)


@dataclass
class Series:
    title: str
    xs: np.ndarray
    ys: np.ndarray
    xlabel: str
    log: bool = False  # draw log10(y)


def braille(xs: np.ndarray, ys: np.ndarray, width: int, height: int,
            bounds: tuple[float, float, float, float]) -> list[str]:
    """height strings of width braille cells: the polyline through the finite (x, y) points."""
    x0, x1, y0, y1 = bounds
    cols, rows = 2 * width, 4 * height
    dots = np.zeros((rows, cols), dtype=bool)
    px = (xs - x0) / (x1 - x0) * (cols - 1)
    py = (y1 - ys) / (y1 - y0) * (rows - 1) if y1 > y0 else np.full(len(ys), (rows - 1) / 2)
    ok = np.isfinite(px) & np.isfinite(py)
    for i in range(len(px)):
        if not ok[i]:
            continue
        # NOTE: join each point to the next one so steep parts stay connected.
        if i + 1 < len(px) and ok[i + 1]:
            n = int(max(abs(px[i + 1] - px[i]), abs(py[i + 1] - py[i]))) + 2
            seg_x, seg_y = np.linspace(px[i], px[i + 1], n), np.linspace(py[i], py[i + 1], n)
        else:
            seg_x, seg_y = px[i:i + 1], py[i:i + 1]
        dots[np.rint(seg_y).astype(int).clip(0, rows - 1), np.rint(seg_x).astype(int).clip(0, cols - 1)] = True
    lines = []
    for r in range(height):
        cells = []
        for c in range(width):
            block = dots[4 * r:4 * r + 4, 2 * c:2 * c + 2]
            code = sum(DOT_BITS[i][j] for i, j in zip(*np.nonzero(block)))
            cells.append(chr(BRAILLE + code))
        lines.append("".join(cells))
    return lines


def _label(v: float) -> str:
    return table_number(v, 4)


def chart(series: Series, width: int = 60, height: int = 12) -> list[tuple[str, str]]:
    """Rows of (left margin, drawing): a title, the curve with its y range, then the x range."""
    ys = np.log10(np.where(series.ys > 0, series.ys, np.nan)) if series.log else series.ys
    finite = ys[np.isfinite(ys)]
    y0, y1 = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    x0, x1 = float(series.xs[0]), float(series.xs[-1])
    rows = braille(series.xs, ys, width, height, (x0, x1, y0, y1))
    shown = (lambda v: _label(10 ** v)) if series.log else _label
    top, bottom = (shown(y1), shown(y0)) if finite.size else ("", "")
    margin = max(len(top), len(bottom)) + 1
    out = [("", series.title + ("" if finite.size else "  (no finite value over this range)"))]
    for i, row in enumerate(rows):
        label = top if i == 0 else bottom if i == height - 1 else ""
        out.append((label.rjust(margin - 1) + "┤", row))
    left, right = _label(x0), _label(x1)
    axis = left + series.xlabel.center(max(0, width - len(left) - len(right))) + right
    out.append((" " * margin, axis))
    return out


def save(path: str, series: Sequence[Series]) -> None:
    """The series, one panel each, as a .png, .svg or .pdf picture (matplotlib)."""
    from gradcli.render.output import write_atomic

    kind = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if kind not in ("png", "svg", "pdf"):
        raise GradcliError(f"--output {path!r}: use a .png, .svg or .pdf file", kind="usage")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise GradcliError(f"--output {path!r} draws with matplotlib, which is not installed: {EXTRA}",
                           kind="usage") from None
    fig = Figure(figsize=(7, 2.6 * len(series)), layout="constrained")
    for ax, s in zip(fig.subplots(len(series), 1, squeeze=False)[:, 0], series):
        ax.plot(s.xs, s.ys)
        if s.log:
            ax.set_yscale("log")
        ax.set_title(s.title, loc="left", fontsize=10)
        ax.set_xlabel(s.xlabel)
        ax.grid(True, alpha=0.3)
    write_atomic(path, lambda fh: fig.savefig(fh, format=kind), binary=True)


PICTURES = (".png", ".svg", ".pdf")


def picture_files(series: Callable[[], Sequence[Series]]) -> dict[str, Callable[[str], None]]:
    """A View's --output writers for pictures of the series (made when a picture is asked for)."""
    return {extension: lambda path: save(path, series()) for extension in PICTURES}


def draw(series: Sequence[Series], console: Any, height: int = 12) -> None:
    """Each series as a terminal chart on console, the curve in colour."""
    from rich.text import Text

    width = max(20, min(100, console.width - 12))
    for s, style in zip(series, ("cyan", "magenta")):
        for margin, drawing in chart(s, width, height):
            console.print(Text(margin) + Text(drawing, style=style if margin.endswith("┤") else "bold"),
                          soft_wrap=True)


def curve_view(expr: str, name: str, xs: np.ndarray, ys: np.ndarray, slopes: np.ndarray, height: int) -> View:
    """`gradcli plot`: json {"expression", "variable", NAME, "value", "d/dNAME"}; csv NAME, value, d/dNAME
    a row per x; plain the same rows without the header; charts; a .png, .svg or .pdf picture."""
    series = [Series(f"f = {expr}", xs, ys, name), Series(f"df/d{name}", xs, slopes, name)]
    table = np.stack([xs, ys, slopes], axis=1)
    said = {"dtype": "float32"} if ys.dtype == np.float32 else {}  # (float64, the default, goes unsaid)
    return View(json=once(lambda: [{"expression": expr, "variable": name, **said, name: to_json(xs),
                                    "value": to_json(ys), f"d/d{name}": to_json(slopes)}]),
                csv=lambda: [[[name, "value", f"d/d{name}"]], table],
                plain=lambda: [table],
                table=lambda console: draw(series, console, height),
                files=picture_files(lambda: series))
