"""How gradcli writes a number, in every output: the one family of number formatters.

- `plain_number` / `plain_array`: full precision in the syntax VALUE accepts, so the text
  reads back as the same float64 (plain output, CSV cells).
- `as_written`: the numbers every format writes: a float32 entry as the shortest decimal
  that reads back as it in float32 (0.6666667, not 0.6666666865348816).
- `json_number` / `to_json`: strict JSON, with nan and ±inf spelled as the strings
  "nan", "inf", "-inf".
- `table_number`: N significant digits, for tables people read.
- `number_text` / `array_text`: a value on one line as PyTorch users write it (2.0, -0.5,
  1e-08), for explanations and graph labels; the analysis layer puts these into formulas.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_number(v: float) -> float | str:
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def as_written(a: Any) -> np.ndarray:
    """a as float64: float32 entries as their shortest float32 decimals (whose repr spells them)."""
    arr = np.asarray(a)
    if arr.dtype == np.float32:
        # NOTE: numpy's str of a float32 is the shortest text that reads back as that float32.
        return arr.astype(str).astype(np.float64)
    return np.asarray(arr, dtype=np.float64)


def to_json(a: Any) -> Any:
    """A nested list (or a number for a 0-d array) with non-finite values as strings."""
    arr = as_written(a)
    if arr.ndim == 0:
        return json_number(float(arr))
    if np.isfinite(arr).all():
        return arr.tolist()
    return [to_json(row) for row in arr]


def plain_number(v: float) -> str:
    """Shortest text that reads back as the same float64 (a numpy float32: float32): 2, -0.5, 1e-08, nan, inf."""
    if v == 0:
        return "0"
    text = str(v) if isinstance(v, np.float32) else repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def plain_array(a: Any) -> str:
    """The VALUE syntax: 1.5 / 1,2,3 / 1,2;3,4; higher ranks as JSON."""
    a = as_written(a)
    if a.ndim == 0:
        return plain_number(float(a))
    # A vector of one entry, or a matrix of one row, would read back with fewer axes: JSON keeps them.
    if a.ndim == 1 and a.size > 1:
        return ",".join(plain_number(v) for v in a)
    if a.ndim == 2 and a.shape[0] > 1 and a.shape[1] > 0:
        return ";".join(",".join(plain_number(v) for v in row) for row in a)
    import json  # (start-up: only a value of higher rank needs it)

    return json.dumps(to_json(a), allow_nan=False)


def table_number(v: float, digits: int) -> str:
    """A number with `digits` significant digits; nan and ±inf spelled as JSON does."""
    if not np.isfinite(v):
        return json_number(float(v))
    text = f"{v:.{digits}g}"
    return "0" if text == "-0" else text


def number_text(v: float, digits: int = 6) -> str:
    """A number as people write it: 2.0, -0.5, 1e-08, nan, inf."""
    v = float(v)
    if not np.isfinite(v):
        return json_number(v)
    text = f"{v:.{digits}g}"
    return text if any(c in text for c in ".en") else text + ".0"


def array_text(a: Any, digits: int = 6) -> str:
    """A value on one line: a number, or a bracketed (summarised when long) array."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return number_text(arr, digits)
    text = np.array2string(arr, separator=", ", threshold=24, edgeitems=3, max_line_width=10**6,
                           formatter={"float_kind": lambda v: number_text(v, digits)})
    return text.replace("\n", "")
