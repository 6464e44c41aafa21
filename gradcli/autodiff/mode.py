"""What the operations applied now should do, per thread: record a graph or not, which span
of the expression they come from, how large a result may be, whether memory may be reused,
the dtype of values made from numbers.

Each thread has its own mode, as in PyTorch: `no_grad()` in one thread leaves the graphs
other threads are recording alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ContextManager

import numpy as np


class _Mode(threading.local):
    """The defaults every thread starts from (a thread's own settings shadow them)."""

    grad_enabled = True
    dtype = np.dtype(np.float64)  # of arrays made from numbers and lists (a tensor keeps its own)
    span: tuple[int, int] | None = None  # of the sub-expression being evaluated
    max_elements: int | None = None  # refuse results with more entries than this
    # May an elementwise result be written into an input nothing reads again (call.py)? None:
    # not in code the engine does not run itself; the engine's walks say True (reusing()).
    donate: bool | None = None
    # (id of a cotangent a rule reads once, the references it may show beyond a temporary's): backward.py
    given: tuple[int, int] | None = None
    probing: list | None = None  # while calibrating the reuse checks: what they measured
    vmap: Any = None  # the Points (vmap.py) whose batched Tensors operations now read as many points
    recorder: Any = None  # a trace.Recorder writing down every operation applied (trace.py)
    trace: list | None = None  # when a list: each primitive applied is appended to it (taylor.py)
    # None of vmap, recorder and trace is set and a result of one entry is within the element limit:
    # a ufunc on 0-d tensors may take call.py's short path, and then RECORDING when grad_enabled too,
    # else AHEAD; when not, BLOCKED. Kept by setting() (one read per operation instead of five: a long
    # scalar expression is all such operations, forward and backward).
    short: int = 2


BLOCKED, AHEAD, RECORDING = 0, 1, 2  # the values of mode.short
_SHORT_PATH = frozenset({"vmap", "recorder", "trace", "max_elements", "grad_enabled"})  # what `short` reads


mode = _Mode()


@contextmanager
def setting(name: str, value: Any) -> Iterator[None]:
    """Context manager: mode.name is value inside (in this thread), as it was after."""
    previous = getattr(mode, name)
    setattr(mode, name, value)
    if name in _SHORT_PATH:
        _keep_short()
    try:
        yield
    finally:
        setattr(mode, name, previous)
        if name in _SHORT_PATH:
            _keep_short()


def _keep_short() -> None:
    limit = mode.max_elements
    short = mode.vmap is None and mode.recorder is None and mode.trace is None and (limit is None or limit >= 1)
    mode.short = BLOCKED if not short else RECORDING if mode.grad_enabled else AHEAD


def no_grad() -> ContextManager[None]:
    """Context manager (and decorator) under which operations record no graph (in this thread)."""
    return setting("grad_enabled", False)


def enable_grad() -> ContextManager[None]:
    """Context manager (and decorator) under which operations record a graph again."""
    return setting("grad_enabled", True)


def is_grad_enabled() -> bool:
    return mode.grad_enabled


def default_dtype(dtype: np.dtype) -> ContextManager[None]:
    """Context manager: values made from numbers, lists and constructors are of dtype (in this thread)."""
    return setting("dtype", np.dtype(dtype))


def element_limit(n: int | None) -> ContextManager[None]:
    """Context manager: refuse, before computing it, any result with more than n entries."""
    return setting("max_elements", n)


def source_span(span: tuple[int, int] | None) -> ContextManager[None]:
    """Context manager: nodes created inside carry this span of the expression."""
    return setting("span", span)


def reusing() -> ContextManager[None]:
    """Context manager for the engine's own walks (the expression walk, the backward pass):
    a result may take the array of a temporary input, unless without_donation() said no.

    Only there: the reference counts call.py reads cannot see a reference that C code lends
    without counting (itertools.starmap handing on the items of a tuple that lives on), and
    the engine's walks never do that, while a library caller's code might.
    """
    return setting("donate", mode.donate is not False)


def without_donation() -> ContextManager[None]:
    """Context manager: no result is written into an input's array (the same numbers, more memory)."""
    return setting("donate", False)
