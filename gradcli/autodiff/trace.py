"""Traced programs: a computation recorded once as a flat list of numpy calls, then replayed.

While a `Recorder` is recording (in this thread), every operation the engine applies
(call.py `_apply`, inside the expression walk and inside backward rules alike) and every
cotangent sum (backward.py `accumulate`) is written down as one step: a numpy function,
the numbered buffers it reads, its parameters (shape rules and `prepare` already done),
the buffer it fills. Arrays the steps read that no step made and no input is are
constants of the program (numbers of the expression, seeds). The result, a `Program`,
replays those steps on new input arrays of the same shapes and dtype: no graph walk, no
Node, no shape rule, no broadcasting decision, no reuse check. It computes the very same
numpy calls on the very same operands, so its numbers are bit-identical to the eager run.

Python code that reads data to decide what to compute (a rule taking a cheaper path when
no entry is 0, a sum's cotangent read as one number) goes through `decide(fn, *values)`:
eagerly it is fn(*arrays); while recording it also becomes a guard step, which the replay
evaluates again and which stops the replay (`Miss`) when the decision goes the other way.
`Traced` caches programs per input signature (names, shapes, dtypes), as `jax.jit` does:
a new shape records again; a guard that misses records again at that point (the eager
numbers), and a signature whose guards keep missing runs eagerly from then on.

Recording runs with memory reuse off (an array written in place would be two buffers in
one); the replay makes no reuse decision of its own. The recorder does not keep a large
array alive: it keeps its shape and dtype, and forgets its id when it is freed, so the
first run at a shape holds the eager run's memory, not every intermediate at once.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from operator import itemgetter
from typing import Any

import numpy as np

from gradcli.autodiff.fused import Fused, fuse
from gradcli.autodiff.mode import mode, setting
from gradcli.autodiff.parallel import MIN_ENTRIES, MIN_ENTRIES_SLOW, SLOW, apply_ufunc
from gradcli.autodiff.scalar import ScalarProgram, tiny_replay
from gradcli.autodiff.tensor import Tensor, as_array


class Miss(Exception):
    """A guard of a traced program evaluated otherwise than when it was recorded."""


def decide(fn: Callable[..., Any], *values: Any) -> Any:
    """fn of the arrays of values (Tensors or arrays): a decision that reads data.

    While a program is recorded, the decision becomes a guard the replay checks: numbers
    compare equal (nan equal to nan), anything else with ==.
    """
    arrays = [v.data if isinstance(v, Tensor) else v for v in values]
    result = fn(*arrays)
    recorder = mode.recorder
    if recorder is not None:
        recorder.guard(fn, arrays, result)
    return result


def computed(fn: Callable[..., np.ndarray], *values: Any) -> np.ndarray:
    """fn of the arrays of values (Tensors or arrays): an array Python code computes from data
    outside the operations; while a program is recorded, it becomes a step of its own."""
    arrays = [v.data if isinstance(v, Tensor) else v for v in values]
    result = fn(*arrays)
    recorder = mode.recorder
    if recorder is not None:
        recorder.step(fn, arrays, {}, result)
    return result


def untraced() -> None:
    """Called where Python code computes from data in a way no step records: the run being
    recorded is not kept as a program (the next call at its shapes records again)."""
    if mode.recorder is not None:
        mode.recorder.kept = False


def run_ufunc(ufunc: np.ufunc, dtype: np.dtype, small: bool) -> Callable[..., np.ndarray]:
    """The step of an elementwise operation: apply_ufunc (the ufunc itself on inputs too small
    for threads, as apply_ufunc would decide at these shapes), the result as an array of dtype."""
    def step(*arrays: np.ndarray) -> np.ndarray:
        ans = ufunc(*arrays) if small else apply_ufunc(ufunc, arrays)
        return ans if type(ans) is np.ndarray and ans.dtype == dtype else np.asarray(ans, dtype)
    step.ufunc = ufunc  # (read by the fused replay)
    return step


def run_forward(forward: Callable[..., Any], dtype: np.dtype) -> Callable[..., np.ndarray]:
    """The step of any other operation: its forward, the result as an array of dtype."""
    def step(*arrays: np.ndarray, **params: Any) -> np.ndarray:
        ans = forward(*arrays, **params)
        return ans if type(ans) is np.ndarray and ans.dtype == dtype else as_array(ans, dtype)
    return step


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _guard_step(fn: Callable[..., Any], expected: Any) -> Callable[..., None]:
    def step(*arrays: np.ndarray) -> None:
        if not _same(fn(*arrays), expected):
            raise Miss
    return step


class Recorder:
    """Writes down the steps applied while it is recording (`with recorder.recording():`)."""

    def __init__(self, inputs: Sequence[np.ndarray]):
        self.slots: dict[int, int] = {}
        self.constants: dict[int, np.ndarray] = {}
        self.steps: list[tuple] = []
        # Per slot, the array seen (a large one: a stand-in of its shape and dtype, see _new)
        self.keep: list[Any] = []
        self.watched: list[weakref.finalize] = []
        self.made: dict[tuple, int] = {}  # (ufunc, input slots) -> the slot of its result
        self.aliases: list[np.ndarray] = []
        for a in inputs:
            self._new(a)
        self.inputs = len(inputs)
        self.kept = True  # False: untraced() was called

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Inside: this thread's operations are written down, and no input is written into."""
        try:
            with setting("recorder", self), setting("donate", False):
                yield
        finally:
            for watch in self.watched:  # (what is freed after the recording no longer concerns it)
                watch.detach()

    def _new(self, a: Any) -> int:
        slot = len(self.keep)
        self.slots[id(a)] = slot
        if type(a) is np.ndarray and a.size > KEPT_ENTRIES:
            # Not kept alive: a recorded run holds no more memory than the eager one. When the
            # array is freed its id leaves the map (a new array may take the id: a new slot).
            self.keep.append(np.broadcast_to(np.empty((), a.dtype), a.shape))
            self.watched.append(weakref.finalize(a, self._freed, id(a), slot))
        else:
            self.keep.append(a)
        return slot

    def _alias(self, a: np.ndarray, slot: int) -> None:
        """a holds the same numbers as the buffer at slot: it is read from there."""
        self.slots[id(a)] = slot
        if a.size > KEPT_ENTRIES:
            self.watched.append(weakref.finalize(a, self._freed, id(a), slot))
        else:
            self.aliases.append(a)  # (alive while recording: no other array takes its id)

    def _freed(self, key: int, slot: int) -> None:
        if self.slots.get(key) == slot:
            del self.slots[key]

    def slot(self, a: Any) -> int:
        """The buffer holding array a: a step's, an input's, or a new constant."""
        found = self.slots.get(id(a))
        if found is None:
            found = self._new(a)
            self.constants[found] = a
        return found

    def step(self, fn: Callable[..., Any], arrays: Sequence[np.ndarray], params: Mapping[str, Any],
             result: np.ndarray, into: np.ndarray | None = None) -> None:
        """fn(*arrays, **params) made result; into: an array the program keeps, which fn is given
        after the arrays (as out=) and fills with the result instead."""
        ins = tuple(self.slot(a) for a in arrays)
        if all(i in self.constants for i in ins):  # (a constructor too) no input reaches it: a constant
            self.constants[self._new(result)] = result
            return
        self.steps.append((fn, ins, dict(params), self._new(result), into))

    def op(self, op: Any, arrays: Sequence[np.ndarray], params: Mapping[str, Any], result: np.ndarray) -> None:
        """An operation of the registry made result (in result's dtype)."""
        made = None if op.replay is None else op.replay(result, **params)
        if made is not None:
            fn, into = made if isinstance(made, tuple) else (made, None)
            self.step(fn, arrays, {}, result, into)
        elif op.ufunc is not None:
            self.ufunc(op.ufunc, arrays, result)
        else:
            self.step(run_forward(op.forward, result.dtype), arrays, params, result)

    def ufunc(self, ufunc: np.ufunc, arrays: Sequence[np.ndarray], result: np.ndarray) -> None:
        """apply_ufunc(ufunc, arrays) made result (in result's dtype)."""
        ins = tuple(self.slots.get(id(a)) for a in arrays)
        earlier = self.made.get((ufunc, ins))
        if earlier is not None:  # the same ufunc of the same buffers (a rule recomputing a forward's product)
            self._alias(result, earlier)
            return
        if None not in ins:
            self.made[(ufunc, ins)] = len(self.keep)  # (the slot step() gives result)
        least = MIN_ENTRIES_SLOW if ufunc in SLOW else MIN_ENTRIES
        small = all(a.size < least for a in arrays)
        if small and result.size <= KEPT_ENTRIES and np.asarray(ufunc(*arrays)).dtype == result.dtype:
            # The ufunc writes into an array the program keeps: no allocation, no conversion.
            self.step(ufunc, arrays, {}, result, np.empty_like(result))
        else:
            self.step(run_ufunc(ufunc, result.dtype, small), arrays, {}, result)

    def guard(self, fn: Callable[..., Any], arrays: Sequence[Any], result: Any) -> None:
        if all(isinstance(a, np.ndarray) and id(a) not in self.slots for a in arrays):
            return  # a decision on constants alone is the same at every replay
        self.step(_guard_step(fn, result), [a if isinstance(a, np.ndarray) else np.asarray(a) for a in arrays],
                  {}, np.empty(0))

    def program(self, outputs: Sequence[np.ndarray | None]) -> Program | ScalarProgram | Fused:
        """The program that makes outputs (arrays met while recording, or None) from new inputs;
        a tiny one replays on Python floats where that gives the same bits (autodiff/scalar.py),
        a large one block by block (autodiff/fused.py)."""
        slots = [None if a is None else self.slot(a) for a in outputs]  # (zeros a rule made: constants)
        plain = Program(len(self.keep), self.inputs, dict(self.constants), list(self.steps), slots)
        # (tiny: every buffer a few entries; fused: buffers of 2^15 entries and more)
        return tiny_replay(plain, self.steps, self.keep) or fuse(plain, self.steps, self.keep)


