"""The replay of a tiny traced program on Python floats.

A program whose buffers all hold a few entries (a gradient step of a loss over a handful
of numbers) spends its replay in numpy's cost per call, not in arithmetic: a ufunc on a
0-d array costs some 250 ns, the same operation on Python floats about 15. `tiny_replay`
turns such a program into a `ScalarProgram`, which holds each float64 buffer of at most
TINY_ENTRIES entries as Python floats (one float for a 0-d buffer, else the list of its
entries in C order) and runs as Python the steps whose numbers Python gives bit for bit:

- elementwise + - * / (IEEE: both round once, to nearest), negation, abs, square (numpy's
  loop is x*x), reciprocal and sqrt (correctly rounded in both), and a power by a constant
  whose kernel is made of them (x**3 is x*x*x, autodiff/power.py), broadcasting through
  index maps made once. Where Python raises instead of giving inf or nan (a division by
  zero, sqrt of a negative number) that entry is computed by numpy;
- indexing (an itemgetter step) and scatters into zeros (a step marked `moves_entries`):
  they only move entries, through index maps found once by running the step on labels.

Every other step (power, exp, sin, reductions, guards) calls the very function the plain
replay calls, on arrays made from the floats, so its numbers are numpy's own. The steps
become the lines of one Python function, made once (`_compiled`): a replay is a call of it,
with no loop and no dispatch per step, and + - * on floats are written as operators. The
outputs equal the plain replay's bit for bit, but for the sign of a nan (where both
operands of a product are nan, which one the hardware passes on follows the operand
order, which a compiled SIMD loop may swap); tests/test_scalar_replay.py checks it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from gradcli.autodiff.power import KERNELS, cube, inverse_square, one_number, power, rsqrt

TINY_ENTRIES = 16  # every buffer of a program at most this large: its replay is per-call overhead
FLOAT64 = np.dtype(np.float64)


def _divide(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        return float(np.divide(a, b))


def _sqrt(a: float) -> float:
    try:
        return math.sqrt(a)
    except ValueError:  # (a < 0: numpy gives nan)
        return float(np.sqrt(a))


def _square(a: float) -> float:
    return a * a


def _cube(a: float) -> float:
    return a * a * a


def _reciprocal(a: float) -> float:
    return _divide(1.0, a)


def _rsqrt(a: float) -> float:
    return _divide(1.0, _sqrt(a))


def _inverse_square(a: float) -> float:
    return _divide(1.0, a * a)


# ufunc (or kernel) -> the Python function of floats giving the same float64, bit for bit
EXACT: dict[Any, Callable[..., float]] = {
    np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul, np.true_divide: _divide,
    np.negative: operator.neg, np.positive: operator.pos, np.absolute: abs, np.square: _square,
    np.sqrt: _sqrt, np.reciprocal: _reciprocal, cube: _cube, rsqrt: _rsqrt, inverse_square: _inverse_square,
}
# Those of them a replay writes as Python's operators on two floats (or one): the same operation
# without a function call.
OPERATORS = {operator.add: "{a} + {b}", operator.sub: "{a} - {b}", operator.mul: "{a} * {b}",
             operator.neg: "-{a}", operator.pos: "+{a}", _square: "{a} * {a}", _cube: "{a} * {a} * {a}"}


def _held(a: Any) -> tuple[int, ...] | None:
    """The shape of a float64 array of at most TINY_ENTRIES entries in C order (held as floats),
    else None. (A numpy step given it gets a C-ordered array back: the layout it was recorded
    with, on which the order of a sum or of BLAS's products depends.)"""
    if (isinstance(a, np.ndarray) and a.dtype == FLOAT64 and a.flags.c_contiguous
            and (a.ndim == 0 or 0 < a.size <= TINY_ENTRIES)):
        return a.shape
    return None


class ScalarProgram:
    """A Program's replay on Python floats: run(inputs) gives the same outputs as
    plain.run(inputs), bit for bit, or raises what it raises (Miss at a guard).

    steps are the Recorder's (fn, input slots, params, output slot, kept array or None);
    recorded[slot] is the array each slot held while recording (its shape and dtype hold
    at every replay of the program)."""

    def __init__(self, plain: Any, steps: Sequence[tuple], recorded: Sequence[Any]):
        self.plain = plain
        self.inputs = plain.inputs
        self.shapes = shapes = {slot: s for slot, a in enumerate(recorded) if (s := _held(a)) is not None}
        made = {out for *_, out, _ in steps}
        constants = {slot: a for slot, a in enumerate(plain.template) if slot >= plain.inputs and slot not in made}
        self.template = [_to_floats(constants[slot]) if slot in shapes and slot in constants else a
                         for slot, a in enumerate(plain.template)]
        self.python = 0  # steps run as Python
        lines, functions = [], {}
        for fn, ins, params, out, into in steps:
            if fn is power and ins[1] in constants and recorded[ins[0]].shape == recorded[out].shape:
                # x ** c for a constant c: the kernel c picks, once, as a step of x alone
                kernel = KERNELS.get(one_number(constants[ins[1]]))
                fn, ins = (fn, ins) if kernel is None else (kernel, ins[:1])
            held = out in shapes and all(s in shapes for s in ins)
            python = _python_step(fn, [recorded[s] for s in ins], recorded[out], into) if held else None
            if python is not None:  # (every one reads one or two buffers)
                self.python += 1
                args = {"a": f"b[{ins[0]}]", "b": f"b[{ins[-1]}]"}
                if isinstance(python, str) or python in OPERATORS:
                    lines.append(f"b[{out}] = {OPERATORS.get(python, python).format(**args)}")
                else:
                    functions[f"f{len(lines)}"] = python
                    lines.append(f"b[{out}] = f{len(lines)}({', '.join(f'b[{i}]' for i in ins)})")
            else:
                sources = [_source(fn, s, shapes, constants) for s in ins]
                call = partial(fn, **params) if params else fn
                functions[f"f{len(lines)}"] = _numpy_step(call, sources, into, shapes.get(out, False))
                lines.append(f"b[{out}] = f{len(lines)}(b)")
        self.replay = _compiled(lines, functions)
        self.steps = len(lines)
        self.outputs = plain.outputs

    def __len__(self) -> int:
        return self.steps

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        buf = self.template.copy()
        shapes = self.shapes
        for slot, a in enumerate(inputs):
            if slot in shapes:
                if not a.flags.c_contiguous:  # (recorded in C order: numpy's steps may depend on it)
                    return self.plain.run(inputs)
                buf[slot] = _to_floats(a)
            else:
                buf[slot] = a
        with np.errstate(all="ignore"):
            self.replay(buf)
        return [None if s is None else _to_array(buf[s], shapes[s]) if s in shapes
                else np.array(buf[s]) if copy or not buf[s].flags.owndata else buf[s]
                for s, copy in zip(self.outputs, self.plain.copied)]


def _compiled(lines: list[str], functions: dict[str, Callable[..., Any]]) -> Callable[[list], None]:
    """The steps as one Python function of the buffers, b[out] = ... line after line: no loop,
    no dispatch per step. Its source holds slot numbers and the operators above only; every
    function (and through it every constant) reaches it by name from `functions`."""
    source = "def replay(b):\n" + "".join(f"    {line}\n" for line in lines) + "    return None\n"
    namespace = dict(functions)
    exec(compile(source, "<gradcli replay>", "exec"), namespace)  # noqa: S102
    return namespace["replay"]


def _to_floats(a: np.ndarray) -> float | list[float]:
    return float(a) if a.ndim == 0 else a.tolist() if a.ndim == 1 else a.ravel().tolist()


def _to_array(v: float | list[float], shape: tuple[int, ...]) -> np.ndarray:
    return np.array(v) if type(v) is float else np.array(v).reshape(shape)


def _positions(a: np.ndarray) -> np.ndarray:
    """Each entry's position in C order, as float64 labels shaped like a."""
    return np.arange(a.size, dtype=FLOAT64).reshape(a.shape)


def _python_step(fn: Any, ins: list[np.ndarray], out: np.ndarray, into: Any) -> Callable[..., Any] | str | None:
    """The step as a function of the inputs' floats giving the output's, or as Python's
    expression of them (a text with {a}, {b} where they stand), or None."""
    if fn in EXACT:
        f = EXACT[fn]
        if out.ndim == 0:
            return f
        maps = [np.broadcast_to(np.arange(a.size).reshape(a.shape), out.shape).ravel().tolist() for a in ins]
        if len(ins) == 1 and ins[0].shape == out.shape:
            return lambda a: list(map(f, a))
        if len(ins) == 2 and ins[0].shape == ins[1].shape == out.shape:
            return lambda a, b: list(map(f, a, b))
        scalars = [a.ndim == 0 for a in ins]
        return lambda *args: list(map(f, *([x] * len(m) if s else [x[i] for i in m]
                                            for x, m, s in zip(args, maps, scalars))))
    if fn is np.array and len(ins) == 1:  # a copy: the floats are never written into
        return "{a}"
    if type(fn) is operator.itemgetter and len(ins) == 1:  # indexing: out entries are entries of the input
        got = fn(_positions(ins[0]))
        if not (isinstance(got, np.ndarray) and got.shape == out.shape):
            return None
        where = got.astype(np.int64).ravel().tolist()
        if ins[0].ndim == 0:
            return "{a}" if out.ndim == 0 else f"[{{a}}] * {len(where)}"
        return f"{{a}}[{where[0]}]" if out.ndim == 0 else (lambda a: [a[i] for i in where])
    if getattr(fn, "moves_entries", False) and len(ins) == 1 and into is not None and not into.view(np.uint64).any():
        labels = np.full(out.shape, -1.0)  # entries no input entry reaches stay 0
        fn(_positions(ins[0]) if ins[0].ndim else np.array(0.0), out=labels)
        where = [(k, int(i)) for k, i in enumerate(labels.ravel().tolist()) if i >= 0]
        zeros = [0.0] * out.size
        if ins[0].ndim == 0:
            def place_one(a: float) -> list[float]:
                made = zeros.copy()
                for k, _ in where:
                    made[k] = a
                return made
            return place_one

        def place(a: list[float]) -> list[float]:
            made = zeros.copy()
            for k, i in where:
                made[k] = a[i]
            return made
        return place
    return None


def _source(fn: Any, slot: int, shapes: dict[int, tuple], constants: dict[int, Any]) -> tuple[int, Any]:
    """Where a numpy step finds an argument: (slot, None) the buffer as it is; (-1, array) a
    constant as recorded; (slot, array) a 0-d array kept for the step that the float is written
    into (a ufunc's result never aliases its inputs); (slot, shape) a new array of the floats."""
    if slot not in shapes:
        return slot, None
    if slot in constants:
        return -1, constants[slot]
    if isinstance(fn, np.ufunc) and shapes[slot] == ():
        return slot, np.empty((), FLOAT64)
    return slot, shapes[slot]


def _numpy_step(fn: Callable[..., Any], sources: list[tuple[int, Any]], into: np.ndarray | None,
                shape: tuple[int, ...] | bool) -> Callable[[list], Any]:
    """A function of the buffers calling fn as the plain replay does (into: its out= array);
    shape: the result's, when it is held as floats (else False)."""
    def step(buf: list) -> Any:
        args = []
        for slot, how in sources:
            if how is None:
                args.append(buf[slot])
            elif type(how) is tuple:
                args.append(_to_array(buf[slot], how))
            elif slot >= 0:
                how[()] = buf[slot]
                args.append(how)
            else:
                args.append(how)
        if into is None:
            made = fn(*args)
        else:
            fn(*args, out=into)
            made = into
        return made if shape is False else float(made) if shape == () else np.asarray(made).ravel().tolist()
    return step


def tiny_replay(plain: Any, steps: Sequence[tuple], recorded: Sequence[Any]) -> ScalarProgram | None:
    """A ScalarProgram for the program plain (made of steps) when every array it recorded has
    at most TINY_ENTRIES entries and some step runs as Python; None otherwise."""
    if any(isinstance(a, np.ndarray) and a.size > TINY_ENTRIES for a in recorded):
        return None
    fast = ScalarProgram(plain, steps, recorded)
    return fast if fast.python else None
