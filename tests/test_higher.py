"""Derivatives of higher order of one variable (Taylor mode): `derivative`, `taylor`, `check --order`.

Every operation with a Taylor rule is checked on its samples against nested first-order
differentiation (backward passes with create_graph, three deep); whole expressions against
SymPy's diff and series, and closed forms; the kinks against the first derivative PyTorch's
convention gives; the command line's formats and errors.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
import sympy as sp
from opchecks import Case

from gradcli.analysis.check_order import verify_order
from gradcli.api import functional
from gradcli.api.higher import derivative, taylor
from gradcli.autodiff.engine import Tensor, call, run_backward
from gradcli.autodiff import taylor_linalg as TL
from gradcli.autodiff.op import OPS, Sample, primitive, unregister
from gradcli.autodiff.taylor import propagate, tracing
from gradcli.errors import GradcliError
from gradcli.ops.common import same_shape, sympy_elementwise

ORDER = 3  # nested backward passes double the graph at each order: three are enough to check a rule
# Every differentiable operation: a primitive by its own rule, a composite through its parts' rules.
# NOTE: the third derivative of a 3-by-3 cofactor matrix is 0 (its entries are quadratic); the nested reference
# rounds through det, inv and cofactor's own rule at a matrix of condition 400 to 3e-9 of the scale, where the
# series gives 0 exactly. test_the_adjugate_and_det_series_are_exact_polynomials checks those rules exactly.
REFERENCE_ROUNDING = {"cofactor": 1e-8}
# NOTE: logcumsumexp's rule is PyTorch's, which takes log|g|: a second backward pass through it meets log|0|,
# so nested passes (gradcli's and torch's alike) give nan at the third order, where the series is finite.
# SYMPY_CASES checks its series to order ten against SymPy.
NESTED_ORDERS = {"logcumsumexp": 2}
DIFFERENTIABLE = [(name, i) for name, op in sorted(OPS.items()) if op.differentiable for i in range(len(op.samples))]


def nested_derivatives(case: Case, directions: list[np.ndarray], weights: np.ndarray, order: int) -> list[float]:
    """d^k/dt^k of sum(weights * op(a + t d)) at t = 0, k = 0..order, by backward passes on backward passes."""
    t = Tensor(0.0, requires_grad=True)
    inputs = [Tensor(a) + t * Tensor(d) if on else Tensor(a)
              for a, d, on in zip(case.arrays, directions, case.active)]
    current = call("sum", call(case.op, *inputs, **case.sample.params) * Tensor(weights))
    out = [float(current.data)]
    for _ in range(order):
        if current.grad_fn is None:
            out.append(0.0)
            continue
        found = run_backward([(current, Tensor(np.ones(())))], create_graph=True, retain_graph=True)
        by_leaf = {id(node.tensor): ct for node, ct in found.items()}
        current = by_leaf.get(id(t), Tensor(0.0))
        out.append(float(current.data))
    return out


@pytest.mark.parametrize("name, index", DIFFERENTIABLE)
def test_every_taylor_rule_agrees_with_nested_first_order(name, index):
    case = Case(name, index)
    directions = [case.random_like(a.shape) if on else np.zeros(a.shape) for a, on in zip(case.arrays, case.active)]
    leaves = [Tensor(a) for a in case.arrays]
    with tracing() as trace:
        out = call(case.op, *leaves, **case.sample.params)
    weights = case.random_like(out.shape)
    seeds = {}
    for leaf, d, on in zip(leaves, directions, case.active):
        if on:
            s = np.zeros((ORDER + 1,) + leaf.shape)
            s[0], s[1] = leaf.data, d
            seeds[id(leaf)] = s
    series = propagate(trace, seeds, ORDER)[id(out)]
    engine = [float(np.sum(series[k] * weights)) * math.factorial(k) for k in range(ORDER + 1)]
    order = NESTED_ORDERS.get(name, ORDER)
    reference = nested_derivatives(case, directions, weights, order)
    scale = max(1.0, *map(abs, reference))
    np.testing.assert_allclose(engine[:order + 1], reference, rtol=1e-8,
                               atol=REFERENCE_ROUNDING.get(name, 1e-9) * scale)


def test_every_differentiable_operation_has_a_way_through():
    # a primitive by its rule (composites by their parts, which the test above runs on every sample)
    assert [n for n, op in OPS.items() if op.differentiable and op.is_primitive and op.taylor is None] == []


def test_the_docs_list_every_public_operation_with_a_rule():
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "higher.md").read_text(encoding="utf-8")
    listed = page.split("The operations with a Taylor rule:")[1].split("Any other operation")[0]
    names = {w.strip(" ,.()*\n") for w in listed.replace("/", " ").split()}
    assert [op.name for op in OPS.values() if op.taylor is not None and op.public and op.name not in names] == []


def test_the_rules_cover_the_functions_the_issue_names():
    named = ("add sub neg sum mean reshape index permute mul matmul div exp log log1p expm1 sqrt pow sin cos tan "
             "sinh cosh tanh asin acos atan asinh acosh atanh sigmoid softplus erf erfc relu abs clip").split()
    assert [n for n in named if OPS[n].taylor is None] == []


X = sp.Symbol("x")
CONSTANTS = {"v": np.array([1.0, 2.0, -1.0]), "A": np.array([[2.0, 1.0], [1.0, 3.0]]),
             "B": np.array([[1.0, 1.0], [1.0, 0.0]])}
SYMPY_CASES = {  # expression -> (its SymPy form, point)
    "exp(sin(x))*cos(x)/(1 + x**2)": (sp.exp(sp.sin(X)) * sp.cos(X) / (1 + X**2), 0.5),
    "sin(x)**x": (sp.sin(X) ** X, 0.7),
    "logcumsumexp(x*v, 0)[2] + logcumsumexp(x*v, 0)[1]": (
        sp.log(sp.exp(X) + sp.exp(2 * X) + sp.exp(-X)) + sp.log(sp.exp(X) + sp.exp(2 * X)), 0.3),
    "2**x * log1p(x) - atan(x)/sqrt(x)": (2**X * sp.log(1 + X) - sp.atan(X) / sp.sqrt(X), 1.3),
    "tanh(x)*sigmoid(x) + erf(x)": (sp.tanh(X) / (1 + sp.exp(-X)) + sp.erf(X), -0.4),
    "asinh(x)*acosh(x + 2) + atanh(x/2) + asin(x/3)*acos(x/3)": (
        sp.asinh(X) * sp.acosh(X + 2) + sp.atanh(X / 2) + sp.asin(X / 3) * sp.acos(X / 3), 0.6),
    "logsumexp(x*v) + softmax(x*v)[1] + log_softmax(x*v)[0] + std(x*v) + var(v/x) + max(x*v)": (
        sp.log(sp.exp(X) + sp.exp(2 * X) + sp.exp(-X)) + sp.exp(2 * X) / (sp.exp(X) + sp.exp(2 * X) + sp.exp(-X))
        + X - sp.log(sp.exp(X) + sp.exp(2 * X) + sp.exp(-X)) + sp.sqrt(14 / 9 * X**2) + 14 / (9 * X**2) + 2 * X,
        0.8),
    "atan2(x, 2 - x) + hypot(x, 3) + logaddexp(x, 2*x) + gelu(x) + gelu(x, approximate='tanh') + mish(x)": (
        sp.atan2(X, 2 - X) + sp.sqrt(X**2 + 9) + sp.log(sp.exp(X) + sp.exp(2 * X)) + X / 2 * (1 + sp.erf(X / sp.sqrt(2)))
        + X / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (X + sp.Float(0.044715) * X**3)))
        + X * sp.tanh(sp.log(1 + sp.exp(X))), 0.4),
    "softplus(x, beta=2) + expm1(x)/x + cosh(x)*sinh(x)": (
        sp.log(1 + sp.exp(2 * X)) / 2 + (sp.exp(X) - 1) / X + sp.cosh(X) * sp.sinh(X), 0.9),
    "sinc(x) + xlogy(x, 1 + x**2) + logit(x/3) * leaky_relu(x - 1, 0.2)": (
        sp.sin(sp.pi * X) / (sp.pi * X) + X * sp.log(1 + X**2) + sp.log(X / (3 - X)) * 0.2 * (X - 1), 0.3),
    "elu(x - 1, 2) + hardtanh(2*x) + fmod(x, 0.3) + remainder(-x, 0.3)": (
        2 * (sp.exp(X - 1) - 1) + 1 + (X - 2 * sp.Float(0.3)) + (-X + 3 * sp.Float(0.3)), 0.7),
    "eigvalsh(A + x*B)[0] + cholesky(A + x*B)[1, 1] + det(A + x*B) + inv(A + x*B)[0, 1]": (
        (5 + X) / 2 - sp.sqrt(((X - 1) / 2)**2 + (1 + X)**2) + sp.sqrt(3 - (1 + X)**2 / (2 + X))
        + (2 + X) * 3 - (1 + X)**2 - (1 + X) / ((2 + X) * 3 - (1 + X)**2), 0.2),
    "prod(x + v) + cumprod(x*v)[2] + norm(x*v, 3) + norm(x + v) + logdet(x*A + A)": (
        (X + 1) * (X + 2) * (X - 1) - 2 * X**3 + X * 10**sp.Rational(1, 3) + sp.sqrt((X + 1)**2 + (X + 2)**2
                                                                                   + (X - 1)**2)
        + sp.log(5 * (X + 1)**2), 0.8),
}


def _symbolic_derivatives(form: sp.Expr, x0: float) -> list[float]:
    """SymPy's d^k form / dx^k at x0, k = 0..10, evaluated to 30 digits (minutes for the larger forms)."""
    return [float(sp.diff(form, X, k).evalf(30, subs={X: sp.Float(x0, 30)})) for k in range(11)]