KEPT_ENTRIES = 1 << 12  # a small elementwise result goes into an array the program keeps between runs


class Program:
    """A recorded schedule: run(inputs) gives the outputs, or raises Miss.

    Small elementwise results (and scatters into zeros) are written into arrays the program
    keeps, so a program runs in one thread at a time (each Traced belongs to one computation).
    """

    def __init__(self, size: int, inputs: int, constants: dict[int, np.ndarray], steps: list[tuple],
                 outputs: list[int]):
        self.template: list[Any] = [None] * size
        for slot, a in constants.items():
            self.template[slot] = a
        kept = set()
        self.steps = []
        for fn, ins, params, out, target in steps:
            if target is not None:  # fn(*ins, out=target) fills the kept array, which sits in the step's slot
                self.template[out] = target
                kept.add(out)
            self.steps.append((partial(fn, **params) if params else fn, _getter(ins), out, target))
        self.inputs = inputs
        self.outputs = outputs
        # An output that is an input, a constant, a kept array or another output is copied, so
        # that every output is the caller's own array, as the eager engine's are.
        seen: set[int | None] = set()
        self.copied = []
        for slot in outputs:
            self.copied.append(slot is not None and (slot in seen or slot < inputs or slot in constants or slot in kept))
            seen.add(slot)

    def __len__(self) -> int:
        return len(self.steps)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        buf = self.template.copy()
        buf[:self.inputs] = inputs
        with np.errstate(all="ignore"):
            for fn, ins, out, into in self.steps:  # (execute's body, inlined: this loop is the replay)
                if into is None:
                    buf[out] = fn(*ins(buf))
                else:
                    fn(*ins(buf), out=into)
        return self.results(buf)

    def execute(self, index: int, buf: list) -> None:
        """Step index of the program, on the buffers buf (for a replay that runs steps its own way)."""
        fn, ins, out, into = self.steps[index]
        if into is None:
            buf[out] = fn(*ins(buf))
        else:
            fn(*ins(buf), out=into)

    def results(self, buf: list) -> list[np.ndarray]:
        """The outputs from the buffers of a finished run."""
        return [None if s is None else np.array(buf[s]) if copy or not buf[s].flags.owndata else buf[s]
                for s, copy in zip(self.outputs, self.copied)]


