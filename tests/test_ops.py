"""Every operation of the registry, every sample, every order of derivative.

One parametrised suite walks OPS (every operation declares its samples, internal ones with
params as the rules write them, and each domain its sampler) with the checks of
tests/opchecks.py: first derivatives by a dot-product check against central differences
and by full Jacobians, second derivatives (the create_graph path a Hessian takes) against
differences of the gradient, batched cotangents against the row-by-row loop, documented
kinks (and the note at each kink the operation's check must fire at), and shape rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.autodiff.engine import Tensor, call
from gradcli.ops import OPS
from opchecks import (check_batched_cotangents_match_loop, check_documented_kink, check_first_derivatives,
                      check_forward_matches_reverse, check_full_jacobian, check_kink_is_noted, check_second_derivatives,
                      check_shape_rule_matches_forward, is_small, vjp)

CASES = [(name, i) for name, op in OPS.items() for i in range(len(op.samples))]
DIFFERENTIABLE = [(n, i) for n, i in CASES if OPS[n].differentiable]

def test_every_operation_is_sampled():
    """A new operation without samples fails here (and already at registration)."""
    unsampled = [name for name, op in OPS.items() if not op.samples and not op.constructor]
    assert unsampled == []
    assert {n for n, _ in CASES} >= {n for n, op in OPS.items() if not op.constructor}


KINKS = [(name, i) for name, op in OPS.items() for i in range(len(op.kinks))]


@pytest.mark.parametrize("name,index", CASES)
def test_shape_rule_matches_forward(name, index):
    check_shape_rule_matches_forward(name, index)


@pytest.mark.parametrize("name,index", DIFFERENTIABLE)
def test_first_derivatives(name, index):
    check_first_derivatives(name, index)


@pytest.mark.parametrize("name,index", [c for c in DIFFERENTIABLE if is_small(*c)])
def test_full_jacobian(name, index):
    check_full_jacobian(name, index)


@pytest.mark.parametrize("name,index", DIFFERENTIABLE)
def test_second_derivatives(name, index):
    check_second_derivatives(name, index)


@pytest.mark.parametrize("name,index", DIFFERENTIABLE)
def test_batched_cotangents_match_loop(name, index):
    check_batched_cotangents_match_loop(name, index)


@pytest.mark.parametrize("name,index", DIFFERENTIABLE)
def test_forward_mode_matches_reverse(name, index):
    check_forward_matches_reverse(name, index)


@pytest.mark.parametrize("name,index", KINKS)
def test_documented_kink(name, index):
    check_documented_kink(name, index)


NOTED_KINKS = [(name, i) for name, i in KINKS if OPS[name].kinks[i].noted]


@pytest.mark.parametrize("name,index", NOTED_KINKS)
def test_a_kink_is_noted_by_the_command_line(name, index, cli):
    """Every noted kink: the operation's check fires, and `gradcli grad` prints its note there."""
    found = check_kink_is_noted(name, index)
    if found is None:  # an internal operation: no expression calls it
        return
    text, values, note = found
    args = [arg for var, v in values.items() for arg in (f"--{var}", value_text(v))]
    out = OPS[name].shape(*(v.shape for v in values.values()))
    run = cli("grad", text, *args, *(["--grad-output", value_text(np.ones(out))] if out else []))
    assert run.exit_code == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if line.startswith("note: ")] == [f"note: {note}"]


def value_text(v: np.ndarray) -> str:
    """v in the command line's VALUE syntax: 2, 1,2,3 or 1,2;3,4."""
    if v.ndim == 2:
        return ";".join(",".join(repr(float(x)) for x in row) for row in v)
    return ",".join(repr(float(x)) for x in np.atleast_1d(v))


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5])
def test_constant_exponent(exponent):
    """x**c with a numeric c takes the rule's fast path: against differences, negative bases too."""
    base = np.array([-1.5, -0.5, 0.5, 2.0]) if float(exponent).is_integer() else np.array([0.5, 2.0])
    x = Tensor(base, requires_grad=True)
    out = call("pow", x, exponent)
    (g,) = vjp(out, [x], np.ones(base.shape), create_graph=True)
    np.testing.assert_allclose(g.data, exponent * base ** (exponent - 1) if exponent else 0 * base, rtol=1e-12)
    if g.requires_grad:
        (h,) = vjp(call("sum", g), [x], np.ones(()))
        np.testing.assert_allclose(h, exponent * (exponent - 1) * base ** (exponent - 2), rtol=1e-12)


@pytest.mark.parametrize("matrix", [np.zeros((1, 1)), np.zeros((3, 3)), np.array([[1.0, 2, 3], [2, 4, 6], [0, 1, 1]]),
                                    np.outer([1.0, 2, 3], [1.0, -1, 0.5])])
def test_det_second_derivatives_where_singular(matrix):
    """The Hessian of det at singular matrices (where the inverse is no help) against SymPy."""
    import sympy as sp

    from gradcli.api import functional

    n = matrix.shape[0]
    symbols = sp.symbols(f"a0:{n * n}")
    det = sp.Matrix(n, n, symbols).det()
    at = dict(zip(symbols, matrix.ravel()))
    expected = np.array([[float(sp.diff(det, a, b).subs(at)) for b in symbols] for a in symbols])
    got = functional.hessian("det(x)", {"x": matrix}).hessian["x"]["x"].reshape(n * n, n * n)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_det_hessian_through_a_product_nearly_singular():
    """det(V @ W) is quadratic in V, so its Hessian in V is the same everywhere: entry (i, j) is
    q(E_i + E_j) - q(E_i) - q(E_j) for q(V) = det(V @ W). At a V where V @ W has a condition number
    of 3e7, the inverse's rounding once made it asymmetric by 1e-9."""
    from gradcli.api import functional

    w = np.array([[0.0, 1.5], [1.5, 1.5], [1.5, 1.5]])
    v = np.array([[0.0, 2.0, 0.0], [2.0**-23, 0.0, 0.0]])
    assert np.linalg.cond(v @ w) > 1e7
    basis = np.eye(6).reshape(6, 2, 3)
    q = lambda m: np.linalg.det(m @ w)  # noqa: E731
    expected = np.array([[q(a + b) - q(a) - q(b) for b in basis] for a in basis])
    got = functional.hessian("det(v @ w)", {"v": v, "w": w}, wrt="v").hessian["v"]["v"].reshape(6, 6)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got, got.T, rtol=0, atol=1e-14)


def test_pow_hessian_is_symmetric_at_exponent_zero():
    """d2/da db a**b at b = 0 is 1/a from both sides (a mask on b == 0 alone cut one side)."""
    from gradcli.api import functional

    h = functional.hessian("a**b", {"a": 2.0, "b": 0.0}).hessian
    assert h["a"]["b"] == h["b"]["a"] == 0.5
    np.testing.assert_allclose([h["a"]["a"], h["b"]["b"]], [0.0, np.log(2.0) ** 2], rtol=1e-15)