def _high_precision_derivatives(form: sp.Expr, x0: float) -> list[float]:
    """The same from the form computed in 60-digit arithmetic, by mpmath's differences at that precision
    (a tenth of a second; the test below holds it to SymPy's own derivatives)."""
    import mpmath

    f = sp.lambdify(X, form, "mpmath")
    with mpmath.workdps(60):
        return [float(d) for d in mpmath.diffs(f, mpmath.mpf(x0), 10)]


# Order ten against SymPy's derivatives takes minutes; by default the reference is the 60-digit one, checked
# against SymPy's on the forms whose derivatives SymPy finds in seconds.
_REFERENCE = _symbolic_derivatives if os.environ.get("GRADCLI_LONG_TESTS") == "1" else _high_precision_derivatives
_QUICK_SYMBOLIC = ("2**x * log1p(x) - atan(x)/sqrt(x)", "elu(x - 1, 2) + hardtanh(2*x) + fmod(x, 0.3) + remainder(-x, 0.3)",
                   "prod(x + v) + cumprod(x*v)[2] + norm(x*v, 3) + norm(x + v) + logdet(x*A + A)")


@pytest.mark.parametrize("expr", _QUICK_SYMBOLIC)
def test_the_high_precision_reference_is_sympys_derivatives(expr):
    form, x0 = SYMPY_CASES[expr]
    np.testing.assert_allclose(_high_precision_derivatives(form, x0), _symbolic_derivatives(form, x0), rtol=1e-15,
                               atol=0)


