"""Forward mode end to end: jvp, Jacobians by columns, Hessian-vector products and Hessians
by forward over reverse, against PyTorch's torch.func, finite differences and reverse mode,
through the library and the real command line. (Every operation's JVP against its VJP, first
and second order, is in tests/test_ops.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import gradcli
from gradcli.api import functional
from gradcli.api.forward import jvp, hvp
from gradcli.analysis.check import verify
from gradcli.analysis.check_plan import Tolerance

RNG = np.random.default_rng(17)

JVP_CASES = [
    # expression, values, tangents, the same function in torch (given the torch module)
    ("sin(x) * y", {"x": [0.0, 1.0, 2.5], "y": 2.0}, {"x": [1.0, -0.5, 2.0]},
     lambda torch, x, y: torch.sin(x) * y),
    ("tanh(W @ x)", {"W": RNG.normal(size=(3, 3)), "x": [1.0, 2.0, 3.0]},
     {"W": RNG.normal(size=(3, 3)), "x": [0.1, 0.2, -0.3]}, lambda torch, W, x: torch.tanh(W @ x)),
    ("softmax(x @ A, axis=-1)", {"x": RNG.normal(size=(2, 3)), "A": RNG.normal(size=(3, 4))},
     {"x": RNG.normal(size=(2, 3))}, lambda torch, x, A: torch.softmax(x @ A, dim=-1)),
    ("cumsum(exp(-x) * x, 0)[1:]", {"x": RNG.uniform(0.5, 2, 5)}, {"x": RNG.normal(size=5)},
     lambda torch, x: torch.cumsum(torch.exp(-x) * x, 0)[1:]),
    ("det(A) * sum(A**2)", {"A": RNG.normal(size=(3, 3))}, {"A": RNG.normal(size=(3, 3))},
     lambda torch, A: torch.det(A) * torch.sum(A ** 2)),
]


def torch_jvp(torch, fn, values: dict, tangents: dict):
    names = list(values)
    primals = tuple(torch.tensor(np.asarray(values[n], dtype=np.float64)) for n in names)
    ts = tuple(torch.tensor(np.asarray(tangents.get(n, np.zeros(np.shape(values[n]))), dtype=np.float64))
               for n in names)
    return torch.func.jvp(lambda *args: fn(torch, *args), primals, ts)


@pytest.mark.parametrize("expr,values,tangents,fn", JVP_CASES, ids=[c[0] for c in JVP_CASES])
def test_jvp_matches_torch_func_jvp(expr, values, tangents, fn):
    torch = pytest.importorskip("torch")
    value, product = torch_jvp(torch, fn, values, tangents)
    result = jvp(expr, values, tangents)
    np.testing.assert_allclose(result.value, value.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(result.jvp, product.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("expr,values,tangents,fn", JVP_CASES, ids=[c[0] for c in JVP_CASES])
def test_jvp_is_the_directional_difference(expr, values, tangents, fn):
    h = 1e-6
    moved = lambda sign: {n: np.asarray(v, dtype=np.float64) + sign * h * np.asarray(tangents.get(n, 0.0))
                          for n, v in values.items()}
    plus = gradcli.jvp(expr, moved(1), tangents).value
    minus = gradcli.jvp(expr, moved(-1), tangents).value
    np.testing.assert_allclose(jvp(expr, values, tangents).jvp, (plus - minus) / (2 * h), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("expr,values,tangents,fn", JVP_CASES, ids=[c[0] for c in JVP_CASES])
def test_the_three_jacobian_modes_agree(expr, values, tangents, fn):
    reverse = functional.jacobian(expr, values, mode="reverse")
    forward = functional.jacobian(expr, values, mode="forward")
    loop = functional.jacobian(expr, values, mode="forward", method="loop")
    assert (reverse.mode, forward.mode) == ("reverse", "forward")
    for name in reverse.jacobian:
        np.testing.assert_allclose(forward.jacobian[name], reverse.jacobian[name], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(loop.jacobian[name], forward.jacobian[name], rtol=1e-12, atol=1e-13)
    # J·t is the Jacobian contracted with the tangents
    product = sum(np.tensordot(reverse.jacobian[n], np.asarray(t), axes=np.ndim(t)) for n, t in tangents.items())
    np.testing.assert_allclose(jvp(expr, values, tangents).jvp, product, rtol=1e-12, atol=1e-13)


def test_auto_mode_takes_the_fewer_passes():
    t = np.linspace(0, 1, 50)
    few_inputs = functional.jacobian("sin(a*t + b) * exp(-c*t)", {"a": 2.0, "b": 0.5, "c": 0.3, "t": t},
                                     wrt="a,b,c")
    few_outputs = functional.jacobian("[sum(x**2), prod(x)]", {"x": RNG.normal(size=6)})
    assert (few_inputs.mode, few_outputs.mode) == ("forward", "reverse")
    expected = np.cos(2 * t + 0.5) * np.exp(-0.3 * t) * t
    np.testing.assert_allclose(few_inputs.jacobian["a"], expected, rtol=1e-14, atol=1e-15)
    # chunks of columns: the same numbers as one pass
    chunked = functional.jacobian("tanh(W @ x)", {"W": RNG.normal(size=(4, 3)), "x": [1.0, 2, 3]}, mode="forward",
                                  chunk=2)
    whole = functional.jacobian(chunked.problem, None, mode="forward")
    for name in whole.jacobian:
        np.testing.assert_allclose(chunked.jacobian[name], whole.jacobian[name], rtol=1e-14, atol=1e-15)


HESSIAN_CASES = [
    ("sum(log(1 + exp(A @ x)))", {"A": RNG.normal(size=(5, 4)), "x": RNG.normal(size=4)}, "x"),
    ("sum(sin(x) * y**2) + x @ M @ x", {"x": RNG.normal(size=3), "y": RNG.normal(size=3), "M": RNG.normal(size=(3, 3))},
     None),
    ("logsumexp(W @ x) * norm(x)", {"W": RNG.normal(size=(3, 2)), "x": RNG.normal(size=2)}, None),
]


@pytest.mark.parametrize("expr,values,wrt", HESSIAN_CASES, ids=[c[0] for c in HESSIAN_CASES])
def test_hessian_modes_agree_and_hvp_is_h_times_v(expr, values, wrt):
    reverse = functional.hessian(expr, values, wrt=wrt, mode="reverse")
    forward = functional.hessian(expr, values, wrt=wrt, mode="forward")
    for a in reverse.wrt:
        for b in reverse.wrt:
            np.testing.assert_allclose(forward.hessian[a][b], reverse.hessian[a][b], rtol=1e-11, atol=1e-12)
    vector = {a: RNG.normal(size=np.shape(values[a])) for a in reverse.wrt}
    result = hvp(expr, values, vector, wrt=wrt)
    for a in reverse.wrt:
        expected = sum(np.tensordot(reverse.hessian[a][b], vector[b], axes=np.ndim(vector[b])) for b in reverse.wrt)
        np.testing.assert_allclose(result.hvp[a], expected, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(result.gradients[a], reverse.gradients[a], rtol=0, atol=0)


def test_hvp_matches_torch_forward_over_reverse():
    torch = pytest.importorskip("torch")
    A, x, v = RNG.normal(size=(20, 10)), RNG.normal(size=10), RNG.normal(size=10)
    f = lambda x: torch.sum(torch.log(1 + torch.exp(torch.tensor(A) @ x)))
    _, expected = torch.func.jvp(torch.func.grad(f), (torch.tensor(x),), (torch.tensor(v),))
    result = gradcli.hessian("sum(log(1 + exp(A @ x)))", {"A": A, "x": x}, wrt="x", vector={"x": v})
    np.testing.assert_allclose(result.hvp["x"], expected.numpy(), rtol=1e-12, atol=1e-13)


def test_check_of_a_jvp_and_an_hvp_uses_independent_references():
    r = jvp("sum(sin(x) * exp(-x**2)) * x", {"x": [0.5, 1.5]}, {"x": [1.0, -2.0]})
    report = verify(r, Tolerance())
    assert report.ok and len(report.entries) == 2
    assert all(e.sympy_ok and e.fd_ok for e in report.entries)
    # a wrong number is caught by both references
    r.jvp = r.jvp + np.array([0.0, 1e-3])
    report = verify(r, Tolerance())
    assert not report.ok and [e.sympy_ok for e in report.entries] == [True, False]
    h = hvp("sum(x**3) * y", {"x": [1.0, 2.0], "y": 2.0}, {"x": [1.0, 0.0]})
    np.testing.assert_array_equal(h.hvp["x"], [12.0, 0.0])
    assert h.hvp["y"] == 3.0
    report = verify(h, Tolerance())
    assert report.ok and [e.sympy for e in report.entries] == [12.0, 0.0, 3.0]


# -- the command line -------------------------------------------------------------------
def test_jvp_command(cli):
    run = cli("jvp", "sin(x) * y", "--x", "0,1", "--y", "2", "--tangent", "x=1,0", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert out["jvp"] == [2.0, 0.0] and out["tangents"] == {"x": [1.0, 0.0]} and "mode" not in out
    assert out["wrt"] == ["x"]
    bare = cli("jvp", "x**3", "--x", "2", "--tangent", "0.5", "--format", "plain")
    assert (bare.exit_code, bare.stdout) == (0, "6\n")
    table = cli("jvp", "x**3", "--x", "2", "-t", "0.5")
    assert "J·t" in table.stdout and "t x" in table.stdout


@pytest.mark.parametrize("args,message", [
    (["--tangent", "x=1,2,3"], "tangent for x has shape (3,), and x has shape (2,)"),
    (["--tangent", "z=1"], "names 'z', which is not a variable"),
    ([], "give a tangent"),
    (["--tangent", "1,2"], "write NAME=VALUE"),
])
def test_jvp_errors_name_the_option(cli, args, message):
    run = cli("jvp", "sum(x) * y", "--x", "1,2", "--y", "3", *args)
    assert run.exit_code == 2 and message in run.stderr, run.stderr
    assert "--tangent" in run.stderr or message == "write NAME=VALUE"


def test_jacobian_mode_option(cli):
    args = ["jacobian", "sin(a*t + b)", "--a", "2", "--b", "0.5", "--t", "linspace(0,1,7)", "--wrt", "a,b",
            "--format", "json"]
    auto, reverse = cli(*args), cli(*args, "--mode", "reverse")
    assert auto.json()["mode"] == "forward" and reverse.json()["mode"] == "reverse"
    np.testing.assert_allclose(auto.json()["jacobian"]["a"], reverse.json()["jacobian"]["a"], rtol=1e-14)
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(auto.json()["jacobian"]["b"], np.cos(2 * t + 0.5), rtol=1e-14)
    assert "mode      forward" in cli(*args[:-2]).stdout
    bad = cli(*args, "--mode", "sideways")
    assert bad.exit_code == 2 and "--mode" in bad.stderr


def test_hessian_vector_option(cli):
    run = cli("hessian", "sum(x**3) * y", "--x", "1,2,3", "--y", "2", "--vector", "x=1,0,0", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert out["hvp"] == {"x": [12.0, 0.0, 0.0], "y": 3.0} and out["vector"]["y"] == 0.0
    assert out["gradients"]["x"] == [6.0, 24.0, 54.0] and "hessian" not in out
    one = cli("hessian", "sum(x**3)", "--x", "1,2,3", "--vector", "1,0,2", "--format", "plain")
    assert one.stdout == "6,0,36\n"
    checked = cli("hessian", "sum(x**3)", "--x", "1,2,3", "--vector", "1,0,2", "--check", "--format", "json")
    assert checked.exit_code == 0 and checked.json()["check"]["ok"]
    wrong = cli("hessian", "sum(x**3)", "--x", "1,2,3", "--vector", "1,0")
    assert wrong.exit_code == 2 and "--vector for x has shape (2,)" in wrong.stderr
    mixed = cli("hessian", "sum(x**3)", "--x", "1,2,3", "--vector", "1,0,0", "--points", "-", input="x\n1\n")
    assert mixed.exit_code == 2 and "--vector works on one point" in mixed.stderr


@pytest.mark.parametrize("expr,value", [
    ("prod(x)", [0.0, 2.0, 3.0]), ("prod(x)", [0.0, 0.0, 2.0]), ("det(A)", [[1.0, 2.0], [2.0, 4.0]]),
    ("det(A)", [[0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [3.0, 1.0, 0.0]]),
])
def test_forward_over_reverse_where_a_rule_takes_its_exact_path(expr, value):
    """prod with zero entries and det of a singular matrix take exact rules computed outside the engine's
    operations: their records give the JVP (their Jacobians are symmetric), and the Hessians agree."""
    name = expr[-2]
    reverse = functional.hessian(expr, {name: value}, mode="reverse").hessian[name][name]
    forward = functional.hessian(expr, {name: value}, mode="forward").hessian[name][name]
    assert np.any(reverse)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-12)
