"""Large elementwise operations split across threads (numpy releases the GIL in ufuncs).

An elementwise ufunc over many entries runs on slices of its output along the first
axis, taken in turn by one thread per core, each written in place into one
preallocated result. Every entry is computed by the same ufunc loop from the same
inputs, so the numbers are the ones a single call gives. GRADCLI_THREADS=1 turns this off.
"""

from __future__ import annotations

import contextvars
import itertools
import os
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

# Below this many entries a thread hand-off costs more than it saves. Most ufuncs run
# vectorized at about 1 ns an entry and gain from 2^20 entries on; float64 sin and cos
# take about 5 ns an entry and gain from 2^17 on.
MIN_ENTRIES = 1 << 20
MIN_ENTRIES_SLOW = 1 << 17
SLOW = frozenset({np.sin, np.cos})
PIECES_PER_THREAD = 8

_pool: Any = None
_pool_pid = 0  # the process that made _pool: a forked child has none of its threads


def workers() -> int:
    """Threads an elementwise operation may use: GRADCLI_THREADS, else the cores we may run on."""
    text = os.environ.get("GRADCLI_THREADS", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def apply_ufunc(fn: np.ufunc, arrays: tuple[np.ndarray, ...], out: np.ndarray | None = None) -> np.ndarray:
    """fn(*arrays) (float64 or float32, broadcasting), in slices on several threads when it is large.

    out, if given, is an array shaped like the result to write it into (it may be an input).
    """
    least = MIN_ENTRIES_SLOW if fn in SLOW else MIN_ENTRIES
    for a in arrays:  # (a loop: this runs for every operation, most of them small)
        if a.size >= least:
            break
    else:
        return fn(*arrays) if out is None else fn(*arrays, out=out)
    # NOTE: a generalized ufunc (np.matmul has a signature) is not elementwise: never sliced.
    dtype = arrays[0].dtype
    if fn.signature is not None or fn.nout != 1 or dtype.kind != "f" or any(a.dtype != dtype for a in arrays):
        return fn(*arrays) if out is None else fn(*arrays, out=out)
    count = workers()
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    if count < 2 or shape[0] < count:
        return fn(*arrays) if out is None else fn(*arrays, out=out)
    if out is None:
        out = np.empty(shape, dtype)
    full = tuple(np.broadcast_to(a, shape) for a in arrays)
    # Pieces rather than one slice per thread: a thread whose core is taken away for a while
    # (a busy neighbour, a virtual CPU the host preempts) leaves its pieces to the others
    # instead of holding up the whole operation.
    pieces = min(shape[0], count * PIECES_PER_THREAD)
    bounds = np.linspace(0, shape[0], pieces + 1).astype(int)
    queue = deque(itertools.pairwise(bounds.tolist()))  # popleft is thread-safe
    each_thread(lambda: _take(fn, full, out, queue), count)
    return out


def each_thread(task: Callable[[], None], count: int) -> None:
    """task() on count threads at once (this one and count - 1 of a pool), until every one returns."""
    if count < 2:
        task()
        return
    pool = _threads(count)
    # NOTE: numpy's errstate lives in a context variable; each worker runs in a copy of ours.
    pending = [pool.submit(contextvars.copy_context().run, task) for _ in range(count - 1)]
    task()
    for job in pending:
        job.result()


def _take(fn: np.ufunc, full: tuple[np.ndarray, ...], out: np.ndarray, queue: deque) -> None:
    """Compute pieces [lo, hi) of the first axis until none is left."""
    while True:
        try:
            lo, hi = queue.popleft()
        except IndexError:
            return
        fn(*(a[lo:hi] for a in full), out=out[lo:hi])


def _threads(count: int) -> Any:
    global _pool, _pool_pid
    if _pool is None or _pool._max_workers < count - 1 or _pool_pid != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=count - 1, thread_name_prefix="gradcli")
        _pool_pid = os.getpid()
    return _pool