@pytest.mark.parametrize("expr", sorted(SYMPY_CASES))
def test_order_ten_agrees_with_sympy(expr):
    form, x0 = SYMPY_CASES[expr]
    constants = {k: v for k, v in CONSTANTS.items() if re.search(rf"\b{k}\b", expr)}
    got = derivative(expr, {"x": x0, **constants}, order=10).derivatives
    exact = _REFERENCE(form, x0)
    scale = np.array([math.factorial(k) for k in range(11)]) * max(1.0, *(abs(e) / math.factorial(k)
                                                                           for k, e in enumerate(exact)))
    np.testing.assert_allclose(got, exact, rtol=1e-9, atol=0)
    assert np.all(np.abs(got - exact) <= 1e-12 * scale + 1e-9 * np.abs(exact))


def test_taylor_coefficients_of_tan_are_sympys():
    r = taylor("tan(x)", {"x": 0.0}, order=9)
    np.testing.assert_allclose(r.taylor, [0, 1, 0, 1 / 3, 0, 2 / 15, 0, 17 / 315, 0, 62 / 2835], rtol=1e-15, atol=0)


def test_high_orders_cost_no_more_than_the_square():
    # Order 80 by nested backward passes would be 2**80 nodes; the series of 1/(1 - x) and exp(x) at 0 are
    # all ones and 1/k!.
    np.testing.assert_allclose(taylor("1/(1 - x)", {"x": 0.0}, order=80).taylor, np.ones(81), rtol=1e-14)
    np.testing.assert_allclose(taylor("exp(x)", {"x": 0.0}, order=30).taylor,
                               [1 / math.factorial(k) for k in range(31)], rtol=1e-14)


