"""The SymPy translation: every operation's SymPy form against its numeric forward at random
points, and how expressions are translated (exact constants, conditions, detach, sampling)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.autodiff.engine import Tensor, call, no_grad
from gradcli.errors import GradcliError
from gradcli.api.problem import problem
from gradcli.autodiff.op import FUNCTIONS, OPS
from gradcli.analysis.symbolic import symbol_name, translate

# Every primitive with a SymPy rule, on its own; every public operation, through an expression.
RULED = [(n, i) for n, op in OPS.items() if op.sympy is not None and op.composite is None
         for i in range(len(op.samples))]
PUBLIC = [(n, i) for n, op in OPS.items() if op.public and not op.constructor for i in range(len(op.samples))]
SEEDS = st.integers(0, 2**32 - 1)
# Random points per operation and sample: a few by default, many with GRADCLI_LONG_TESTS=1.
PER_CASE = max(3, settings.default.max_examples // 8)


def at(expr, point: dict) -> float:
    """A SymPy expression's value at the point (symbols -> floats), as a Python float."""
    value = sp.sympify(expr).xreplace({s: sp.Float(v, 30) for s, v in point.items()})
    return float(sp.re(value.evalf(30)))


def assert_matches(exact: np.ndarray, point: dict, numeric: np.ndarray) -> None:
    assert exact.shape == numeric.shape
    got = np.array([at(e, point) for e in exact.reshape(-1)]).reshape(numeric.shape)
    np.testing.assert_allclose(got, numeric, rtol=1e-9, atol=1e-12)


def sample_values(op, sample, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return sample.draw(rng)


@pytest.mark.parametrize("name, index", RULED, ids=[f"{n}-{i}" for n, i in RULED])
@settings(max_examples=PER_CASE, deadline=None)
@given(seed=SEEDS)
def test_rule_matches_forward(name, index, seed):
    op = OPS[name]
    sample = op.samples[index]
    arrays = sample_values(op, sample, seed)
    symbols = [np.empty(a.shape, dtype=object) for a in arrays]
    point = {}
    for k, (sym, a) in enumerate(zip(symbols, arrays)):
        for i in np.ndindex(a.shape):
            sym[i] = sp.Symbol(symbol_name(f"a{k}", i), real=True)
            point[sym[i]] = float(a[i])
    params = op.prepare(*(a.shape for a in arrays), **sample.params) if op.prepare else dict(sample.params)
    exact = np.asarray(op.sympy(sp, *symbols, **params), dtype=object)
    with no_grad():
        numeric = call(op, *(Tensor(a) for a in arrays), **sample.params).data
    assert_matches(exact, point, numeric)


def spelled(name: str, sample) -> str:
    """The expression calling op `name` on variables a0, a1, ... with the sample's params."""
    op = OPS[name]
    args = [f"a{k}" for k in range(len(sample.shapes))]
    if op.symbol:
        return f"a0 {op.symbol} a1"
    callable_name = name if name in FUNCTIONS else op.aliases[0]
    params = dict(sample.params)
    part = params.pop("part", None)  # x.chunk(3)[2]: the piece taken
    keywords = [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in params.items()]
    if op.sequence:  # cat([a0, a1])
        args = [f"[{', '.join(args)}]"]
    return f"{callable_name}({', '.join(args + keywords)})" + ("" if part is None else f"[{part}]")


@pytest.mark.parametrize("name, index", PUBLIC, ids=[f"{n}-{i}" for n, i in PUBLIC])
@settings(max_examples=PER_CASE, deadline=None)
@given(seed=SEEDS)
def test_translation_matches_forward(name, index, seed):
    op = OPS[name]
    sample = op.samples[index]
    arrays = sample_values(op, sample, seed)
    p = problem(spelled(name, sample), {f"a{k}": a for k, a in enumerate(arrays)})
    t = translate(p, {n: list(np.ndindex(v.shape)) for n, v in p.values.items()})
    out, _ = p.forward()
    assert_matches(t.output, t.point, out.data)


def everything(p):
    return {n: list(np.ndindex(v.shape)) for n, v in p.values.items()}


def test_numbers_and_constants_stay_exact():
    p = problem("mean(2*x) + pi*y + 0.5*y", {"x": [1.0, 2.0, 3.0], "y": 1.0})
    t = translate(p, everything(p))
    x0, x1, x2 = (t.symbols["x"][(i,)] for i in range(3))
    y = t.symbols["y"][()]
    assert sp.simplify(t.output[()] - (sp.Rational(2, 3) * (x0 + x1 + x2) + sp.pi * y + y / 2)) == 0


def test_comparisons_stay_conditions_and_detach_is_a_number():
    p = problem("where(x > 0, x, -x) * detach(x)", {"x": [2.0, -3.0]})
    t = translate(p, everything(p))
    x0 = t.symbols["x"][(0,)]
    first = t.output[0]
    assert first.has(sp.Piecewise) and first.has(sp.StrictGreaterThan)
    assert sp.diff(first, x0).xreplace({x0: 2.0}) == 2.0  # d/dx0 of x0 * 2.0 (the detached value)
    assert sp.diff(first, x0).xreplace({x0: -1.0}) == -2.0  # the other branch of the condition


def test_only_the_chosen_entries_become_symbols():
    x = np.linspace(-1, 1, 10)
    p = problem("sum(x**2) + x[3]*x[4]", {"x": x})
    t = translate(p, {"x": [(3,)]})
    x3 = t.symbols["x"][(3,)]
    assert t.output[()].free_symbols == {x3}
    # The other entries are their numbers: the value and the derivative in x3 are the true ones.
    assert at(t.output[()], t.point) == pytest.approx(np.sum(x**2) + x[3] * x[4], rel=1e-12)
    assert at(sp.diff(t.output[()], x3), t.point) == pytest.approx(2 * x[3] + x[4], rel=1e-12)


def test_large_inputs_cost_sympy_work_per_symbol_not_per_entry():
    x = np.random.default_rng(1).standard_normal(100_000)
    p = problem("sum(sin(x)*exp(-x**2))", {"x": x})
    chosen = [(7,), (50_000,), (99_999,)]
    start = time.perf_counter()
    t = translate(p, {"x": chosen})
    assert time.perf_counter() - start < 10
    f = t.output[()]
    assert f.free_symbols == {t.symbols["x"][i] for i in chosen}
    assert at(f, t.point) == pytest.approx(np.sum(np.sin(x) * np.exp(-x**2)), rel=1e-12)


def test_a_variable_named_like_an_entry_gets_its_own_symbol():
    p = problem("sum(x) * x_0", {"x": [1.0, 2.0], "x_0": 3.0})
    t = translate(p, everything(p))
    names = {s.name for table in t.symbols.values() for s in table.values()}
    assert len(names) == 3 and "x_0" in names


def test_an_operation_sympy_cannot_expand_is_reported_not_crashed():
    p = problem("det(A)", {"A": np.eye(5) + 0.1})
    with pytest.raises(GradcliError) as err:
        translate(p, everything(p))
    assert err.value.kind == "symbolic" and "det" in err.value.message
