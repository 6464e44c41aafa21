"""A tiny program replayed on Python floats (autodiff/scalar.py) gives the plain replay's bits.

Each recorded program that becomes a ScalarProgram is run both ways at many points: the
differential suite's random expressions at small shapes (values from every stream: zeros,
ties, integers, non-finite entries), every registry sample of at most TINY_ENTRIES
entries (and its kinks), and hand-picked divisions by zero, square roots of negative
numbers and infinities. Outputs are compared byte for byte (so -0.0 counts), but for the
sign of a nan: where both operands of a product are nan, which one the hardware passes on
depends on the operand order a compiled SIMD loop chose, and no number reads it. Where
the plain replay stops at a guard, the scalar replay must stop too.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from gradcli.api.compiled import gradient_program
from gradcli.api.problem import problem
from gradcli.autodiff.scalar import TINY_ENTRIES, ScalarProgram
from gradcli.autodiff.trace import Traced
from gradcli.ops import OPS
from test_trace import _op_gradient, _registry_cases


def outcome(run, inputs: list[np.ndarray]) -> list | type:
    try:
        with np.errstate(all="ignore"):
            return run(inputs)
    except Exception as e:  # noqa: BLE001 (Miss at a guard, or the error a step raises: both must raise it)
        return type(e)


def assert_bitwise(got, want, where) -> None:
    if isinstance(want, type) or isinstance(got, type):
        assert got is want, where
        return
    assert len(got) == len(want), where
    for g, w in zip(got, want):
        assert (g is None) == (w is None), where
        if w is not None:
            assert type(g) is np.ndarray and g.dtype == w.dtype and g.shape == w.shape, where
            nan = np.isnan(w)
            assert (np.isnan(g) == nan).all(), (where, g, w)
            assert g[~nan].tobytes() == w[~nan].tobytes(), (where, g, w)


def compare(traced: Traced, points: list[dict], where) -> int:
    """Runs every ScalarProgram traced holds both ways at points; how many it compared."""
    compared = 0
    for program in traced.programs.values():
        if not isinstance(program, ScalarProgram):
            continue
        for values in points:
            inputs = list(values.values())
            assert_bitwise(outcome(program.run, inputs), outcome(program.plain.run, inputs), (where, values))
            compared += 1
    return compared


def generator():
    pytest.importorskip("torch")
    import differential

    return differential


@pytest.mark.parametrize("block", range(3))
def test_random_expressions_replay_on_floats_bit_identical(block):
    d = generator()
    compared = 0
    for seed in range(block * 80, (block + 1) * 80):
        case = d.make_case(seed, d.STREAMS[seed % len(d.STREAMS)])
        if any(np.size(v) > TINY_ENTRIES for v in case.values.values()):
            continue
        p = problem(f"sum({case.text})", case.values)
        gradient = gradient_program(p)
        try:
            with np.errstate(all="ignore"):
                gradient(case.values)
        except Exception:  # noqa: BLE001 (an expression the engine refuses at these values)
            continue
        rng = np.random.default_rng(seed)
        points = [{n: np.asarray(d.draw_values(rng, np.shape(v), stream), np.float64) for n, v in case.values.items()}
                  for stream in d.STREAMS for _ in range(2)]
        compared += compare(gradient.traced, points, case.text)
    assert compared > 200


def test_every_small_registry_sample_replays_on_floats_bit_identical():
    compared = ops = 0
    for name, index in _registry_cases():
        op = OPS[name]
        sample = op.samples[index]
        if any(int(np.prod(s)) > TINY_ENTRIES for s in sample.shapes):
            continue
        rng = np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))
        draws = [sample.draw(rng) for _ in range(6)]
        draws += [[np.asarray(a, np.float64) for a in kink.inputs] for kink in op.kinks
                  if kink.params == sample.params and [np.shape(a) for a in kink.inputs] == list(sample.shapes)]
        draws += [[np.full(np.shape(a), v) for a in draws[0]] for v in (0.0, -0.0, -1.0, np.inf, -np.inf, np.nan)]
        traced = Traced(_op_gradient(op, sample, np.float64))
        points = [{f"a{i}": np.asarray(a, np.float64) for i, a in enumerate(arrays)} for arrays in draws]
        with np.errstate(all="ignore"):
            traced(points[0])
        found = compare(traced, points, (name, index))
        compared += found
        ops += found > 0
    assert ops > 40 and compared > 40 * 10


@pytest.mark.parametrize("text,values,points", [
    ("x / y + sqrt(y) * x", {"x": 1.0, "y": 2.0},
     [{"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 0.0}, {"x": -1.0, "y": -0.0}, {"x": 1.0, "y": -4.0},
      {"x": np.inf, "y": np.inf}, {"x": np.nan, "y": 1.0}, {"x": -np.inf, "y": 0.0}]),
    ("sum(x / y) - sum(abs(x) * y)", {"x": [1.0, 2.0, 3.0], "y": 2.0},
     [{"x": [0.0, -0.0, 1.0], "y": 0.0}, {"x": [np.inf, -np.inf, np.nan], "y": -0.0}, {"x": [1e308, -1e308, 5.0], "y": 1e-308}]),
    ("(1 - w[0])**2 + 100*(w[1] - w[0]**2)**2", {"w": [-1.0, 1.0]},
     [{"w": [0.5, 0.25]}, {"w": [1e200, -1e200]}, {"w": [np.inf, 1.0]}, {"w": [np.nan, -0.0]}]),
    ("w[1] / w[0] - w[0]**0.5", {"w": [1.0, 2.0]}, [{"w": [0.0, 0.0]}, {"w": [-0.0, 1.0]}, {"w": [-4.0, np.inf]}]),
])
def test_division_by_zero_negative_roots_and_infinities_give_numpys_bits(text, values, points):
    p = problem(text, values)
    gradient = gradient_program(p)
    gradient(values)
    program = next(iter(gradient.traced.programs.values()))
    assert isinstance(program, ScalarProgram) and program.python > 0
    as_arrays = [{n: np.asarray(v, np.float64) for n, v in point.items()} for point in points]
    assert compare(gradient.traced, as_arrays, text) == len(points)


def test_rosenbrocks_gradient_runs_as_python():
    p = problem("(1 - w[0])**2 + 100*(w[1] - w[0]**2)**2", {"w": [-1.0, 1.0]})
    gradient = gradient_program(p)
    gradient(p.values)
    program = next(iter(gradient.traced.programs.values()))
    assert isinstance(program, ScalarProgram)
    assert program.python == len(program)  # the three x**2 too: x*x, their kernel (autodiff/power.py)
    value, grads = gradient({"w": np.array([0.5, 0.25])})
    assert float(value) == 0.25 and grads["w"].tolist() == [-1.0, 0.0]


def test_a_program_over_larger_arrays_or_float32_stays_plain():
    for values, dtype in (({"x": np.arange(TINY_ENTRIES + 1.0)}, None), ({"x": [1.0, 2.0]}, "float32")):
        p = problem("sum(x * x)", values, dtype=dtype)
        gradient = gradient_program(p)
        gradient(p.values)
        assert not isinstance(next(iter(gradient.traced.programs.values())), ScalarProgram)


def test_an_input_not_in_c_order_runs_the_plain_replay():
    p = problem("sum(A @ x) * x[0]", {"A": np.ones((2, 2)), "x": [1.0, 2.0]})
    gradient = gradient_program(p)
    gradient(p.values)
    program = next(iter(gradient.traced.programs.values()))
    assert isinstance(program, ScalarProgram)
    transposed = np.array([[1.0, 3.0], [2.0, 4.0]]).T  # (Fortran order: matmul may sum in another order)
    points = [{"A": transposed, "x": np.array([0.5, -1.0, 7.0, 0.0])[::2]}, {"A": np.ascontiguousarray(transposed), "x": np.array([0.5, 7.0])}]
    assert compare(gradient.traced, points, "A @ x") == 2
    value, grads = gradient(points[0])
    # f = (c . x) x0 with c the column sums of A, (4, 6): df/dx0 = c0 x0 + c . x, df/dx1 = c1 x0
    assert float(value) == 44.0 * 0.5 and grads["x"].tolist() == [4.0 * 0.5 + 44.0, 6.0 * 0.5]


def test_the_replays_source_holds_slots_and_operators_only(monkeypatch):
    """The function a program becomes is written from slot numbers and fixed operators: no name,
    number or text of the expression reaches its source (they reach it as values)."""
    import re

    from gradcli.autodiff import scalar

    sources = []
    made = scalar._compiled
    monkeypatch.setattr(scalar, "_compiled", lambda lines, functions: sources.append(lines) or made(lines, functions))
    p = problem("evil = w[0] * 1234.5; (1 - evil)**2 + exp(w[1] / evil)", {"w": [-1.0, 1.0]})
    gradient = gradient_program(p)
    gradient(p.values)
    [lines] = sources
    slot = r"b\[\d+\]"
    line = re.compile(rf"{slot} = (f\d+\(b\)|f\d+\({slot}(, {slot})*\)|[-+]?{slot}( [-+*] {slot})?|{slot}\[\d+\]|"
                      rf"\[{slot}\] \* \d+)")
    assert lines and all(line.fullmatch(text) for text in lines), lines
    assert any(" * " in text for text in lines) and any("(b)" in text for text in lines)  # operators, and exp by numpy