def test_an_array_expression_of_one_scalar_variable():
    v = np.array([1.0, 2.0, -3.0])
    r = derivative("sum(exp(x*v))", {"x": 0.3, "v": v}, order=5)  # x: the only variable that is a number
    assert r.wrt == ["x"]
    np.testing.assert_allclose(r.derivatives, [np.sum(v**k * np.exp(0.3 * v)) for k in range(6)], rtol=1e-13)
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    r = derivative("A @ [x, x**2] + mean(v)*x**3", {"x": 0.5, "A": A, "v": v}, order=4)
    m = v.mean()
    expected = [A @ [0.5, 0.25] + m / 8, A @ [1, 1.0] + 3 * m / 4, A @ [0, 2.0] + 3 * m, A @ [0, 0] + 6 * m,
                A @ [0, 0.0]]
    np.testing.assert_allclose(r.derivatives, expected, rtol=1e-14, atol=1e-14)


def test_a_whole_power_is_exact_at_zero():
    np.testing.assert_array_equal(derivative("x**3", {"x": 0.0}, order=4).derivatives, [0, 0, 0, 6, 0])
    np.testing.assert_array_equal(derivative("x**0", {"x": 0.0}, order=2).derivatives, [1, 0, 0])


@pytest.mark.parametrize("expr, x0", [("relu(x)", 0.0), ("abs(x)", 0.0), ("clamp(x, 0, 1)", 1.0),
                                      ("maximum(x, 1 - x)", 0.5), ("clamp_min(x, 2)", 2.0),
                                      ("where(x > 0, x**2, x)", 0.0)])
def test_at_a_kink_the_first_derivative_is_pytorchs(expr, x0):
    r = derivative(expr, {"x": x0}, order=3)
    assert r.derivatives[1] == functional.grad(expr, {"x": x0}).gradients["x"]
    # a piece is a polynomial of degree at most 2 here: the derivatives of order 3 and up are 0
    assert r.derivatives[3] == 0


def test_float32_follows_the_variable():
    r32 = derivative("exp(sin(x))", {"x": 0.5}, order=4, dtype="float32")
    r64 = derivative("exp(sin(x))", {"x": np.float32(0.5)}, order=4)
    assert r32.derivatives.dtype == np.float32
    np.testing.assert_allclose(r32.derivatives, r64.derivatives, rtol=1e-5)


@pytest.fixture
def ruleless():
    """An operation without a Taylor rule, registered for the test (every operation of gradcli's has one)."""
    op = primitive(name="ruleless_exp", doc="exp without a Taylor rule", signature="ruleless_exp(x)",
                   family="elementwise", forward=np.exp, backward=lambda n, g: (g * n.ans,), shape=same_shape,
                   sympy=sympy_elementwise(lambda s, x: s.exp(x)), samples=(Sample(((),)),))
    yield op
    unregister(op)


def test_an_operation_without_a_rule_is_named_with_its_place(ruleless):
    with pytest.raises(GradcliError) as err:
        derivative("x + ruleless_exp(x*2)", {"x": 0.3}, order=2)
    assert err.value.message == ("ruleless_exp has no Taylor rule, so derivatives of higher order cannot pass "
                                 "through it (gradcli ops ruleless_exp says whether an operation has one)")
    assert err.value.span == (4, 21)
    # an operation without a derivative (a comparison, floor) is a constant: no rule needed
    np.testing.assert_array_equal(derivative("floor(x)*x + (x > 0)", {"x": 1.5}, order=2).derivatives, [2.5, 1, 0])


