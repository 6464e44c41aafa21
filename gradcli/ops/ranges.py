"""Constructors of arrays from numbers: arange, linspace, full, and full_like of an array.

Their values are constants (no gradient flows through them, as PyTorch's tensors made
from Python numbers); their numbers may be any real numbers, sizes are whole numbers.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.errors import GradcliError
from gradcli.autodiff.op import Sample, primitive

_REAL = "real"


def _given(name: str, **values) -> None:
    """An error naming the first of values a call left out (each is required)."""
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise GradcliError(f"{name}() is missing {missing[0]}", kind="syntax")


def _arange_bounds(start=None, end=None, step=1.0):
    _given("arange", end=start if end is None else end)
    if end is None:  # arange(5): from 0 to 5, as numpy and torch read one number
        start, end = 0.0, start
    elif start is None:  # arange(end=5)
        start = 0.0
    if not all(math.isfinite(v) for v in (start, end, step)) or step == 0:
        raise GradcliError("arange() takes finite start, end and a step that is not 0", kind="value")
    if (end - start) * step < 0:
        raise GradcliError(f"arange() from {start:g} to {end:g} cannot go by a step of {step:g}: "
                           f"its sign points away from the end", kind="value")
    return {"start": float(start), "end": float(end), "step": float(step)}


def _arange_length(start, end, step):
    return math.ceil((end - start) / step)


primitive(name="arange", doc="start, start + step, ... up to but not including end (arange(n): 0 to n - 1)",
          signature="arange(start=0, end, step=1)", family="constant", constructor=True, arity=0,
          keywords=("start", "end", "step"), positional=3, kinds={"start": _REAL, "end": _REAL, "step": _REAL},
          spelled={"stop": "end"},
          prepare=_arange_bounds, example="0.5, 2, 0.5",
          shape=lambda start, end, step: (_arange_length(start, end, step),),
          forward=lambda start, end, step: start + np.arange(_arange_length(start, end, step)) * step,
          differentiable=False)


def _linspace_steps(start=None, end=None, steps=None):
    _given("linspace", start=start, end=end, steps=steps)
    if steps < 0:
        raise GradcliError("linspace() takes steps as a whole number, 0 or more", kind="value")
    return {"start": float(start), "end": float(end), "steps": int(steps)}


def _linspace(start, end, steps):
    # As torch's kernel: the first half counted from start, the second from end, so both ends are exact.
    if steps == 1:
        return np.array([start])
    step = (end - start) / (steps - 1)
    i = np.arange(steps)
    return np.where(i < steps // 2, start + i * step, end - (steps - 1 - i) * step)


primitive(name="linspace", doc="steps numbers evenly spaced from start to end, both included",
          signature="linspace(start, end, steps)", family="constant", constructor=True, arity=0,
          keywords=("start", "end", "steps"), positional=3, kinds={"start": _REAL, "end": _REAL},
          spelled={"stop": "end", "num": "steps"},
          prepare=_linspace_steps, example="0, 1, 3", shape=lambda start, end, steps: (steps,), forward=_linspace,
          differentiable=False)


def _full_size(size=None, fill_value=None):
    _given("full", size=size, fill_value=fill_value)
    size = tuple(size) if isinstance(size, tuple) else (size,)
    if any(n < 0 for n in size):
        raise GradcliError(f"full() takes sizes of 0 or more, not {size}", kind="value")
    return {"size": size, "fill_value": float(fill_value)}


primitive(name="full", doc="an array of the given size, every entry fill_value: full((2, 3), 0.5)",
          signature="full(size, fill_value)", family="constant", constructor=True, arity=0,
          keywords=("size", "fill_value"), positional=2, kinds={"size": "axis", "fill_value": _REAL},
          prepare=_full_size, example="3, 0.5", shape=lambda size, fill_value: size,
          forward=lambda size, fill_value: np.full(size, fill_value), differentiable=False)
def _full_like_value(shape, fill_value=None):
    _given("full_like", fill_value=fill_value)
    return {"fill_value": float(fill_value)}


primitive(name="full_like", doc="an array shaped like x, every entry fill_value (no gradient flows to x)",
          signature="full_like(x, fill_value)", family="constant", keywords=("fill_value",),
          kinds={"fill_value": _REAL}, prepare=_full_like_value,
          forward=lambda x, fill_value: np.full_like(x, fill_value),
          shape=lambda s, fill_value: s, differentiable=False, elementwise=True,
          samples=(Sample(((2, 3),), params={"fill_value": 0.5}), Sample(((3,),), params={"fill_value": -2.0})))
