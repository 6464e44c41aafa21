"""Fused replay: a traced program over large arrays of one shape, run block by block.

A program recorded at full size (autodiff/trace.py) makes a full-size array per operation,
so a chain of elementwise operations reads and writes main memory once per operation.
`fuse` groups its steps into phases: a run of elementwise ufunc steps, copies and sums of
every entry over the large arrays of one shape runs on blocks of a few thousand entries,
in turn on `parallel.workers()` threads (numpy releases the GIL in ufuncs). A block's
temporaries stay in cache; only the program's outputs and the arrays a later step reads
are written at full size. A step the fuser does not know (a matmul, a guard on a large
array, a broadcast it cannot slice) runs as in the plain replay, on whole arrays.

The numbers are the plain replay's, bit for bit: an elementwise ufunc computes each entry
from the same operands with the same loop, whatever the slice. A sum of every entry is
numpy's pairwise summation (0 + pairwise(a): n < 8 adds in turn from -0; up to 128 entries
eight accumulators; above, split at n2 = n//2 - (n//2 % 8)), so the blocks are nodes of that
tree: each block's pairwise sum is np.add.reduce(block, initial=-0.0), and the block sums are
added as the tree adds them. tests/test_fused.py checks this over many sizes, both dtypes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from gradcli.autodiff.op import Elementwise
from gradcli.autodiff.parallel import SLOW, each_thread, workers
from gradcli.autodiff.tensor import as_array

# A program whose large arrays are smaller replays unfused. At 1e5 entries fused is already
# the faster (sinexp's compiled gradient 1.3 ms against 6.4 ms unfused, 3.2 ms eager; mse's
# 0.3 ms against 0.13 ms: a few thread hand-offs); at 1e4 the two are alike.
FUSE_ENTRIES = 1 << 15
BLOCK = 1 << 16  # most entries in a block: few Python calls a block, and its temporaries stay in cache
PAIRWISE_LEAF = 128  # numpy sums up to this many entries without splitting them
SUMS = ("total", "inner")  # the kinds of step whose result is a sum, known once every block is done


class Total:
    """The traced step of a sum or mean (an operation's replay): forward(x) in the plain replay;
    or of an inner product: forward(a, b), the sum of a * b (see `inner`).

    whole: it sums every entry (the fuser may compute it block by block); mean: the sum is
    then divided by the count of entries, as forward divides it.
    """

    def __init__(self, forward: Callable[[np.ndarray], Any], ans: np.ndarray, whole: bool, mean: bool):
        self.forward, self.shape, self.dtype, self.whole, self.mean = forward, ans.shape, ans.dtype, whole, mean

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        return self.finish(self.forward(*arrays))

    def finish(self, ans: Any) -> np.ndarray:
        return ans if type(ans) is np.ndarray and ans.dtype == self.dtype else as_array(ans, self.dtype)

    def of_sum(self, total: np.floating, count: int) -> np.ndarray:
        """The step's result from the sum of every entry (a numpy scalar of the dtype)."""
        return self.finish(total / float(count) if self.mean else total).reshape(self.shape)


def total_replay(forward: Callable[..., Any], mean: bool) -> Callable[..., Total]:
    """An Op.replay for a reduction forward(x, axis, keepdims): a Total step."""
    def replay(ans: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> Total:
        whole = len(axis) == ans.ndim if keepdims else ans.ndim == 0
        return Total(lambda x: forward(x, axis, keepdims), ans, whole, mean)
    return replay


def inner(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sum of a * b (same shape and float dtype) as np.add.reduce(a * b) gives it, bit for
    bit (numpy's pairwise summation of the products), computed block by block: no array of
    products is made. Unlike a BLAS dot product, whose order of additions no block
    split reproduces, a fused pass can compute it with the steps that make a and b."""
    total = Total(None, np.empty((), a.dtype), whole=True, mean=False)
    phase = Phase()
    phase.add("inner", total, (0, 1), 2)
    buf = [a, b, None]
    phase.run(buf, a.shape, a.dtype)
    return buf[2]


def vector_dot(a: np.ndarray, b: np.ndarray) -> Any:
    """a @ b for two vectors: from FUSE_ENTRIES entries on, `inner` (so that a fused program,
    which fuses from that size, can compute it block by block); below, numpy's (BLAS) dot."""
    if a.size >= FUSE_ENTRIES and a.dtype == b.dtype and a.dtype.kind == "f":
        return inner(a, b)
    return np.matmul(a, b)


def pairwise_blocks(n: int, most: int) -> tuple[list[tuple[int, int]], Any]:
    """Blocks [lo, hi) covering [0, n): the nodes of numpy's pairwise summation tree of at most
    `most` entries (most >= 128); and the tree over them: a block's index, or a pair of trees."""
    blocks: list[tuple[int, int]] = []

    def node(lo: int, size: int) -> Any:
        if size <= most or size <= PAIRWISE_LEAF:
            blocks.append((lo, lo + size))
            return len(blocks) - 1
        half = size // 2
        half -= half % 8
        return node(lo, half), node(lo + half, size - half)

    return blocks, node(0, n)


def _added(tree: Any, sums: Sequence[np.floating]) -> np.floating:
    return sums[tree] if isinstance(tree, int) else _added(tree[0], sums) + _added(tree[1], sums)


class Phase:
    """Steps run block by block: (kind, fn, input slots, output slot); kind is "ufunc", "copy",
    "total" (the sum of an array's entries) or "inner" (the sum of two arrays' products)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Any, tuple[int, ...], int]] = []
        self.made: set[int] = set()
        self.totals: set[int] = set()
        self.full: set[int] = set()  # large slots it writes at full size
        self.slow = False  # a step takes several ns an entry (sin, cos): worth the threads

    def add(self, kind: str, fn: Any, ins: tuple[int, ...], out: int) -> None:
        if kind == "ufunc" and not isinstance(fn, (np.ufunc, Elementwise)):
            fn = fn.ufunc  # (the step itself gives no out=)
        self.slow |= fn in SLOW
        self.steps.append((kind, fn, ins, out))
        (self.totals if kind in SUMS else self.made).add(out)

    def run(self, buf: list, shape: tuple[int, ...], dtype: np.dtype) -> None:
        n = math.prod(shape)
        blocks, tree = pairwise_blocks(n, BLOCK)
        for slot in self.full:
            buf[slot] = np.empty(shape, dtype)
        # Each slot the steps name is a place in a block's list of views: the large arrays
        # (sliced), the scratch buffers (block temporaries, shared by slots whose uses do
        # not overlap), the single numbers.
        outside = [slot for _kind, _fn, ins, _out in self.steps for slot in ins if slot not in self.made]
        large = [slot for slot in dict.fromkeys(outside) if buf[slot].size == n] + sorted(self.full)
        flat = [buf[slot].reshape(-1) for slot in large]  # (a copy if not contiguous: the same numbers)
        singles = [slot for slot in dict.fromkeys(outside) if buf[slot].size != n]
        place = {slot: i for i, slot in enumerate(large)}
        scratch = _share(self.steps, self.full, len(large))
        place.update(scratch)
        buffers = max(scratch.values(), default=len(large) - 1) + 1 - len(large)
        place.update({slot: buffers + len(large) + i for i, slot in enumerate(singles)})
        numbers = [buf[slot].reshape(()) for slot in singles]
        program = [(kind, fn, itemgetter(*[place[i] for i in ins]) if len(ins) > 1 else _one(place[ins[0]]),
                    out if kind in SUMS else place[out]) for kind, fn, ins, out in self.steps]
        sums = {out: [None] * len(blocks) for kind, _fn, _ins, out in self.steps if kind in SUMS}
        products = any(kind == "inner" for kind, _fn, _ins, _out in self.steps)
        queue = deque(range(len(blocks)))  # popleft is thread-safe

        def take() -> None:
            own = [np.empty(BLOCK, dtype) for _ in range(buffers)]
            spare = np.empty(BLOCK if products else 0, dtype)  # an inner step's products
            while True:
                try:
                    index = queue.popleft()
                except IndexError:
                    return
                lo, hi = blocks[index]
                views = [a[lo:hi] for a in flat] + [a[:hi - lo] for a in own] + numbers
                for kind, fn, args, out in program:
                    if kind == "ufunc":
                        fn(*args(views), out=views[out])
                    elif kind == "copy":
                        np.copyto(views[out], *args(views))
                    elif kind == "total":
                        sums[out][index] = np.add.reduce(*args(views), initial=-0.0)
                    else:
                        sums[out][index] = np.add.reduce(np.multiply(*args(views), out=spare[:hi - lo]),
                                                         initial=-0.0)

        # Threads take turns holding the GIL between numpy calls, and a turn costs more than a
        # block of a fast ufunc: a phase of fast steps runs faster on one thread.
        each_thread(take, min(workers() if self.slow else 1, len(blocks)))
        for kind, fn, ins, out in self.steps:
            if kind in SUMS:
                buf[out] = fn.of_sum(dtype.type(0.0) + _added(tree, sums[out]), n)


def _one(place: int) -> Callable[[list], tuple]:
    return lambda views: (views[place],)


def _share(steps: list[tuple], full: set[int], first: int) -> dict[int, int]:
    """Places (from first on) of the block temporaries of steps: a place is reused once the
    temporary in it has been read for the last time."""
    last = {slot: j for j, (_kind, _fn, ins, _out) in enumerate(steps) for slot in ins}
    free: list[int] = []
    place: dict[int, int] = {}
    count = first
    for j, (kind, _fn, ins, out) in enumerate(steps):
        if kind not in SUMS and out not in full:
            if free:
                place[out] = free.pop()
            else:
                place[out], count = count, count + 1
        free += [place[slot] for slot in dict.fromkeys(ins) if slot in place and last[slot] == j]
    return place


class Fused:
    """A Program replayed with its phases fused: run(inputs) gives the program's outputs."""

    def __init__(self, program: Any, schedule: list, shape: tuple[int, ...], dtype: np.dtype):
        self.program, self.schedule, self.shape, self.dtype = program, schedule, shape, dtype

    def __len__(self) -> int:
        return len(self.program)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        buf = self.program.template.copy()
        buf[:self.program.inputs] = inputs
        with np.errstate(all="ignore"):
            for item in self.schedule:
                if isinstance(item, Phase):
                    item.run(buf, self.shape, self.dtype)
                else:
                    self.program.execute(item, buf)
        return self.program.results(buf)


def _kind(fn: Any, params: dict, ins: tuple[int, ...], out: int, keep: list, shape: tuple, dtype: np.dtype) -> str | None:
    """How a step runs in a phase, or None: it runs on whole arrays."""
    if params:
        return None
    arrays = [keep[i] for i in ins]
    if not all(isinstance(a, np.ndarray) and a.dtype == dtype for a in arrays):
        return None
    if isinstance(fn, Total):
        if not (fn.whole and all(a.shape == shape for a in arrays)):
            return None
        return "total" if len(arrays) == 1 else "inner"
    result = keep[out]
    if not (isinstance(result, np.ndarray) and result.shape == shape and result.dtype == dtype):
        return None
    if fn is np.array and len(arrays) == 1 and arrays[0].shape == shape:
        return "copy"
    ufunc = fn if isinstance(fn, (np.ufunc, Elementwise)) else getattr(fn, "ufunc", None)
    if ufunc is None or ufunc.nout != 1 or ufunc.signature is not None:
        return None
    # Each input is a large array or a single number (sliced or broadcast alike).
    if any(a.shape != shape and (a.size != 1 or a.ndim > len(shape)) for a in arrays):
        return None
    return "ufunc"


def fuse(program: Any, steps: Sequence[tuple], keep: Sequence[Any]) -> Any:
    """program (recorded as steps: (fn, input slots, params, output slot, into); keep: the array
    recorded in each slot) as a Fused program, or program itself when nothing fuses."""
    large = [a for a in keep if isinstance(a, np.ndarray) and a.size >= FUSE_ENTRIES]
    if not large or len({(a.shape, a.dtype) for a in large}) != 1 or large[0].dtype.kind != "f":
        return program
    shape, dtype = large[0].shape, large[0].dtype
    schedule: list[Any] = []
    phase: Phase | None = None
    home: dict[int, Phase] = {}  # the phase that makes a slot
    for index, (fn, ins, params, out, _into) in enumerate(steps):
        kind = _kind(fn, params, ins, out, keep, shape, dtype)
        reads_phase = phase is not None and any(home.get(i) is phase for i in ins)
        if kind is not None:
            if phase is None or any(i in phase.totals for i in ins):  # a sum is known after its phase
                phase = Phase()
                schedule.append(phase)
            phase.add(kind, fn, ins, out)
            home[out] = phase
        elif reads_phase:
            phase = None
            schedule.append(index)
        elif phase is not None:  # it needs nothing of the open phase: it runs before it
            schedule.insert(schedule.index(phase), index)
        else:
            schedule.append(index)
    phases = [item for item in schedule if isinstance(item, Phase)]
    if not any(len(p.steps) > 1 for p in phases):
        return program
    # A large array is written at full size when it is an output or a step outside its phase reads it.
    readers = [(steps[item][1], None) if not isinstance(item, Phase) else (
        tuple(i for _k, _f, ins, _o in item.steps for i in ins), item) for item in schedule]
    for p in phases:
        p.full = {slot for slot in p.made if slot in program.outputs
                  or any(slot in ins and owner is not p for ins, owner in readers)}
        _write_copies_in_place(p)
    return Fused(program, schedule, shape, dtype)


def _write_copies_in_place(p: Phase) -> None:
    """A copy of a block temporary read by nothing else (an output's copy): the step that makes
    the temporary writes the copy's array instead, and the copy goes."""
    for step in [s for s in p.steps if s[0] == "copy"]:
        source, target = step[2][0], step[3]
        if source in p.made and source not in p.full and sum(ins.count(source) for _k, _f, ins, _o in p.steps) == 1:
            p.steps.remove(step)
            p.steps = [(kind, fn, ins, target if out == source else out) for kind, fn, ins, out in p.steps]
            p.made.discard(source)
