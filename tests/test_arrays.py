"""The array functions and constructors through the command line: each calling convention
(PyTorch's and numpy's), values against numpy and torch, gradients against torch (skipped
without it), cumprod's gradient at zeros, and the messages of calls that cannot work.
"""

from __future__ import annotations

import numpy as np
import pytest

X = [[1.5, -2.0, 0.5], [3.0, 0.25, -1.0]]
V = [0.5, -1.5, 2.0, 3.0]


def run(cli, expr: str, **values) -> tuple[np.ndarray, dict]:
    args = ["grad", expr, "--format", "json"]
    for name, v in values.items():
        args += [f"--{name}", str(v)]
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    data = out.json()
    return np.array(data["value"], dtype=float), {k: np.array(g, dtype=float) for k, g in data["gradients"].items()}


def value_of(cli, expr: str, **values) -> np.ndarray:
    """The value of expr (plus 0 * x, a variable to differentiate, when it has none)."""
    if not values:
        expr, values = f"{expr} + 0 * x", {"x": 0}
    args = ["jacobian", expr, "--format", "json"]
    for name, v in values.items():
        args += [f"--{name}", str(v)]
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    return np.array(out.json()["value"], dtype=float)


def as_torch(fn, weights, **values):
    """sum(weights * fn(...)) and its gradients, by torch."""
    torch = pytest.importorskip("torch")
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    out = (fn(torch, **leaves) * torch.tensor(weights, dtype=torch.float64)).sum()
    out.backward()
    return out.item(), {k: t.grad.numpy() for k, t in leaves.items()}


# Each case: gradcli text of a weighted sum, its torch twin, the weights' shape.
CASES = [
    ("tril(x)", lambda t, x: t.tril(x), (2, 3)),
    ("torch.triu(x, diagonal=1)", lambda t, x: t.triu(x, 1), (2, 3)),
    ("np.tril(x, -1)", lambda t, x: t.tril(x, -1), (2, 3)),
    ("diagonal(x, 1)", lambda t, x: t.diagonal(x, 1), (2,)),
    ("x.diagonal(offset=-1, dim1=0, dim2=1)", lambda t, x: x.diagonal(-1, 0, 1), (1,)),
    ("diag(x)", lambda t, x: t.diag(x), (2,)),
    ("torch.diag(v, 1)", lambda t, v: t.diag(v, 1), (5, 5)),
    ("cumsum(x, dim=1)", lambda t, x: t.cumsum(x, 1), (2, 3)),
    ("x.cumsum(0)", lambda t, x: x.cumsum(0), (2, 3)),
    ("np.cumsum(x)", lambda t, x: t.cumsum(x.reshape(-1), 0), (6,)),
    ("np.cumsum(x, axis=0)", lambda t, x: t.cumsum(x, 0), (2, 3)),
    ("torch.cumprod(x, dim=1)", lambda t, x: t.cumprod(x, 1), (2, 3)),
    ("flip(x, 0)", lambda t, x: t.flip(x, (0,)), (2, 3)),
    ("x.flip(dims=(0, 1))", lambda t, x: x.flip((0, 1)), (2, 3)),
    ("np.flip(x)", lambda t, x: t.flip(x, (0, 1)), (2, 3)),
    ("roll(x, 1)", lambda t, x: t.roll(x, 1), (2, 3)),
    ("torch.roll(x, shifts=(1, -1), dims=(0, 1))", lambda t, x: t.roll(x, (1, -1), (0, 1)), (2, 3)),
    ("cat([x, x * 2], 0)", lambda t, x: t.cat([x, x * 2], 0), (4, 3)),
    ("torch.cat((x, x[:, :1]), dim=1)", lambda t, x: t.cat((x, x[:, :1]), dim=1), (2, 4)),
    ("np.concatenate([v, v[:2]])", lambda t, v: t.cat([v, v[:2]]), (6,)),
    ("stack([x, -x], 1)", lambda t, x: t.stack([x, -x], 1), (2, 2, 3)),
    ("torch.stack((v, v ** 2), dim=-1)", lambda t, v: t.stack((v, v ** 2), dim=-1), (4, 2)),
    ("x.reshape(3, 2)", lambda t, x: x.reshape(3, 2), (3, 2)),
    ("x.reshape((3, 2))", lambda t, x: x.reshape((3, 2)), (3, 2)),
    ("torch.reshape(x, (-1,))", lambda t, x: t.reshape(x, (-1,)), (6,)),
    ("x.view(-1)", lambda t, x: x.view(-1), (6,)),
    ("x.view(3, -1)", lambda t, x: x.view(3, -1), (3, 2)),
    ("x.flatten()", lambda t, x: x.flatten(), (6,)),
    ("torch.flatten(x[None], 1)", lambda t, x: t.flatten(x[None], 1), (1, 6)),
    ("x.unsqueeze(0)", lambda t, x: x.unsqueeze(0), (1, 2, 3)),
    ("x[:, :1].squeeze()", lambda t, x: x[:, :1].squeeze(), (2,)),
    ("np.expand_dims(v, -1).squeeze(1)", lambda t, v: v.unsqueeze(-1).squeeze(1), (4,)),
    ("x.permute(1, 0)", lambda t, x: x.permute(1, 0), (3, 2)),
    ("torch.permute(x[None], (2, 0, 1))", lambda t, x: t.permute(x[None], (2, 0, 1)), (3, 1, 2)),
    ("torch.movedim(x[None], 0, -1)", lambda t, x: t.movedim(x[None], 0, -1), (2, 3, 1)),
    ("np.moveaxis(x, 0, 1)", lambda t, x: t.movedim(x, 0, 1), (3, 2)),
    ("x.repeat(2, 1)", lambda t, x: x.repeat(2, 1), (4, 3)),
    ("np.tile(v, 2)", lambda t, v: t.tile(v, (2,)), (8,)),
    ("v.expand(3, 4)", lambda t, v: v.expand(3, 4), (3, 4)),
    ("broadcast_to(x[:, :1], (2, 3))", lambda t, x: t.broadcast_to(x[:, :1], (2, 3)), (2, 3)),
]