def test_the_adjugate_and_det_series_are_exact_polynomials():
    # det(A + t B) and its adjugate are polynomials in t of degree 3 and 2 (3-by-3): their coefficients from the
    # values at t = 0, 1, -1, 2, and exact zeros past the degree.
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s = np.zeros((6, 3, 3))
    s[0], s[1] = a, b
    det, adj = TL.characteristic(s)
    p = {t: np.linalg.det(a + t * b) for t in (0, 1, -1, 2)}
    c2 = (p[1] + p[-1]) / 2 - p[0]
    odd = (p[1] - p[-1]) / 2  # c1 + c3
    c3 = (p[2] - p[0] - 4 * c2 - 2 * odd) / 6
    np.testing.assert_allclose(det[:4], [p[0], odd - c3, c2, c3], rtol=1e-11, atol=1e-13)
    assert np.all(det[4:] == 0) and np.all(adj[3:] == 0)
    cofactor = lambda m: np.linalg.det(m) * np.linalg.inv(m).T  # noqa: E731
    np.testing.assert_allclose(np.swapaxes(adj[:3], -1, -2),
                               [cofactor(a), (cofactor(a + b) - cofactor(a - b)) / 2,
                                (cofactor(a + b) + cofactor(a - b)) / 2 - cofactor(a)], rtol=1e-10, atol=1e-12)


def test_matrix_functions_of_x_times_a_matrix():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    w, V = np.linalg.eigh(A)
    power = lambda k: V @ np.diag(w ** k) @ V.T  # noqa: E731
    # d^k/dx^k expm(x A) = A^k expm(x A); d^k/dx^k inv(I + x A) = (-1)^k k! A^k inv(I + x A)^(k+1)
    expected = [power(k) @ V @ np.diag(np.exp(0.5 * w)) @ V.T for k in range(7)]
    np.testing.assert_allclose(derivative("expm(x*A)", {"x": 0.5, "A": A}, order=6).derivatives, expected,
                               rtol=1e-12)
    expected = [(-1) ** k * math.factorial(k) * V @ np.diag(w ** k / (1 + 0.5 * w) ** (k + 1)) @ V.T
                for k in range(7)]
    np.testing.assert_allclose(derivative("inv(eye(2) + x*A)", {"x": 0.5, "A": A}, order=6).derivatives,
                               expected, rtol=1e-12)


@pytest.mark.parametrize("values, wrt, order, words", [
    ({"x": 1.0, "y": 2.0}, None, 2, "2 numbers (x, y): name one with wrt"),
    ({"x": [1.0, 2.0]}, None, 2, "x has shape (2,)"),
    ({"x": 1.0, "y": 2.0}, "x,y", 2, "2 numbers (x, y)"),
    ({"x": 1.0, "y": 2.0}, "x", -1, "order must be a whole number from 0 to 100"),
    ({"x": 1.0, "y": 2.0}, "x", 101, "order must be a whole number from 0 to 100"),
])
def test_refusals(values, wrt, order, words):
    with pytest.raises(GradcliError) as err:
        derivative("x*y" if "y" in values else "x*2", values, wrt=wrt, order=order)
    assert words in err.value.message


def test_a_wrong_rule_fails_the_check():
    bad = primitive(name="bad_exp", doc="exp with a Taylor rule wrong from order 2", signature="bad_exp(x)",
                    family="elementwise", forward=np.exp, backward=lambda n, g: (g * n.ans,), shape=same_shape,
                    sympy=sympy_elementwise(lambda s, x: s.exp(x)), samples=(Sample(((),)),),
                    taylor=lambda n, x: np.concatenate([x[:1], x[1:2] * n.ans, x[2:] * 0.0]))
    try:
        report = verify_order(derivative("bad_exp(x)", {"x": 0.5}, order=3))
        assert [row.ok for row in report.rows] == [True, True, False, False]
        assert report.disagreeing() == ["f^(2)", "f^(3)"]
    finally:
        unregister(bad)


def test_the_check_agrees_where_the_rules_are_right():
    report = verify_order(derivative("exp(sin(x))*cos(x)/(1 + x**2)", {"x": 0.5}, order=6))
    assert report.ok and not report.sympy_note
    assert [row.difference is not None for row in report.rows] == [False, True, True, True, True, False, False]
    np.testing.assert_allclose(report.rows[6].sympy, 214.05321552824583, rtol=1e-14)


# -- the command line -----------------------------------------------------------------------------

