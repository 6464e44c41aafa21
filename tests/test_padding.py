"""diff, logcumsumexp, trapezoid, cumulative_trapezoid and F.pad against PyTorch: PyTorch's spellings
(positional and by name), gradients and Hessians, logcumsumexp far from 0 and at infinities, pad's four
modes with negative pads, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api.functional import grad, hessian

torch = pytest.importorskip("torch")
TF = torch.nn.functional

X = np.sin(np.arange(1.0, 21.0)).reshape(4, 5) * 3
Y = np.cumsum(np.linspace(0.2, 1.0, 20).reshape(4, 5), axis=1)


def _as_torch(expr: str, fn, x=X, y=Y):
    """Value, gradient and Hessian of sum(sin(expr) * w) in x (and y's gradient) against torch's."""
    xt, yt = (torch.tensor(v, requires_grad=True) for v in (x, y))
    out = fn(xt, yt)
    w = torch.tensor(np.cos(np.arange(out.numel(), dtype=float))).reshape(out.shape)
    value = (torch.sin(out) * w).sum()
    gx, gy = torch.autograd.grad(value, (xt, yt), allow_unused=True, create_graph=True)
    hxx = torch.stack([torch.autograd.grad(gx.reshape(-1)[i], xt, retain_graph=True)[0].reshape(-1)
                       for i in range(gx.numel())])
    values = {"x": np.asarray(x).tolist(), "w": w.tolist(), **({"y": np.asarray(y).tolist()} if "y" in expr else {})}
    text = f"sum(sin({expr}) * w)"
    got = grad(text, values, wrt=[v for v in ("x", "y") if v in values])
    np.testing.assert_allclose(got.value, value.item(), rtol=1e-12)
    np.testing.assert_allclose(got.gradients["x"], gx.detach().numpy(), rtol=1e-11, atol=1e-14)
    if "y" in values:
        np.testing.assert_allclose(got.gradients["y"], gy.detach().numpy(), rtol=1e-11, atol=1e-14)
    h = hessian(text, values, wrt="x").hessian["x"]["x"].reshape(hxx.shape)
    np.testing.assert_allclose(h, hxx.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("expr, fn", [
    ("torch.diff(x)", lambda x, y: torch.diff(x)),
    ("torch.diff(x, 2, 0)", lambda x, y: torch.diff(x, 2, 0)),
    ("x.diff(n=3, dim=-1, append=y[:, :2])", lambda x, y: x.diff(n=3, dim=-1, append=y[:, :2])),
    ("torch.diff(x, dim=0, prepend=y[:1], append=y[1:3])", lambda x, y: torch.diff(x, dim=0, prepend=y[:1],
                                                                                   append=y[1:3])),
    ("torch.diff(x, 7)", lambda x, y: torch.diff(x, 7)),
    ("torch.logcumsumexp(x, 1)", lambda x, y: torch.logcumsumexp(x, 1)),
    ("x.logcumsumexp(dim=0)", lambda x, y: x.logcumsumexp(dim=0)),
    ("torch.trapezoid(x)", lambda x, y: torch.trapezoid(x)),
    ("torch.trapezoid(x, dx=0.5, dim=0)", lambda x, y: torch.trapezoid(x, dx=0.5, dim=0)),
    ("torch.trapezoid(x, y)", lambda x, y: torch.trapezoid(x, y)),
    ("torch.trapz(x, y[0])", lambda x, y: torch.trapz(x, y[0])),
    ("torch.cumulative_trapezoid(x, y[:, 0], dim=0)", lambda x, y: torch.cumulative_trapezoid(x, y[:, 0], dim=0)),
    ("torch.cumulative_trapezoid(x, dx=2.0)", lambda x, y: torch.cumulative_trapezoid(x, dx=2.0)),
    ("F.pad(x, (1, 2))", lambda x, y: TF.pad(x, (1, 2))),
    ("torch.nn.functional.pad(x, (1, -2, 2, -1), value=1.5)", lambda x, y: TF.pad(x, (1, -2, 2, -1), value=1.5)),
    ("F.pad(x, (3, 1), mode='reflect')", lambda x, y: TF.pad(x, (3, 1), mode="reflect")),
    ("F.pad(x, (-1, 4), 'reflect')", lambda x, y: TF.pad(x, (-1, 4), "reflect")),
    ("F.pad(x, (2, 6), mode='replicate')", lambda x, y: TF.pad(x, (2, 6), mode="replicate")),
    ("F.pad(x, (5, 3), mode='circular')", lambda x, y: TF.pad(x, (5, 3), mode="circular")),
    ("F.pad(x, (-2, 3), mode='circular')", lambda x, y: TF.pad(x, (-2, 3), mode="circular")),
    ("F.pad(x[None], (1, 2, 3, 1), mode='reflect')", lambda x, y: TF.pad(x[None], (1, 2, 3, 1), mode="reflect")),
    ("F.pad(x[None], (2, -1, 1, 3), mode='circular')", lambda x, y: TF.pad(x[None], (2, -1, 1, 3), mode="circular")),
    ("F.pad(x[None], (4, 1, 1, 5), mode='replicate')", lambda x, y: TF.pad(x[None], (4, 1, 1, 5), mode="replicate")),
])
def test_as_torch_to_second_order(expr, fn):
    # reflect, replicate and circular read an entry more than once: its gradient adds up, as torch's.
    _as_torch(expr, fn)


def test_logcumsumexp_far_from_zero_and_at_infinities():
    x = [-1000.0, 0.0, 3.0, -np.inf, 800.0, np.inf, 1.0]
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    w = np.cos(np.arange(7.0))
    value = (torch.logcumsumexp(xt, 0) * torch.tensor(w)).sum()
    want = torch.autograd.grad(value, xt)[0].numpy()
    got = grad("sum(torch.logcumsumexp(x, 0) * w)", {"x": x, "w": w.tolist()}, wrt="x")
    np.testing.assert_allclose(got.value, value.item(), rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(got.gradients["x"]), np.isnan(want))
    np.testing.assert_allclose(got.gradients["x"], want, rtol=1e-12, equal_nan=True)
    r = grad("sum(torch.logcumsumexp(x, 0))", {"x": [-1000.0, 0.0]})
    np.testing.assert_allclose(r.value, -1000.0 + 0.0, rtol=1e-15)


@pytest.mark.parametrize("expr, message", [
    ("sum(F.pad(x, (5, 0), mode='reflect'))", "by at most 3"),
    ("sum(F.pad(x, (1, 1, 1, 1), mode='reflect'))", "pads the last 1, 2 or 3 axes"),
    ("sum(F.pad(x, (1,)))", "a pair of numbers per axis"),
    ("sum(F.pad(x, (1, 1), mode='edge'))", "mode="),
    ("sum(torch.diff(x, prepend=x[0]))", "along dim"),
    ("sum(torch.trapezoid(x, x[0, :2]))", "x of length 2"),
])
def test_refusals_say_what_torch_takes(expr, message):
    with pytest.raises(Exception, match=message):
        grad(expr, {"x": [[1.0, 2.0, 3.0, 4.0]]})


def test_the_cli_pads(cli):
    run = cli("grad", "sum(F.pad(x, (2, 1), mode='reflect') * [1, 10, 100, 1000, 10000, 100000])", "--x",
              "[[1, 2, 3]]", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    # reflect pads [1, 2, 3] to [3, 2, 1, 2, 3, 2]: x0 read once (100), x1 three times, x2 twice
    assert out["value"] == 3 + 20 + 100 + 2000 + 30000 + 200000
    assert out["gradients"]["x"] == [[100.0, 10 + 1000 + 100000, 1 + 10000]]
