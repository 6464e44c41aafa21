"""PyTorch's conventions at kinks and non-finite inputs, pinned: each number is what torch 2.13 gives.

Rules follow the form of PyTorch's derivative formulas (masks are selections, a zero
derivative is zeros like g), so inf and nan pass through them as they do in torch. The
numbers hold without torch; the last tests compare with torch itself where it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.errors import GradcliError
from gradcli.ops.binary import _select

nan, inf = np.nan, np.inf


def grads(text: str, **values) -> dict:
    with np.errstate(all="ignore"):
        return functional.grad(text, {k: np.asarray(v, dtype=float) for k, v in values.items()}).gradients


def assert_same(got, want):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want, dtype=float))


def test_relu_selects_the_cotangent():
    # threshold_backward: relu(nan) = nan passes the gradient; an inf cotangent at x < 0 gives 0, not nan.
    assert_same(grads("sum(relu(x))", x=[nan, 0.0, -inf, inf, -1.0])["x"], [1, 0, 0, 1, 0])
    with np.errstate(all="ignore"):
        assert functional.jacobian("x / relu(x)", {"x": -2.0}).jacobian["x"] == inf


# (gradcli spelling, torch function, the v1 rows of Hessian[v1][v1] that torch 2.13 gives)
SECOND_PASS_AT_INF = [
    ("relu", lambda t, z: t.relu(z), [[nan, 0], [nan, 0]]),
    # leaky_relu_backward and hardtanh_backward send zeros too, as threshold_backward does
    ("leaky_relu", lambda t, z: t.nn.functional.leaky_relu(z), [[nan, 0], [nan, 0]]),
    ("hardtanh", lambda t, z: t.nn.functional.hardtanh(z), [[nan, 0], [nan, 0]]),
    ("relu6", lambda t, z: t.nn.functional.relu6(z), [[nan, 0], [nan, 0]]),
    # abs's rule is g * sgn(x), and sgn's derivative is an efficient zero tensor: it sends nothing
    ("abs", lambda t, z: t.abs(z), [[0, 0], [0, 0]]),
]


@pytest.mark.parametrize("name, torch_fn, rows", SECOND_PASS_AT_INF, ids=[c[0] for c in SECOND_PASS_AT_INF])
def test_a_rules_second_pass_meets_an_inf_as_torchs_does(name, torch_fn, rows):
    # relu's rule, torch's threshold_backward, gives its input zeros_like(grad): times the inf in v0, the
    # other factor of v1's product, they are nan in v1's rows of the Hessian (a selection alone would send
    # nothing, as abs's sign does in torch).
    v0, v1 = np.array([inf, 0.63]), np.array([0.3, 1.8])
    with np.errstate(all="ignore"):
        ours = functional.hessian(f"sum({name}(v0 * v1))", {"v0": v0, "v1": v1}).hessian
    assert_same(ours["v1"]["v1"], rows)
    grad = functional.grad(f"{name}(x) * x", {"x": 0.5})  # first order unchanged
    assert grad.gradients["x"] == 1.0
    torch = pytest.importorskip("torch")
    theirs = torch.autograd.functional.hessian(lambda a, b: torch_fn(torch, a * b).sum(),
                                               (torch.tensor(v0), torch.tensor(v1)))
    for i, a in enumerate(("v0", "v1")):
        for j, b in enumerate(("v0", "v1")):
            assert_same(ours[a][b], theirs[i][j].numpy())


ACTIVATIONS = ["selu", "celu", "hardswish", "hardsigmoid", "tanhshrink", "frac"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_at_their_kinks_and_non_finite_points_as_torch(name):
    torch = pytest.importorskip("torch")
    x = np.array([-inf, inf, nan, -3.0, 3.0, 0.0, -1.0, 4.0, -4.0, 1.5])
    with np.errstate(all="ignore"):
        ours = functional.grad(f"sum({name}(x) * w)", {"x": x, "w": np.arange(1.0, 11.0)}, wrt="x")
        second = functional.hessian(f"sum({name}(x))", {"x": x[3:]}).hessian["x"]["x"]
    tx = torch.tensor(x, requires_grad=True)
    fn = getattr(torch.nn.functional, name, None) or getattr(torch, name)
    value = fn(tx)
    (grad,) = torch.autograd.grad((value * torch.arange(1.0, 11.0, dtype=torch.float64)).sum(), tx)
    want_grad = grad.numpy()
    if name == "hardsigmoid":  # float32's 1/6 inside, in torch (docs/differences.md, hardsigmoid-sixth)
        want_grad = np.where(np.abs(want_grad) > 0, np.arange(1.0, 11.0) / 6, want_grad)
    assert_same(ours.value, np.dot(value.detach().numpy(), np.arange(1.0, 11.0)))
    if name in ("selu", "celu"):
        # torch's elu_backward at nan: 1 from its loop for a few entries, nan from its vector loop for more
        want_grad[2] = ours.gradients["x"][2]
    np.testing.assert_allclose(ours.gradients["x"], want_grad, rtol=1e-15, atol=0)  # (nan where torch's is)
    if name != "hardsigmoid":  # (torch has no second derivative of hardsigmoid)
        t3 = torch.tensor(x[3:], requires_grad=True)
        (g,) = torch.autograd.grad(fn(t3).sum(), t3, create_graph=True)
        h = torch.autograd.grad(g.sum(), t3)[0].numpy() if g.requires_grad else np.zeros(len(t3))  # (frac's: none)
        np.testing.assert_allclose(np.diag(second), h, rtol=1e-12, atol=0)  # (tanhshrink: two roundings)


def test_sign_and_abs_at_nan():
    with np.errstate(all="ignore"):
        assert_same(functional.jacobian("sign(x)", {"x": np.array([nan, 0.0, -2.0])}).value, [0, 0, -1])
    assert_same(grads("sum(abs(x))", x=[nan, 0.0, -inf])["x"], [0, 0, -1])


def test_a_zero_derivative_is_zeros_like_g():
    # zeros, not g * 0: an inf cotangent does not pass, but the zeros times exp's inf are nan, as in torch.
    assert_same(grads("x**0", x=2.0)["x"], 0.0)
    assert_same(grads("sign(x) * exp(y)", x=1.0, y=inf)["x"], 0.0)
    assert_same(grads("x**0 * exp(y)", x=1.0, y=inf)["x"], 0.0)
    assert np.isnan(grads("sign(exp(x))", x=inf)["x"])
    assert np.isnan(grads("exp(x)**0", x=inf)["x"])


def test_maximum_and_minimum_at_nan_give_both_sides_the_gradient():
    got = grads("sum(maximum(a, b))", a=[nan, 1.0, 1.0, nan, 2.0], b=[1.0, nan, 1.0, nan, 3.0])
    assert_same(got["a"], [1, 1, 0.5, 1, 0])
    assert_same(got["b"], [1, 1, 0.5, 1, 1])
    got = grads("sum(minimum(a, b))", a=[nan, 1.0, 1.0, 2.0], b=[1.0, nan, 1.0, 3.0])
    assert_same(got["a"], [1, 1, 0.5, 1])
    assert_same(got["b"], [1, 1, 0.5, 0])


def test_maximum_with_nan_keeps_the_second_derivative():
    # asin(3) is nan, so maximum passes softplus on: its second derivative s(1 - s), not 0.
    h = functional.hessian("maximum(softplus(x), asin(3.))", {"x": 0.5}).hessian["x"]["x"]
    s = 1 / (1 + np.exp(-0.5))
    np.testing.assert_allclose(h, s * (1 - s), rtol=1e-14)


def test_clip_bounds_as_torch_clamp():
    got = grads("sum(clip(x, lo, hi))", x=[0.5, nan, 0.5, 3.0, 0.5], lo=[nan, 0.0, 1.0, nan, -1.0],
                hi=[-1.0, 1.0, nan, 1.0, -2.0])
    assert_same(got["x"], [0, 0, 0, 0, 0])
    assert_same(got["lo"], [0, 0, 0, 0, 0])
    assert_same(got["hi"], [1, 0, 0, 1, 1])  # above hi, or hi below lo: hi takes it, also beside a nan lo
    # An inf cotangent outside the bounds gives 0 (sinh'(1) times 0), not nan.
    assert_same(grads("sum(sinh(clip(x, 0, 1)))", x=[inf, -inf, nan])["x"], [0, 0, 0])


@pytest.mark.parametrize("expr", ["sum(torch.clamp(x))", "sum(x.clamp())", "sum(x.clamp(None, None))",
                                  "sum(clip(x, max=None))"])
def test_clip_needs_a_bound(expr):
    # torch 2.13: RuntimeError: torch.clamp: At least one of 'min' or 'max' must not be None
    with pytest.raises(GradcliError) as info:
        functional.grad(expr, {"x": [1.0, 2.0]})
    assert "() needs min or max (either or both), as in PyTorch" in info.value.message


def test_torch_clamp_needs_a_bound_too():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        torch.clamp(torch.ones(2))


def test_clip_with_equal_bounds_gives_lo_the_gradient():
    # gradcli's choice: clip(x, c, c) = c, whose derivative in c is 1; torch.clamp gives neither bound any.
    got = grads("sum(clip(x, lo, hi))", x=[0.5, 3.0, 2.0], lo=[2.0, 2.0, 2.0], hi=[2.0, 2.0, 2.0])
    assert_same(got["lo"], [1, 0, 0])
    assert_same(got["hi"], [0, 1, 0])
    assert_same(got["x"], [0, 0, 1])


def test_pow_at_exponent_zero_whatever_the_base():
    got = grads("sum(a ** b)", a=[nan, 0.0, 2.0, inf, -1.0], b=[0.0, 0.0, 0.0, 0.0, 0.0])
    assert_same(got["a"], [0, 0, 0, 0, 0])
    assert_same(got["b"], [nan, 0, np.log(2.0), inf, nan])
    # An inf cotangent at b = 0 gives 0 too (torch masks the product, not just 0**0).
    assert_same(grads("sum(exp(c) * a ** b)", a=[2.0], b=[0.0], c=[inf])["a"], [0])


def test_div_denominator_in_torchs_form():
    # -g * ((a / b) / b): at b = -inf the second derivatives are -0, where -2a/b**3 gives nan.
    with np.errstate(all="ignore"):
        h = functional.hessian("x / y", {"x": 1.8, "y": -inf}).hessian
    assert_same([h["x"]["y"], h["y"]["x"], h["y"]["y"]], [0, 0, 0])
    # a / b**2 would overflow to inf; (a / b) / b does not.
    np.testing.assert_allclose(grads("x / y", x=1e300, y=1e200)["y"], -1e-100, rtol=1e-15)


def test_bce_with_logits_at_infinite_logits_and_targets():
    z, y = np.array([inf, -inf, inf, -inf, 3.0, 1000.0]), np.array([inf, inf, 0.0, 1.0, inf, 0.5])
    with np.errstate(all="ignore"):
        for i, want in enumerate([-inf, inf, inf, nan, -inf, 500.0]):
            got = functional.jacobian("binary_cross_entropy_with_logits(z, y)", {"z": z[i:i + 1], "y": y[i:i + 1]})
            assert_same(got.value, want)
    got = grads("binary_cross_entropy_with_logits(z, y)", z=[inf, -inf, inf, 3.0, 1000.0], y=[inf, inf, 0.0, inf, 0.5])
    assert_same(got["z"], [-inf, -inf, 0.2, -inf, 0.1])
    np.testing.assert_allclose(got["y"], [-inf, inf, -inf, -0.6, -200.0], rtol=1e-15)


def test_log_softmax_and_softmax_at_minus_inf():
    # From the output: exp(-inf) = 0, so a -inf logit takes nothing and passes g on.
    np.testing.assert_allclose(grads("sum(log_softmax(x)[0])", x=[[-inf, 1.0, 2.0]])["x"],
                               [[1.0, 0.1931757358900147, -1.1931757358900148]], rtol=1e-15)
    assert_same(grads("softmax(x)[0]", x=[-inf, 1.0, 2.0])["x"], [0, 0, 0])


def test_where_selects_bits():
    a = np.array([inf, nan, -0.0, 1.0, -inf])
    b = np.array([1.0, -0.0, nan, inf, 2.0])
    for c in (np.array([0.0, 1.0, 0.0, 1.0, nan]), np.array([[1.0], [0.0]])):
        for x, y in ((a, b), (0.0, b), (a, 0.0), (np.float64(-0.0), b)):
            want = np.where(c != 0, x, y)
            got = _select(c, np.asarray(x), np.asarray(y))
            assert got.shape == want.shape
            assert np.array_equal(got.view(np.int64), want.view(np.int64))  # -0.0 and each nan as they were


X = np.array([0.5, -1.0, 2.0])
M = np.array([[0.5, -1.0, 2.0], [0.5, 3.0, -2.0]])
SECOND_ORDER = {  # expression: its one variable's value, and the torch twin
    "log_softmax(x)[1]": (X, lambda torch, x: torch.log_softmax(x, -1)[1]),
    "softmax(x)[1]": (X, lambda torch, x: torch.softmax(x, -1)[1]),
    "sum(log_softmax(x, axis=0)[0])": (M, lambda torch, x: torch.log_softmax(x, 0)[0].sum()),
    "binary_cross_entropy_with_logits(x, x)": (X, lambda torch, x: torch.nn.functional.binary_cross_entropy_with_logits(x, x)),
    "mse_loss(x, x**2)": (X, lambda torch, x: torch.nn.functional.mse_loss(x, x ** 2)),
    "sum(maximum(x, 0.5) * clip(x, -1, 0.5))":
        (X, lambda torch, x: (torch.maximum(x, torch.tensor(0.5, dtype=x.dtype)) * torch.clamp(x, -1, 0.5)).sum()),
}


@pytest.mark.parametrize("text", SECOND_ORDER)
def test_second_order_matches_torch(text):
    torch = pytest.importorskip("torch")
    value, twin = SECOND_ORDER[text]
    got = functional.hessian(text, {"x": value}).hessian["x"]["x"]
    want = torch.autograd.functional.hessian(lambda x: twin(torch, x), torch.tensor(value, dtype=torch.float64))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-15)


_LINALG_CASES = {  # expression -> the same in torch, on tensors A, x, M
    "torch.linalg.diagonal(A).sum() + (torch.linalg.diagonal(A, offset=1) * torch.arange(3.)[:2, None]).sum()":
        lambda t, A, x, M: t.linalg.diagonal(A).sum() + (t.linalg.diagonal(A, offset=1) * t.arange(3.)[:2, None]).sum(),
    "torch.linalg.vander(x)[1][2] + torch.vander(x)[1][2] + torch.linalg.vander(x, N=4).sum()":
        lambda t, A, x, M: t.linalg.vander(x)[1][2] + t.linalg.vander(x).flip(-1)[1][2] + t.linalg.vander(x, N=4).sum(),
    "torch.linalg.norm(M, 2) + torch.linalg.norm(M, -2) + torch.linalg.norm(M, 1) + torch.linalg.norm(M, inf)":
        lambda t, A, x, M: t.linalg.norm(M, 2) + t.linalg.norm(M, -2) + t.linalg.norm(M, 1) + t.linalg.norm(M, t.inf),
    "torch.linalg.norm(M) + torch.linalg.norm(M, 'nuc') + torch.linalg.norm(M, 'fro') + torch.norm(M, 2)":
        lambda t, A, x, M: t.linalg.norm(M) + t.linalg.norm(M, "nuc") + t.linalg.norm(M, "fro") + t.norm(M, 2),
    "torch.linalg.norm(A, 2, dim=(1, 2)).sum() + torch.linalg.norm(A, 3, dim=1).sum() + torch.linalg.norm(x, 3)":
        lambda t, A, x, M: t.linalg.norm(A, 2, dim=(1, 2)).sum() + t.linalg.norm(A, 3, dim=1).sum() + t.linalg.norm(x, 3),
}


@pytest.mark.parametrize("expr", sorted(_LINALG_CASES))
def test_torch_linalg_reads_its_own_defaults(expr):
    """torch.linalg.diagonal takes the last two axes, torch.linalg.vander increasing powers, and
    torch.linalg.norm(A, ord) of a matrix (or over two dims) is a matrix norm, where torch.diagonal,
    torch.vander and torch.norm differ; against torch 2.13 (float64). (torch.vander's own backward
    raises in torch 2.13: its twin is torch.linalg.vander flipped.)"""
    torch = pytest.importorskip("torch")
    values = {"A": np.arange(24.0).reshape(2, 3, 4) / 7 - 1, "x": np.array([0.5, 2.0, -3.0]),
              "M": np.array([[1.0, 2.0, 0.5], [3.0, -4.0, 1.0]])}
    used = {k: v for k, v in values.items() if f"({k}" in expr}
    result = functional.grad(expr, used)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    out = _LINALG_CASES[expr](torch, **tensors)
    out.backward()
    assert float(result.value) == pytest.approx(out.item(), rel=1e-13)
    for k in used:
        np.testing.assert_allclose(result.gradients[k], tensors[k].grad.numpy(), rtol=1e-12, atol=1e-14)
