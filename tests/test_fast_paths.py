"""The fast paths give the numbers the simple paths give.

Threaded elementwise operations against one numpy call, the batched Jacobian against
the row loop (one chunk, several chunks, matrix products on both sides and with batch
axes), a constant exponent against a variable one, in-place accumulation of cotangents
against fresh sums. No timing here: bench/run.py measures speed.
"""

from __future__ import annotations

import itertools
import operator
import os
import subprocess
import sys

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.autodiff import parallel
from gradcli.autodiff.engine import Tensor, call, reusing, run_backward, without_donation
from gradcli.ops.common import F
from gradcli.autodiff.op import DOMAINS, OPS

UFUNC_OPS = sorted(name for name, op in OPS.items() if isinstance(op.forward, np.ufunc) and op.forward.signature is None)


def _inputs(op, shapes, rng):
    # Values inside the op's domain (its samples' samplers), so the numbers are ordinary ones.
    domains = op.samples[0].domains()
    return [DOMAINS[domain](rng, s) for domain, s in zip(domains, shapes)]


@pytest.mark.parametrize("threads", ["2", "3"])
@pytest.mark.parametrize("name", UFUNC_OPS)
def test_threaded_elementwise_matches_one_numpy_call(name, threads, monkeypatch):
    monkeypatch.setenv("GRADCLI_THREADS", threads)
    op = OPS[name]
    arity = op.forward.nin
    rng = np.random.default_rng(0)
    n = parallel.MIN_ENTRIES + 7  # an uneven split
    # A long vector, and a matrix broadcast against a row (and a scalar for three inputs).
    for shapes in ([(n,)] * arity, [(n // 500 + 1, 500)] + [(500,), ()][: arity - 1]):
        arrays = _inputs(op, shapes, rng)
        expected = op.forward(*arrays)
        got = call(op, *arrays).data
        assert got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_slow_functions_split_from_fewer_entries(name, monkeypatch):
    # sin and cos go to threads from 2^17 entries: still the single call's numbers.
    monkeypatch.setenv("GRADCLI_THREADS", "2")
    x = np.random.default_rng(3).standard_normal(parallel.MIN_ENTRIES_SLOW + 3)
    assert parallel.MIN_ENTRIES_SLOW < x.size < parallel.MIN_ENTRIES
    np.testing.assert_array_equal(call(name, Tensor(x)).data, OPS[name].forward(x))


def test_threaded_elementwise_keeps_the_error_state_quiet():
    # Workers run in a copy of the caller's numpy error state: no warnings from them.
    x = np.full(parallel.MIN_ENTRIES * 2, -1.0)
    with np.errstate(all="raise"), np.errstate(invalid="ignore"):
        out = call("log", Tensor(x)).data
    assert np.isnan(out).all()


TANH = ("tanh(W @ x)", {"W": np.random.default_rng(1).standard_normal((7, 5)),
                        "x": np.random.default_rng(2).standard_normal(5)})
CASES = [
    TANH,
    ("sin(x) * x**2", {"x": np.linspace(-2, 2, 9)}),
    ("x @ W", {"x": np.linspace(-1, 1, 4), "W": np.arange(12.0).reshape(4, 3) / 7}),
    ("exp(W @ x) * y", {"W": np.arange(6.0).reshape(2, 3) / 5, "x": np.array([0.3, -0.2, 0.1]),
                        "y": np.array([1.5, -2.0])}),
]


@pytest.mark.parametrize("expr, values", CASES)
def test_batched_jacobian_equals_the_row_loop(expr, values):
    loop = functional.jacobian(expr, values, method="loop").jacobian
    for chunk in (None, 1, 3):  # one pass, one row per pass, uneven chunks
        batched = functional.jacobian(expr, values, chunk=chunk).jacobian
        for name in loop:
            np.testing.assert_allclose(batched[name], loop[name], rtol=1e-13, atol=1e-15)


def test_matrix_vector_rule_equals_its_broadcast_form():
    # A 2-D matrix takes one matrix product over the batch rows; a stack of one matrix
    # takes the general broadcast path. The Jacobians agree.
    W, x = TANH[1]["W"], TANH[1]["x"]
    flat = functional.jacobian("tanh(W @ x)", {"W": W, "x": x}, wrt="x").jacobian["x"]
    stacked = functional.jacobian("tanh(W @ x)", {"W": W[None], "x": x}, wrt="x").jacobian["x"]
    np.testing.assert_allclose(stacked[0], flat, rtol=1e-13, atol=1e-15)
    flat_h = functional.hessian("sum(tanh(W @ x))", {"W": W, "x": x}, wrt="x").hessian["x"]["x"]
    stacked_h = functional.hessian("sum(tanh(W @ x))", {"W": W[None], "x": x}, wrt="x").hessian["x"]["x"]
    np.testing.assert_allclose(stacked_h, flat_h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("c", [0.0, 1.0, 2.0, 3.0, 0.5, -1.5])
def test_constant_exponent_equals_variable_exponent(c):
    x = np.array([0.25, 1.5, 3.0])
    constant = functional.grad(f"sum(x**{c})", {"x": x}).gradients["x"]
    general = functional.grad("sum(x**p)", {"x": x, "p": c}, wrt="x").gradients["x"]
    np.testing.assert_allclose(constant, general, rtol=1e-14)
    second_constant = functional.hessian(f"sum(x**{c})", {"x": x}).hessian["x"]["x"]
    second_general = functional.hessian("sum(x**p)", {"x": x, "p": c}, wrt="x").hessian["x"]["x"]
    np.testing.assert_allclose(second_constant, second_general, rtol=1e-13)


def test_mean_equals_sum_over_count():
    x = np.arange(12.0).reshape(3, 4) / 3
    for axis in ("", ", axis=0", ", axis=1"):
        count = 12 if not axis else (3 if axis.endswith("0") else 4)
        mean = functional.grad(f"sum(mean(x{axis})**2)", {"x": x}).gradients["x"]
        ratio = functional.grad(f"sum((sum(x{axis}) / {count})**2)", {"x": x}).gradients["x"]
        np.testing.assert_allclose(mean, ratio, rtol=1e-14)


def test_in_place_accumulation_equals_fresh_sums():
    # x meets the output on five paths: a first-order pass adds their cotangents in place,
    # a create_graph pass adds them as fresh (differentiable) sums.
    x_value = np.linspace(-1.0, 2.0, 6)
    totals = []
    for create_graph in (False, True):
        x = Tensor(x_value, requires_grad=True)
        out = call("sum", x * x + call("sin", x) + x * 3.0 - call("exp", x) / 2.0)
        found = run_backward([(out, Tensor(1.0))], create_graph=create_graph, retain_graph=create_graph)
        (ct,) = found.values()
        totals.append(ct.data)
    by_hand = 2 * x_value + np.cos(x_value) + 3.0 - np.exp(x_value) / 2.0
    np.testing.assert_allclose(totals[0], by_hand, rtol=1e-14)
    np.testing.assert_array_equal(totals[0], totals[1])


def test_in_place_accumulation_leaves_the_seed_and_inputs_alone():
    x_value = np.linspace(-1.0, 2.0, 6)
    seed = np.ones(6)
    x = Tensor(x_value.copy(), requires_grad=True)
    out = x + x + x  # add passes its cotangent through: the seed itself reaches x three times
    run_backward([(out, Tensor(seed))])
    np.testing.assert_array_equal(seed, np.ones(6))
    np.testing.assert_array_equal(x.data, x_value)


def test_threaded_elementwise_in_a_forked_child(monkeypatch):
    # A child made by fork has none of the parent's worker threads: it must make its own
    # (a job handed to the parent's pool would wait forever).
    import multiprocessing

    monkeypatch.setenv("GRADCLI_THREADS", "2")
    x = np.linspace(-3.0, 3.0, parallel.MIN_ENTRIES + 5)
    expected = np.sin(x)
    np.testing.assert_array_equal(call("sin", Tensor(x)).data, expected)  # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        result = pool.apply_async(_child_sin, (x,))
        np.testing.assert_array_equal(result.get(timeout=60), expected)


def _child_sin(x: np.ndarray) -> np.ndarray:
    return call("sin", Tensor(x)).data


GLIBC = hasattr(os, "confstr") and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
REALLOCATE = """
import resource, sys
import numpy as np
if sys.argv[1] == "kept":
    from gradcli.__main__ import keep_freed_memory
    keep_freed_memory()
def touch():
    return float(np.ones(4_000_000)[-1])  # 32 MB: glibc would map it fresh each time
touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    touch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not GLIBC, reason="malloc tuning is for glibc")
def test_the_command_reuses_freed_memory_instead_of_faulting_it_in_again():
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", REALLOCATE, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert faults("kept") < 10
    assert faults("plain") >= 40  # at least 8 faults per 32 MB array, even with 2 MB pages


# -- memory reuse: results written into arrays nothing else reads ---------------------------
from gradcli.api.evaluate import evaluate  # noqa: E402
from gradcli.lang.parser import parse  # noqa: E402

REUSE_CASES = [
    ("sum(sin(x)*exp(-x**2))", {"x": np.linspace(-2.0, 2.0, 11)}, "x"),
    ("mean((w*x - y)**2)", {"w": 0.7, "x": np.linspace(-1.0, 1.0, 9), "y": np.cos(np.arange(9.0))}, "w"),
    ("mean((w*x - y)**2)", {"w": 0.7, "x": np.linspace(-1.0, 1.0, 9), "y": np.cos(np.arange(9.0))}, "x,y"),
    ("sum(cos(x)*tanh(2*x) + sigmoid(x*x) - log(x*x + 1) / sqrt(x*x + 2))", {"x": np.linspace(-1.5, 1.5, 7)}, "x"),
    ("sum((x / (y*y + 1))**3 - (-exp(x - y)))", {"x": np.linspace(0.1, 1.0, 5), "y": np.linspace(-1, 1, 5)}, "x,y"),
    ("sum(x*y) + sum(2*x*x) + sum((x + y)*(x - y))", {"x": np.arange(4.0), "y": np.arange(4.0)[::-1] / 3}, "x,y"),
    # the inner product and quotient get a cotangent of their own and read it twice
    ("sum(exp(x) * (x*y) * sin(y) + (x / y) * cos(x))", {"x": np.linspace(0.5, 1.5, 6), "y": np.linspace(1, 2, 6)}, "x,y"),
    # add sends one cotangent to both terms; each term's rule would write into it
    ("sum(cos(x) * (exp(x) + (-x)))", {"x": np.linspace(-1.0, 1.0, 5)}, "x"),
    ("sum(W @ (tanh(x) * (x + 1)))", {"W": np.arange(12.0).reshape(3, 4) / 9, "x": np.linspace(-1, 1, 4)}, "W,x"),
]


def _without_reuse(expr: str, values: dict, wrt: str) -> dict:
    leaves = {k: Tensor(v, requires_grad=k in wrt.split(",")) for k, v in values.items()}
    with without_donation():
        out = evaluate(parse(expr), leaves)
        found = run_backward([(out, Tensor(1.0))])
    by_id = {id(node.tensor): ct.data for node, ct in found.items()}
    return {k: by_id[id(leaves[k])] for k in wrt.split(",")}


@pytest.mark.parametrize("expr, values, wrt", REUSE_CASES)
def test_reused_memory_gives_the_same_numbers(expr, values, wrt):
    kept = {k: np.array(v, copy=True) for k, v in values.items()}
    result = functional.grad(expr, values, wrt=wrt)
    reference = _without_reuse(expr, values, wrt)
    for name, g in result.gradients.items():
        np.testing.assert_array_equal(g, reference[name])
        assert g.flags.writeable and not any(np.shares_memory(g, np.asarray(v)) for v in values.values())
    for name, v in values.items():  # the caller's arrays are never written into
        np.testing.assert_array_equal(np.asarray(v), kept[name])


def test_large_gradient_with_reuse_and_threads_matches_the_formula():
    x = np.linspace(-3.0, 3.0, parallel.MIN_ENTRIES + 11)
    got = functional.grad("sum(sin(x)*exp(-x**2))", {"x": x}).gradients["x"]
    np.testing.assert_allclose(got, np.exp(-x * x) * (np.cos(x) - 2 * x * np.sin(x)), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(got, _without_reuse("sum(sin(x)*exp(-x**2))", {"x": x}, "x")["x"])


def _address(t: Tensor) -> int:
    return t.data.ctypes.data


def test_a_temporary_takes_the_result():
    """Inside the engine's walks (reusing()); without_donation() turns that off."""
    x = np.linspace(-1.0, 1.0, 5)
    with reusing():
        box = [call("exp", Tensor(x))]
        address = _address(box[0])
        negated = -box.pop()  # popped: a temporary, as the expression walk hands values on
        assert _address(negated) == address
    np.testing.assert_array_equal(negated.data, -np.exp(x))
    with reusing(), without_donation():
        box = [call("exp", Tensor(x))]
        address = _address(box[0])
        assert _address(-box.pop()) != address


def test_code_the_engine_does_not_run_never_has_an_input_written_into():
    """starmap lends operator.mul the items of a tuple that lives on, uncounted: a temporary
    by its reference count, yet the list still holds it. Outside the walks nothing is reused."""
    x = np.linspace(-1.0, 1.0, 5)
    pairs = [(call("exp", Tensor(x)), 2.0)]
    products = list(itertools.starmap(operator.mul, pairs))
    np.testing.assert_array_equal(pairs[0][0].data, np.exp(x))
    np.testing.assert_array_equal(products[0].data, 2.0 * np.exp(x))
    box = [call("exp", Tensor(x))]
    address = _address(box[0])
    assert _address(-box.pop()) != address


def test_reuse_is_refused_for_named_values_the_callers_arrays_and_saved_values():
    x = np.linspace(-1.0, 1.0, 5)
    assert not np.shares_memory((-Tensor(x)).data, x)  # a temporary Tensor, but the caller keeps x
    np.testing.assert_array_equal(x, np.linspace(-1.0, 1.0, 5))
    named = call("exp", Tensor(x))
    assert not np.shares_memory((-named).data, named.data)
    leaf = Tensor(x, requires_grad=True)
    box = [leaf * 2.0]  # a temporary, but sin's node keeps its input for the backward pass
    doubled = box[0]
    sine = F.sin(box.pop())
    assert not np.shares_memory(sine.data, doubled.data)
    box = [F.exp(leaf)]  # exp's node keeps its output
    exp_value = box[0].data
    negated = -box.pop()
    assert not np.shares_memory(negated.data, exp_value)
    call("sum", sine + negated).backward()
    np.testing.assert_allclose(leaf.grad, 2 * np.cos(2 * x) - np.exp(x), rtol=1e-15)


def test_retained_graph_keeps_its_saved_values_for_a_second_pass():
    x = Tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
    out = evaluate(parse("sum(sin(exp(-(2*x)**2)) * (x*x - 1))"), {"x": x})
    out.backward(retain_graph=True)
    first = x.grad.copy()
    out.backward()
    np.testing.assert_array_equal(x.grad, 2 * first)


def test_a_leaf_gradient_never_aliases_another_value():
    # d sum(x*y) / dx is y itself: the leaf gets its own copy, as PyTorch's does.
    y_value = np.arange(4.0)
    x, y = Tensor(np.ones(4), requires_grad=True), Tensor(y_value)
    call("sum", x * y).backward()
    assert not np.shares_memory(x.grad, y_value) and x.grad.flags.writeable
    x.grad[0] = 99.0
    np.testing.assert_array_equal(y_value, np.arange(4.0))


def test_a_sums_cotangent_takes_the_plain_rules_numbers():
    # sum() sends back a broadcast 1 (and mean() a broadcast 1/n): the product and power rules
    # skip multiplying by it. An explicit cotangent of ones goes through the plain rules.
    rng = np.random.default_rng(5)
    values = {"x": rng.standard_normal(8), "y": rng.standard_normal(8)}
    for inner in ("x*y", "x**2 * y", "(x*y)**2"):
        summed = functional.grad(f"sum({inner})", values).gradients
        plain = functional.grad(inner, values, grad_output=np.ones(8)).gradients
        averaged = functional.grad(f"mean({inner})", values).gradients
        plain_mean = functional.grad(inner, values, grad_output=np.full(8, 1 / 8)).gradients
        for name in values:
            np.testing.assert_array_equal(summed[name], plain[name])
            np.testing.assert_array_equal(averaged[name], plain_mean[name])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_seed_of_one_skips_the_products_with_it(dtype, monkeypatch):
    """A scalar output's seed 1 reaches every term of a sum unchanged, and a product's rule gives the
    other factor instead of multiplying it by 1: the same bits as multiplying. Another seed is
    multiplied: a seed of 2 (exact doubling) gives twice the gradient to the bit."""
    from gradcli.autodiff import backward

    values = {"x": 0.3, "y": 1.7}
    seen = []
    unit = backward._unit
    monkeypatch.setattr(backward, "_unit", lambda seed: seen.append(unit(seed)) or seen[-1])
    fast = functional.grad(SCALAR_EXPRESSION, values, dtype=dtype)
    doubled = functional.grad(SCALAR_EXPRESSION, values, dtype=dtype, grad_output=2.0)
    assert seen[0] is not None and seen[1] is None  # the seed 1 is taken for one, the seed 2 is not
    monkeypatch.setattr(backward, "_unit", lambda seed: None)
    plain = functional.grad(SCALAR_EXPRESSION, values, dtype=dtype)
    for name in values:
        assert fast.gradients[name].tobytes() == plain.gradients[name].tobytes()
        assert doubled.gradients[name].tobytes() == (2 * plain.gradients[name]).tobytes()


@pytest.mark.parametrize("expr", ["w*x", "x*w", "w*X", "sin(w*x)"])
def test_a_scalar_factors_gradient_is_a_dot_product(expr):
    # Its cotangent is summed by one dot product instead of a product array: the same value
    # up to the order of the additions, for a gradient, a batched Jacobian and a Hessian.
    rng = np.random.default_rng(6)
    other = "X" if "X" in expr else "x"
    values = {"w": 0.3, other: rng.standard_normal((2, 3) if other == "X" else 6)}
    seed = rng.standard_normal(values[other].shape)
    got = functional.grad(expr, values, wrt="w", grad_output=seed).gradients["w"]
    inner = values[other]
    local = np.cos(0.3 * inner) * inner if "sin" in expr else inner
    np.testing.assert_allclose(got, np.sum(seed * local), rtol=1e-13)
    loop = functional.jacobian(expr, values, wrt="w", method="loop").jacobian["w"]
    batched = functional.jacobian(expr, values, wrt="w").jacobian["w"]
    np.testing.assert_allclose(batched, loop, rtol=1e-13)
    np.testing.assert_allclose(loop, local, rtol=1e-13)
    if "sin" not in expr:  # (sum w x)^2 has second derivative 2 (sum x)^2
        hess = functional.hessian(f"sum({expr})**2", values, wrt="w").hessian["w"]["w"]
        np.testing.assert_allclose(hess, 2 * np.sum(inner) ** 2, rtol=1e-12)


@pytest.mark.parametrize("values, expected", [
    ([1.0, -2.0, 3.5], True), ([1e308, 1e308, -1e308], True),  # the sum overflows: entries are checked
    ([1.0, np.nan], False), ([np.inf, 1.0], False), ([np.inf, -np.inf], False), ([], True),
])
def test_finite_by_sum_agrees_with_the_entrywise_test(values, expected):
    from gradcli.api.diagnose import finite

    a = np.array(values, dtype=np.float64)
    assert finite(a) is expected is bool(np.all(np.isfinite(a)))


def _rows_case(g: np.ndarray, m: np.ndarray, monkeypatch=None):
    """_rows_times(g, m); with monkeypatch, a matrix product fails the test (the shortcut must run)."""
    from gradcli.autodiff.engine import no_grad
    from gradcli.ops.linalg import _rows_times

    if monkeypatch is not None:
        monkeypatch.setattr(Tensor, "__matmul__", lambda *a: pytest.fail("a matrix product for diagonal rows"))
    with no_grad(), np.errstate(all="ignore"):  # as in a backward pass
        return _rows_times(Tensor(g), Tensor(m))


@pytest.mark.parametrize("offset, rows", [(0, 6), (2, 3), (0, 2)])
def test_diagonal_cotangent_rows_skip_the_matrix_product(offset, rows, monkeypatch):
    # Basis rows scaled by elementwise rules (a chunk of them at an offset, some scaled by 0)
    # times a matrix: row i is d_i * m[offset + i], the matrix product's numbers.
    rng = np.random.default_rng(7)
    m = rng.standard_normal((6, 4))
    g = np.zeros((rows, 6))
    d = rng.standard_normal(rows)
    d[min(1, rows - 1)] = 0.0
    g[np.arange(rows), offset + np.arange(rows)] = d
    got = _rows_case(g, m, monkeypatch)
    np.testing.assert_array_equal(got.data, g @ m)


@pytest.mark.parametrize("case", ["two in a row", "below the diagonal", "inf in m", "all zero"])
def test_other_cotangent_rows_take_the_matrix_product(case, monkeypatch):
    rng = np.random.default_rng(8)
    m, g = rng.standard_normal((5, 3)), np.diag(rng.standard_normal(5))[:4]
    if case == "two in a row":
        g[2, 4] = 1.0
    elif case == "below the diagonal":
        g[3, 0] = 1.0
    elif case == "inf in m":
        m[4, 1] = np.inf  # 0 * inf is nan in every row of the product: the shortcut would say 0
    else:
        g[:] = 0.0
    calls = []
    product = Tensor.__matmul__
    monkeypatch.setattr(Tensor, "__matmul__", lambda a, b: calls.append(1) or product(a, b))
    got = _rows_case(g, m)
    assert calls == [1]
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(got.data, g @ m)


ELEMENTWISE = [
    ("sin(x)*x**2", {"x": np.linspace(-2, 2, 7)}),
    ("exp(x)*y - x/y + 3", {"x": np.linspace(-1, 1, 5), "y": np.linspace(1, 2, 5)}),
    ("maximum(x, y) * tanh(x)", {"x": np.array([1.0, -2.0, 0.5]), "y": np.array([1.0, 0.0, 2.0])}),  # a tie
    ("sqrt(x*x + 1) * W", {"x": np.arange(6.0).reshape(2, 3), "W": np.ones((2, 3)) / 3}),
    # elementwise by their records, though not numpy ufuncs
    ("where(x > 0, x, 2*x) * relu(x + 0.5)", {"x": np.linspace(-1, 1, 4)}),
    ("sigmoid(x) * clip(x, -0.5, 0.5) - detach(x)", {"x": np.linspace(-1, 1, 5)}),
]
NOT_ELEMENTWISE = [
    ("exp(x)*0 + x", {"x": np.array([1.0, 800.0, 2.0])}),  # 0 * inf: nan across a column, as the loop
    ("x * sum(x)", {"x": np.linspace(-1, 1, 4)}),  # a reduction
    ("x + y", {"x": np.linspace(-1, 1, 4), "y": np.array([2.0])}),  # y is broadcast
    ("x[::-1] * x", {"x": np.linspace(-1, 1, 4)}),  # entries move
    ("where(x > 0, x, 2*x) * relu(sum(x))", {"x": np.linspace(-1, 1, 4)}),  # a reduction
]


@pytest.mark.parametrize("expr, values", ELEMENTWISE + NOT_ELEMENTWISE)
def test_diagonal_jacobians_take_one_pass_and_equal_the_row_loop(expr, values, monkeypatch):
    # An elementwise function has a diagonal Jacobian: one backward pass with a cotangent of
    # ones gives it, without the basis passes (which fail here if they run).
    loop = functional.jacobian(expr, values, method="loop").jacobian
    if expr in {e for e, _ in ELEMENTWISE}:
        monkeypatch.setattr(functional, "_basis_pass", lambda *a: pytest.fail("basis pass for a diagonal Jacobian"))
    batched = functional.jacobian(expr, values).jacobian
    for name in loop:
        np.testing.assert_array_equal(batched[name], loop[name])


def test_a_sum_of_elementwise_terms_has_a_diagonal_hessian():
    x = np.linspace(-1.5, 1.5, 6)
    hess = functional.hessian("sum(sin(x)*x)", {"x": x}).hessian["x"]["x"]
    np.testing.assert_allclose(hess, np.diag(2 * np.cos(x) - x * np.sin(x)), rtol=1e-14, atol=1e-15)
    loop = functional.hessian("sum(sin(x)*x)", {"x": x}, method="loop").hessian["x"]["x"]
    np.testing.assert_array_equal(hess, loop)


def test_a_sum_of_an_empty_product_takes_the_uniform_path_safely():
    """A sum's cotangent of an empty array holds no number to read (it crashed once)."""
    r = functional.grad("sum(x*x)", {"x": np.zeros(0)})
    assert r.value == 0.0 and r.gradients["x"].shape == (0,)


SCALAR_EXPRESSION = " + ".join(f"sin(x*{i})*{i}" for i in range(1, 40)) + \
    " - exp(-x**2)/y + tanh(x*y)**3 - sqrt(y)*log(x) + maximum(x, y)*abs(x - y) + (x < y)*cos(y)"


def _plain_path(monkeypatch):
    """No operation takes the short path: the thread's mode keeps it blocked, and call.py then gives
    every call to the general path."""
    from gradcli.autodiff import mode as mode_module

    blocked = mode_module.BLOCKED
    monkeypatch.setattr(mode_module, "_keep_short", lambda: setattr(mode_module.mode, "short", blocked))
    monkeypatch.setattr(mode_module.mode, "short", blocked)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scalar_operations_take_the_plain_paths_numbers(dtype, monkeypatch):
    """A long expression of 0-d values, its gradient and Hessian: the same bits through the short path
    (which every operation of the gradient takes, forward and backward) as through the general one."""
    from gradcli.autodiff import call as call_module

    values = {"x": 0.3, "y": 1.7}
    ops = {"sin", "mul", "add", "exp", "div", "tanh", "log", "maximum", "abs", "cos"}
    fast_hessian = functional.hessian(SCALAR_EXPRESSION, values, dtype=dtype).hessian
    general = []  # the operations given to the general path
    real = call_module._apply
    monkeypatch.setattr(call_module, "_apply", lambda op, *rest: general.append(op.name) or real(op, *rest))
    fast = functional.grad(SCALAR_EXPRESSION, values, dtype=dtype)
    assert not (ops - {"mul"}) & set(general)  # (a rule's product with a Python number takes the general path)
    assert general.count("mul") < 5
    _plain_path(monkeypatch)
    plain = functional.grad(SCALAR_EXPRESSION, values, dtype=dtype)
    assert ops <= set(general)
    plain_hessian = functional.hessian(SCALAR_EXPRESSION, values, dtype=dtype).hessian
    assert fast.value.dtype == plain.value.dtype == np.dtype(dtype)
    assert fast.value.tobytes() == plain.value.tobytes()
    for name in values:
        assert fast.gradients[name].dtype == np.dtype(dtype)
        assert fast.gradients[name].tobytes() == plain.gradients[name].tobytes()
        for other in values:
            assert fast_hessian[name][other].tobytes() == plain_hessian[name][other].tobytes()


@pytest.mark.parametrize("name", UFUNC_OPS)
def test_each_scalar_operation_takes_the_plain_paths_numbers(name, monkeypatch):
    op = OPS[name]
    rng = np.random.default_rng(5)
    arrays = _inputs(op, [()] * op.forward.nin, rng)

    def value_and_gradients():
        inputs = [Tensor(a, requires_grad=op.differentiable) for a in arrays]
        out = call(op, *inputs)
        if not op.differentiable:
            return out.data, []
        found = run_backward([(out, Tensor(1.0))])
        return out.data, [found[t._leaf_node].data if t._leaf_node in found else None for t in inputs]

    fast_value, fast_gradients = value_and_gradients()
    _plain_path(monkeypatch)
    plain_value, plain_gradients = value_and_gradients()
    assert type(fast_value) is np.ndarray and fast_value.dtype == plain_value.dtype
    assert fast_value.tobytes() == plain_value.tobytes()
    for fast, plain in zip(fast_gradients, plain_gradients):
        assert (fast is None) == (plain is None)
        if fast is not None:
            assert fast.dtype == plain.dtype and fast.tobytes() == plain.tobytes()