def test_derivative_json(cli):
    run = cli("derivative", "exp(sin(x))*cos(x)/(1 + x**2)", "--x", "0.5", "--order", "10", "-f", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert (out["wrt"], out["at"], out["order"], out["shape"]) == (["x"], 0.5, 10, [])
    form = SYMPY_CASES["exp(sin(x))*cos(x)/(1 + x**2)"][0]
    exact = [float(sp.diff(form, X, k).subs(X, sp.Rational(1, 2)).evalf(30)) for k in range(11)]
    np.testing.assert_allclose(out["derivatives"], exact, rtol=1e-10)


def test_derivative_default_order_is_one(cli):
    out = cli("derivative", "x**3", "--x", "2", "-f", "json").json()
    assert out["derivatives"] == [8.0, 12.0]


def test_taylor_symbolic_json_and_table(cli):
    out = cli("taylor", "tan(x)", "--x", "0", "--order", "7", "--symbolic", "-f", "json").json()
    assert out["sympy"] == ["0", "1", "0", "1/3", "0", "2/15", "0", "17/315"]
    np.testing.assert_allclose(out["taylor"], [0, 1, 0, 1 / 3, 0, 2 / 15, 0, 17 / 315], rtol=1e-15)
    table = cli("taylor", "tan(x)", "--x", "0", "--order", "3", "--symbolic", "-f", "table").stdout
    assert "1/3" in table and "0.3333" in table
    out = cli("taylor", "exp(x)", "--x", "0.5", "--order", "2", "--symbolic", "-f", "json").json()
    assert out["sympy"] == ["exp(1/2)", "exp(1/2)", "exp(1/2)/2"]


def test_default_taylor_order_is_five(cli):
    assert cli("taylor", "exp(x)", "--x", "0", "-f", "json").json()["order"] == 5


def test_plain_and_csv(cli):
    assert cli("derivative", "x*v", "--x", "2", "--v", "1,3", "--order", "2", "-f", "plain").stdout == \
        "2,6\n1,3\n0,0\n"
    assert cli("taylor", "x**2", "--x", "1", "--order", "2", "-f", "csv").stdout == "k,f\n0,1\n1,2\n2,1\n"


def test_check_order(cli):
    run = cli("check", "sin(x)*exp(x)", "--x", "0.3", "--order", "5", "-f", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert out["check"]["ok"] and [o["k"] for o in out["check"]["orders"]] == list(range(6))
    exact = [float(sp.diff(sp.sin(X) * sp.exp(X), X, k).evalf(30, subs={X: sp.Float(0.3, 30)})) for k in range(6)]
    np.testing.assert_allclose([o["sympy"] for o in out["check"]["orders"]], exact, rtol=1e-14)
    np.testing.assert_allclose(out["derivatives"], exact, rtol=1e-12)


def test_cli_errors(cli, ruleless):
    run = cli("derivative", "ruleless_exp(x)", "--x", "1", "--order", "2")
    assert run.exit_code == 2 and "ruleless_exp has no Taylor rule" in run.stderr
    run = cli("derivative", "x*y", "--x", "1", "--y", "2")
    assert run.exit_code == 2 and "name one with --wrt" in run.stderr
    run = cli("derivative", "x", "--x", "1", "--order", "101")
    assert run.exit_code == 2


def test_ops_says_whether_an_operation_has_a_taylor_rule(cli, ruleless):
    assert "Taylor rule: yes\n" in cli("ops", "det").stdout
    assert "Taylor rule: yes, through the operations it is built from" in cli("ops", "relu6").stdout
    assert cli("ops", "ruleless_exp", "-f", "json").json()["taylor_rule"] == "no: derivatives of higher order refuse it"
    assert cli("ops", "argmax", "-f", "json").json()["taylor_rule"] == "yes (a constant to the derivative)"


def test_std_of_equal_entries_follows_its_gradient():
    # std(v + x w) at x = 0 with v's entries equal is |x| std(w): a kink, gradient 0 as PyTorch's, then that piece
    values = {"x": 0.0, "v": np.array([0.1, 0.1, 0.1]), "w": np.array([1.0, 2.0, 4.0])}
    r = derivative("std(v + x*w)", values, wrt="x", order=3)
    assert r.derivatives[1] == functional.grad("std(v + x*w)", values, wrt=["x"]).gradients["x"] == 0
    np.testing.assert_array_equal(r.derivatives, [0, 0, 0, 0])
