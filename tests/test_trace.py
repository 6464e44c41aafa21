"""Traced programs (autodiff/trace.py) replay the eager engine's numbers bit for bit.

A program recorded at one point is replayed at others, float64 and float32: over the
differential suite's random expressions (values from every stream, so zeros, ties,
integers and non-finite entries send data-reading decisions the other way from where
the program was recorded) and over every sample of every operation of the registry (and
its documented kinks). Each replay is compared with a fresh eager evaluation with
np.array_equal (nan equal to nan) and the same dtype.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.api.compiled import gradient_program, value_program
from gradcli.api.problem import problem
from gradcli.autodiff.engine import Tensor, call, run_backward
from gradcli.autodiff.trace import Traced
from gradcli.errors import GradcliError
from gradcli.ops import OPS

DTYPES = (np.float64, np.float32)


def same(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want, equal_nan=True)


def eager_gradient(text: str, values: dict, dtype) -> tuple[np.ndarray, dict] | None:
    try:
        r = functional.grad(text, values, dtype=dtype)
    except GradcliError:
        return None
    return r.value, r.gradients


def generator():
    """The differential suite's random expressions and value streams (that module holds torch's twins too)."""
    pytest.importorskip("torch")
    import differential

    return differential


def points(d, case_values: dict, seed: int) -> list[dict]:
    """Values at the recorded shapes from every stream: decisions that read data go both ways."""
    rng = np.random.default_rng(seed)
    return [{n: d.draw_values(rng, v.shape, stream) for n, v in case_values.items()} for stream in d.STREAMS]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("block", range(4))
def test_random_expressions_replay_bit_identical(dtype, block):
    d = generator()
    replayed = 0
    for seed in range(block * 60, (block + 1) * 60):
        case = d.make_case(seed, d.STREAMS[seed % len(d.STREAMS)])
        text = case.text
        p = problem(f"sum({text})", case.values, dtype=dtype)
        gradient = gradient_program(p)
        for values in [case.values, *points(d, case.values, seed)]:
            want = eager_gradient(p.source, values, dtype)
            if want is None:
                continue
            value, grads = gradient({n: np.asarray(v, dtype) for n, v in values.items()})
            assert same(value, want[0]), (text, values)
            for name in p.wrt:
                assert same(grads[name], want[1][name]), (text, name, values)
        replayed += gradient.traced.replayed
    assert replayed > 100  # most points replay a program (the rest record again where a guard missed)


def _registry_cases():
    return [(name, i) for name, op in OPS.items() for i in range(len(op.samples))
            if op.differentiable and not op.constructor]


def _op_gradient(op, sample, dtype):
    """values -> [output, cotangent at each input] of op by the eager engine, with a fixed seed."""
    seeds = {}

    def eager(values: dict) -> list:
        leaves = [Tensor(v, requires_grad=True) for v in values.values()]
        out = call(op, *leaves, **sample.params)
        if out.shape not in seeds:
            seeds[out.shape] = np.random.default_rng(7).standard_normal(out.shape).astype(dtype)
        found = run_backward([(out, Tensor(seeds[out.shape]))]) if out.requires_grad else {}
        by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
        return [out.data, *(by_leaf.get(id(leaf)) for leaf in leaves)]
    return eager


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_every_registry_sample_replays_bit_identical(dtype):
    checked = replayed = 0
    for name, index in _registry_cases():
        op = OPS[name]
        sample = op.samples[index]
        rng = np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))
        draws = [sample.draw(rng) for _ in range(4)]
        draws += [[np.asarray(a, np.float64) for a in kink.inputs] for kink in op.kinks
                  if kink.params == sample.params and [np.shape(a) for a in kink.inputs] == list(sample.shapes)]
        eager = _op_gradient(op, sample, dtype)
        traced = Traced(eager)
        for arrays in draws:
            values = {f"a{i}": np.asarray(a, dtype) for i, a in enumerate(arrays)}
            with np.errstate(all="ignore"):
                got = traced(values)
                want = eager({n: v.copy() for n, v in values.items()})
            for g, w in zip(got, want):
                assert (g is None) == (w is None), (name, index)
                assert g is None or same(g, w), (name, index, arrays)
            checked += 1
        assert traced.recorded >= 1
        replayed += traced.replayed
    assert checked > 4 * len(_registry_cases())
    # Most draws after the first replay; a draw records again where a guard reads it otherwise (gather's
    # index of 0s and 1s, drawn anew each time, is one).
    assert replayed > 2.5 * len(_registry_cases())


@pytest.mark.parametrize("text,recorded_at,other", [
    ("sum(maximum(x, y))", {"x": [1.0, 2.0], "y": [3.0, 0.0]}, {"x": [1.0, 2.0], "y": [1.0, 0.0]}),  # a tie
    ("sum(cumprod(x))", {"x": [1.0, 2.0, 3.0]}, {"x": [1.0, 0.0, 3.0]}),  # a zero: the exact sum
    ("sum(x**2) * y", {"x": [1.0, 2.0], "y": 1.0}, {"x": [1.0, 2.0], "y": 3.0}),  # a sum's cotangent, read
    ("x ** y", {"x": 2.0, "y": 2.0}, {"x": 2.0, "y": 3.0}),  # an exponent not differentiated, read
    # indices computed from the variables: a whole number, an array, a mask, a slice bound, an axis
    ("x[argmax(x)] * y", {"x": [1.0, 3.0, 2.0], "y": 1.0}, {"x": [5.0, 1.0, 2.0], "y": 1.0}),
    ("sum(x[[argmax(x), argmin(x)]]) * y", {"x": [1.0, 3.0, 2.0], "y": 1.0}, {"x": [0.0, 1.0, 9.0], "y": 1.0}),
    ("sum(x[x > y])", {"x": [1.0, 3.0, 2.0], "y": 1.5}, {"x": [5.0, 1.0, 2.0], "y": 1.5}),
    ("sum(x[:argmax(x) + 1]) * y", {"x": [1.0, 3.0, 2.0], "y": 1.0}, {"x": [0.0, 1.0, 9.0], "y": 1.0}),
    ("sum(cumsum(x, dim=argmax(y)))", {"x": [[1.0, 2.0], [3.0, 4.0]], "y": [1.0, 0.0]},
     {"x": [[1.0, 2.0], [3.0, 4.0]], "y": [0.0, 1.0]}),
])
def test_a_decision_that_goes_the_other_way_records_again(text, recorded_at, other):
    p = problem(text, recorded_at, wrt="x")
    gradient = gradient_program(p)
    gradient({n: np.asarray(v, float) for n, v in recorded_at.items()})
    value, grads = gradient({n: np.asarray(v, float) for n, v in other.items()})
    want = functional.grad(text, other, wrt="x")
    assert same(value, want.value) and same(grads["x"], want.gradients["x"])
    assert gradient.traced.recorded == 2 and gradient.traced.replayed == 0
    gradient({n: np.asarray(v, float) for n, v in other.items()})
    assert gradient.traced.replayed == 1


def test_an_index_written_as_a_number_replays_at_every_point():
    # x[1] and x[0:2] read constants of the program: no guard, one recording for every point.
    p = problem("x[1] * x[2] + sum(x[0:2] ** 2)", {"x": [1.0, 2.0, 3.0]})
    gradient = gradient_program(p)
    for x in ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.5, -1.0, 2.0]):
        value, grads = gradient({"x": np.array(x)})
        want = functional.grad("x[1] * x[2] + sum(x[0:2] ** 2)", {"x": x})
        assert same(value, want.value) and same(grads["x"], want.gradients["x"])
    assert gradient.traced.recorded == 1 and gradient.traced.replayed == 2


def test_a_new_shape_records_again_and_each_shape_keeps_its_program():
    p = problem("sum(sin(x) * x)", {"x": [1.0, 2.0]})
    gradient = gradient_program(p)
    for x in ([1.0, 2.0], [1.0, 2.0, 3.0], [4.0, 5.0], [0.5, 0.25, 0.125]):
        value, grads = gradient({"x": np.array(x)})
        assert np.allclose(grads["x"], np.sin(x) + np.array(x) * np.cos(x), rtol=1e-15)
        assert same(value, functional.grad("sum(sin(x) * x)", {"x": x}).value)
    assert gradient.traced.recorded == 2 and gradient.traced.replayed == 2


def test_value_program_and_the_arrays_it_returns_are_the_callers():
    p = problem("x * 1.0", {"x": [1.0, 2.0]})
    value = value_program(p)
    x = np.array([1.0, 2.0])
    first = value({"x": x})
    second = value({"x": np.array([3.0, 4.0])})
    first[0] = 99.0
    assert same(second, np.array([3.0, 4.0])) and same(x, np.array([1.0, 2.0]))
    assert value.traced.replayed == 1


@pytest.mark.parametrize("expr,start", [
    ("sum(maximum(w, 0.5) * x) + sum(abs(w - x)) + prod(w)**2",  # ties, kinks and zeros on the way
     {"w": [0.2, 0.9, 0.5], "x": [1.0, 2.0, 0.5]}),
    ("(1 - w[0])**2 + 100*(w[1] - w[0]**2)**2", {"w": [-1.0, 1.0]}),  # indexing: scatters into kept zeros
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_descend_takes_the_eager_engines_steps_bit_for_bit(expr, start, dtype):
    from gradcli.api.descend import descend

    d = descend(expr, start, "w", lr=0.05, steps=60, optimizer="adam", dtype=dtype)
    values = {n: np.asarray(v, dtype) for n, v in start.items()}
    m = s = 0.0
    for t, step in enumerate(d.history, start=1):
        r = functional.grad(expr, values, wrt="w", dtype=dtype)
        assert step.loss == float(r.value) and same(step.values["w"], values["w"])
        g = r.gradients["w"]  # torch.optim.Adam's update, written out
        m = 0.9 * m + (1 - 0.9) * g
        s = 0.999 * s + (1 - 0.999) * g * g
        values["w"] = np.asarray(values["w"] - 0.05 * (m / (1 - 0.9 ** t) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-8)))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_descend_with_sgd_and_momentum_takes_the_eager_engines_steps(optimizer):
    from gradcli.api.descend import descend

    expr = "(1 - w[0])**2 + 10*(w[1] - w[0]**2)**2"
    d = descend(expr, {"w": [-1.0, 1.0]}, "w", lr=0.002, steps=40, optimizer=optimizer, momentum=0.8)
    w, buf = np.array([-1.0, 1.0]), None
    for step in d.history:
        g = functional.grad(expr, {"w": w}, wrt="w").gradients["w"]
        assert same(step.values["w"], w)
        buf = g if optimizer == "sgd" else g.copy() if buf is None else 0.8 * buf + g
        w = w - 0.002 * buf


def test_a_scatter_into_kept_zeros_gives_the_caller_its_own_array():
    p = problem("x[1] * 3", {"x": [1.0, 2.0, 4.0]})
    gradient = gradient_program(p)
    first = gradient({"x": np.array([1.0, 2.0, 4.0])})[1]["x"]
    second = gradient({"x": np.array([5.0, 6.0, 7.0])})[1]["x"]
    first[0] = 99.0
    assert same(second, np.array([0.0, 3.0, 0.0])) and gradient.traced.replayed == 1


def test_recording_holds_no_more_memory_than_the_eager_run():
    """The first call at a shape (the eager run, recorded) frees its intermediates as the eager
    run does: the recorder keeps only the shape and dtype of a large array, not the array."""
    import tracemalloc

    x = np.random.default_rng(0).standard_normal(200_000)
    expr = "sum(sin(x)*exp(-x**2) + cos(x)*x**3 - tanh(x)*x)"  # some 30 full-size intermediates
    functional.grad(expr, {"x": x}, wrt="x")
    gradient = gradient_program(problem(expr, {"x": x}, wrt="x"))
    tracemalloc.start()
    try:
        functional.grad(expr, {"x": x}, wrt="x")
        eager = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        recorded_value, recorded = gradient({"x": x})
        recording = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert gradient.traced.recorded == 1
    assert recording < 2 * eager, (recording, eager)  # (kept alive, the intermediates took 4.5x)
    value, replayed = gradient({"x": x})
    assert gradient.traced.replayed == 1
    assert float(value) == float(recorded_value) and np.array_equal(replayed["x"], recorded["x"])
