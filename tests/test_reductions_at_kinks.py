"""Reductions and linear algebra at their kinks, first and second order, as PyTorch gives them.

Pinned numbers (they hold without torch installed); tests/test_differential.py compares
the same points with torch itself.
"""

from __future__ import annotations

import numpy as np
from conftest import run_cli

import gradcli


def test_std_of_equal_entries_along_an_axis_is_exactly_zero_with_gradient_zero():
    # sum/3 of three 0.1s rounds to 0.1 + 1 ulp; the equal row must still have std 0.
    r = gradcli.grad("sum(std(W, axis=1))", {"W": [[0.1, 0.1, 0.1], [1, 2, 3]]})
    np.testing.assert_array_equal(r.gradients["W"][0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(r.gradients["W"][1], [-1 / np.sqrt(6), 0.0, 1 / np.sqrt(6)], rtol=1e-15)
    assert gradcli.grad("std(x)", {"x": [0.1, 0.1, 0.1]}).value == 0.0


def test_var_of_equal_entries_is_exactly_zero():
    r = gradcli.grad("var(x)", {"x": [0.1, 0.1, 0.1]})
    assert r.value == 0.0
    # The rule is PyTorch's 2 (x - mean) / n, with the rounded mean: a few 1e-18, as PyTorch gives.
    assert np.all(np.abs(r.gradients["x"]) < 1e-17)


def test_hessian_of_std_at_equal_entries_is_zero():
    np.testing.assert_array_equal(gradcli.hessian("std(x)", {"x": [1, 1, 1]}).hessian["x"]["x"], np.zeros((3, 3)))


def test_hessian_of_std_where_it_is_smooth_matches_the_formula():
    x = np.array([1.0, 2.0, 4.0])
    n, c = len(x), x - x.mean()
    s = np.sqrt(np.mean(c ** 2))
    # d2 std / dx dx = ((I - 1/n) / (n s)) - c c^T / (n^2 s^3)
    expected = (np.eye(n) - 1 / n) / (n * s) - np.outer(c, c) / (n ** 2 * s ** 3)
    np.testing.assert_allclose(gradcli.hessian("std(x)", {"x": x}).hessian["x"]["x"], expected, rtol=1e-13)


def test_mixed_second_derivative_of_std_at_equal_entries_is_nan_as_pytorch():
    # H[a][b] = d(grad_a)/db. d/dy of the gradient along x, y * d std/dx, at std = 0 is the
    # 0/0 of g / (2 std): nan. Along the other order, d/dx of grad_y = std(x) is 0 there.
    h = gradcli.hessian("y * std(x)", {"x": [1.0, 1.0], "y": 2.0}).hessian
    np.testing.assert_array_equal(h["x"]["x"], np.zeros((2, 2)))
    assert np.all(np.isnan(h["x"]["y"]))
    np.testing.assert_array_equal(h["y"]["x"], [0.0, 0.0])


def test_hessian_of_norm_at_zero_is_nan_and_its_gradient_zero():
    r = gradcli.hessian("norm(x)", {"x": [0.0, 0.0]})
    np.testing.assert_array_equal(r.gradients["x"], [0.0, 0.0])
    assert np.all(np.isnan(r.hessian["x"]["x"]))
    x = np.array([3.0, 4.0])
    expected = (np.eye(2) - np.outer(x, x) / 25) / 5
    np.testing.assert_allclose(gradcli.hessian("norm(x)", {"x": x}).hessian["x"]["x"], expected, rtol=1e-15)


def test_trace_reads_only_the_diagonal():
    # acos of the off-diagonal 2 and 3 is nan; the trace never reads it.
    r = gradcli.grad("trace(acos(W))", {"W": [[0.5, 2.0], [3.0, 0.5]]})
    assert np.isfinite(r.value) and np.isclose(r.value, 2 * np.arccos(0.5))
    g = r.gradients["W"]
    np.testing.assert_allclose(np.diag(g), [-1 / np.sqrt(0.75)] * 2, rtol=1e-15)
    assert np.all(np.isnan([g[0, 1], g[1, 0]]))  # 0 * nan off the diagonal, as PyTorch
    r = gradcli.grad("trace(W)", {"W": [[1.0, np.inf], [np.nan, 2.0]]})
    assert r.value == 3.0
    np.testing.assert_array_equal(r.gradients["W"], [[1.0, 0.0], [0.0, 1.0]])


def test_the_issue_examples_through_the_cli():
    run = run_cli("hessian", "std(x)", "--x", "1,1,1", "--format", "plain")
    assert run.exit_code == 0 and run.stdout.strip() == "0,0,0;0,0,0;0,0,0"
    run = run_cli("hessian", "norm(x)", "--x", "0,0", "--format", "plain")
    assert run.exit_code == 0 and run.stdout.strip() == "nan,nan;nan,nan"