@pytest.mark.parametrize("expr, twin, shape", CASES, ids=[c[0] for c in CASES])
def test_each_calling_convention_against_torch(cli, expr, twin, shape):
    weights = np.random.default_rng(len(expr)).standard_normal(shape).round(2)
    uses_v = "v" in expr.replace("view", "").replace("movedim", "").replace("moveaxis", "")
    values = {"v": V} if uses_v else {"x": X}
    weights_text = np.array2string(weights, separator=", ").replace("\n", "")
    got_value, got = run(cli, f"sum({expr} * {weights_text})", **values)
    want_value, want = as_torch(twin, weights, **values)
    np.testing.assert_allclose(got_value, want_value, rtol=1e-12)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-15)


def test_values_match_numpy(cli):
    x = np.array(X)
    np.testing.assert_array_equal(value_of(cli, "cumprod(x, 1)", x=X), np.cumprod(x, 1))
    np.testing.assert_array_equal(value_of(cli, "np.roll(x, 2)", x=X), np.roll(x, 2))
    np.testing.assert_array_equal(value_of(cli, "triu(x, 1)", x=X), np.triu(x, 1))
    np.testing.assert_array_equal(value_of(cli, "x.reshape(3, 2).T", x=X), x.reshape(3, 2).T)
    np.testing.assert_array_equal(value_of(cli, "tile(x, (2, 2))", x=X), np.tile(x, (2, 2)))
    np.testing.assert_array_equal(value_of(cli, "argmax(x)", x=X), 3.0)
    np.testing.assert_array_equal(value_of(cli, "x.argmin(dim=1)", x=X), np.argmin(x, 1))
    np.testing.assert_array_equal(value_of(cli, "argmax(x, 0, keepdim=True)", x=X), np.argmax(x, 0, keepdims=True))


def test_constructors_take_real_numbers(cli):
    np.testing.assert_allclose(value_of(cli, "arange(5)"), np.arange(5.0))
    np.testing.assert_allclose(value_of(cli, "torch.arange(0.5, 2, 0.25)"), np.arange(0.5, 2, 0.25), rtol=1e-15)
    np.testing.assert_allclose(value_of(cli, "np.arange(3, -1, -1.5)"), [3.0, 1.5, 0.0])
    np.testing.assert_allclose(value_of(cli, "linspace(0, 1, 5)"), np.linspace(0, 1, 5), rtol=1e-15)
    np.testing.assert_array_equal(value_of(cli, "full((2, 3), -0.5)"), np.full((2, 3), -0.5))
    np.testing.assert_array_equal(value_of(cli, "np.full(3, pi)"), np.full(3, np.pi))
    np.testing.assert_array_equal(value_of(cli, "full_like(x, 2.5)", x=X), np.full((2, 3), 2.5))
    np.testing.assert_array_equal(value_of(cli, "zeros_like(x) + ones_like(x)", x=X), np.ones((2, 3)))
    # a constructor's value is a constant: only the factor x carries a gradient
    _, got = run(cli, "sum(x * arange(3) * full_like(x, 2))", x=X)
    np.testing.assert_array_equal(got["x"], np.tile(np.arange(3.0) * 2, (2, 1)))


