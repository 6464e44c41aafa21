"""Properties of random well-shaped expressions (tests/strategies.py) of the whole language.

The engine's gradient matches finite differences where the function is smooth; the
batched and loop Jacobians agree; Hessians are symmetric; unparse/parse is a fixed point;
the CLI's JSON is strict. numpy's floating-point warnings are errors here: none may leak.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
from conftest import assert_share, run_cli
from hypothesis import given
from hypothesis import strategies as st
from strategies import Drawn, expressions

from gradcli.api import functional
from gradcli.autodiff.engine import Tensor, no_grad, run_backward, without_donation
from gradcli.api.evaluate import evaluate
from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr, unparse

STEP = 1e-6


def value_at(tree, values: dict[str, np.ndarray]) -> np.ndarray:
    with no_grad(), np.errstate(all="ignore"):
        return evaluate(tree, {n: Tensor(v) for n, v in values.items()}).data


def strict(fn, *args, **kwargs):
    """fn(...) with numpy's floating-point warnings turned into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def reject_constant(text: str) -> None:
    """json.loads hook: NaN and Infinity are not JSON."""
    raise AssertionError(f"non-strict JSON constant {text}")


@given(expressions(smooth=True))
def test_gradient_matches_finite_differences(drawn: Drawn):
    tree = parse(drawn.text)
    f0 = value_at(tree, drawn.values)
    rng = np.random.default_rng(len(drawn.text))
    u = rng.standard_normal(f0.shape)
    result = strict(functional.grad, drawn.text, drawn.values, grad_output=None if f0.ndim == 0 else u)
    seed = np.ones(()) if result.grad_output is None else u
    # Differences lose about eps * |value| / STEP to rounding: large values get that much slack.
    rounding = 1e-9 * float(np.sum(np.abs(seed * f0)))
    for name, value in drawn.values.items():
        fd = np.zeros(value.shape)
        for j in np.ndindex(value.shape):
            shifted = {n: v.copy() for n, v in drawn.values.items()}
            shifted[name][j] += STEP
            plus = np.sum(seed * value_at(tree, shifted))
            shifted[name][j] -= 2 * STEP
            minus = np.sum(seed * value_at(tree, shifted))
            fd[j] = (plus - minus) / (2 * STEP)
        got = result.gradients[name]
        scale = max(1.0, float(np.max(np.abs(got), initial=0.0)), float(np.max(np.abs(fd), initial=0.0)))
        np.testing.assert_allclose(got, fd, rtol=0, atol=2e-5 * scale + rounding, err_msg=f"{drawn.text} d/d{name}")


@given(expressions(smooth=False))
def test_jacobian_batched_matches_loop(drawn: Drawn):
    batched = strict(functional.jacobian, drawn.text, drawn.values, method="batched", chunk=2)
    loop = strict(functional.jacobian, drawn.text, drawn.values, method="loop")
    assert batched.value.shape == drawn.shape
    for name in drawn.values:
        assert batched.jacobian[name].shape == drawn.shape + drawn.values[name].shape
        np.testing.assert_allclose(batched.jacobian[name], loop.jacobian[name], rtol=1e-10, atol=1e-12,
                                   equal_nan=True, err_msg=drawn.text)


@given(expressions(smooth=False, scalar=True))
def test_hessian_is_symmetric(drawn: Drawn):
    result = strict(functional.hessian, drawn.text, drawn.values)
    sizes = {n: v.size for n, v in drawn.values.items()}
    for a in drawn.values:
        for b in drawn.values:
            hab = result.hessian[a][b].reshape(sizes[a], sizes[b])
            hba = result.hessian[b][a].reshape(sizes[b], sizes[a])
            finite = np.isfinite(hab) & np.isfinite(hba.T)
            scale = max(1.0, float(np.max(np.abs(hab[finite]), initial=0.0)))
            np.testing.assert_allclose(hab[finite], hba.T[finite], rtol=0, atol=1e-9 * scale,
                                       err_msg=f"{drawn.text}: d2/d{a}d{b}")


@given(expressions(smooth=False))
def test_unparse_then_parse_gives_the_same_tree(drawn: Drawn):
    tree = parse(drawn.text)
    printed = unparse(tree)
    again = parse(printed)
    assert sexpr(again) == sexpr(tree)
    assert unparse(again) == printed


def test_cli_json_is_strict():
    ran: list[bool] = []

    @given(expressions(smooth=False, wide=True), st.sampled_from(["grad", "jacobian", "hessian"]))
    def case(drawn: Drawn, command: str):
        text = drawn.text if command == "jacobian" else f"sum({drawn.text})"
        run = run_cli(command, text, *drawn.cli_args(), "--format", "json")
        assert "Traceback" not in run.stderr and "RuntimeWarning" not in run.stderr
        # Huge values may make a matrix singular for inv: a clean error, never a crash.
        assert run.exit_code in (0, 2), run.stderr
        ran.append(run.exit_code == 0)
        if run.exit_code == 0:
            out = json.loads(run.stdout, parse_constant=reject_constant)
            assert np.shape(out["value"]) == (drawn.shape if command == "jacobian" else ())
        else:
            assert run.stderr.startswith("error: ")

    case()
    # Every draw is well shaped, so nearly all run to a result (all 25 of a short run, today):
    # a generator or a CLI that errors on everything would otherwise pass unnoticed.
    assert_share(ran, 0.8, "random expressions through the CLI")


@given(expressions(smooth=False, max_depth=4))
def test_memory_reuse_never_changes_a_derivative(drawn: Drawn):
    # The same gradient (or VJP with ones) with reuse turned off: no array is written into.
    # Bit for bit, nan for nan.
    seed = np.ones(drawn.shape)
    with np.errstate(all="ignore"):
        result = functional.grad(drawn.text, drawn.values, grad_output=None if drawn.shape == () else seed)
        leaves = {n: Tensor(v, requires_grad=True) for n, v in drawn.values.items()}
        with without_donation():
            out = evaluate(parse(drawn.text), leaves)
            found = run_backward([(out, Tensor(seed))]) if out.requires_grad else {}
    by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
    for name, gradient in result.gradients.items():
        expected = by_leaf.get(id(leaves[name]), np.zeros(leaves[name].shape))
        np.testing.assert_array_equal(gradient, np.broadcast_to(expected, gradient.shape))
    np.testing.assert_array_equal(result.value, out.data)
