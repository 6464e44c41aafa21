"""How a tensor prints, by PyTorch's rules (torch/_tensor_str.py): precision 4, scientific notation when
the magnitudes span more than 1000 or leave [1e-4, 1e8], integers as `4.`, rows wrapped at 80 columns,
more than 1000 entries summarised by the 3 first and last along each axis, then the suffixes
(dtype=, grad_fn=<...>, requires_grad=True) placed as PyTorch places them.
"""

from __future__ import annotations

import math

import numpy as np

PRECISION = 4
LINE_WIDTH = 80
THRESHOLD = 1000  # more entries than this are summarised
EDGE_ITEMS = 3


class Formatter:
    """The width and notation shared by every entry of one tensor (PyTorch's _Formatter)."""

    def __init__(self, values: np.ndarray, is_bool: bool):
        self.is_bool = is_bool
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        if is_bool:
            self.width = max([len(str(bool(v))) for v in flat] + [1])
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        magnitudes = np.abs(finite).astype(np.float64)
        low, high = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        self.sci_mode = bool(high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4)
        if self.sci_mode:
            self.width = max(len(f"{float(v):.{PRECISION}e}") for v in finite)
        elif self.int_mode:
            self.width = max(len(f"{float(v):.0f}") + 1 for v in finite)
        else:
            self.width = max(len(f"{float(v):.{PRECISION}f}") for v in finite)

    def format(self, value: float) -> str:
        if self.is_bool:
            text = str(bool(value))
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRECISION}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if not (math.isinf(value) or math.isnan(value)):
                text += "."
        else:
            text = f"{value:.{PRECISION}f}"
        return (self.width - len(text)) * " " + text


def _summarized(values: np.ndarray) -> np.ndarray:
    """The entries a summarised print shows (for the formatter): the edges along each axis."""
    if values.ndim == 0 or values.shape[0] <= 2 * EDGE_ITEMS:
        kept = values
    else:
        kept = np.concatenate([values[:EDGE_ITEMS], values[-EDGE_ITEMS:]])
    if values.ndim <= 1:
        return kept
    return np.stack([_summarized(row) for row in kept])


def _vector(values: np.ndarray, indent: int, summarize: bool, formatter: Formatter) -> str:
    per_line = max(1, math.floor((LINE_WIDTH - indent) / (formatter.width + 2)))
    if summarize and values.shape[0] > 2 * EDGE_ITEMS:
        data = [formatter.format(float(v)) for v in values[:EDGE_ITEMS]] + [" ..."] + \
               [formatter.format(float(v)) for v in values[-EDGE_ITEMS:]]
    else:
        data = [formatter.format(float(v)) for v in values]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: np.ndarray, indent: int, summarize: bool, formatter: Formatter) -> str:
    if values.ndim == 0:
        return formatter.format(float(values))
    if values.ndim == 1:
        return _vector(values, indent, summarize, formatter)
    n = values.shape[0]
    if summarize and n > 2 * EDGE_ITEMS:
        rows = [_nested(values[i], indent + 1, summarize, formatter) for i in range(EDGE_ITEMS)] + ["..."] + \
               [_nested(values[i], indent + 1, summarize, formatter) for i in range(n - EDGE_ITEMS, n)]
    else:
        rows = [_nested(values[i], indent + 1, summarize, formatter) for i in range(n)]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def tensor_str(values: np.ndarray, indent: int, is_bool: bool = False) -> str:
    """The bracketed entries of a tensor whose text starts indent columns in."""
    if values.size == 0:
        return "[]"
    summarize = values.size > THRESHOLD
    formatter = Formatter(_summarized(values) if summarize else values, is_bool)
    return _nested(values, indent, summarize, formatter)


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINE_WIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(values: np.ndarray, *, dtype_name: str | None, grad_fn_name: str | None,
                requires_grad: bool, is_bool: bool = False) -> str:
    """repr of a tensor as PyTorch writes it: `tensor([1., 2.], grad_fn=<MulBackward0>)`.

    dtype_name is given when the dtype is not the default one (it is then printed).
    """
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if values.size == 0 and values.ndim != 1:
        suffixes.append(f"size={tuple(values.shape)}")
    if dtype_name is not None:
        suffixes.append(f"dtype={dtype_name}")
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + tensor_str(values, indent, is_bool), suffixes, indent)