def test_linspace_and_arange_are_torchs_numbers(cli):
    torch = pytest.importorskip("torch")
    # (torch's vectorized kernel may round an entry of the second half one unit differently)
    want = torch.linspace(-1.3, 2.9, 7, dtype=torch.float64).numpy()
    np.testing.assert_allclose(value_of(cli, "linspace(-1.3, 2.9, 7)"), want, rtol=3e-16)
    want = torch.arange(0.1, 1.0, 0.3, dtype=torch.float64).numpy()
    np.testing.assert_array_equal(value_of(cli, "arange(0.1, 1.0, 0.3)"), want)


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.5], [0.0, 0.0, 2.0, 1.0], [1.5, -2.0, 0.5, 0.0]])
def test_cumprod_gradient_at_zeros_is_torchs(cli, values):
    weights = [1.0, -2.0, 0.5, 3.0]
    _, got = run(cli, "sum(cumprod(v, 0) * [1, -2, 0.5, 3])", v=values)
    _, want = as_torch(lambda t, v: t.cumprod(v, 0), weights, v=values)
    np.testing.assert_array_equal(got["v"], want["v"])


def test_cumprod_second_derivative_at_a_zero_is_torchs(cli):
    torch = pytest.importorskip("torch")
    values = [2.0, 0.0, 3.0]
    out = cli("hessian", "sum(cumprod(v, 0))", "--v", str(values), "--format", "json")
    assert out.exit_code == 0, out.stderr
    want = torch.autograd.functional.hessian(lambda v: torch.cumprod(v, 0).sum(),
                                             torch.tensor(values, dtype=torch.float64))
    np.testing.assert_allclose(np.array(out.json()["hessian"]["v"]["v"], dtype=float), want.numpy(), rtol=1e-12)


def test_argmax_has_no_gradient(cli):
    _, got = run(cli, "argmax(x) * sum(x)", x=X)
    np.testing.assert_array_equal(got["x"], np.full((2, 3), 3.0))


@pytest.mark.parametrize("expr, message", [
    ("cat(x, 0)", "cat() takes a list or tuple of arrays first, as in cat([x, y], 0)"),
    ("cat([x, x.T], 0)", "cat() takes arrays of one shape but along dim 0, not (2, 3), (3, 2)"),
    ("stack([x, x.T])", "stack() takes arrays of one shape, not (2, 3), (3, 2) (cat() joins along an axis)"),
    ("x.reshape(4, 2)", "cannot reshape an array of shape (2, 3) (6 entries) into (4, 2)"),
    ("x.view(-1, -1)", "a new shape takes sizes of 0 or more and at most one -1, not (-1, -1)"),
    ("x.expand(3, 3)", "cannot expand shape (2, 3) to (3, 3): only axes of size 1 grow"),
    ("x.permute(0, 0)", "permute() takes each of the 2 axes once, not (0, 0)"),
    ("arange(1, 0)", "arange() from 1 to 0 cannot go by a step of 1: its sign points away from the end"),
    ("full((2, 2))", "full() is missing fill_value"),
    ("tril(x[0])", "this function takes a matrix (or a stack of them), not shape (3,)"),
])
def test_calls_that_cannot_work_say_why(cli, expr, message):
    out = cli("grad", f"sum({expr}) + sum(x)", "--x", str(X))
    assert out.exit_code == 2
    assert message in out.stderr, out.stderr


def test_explain_and_graph_show_the_items_of_a_list_of_arrays(cli):
    out = cli("explain", "sum(cat([x, y ** 2], 0))", "--x", "1,2", "--y", "3")
    assert out.exit_code == 2  # a number has no axis to join along
    out = cli("explain", "sum(cat([x, y ** 2], 0))", "--x", "1,2", "--y", "[3]")
    assert out.exit_code == 0, out.stderr
    assert "∂L/∂(y ** 2) = g's entries at (y ** 2)'s place in the joined array" in out.stdout
    out = cli("graph", "sum(torch.stack((x, x * 3), dim=1))", "--x", "1,2")
    assert out.exit_code == 0, out.stderr
    assert "PermuteBackward0" in out.stdout and "grad [4.0, 4.0]" in out.stdout