def _getter(slots: tuple[int, ...]) -> Callable[[list], Sequence]:
    """A function of the buffers giving the arguments at slots, as a sequence (in C: itemgetter)."""
    return itemgetter(*slots) if len(slots) > 1 else itemgetter(slice(slots[0], slots[0] + 1))


MAX_MISSES = 3  # guards missed at one signature before it runs eagerly for good


class Traced:
    """fn traced per signature: Traced(fn)(values) is fn(values), replayed after the first call.

    fn(values) runs the eager engine on the arrays of values (a dict of name -> array,
    used as they are: no copy) and returns a list of arrays; while it is recorded, each
    array it returns must be one an operation made, an input or a constant.
    """

    def __init__(self, fn: Callable[[dict[str, np.ndarray]], list[np.ndarray]]):
        self.fn = fn
        self.programs: dict[tuple, Program | None] = {}  # None: runs eagerly
        self.misses: dict[tuple, int] = {}
        self.recorded = 0  # programs recorded, and calls that replayed one (for tests and reports)
        self.replayed = 0

    def __call__(self, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        values = dict(values)
        key = tuple((name, a.shape, a.dtype) for name, a in values.items())
        program = self.programs.get(key, False)
        if program is None:
            return self.fn(values)
        if program is not False:
            try:
                outputs = program.run(list(values.values()))
                self.replayed += 1
                return outputs
            except Miss:
                self.misses[key] = self.misses.get(key, 0) + 1
                if self.misses[key] >= MAX_MISSES:
                    self.programs[key] = None
                    return self.fn(values)
            except Exception:  # noqa: BLE001 (the eager run raises the engine's own error, with its span)
                return self.fn(values)
        return self._record(key, values)

    def _record(self, key: tuple, values: dict[str, np.ndarray]) -> list[np.ndarray]:
        recorder = Recorder(list(values.values()))
        with recorder.recording():
            outputs = self.fn(values)
        if recorder.kept:
            self.programs[key] = recorder.program(outputs)
        self.recorded += 1
        return outputs
