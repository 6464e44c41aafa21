"""How gradcli writes a number: strict JSON's spelling of non-finite values, and numbers
and arrays on one line as people write them (2.0, -0.5, 1e-08, nan, inf)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_number(v: float) -> float | str:
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


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
