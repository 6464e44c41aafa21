"""nansum, nanmean, nanmedian, quantile, nanquantile and mode against PyTorch: values, gradients and Hessians in
PyTorch's spellings (by position and by name, methods, pairs taken apart), at NaN, infinities and ties, in
float32, refusals, and the command line."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from gradcli.api.functional import grad, hessian, jacobian
from gradcli.errors import GradcliError

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
# NaNs, a row of NaNs only, ties (a repeated median, equal entries at the quantiles' ranks), infinities.
ROWS = [[3.0, 1.0, NAN, 2.0, 1.0, 3.0, 2.0, NAN], [NAN] * 8, [1.0, 1.0, 1.0, 2.0, NAN, 0.0, 2.0, 2.0],
        [INF, -1.0, 2.0, 2.0, -INF, 0.5, 0.0, -0.0]]
WEIGHTS = np.cos(np.arange(64.0))


def _both(expr, fn, x, q=None, dtype=torch.float64, rtol=1e-12):
    """gradcli's value and gradients of sum(w * expr) at x (and q) against torch's (fn of torch tensors)."""
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    qt = None if q is None else torch.tensor(q, dtype=dtype, requires_grad=True)
    out = fn(xt) if q is None else fn(xt, qt)
    w = torch.tensor(WEIGHTS[:out.numel()], dtype=dtype).reshape(out.shape)
    value = (out * w).sum()
    wrt = [xt] if q is None else [xt, qt]
    want = torch.autograd.grad(value, wrt, allow_unused=True) if value.requires_grad else [None] * len(wrt)
    values = {"x": x, "w": w.tolist(), **({} if q is None else {"q": q})}
    got = grad(f"sum(w * ({expr}))", values, wrt=["x"] if q is None else ["x", "q"],
               dtype="float32" if dtype == torch.float32 else "float64")
    np.testing.assert_allclose(got.value, value.item(), rtol=rtol)
    for name, t, g in zip(("x", "q"), wrt, want):
        np.testing.assert_allclose(got.gradients[name], np.zeros(t.shape) if g is None else g.numpy(), rtol=rtol,
                                   atol=0)


@pytest.mark.parametrize("expr, fn", [
    ("torch.nansum(x)", torch.nansum),
    ("x.nansum(1)", lambda t: t.nansum(1)),
    ("torch.nansum(x, dim=0, keepdim=True)", lambda t: torch.nansum(t, dim=0, keepdim=True)),
    ("torch.nansum(x, (0, 1))", lambda t: torch.nansum(t, (0, 1))),
    ("torch.nanmean(x, 1)", lambda t: torch.nanmean(t, 1)),
    ("x.nanmean()", lambda t: t.nanmean()),
    ("x.nanmean(dim=-2, keepdim=True)", lambda t: t.nanmean(dim=-2, keepdim=True)),
    ("torch.nanmedian(x)", torch.nanmedian),
    ("torch.nanmedian(x[1])", lambda t: torch.nanmedian(t[1])),
    ("torch.nanmedian(x, 1)[0]", lambda t: torch.nanmedian(t, 1)[0]),
    ("torch.nanmedian(x, 1).indices", lambda t: torch.nanmedian(t, 1)[1]),
    ("x.nanmedian(dim=0, keepdim=True).values", lambda t: t.nanmedian(dim=0, keepdim=True).values),
    ("torch.nanmedian(x, -1, keepdim=True)[-1]", lambda t: torch.nanmedian(t, -1, True)[1]),
    ("torch.nanmedian(x, 1) * 2", lambda t: torch.nanmedian(t, 1)[0] * 2),
])
def test_the_nan_reductions_as_torch(expr, fn):
    # A NaN entry gets gradient 0 (an inf cotangent gives nan there, as nansum_backward's product); the median
    # of a row of NaNs is NaN, at the index libstdc++'s nth_element leaves first.
    _both(expr, fn, ROWS)


def test_nanmedian_of_a_row_of_nans_picks_torchs_index_at_every_length():
    for n in range(1, 40):
        got = grad("torch.nanmedian(x, 0)[1]", {"x": [NAN] * n}).value
        assert got == torch.nanmedian(torch.full((n,), NAN), 0)[1].item()


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
def test_quantiles_as_torch(name, interpolation):
    fn, how = getattr(torch, name), f"interpolation='{interpolation}'"
    # q's gradient too: PyTorch's lerp weight, ranks - ranks_below, carries it (linear only)
    _both(f"torch.{name}(x, q, dim=1, {how})", lambda t, q: fn(t, q, dim=1, interpolation=interpolation), ROWS,
          q=[0.0, 0.2, 0.5, 0.625, 1.0])
    _both(f"torch.{name}(x, q, {how})", lambda t, q: fn(t, q, interpolation=interpolation), ROWS[2:], q=0.7)
    _both(f"x.{name}(q, 0, True, {how})", lambda t, q: getattr(t, name)(q, 0, True, interpolation=interpolation),
          ROWS, q=[0.3, 0.9])
    _both(f"torch.{name}(x, 0.4, keepdim=True, dim=-1, {how})",
          lambda t: fn(t, 0.4, keepdim=True, dim=-1, interpolation=interpolation), ROWS)
    _both(f"torch.{name}(x, q, dim=1, {how})", lambda t, q: fn(t, q, dim=1, interpolation=interpolation),
          [[3.0, 1.0, 4.0, 1.0, 2.0], [2.0, 7.0, 2.0, 8.0, 2.0]], q=[0.1, 0.3, 0.5, 0.7], dtype=torch.float32,
          rtol=1e-6)


def test_quantile_at_ties_gives_each_rank_its_own_entry():
    # ranks 1 and 2 of [1, 2, 2, 5] are the two 2s: the stable sort's first takes 1 - weight, the second weight
    r = grad("torch.quantile(x, 0.4)", {"x": [2.0, 1.0, 2.0, 5.0]})
    np.testing.assert_allclose(r.gradients["x"], [0.8, 0.0, 0.2, 0.0], rtol=1e-15)
    # a NaN makes quantile NaN, its gradient at the NaN (the last rank); nanquantile leaves it out
    r = grad("torch.quantile(x, 0.5)", {"x": [1.0, NAN, 3.0]})
    assert np.isnan(r.value) and r.gradients["x"].tolist() == [0.0, 1.0, 0.0]
    r = grad("torch.nanquantile(x, 0.5)", {"x": [1.0, NAN, 3.0]})
    assert r.value == 2.0 and r.gradients["x"].tolist() == [0.5, 0.0, 0.5]


@pytest.mark.parametrize("expr, fn", [
    ("sum(torch.quantile(x, [0.3, 0.7], dim=1) ** 2)",
     lambda t: (torch.quantile(t, torch.tensor([0.3, 0.7], dtype=t.dtype), dim=1) ** 2).sum()),
    ("torch.nanquantile(x * x, 0.4, interpolation='midpoint') * sum(x)",
     lambda t: torch.nanquantile(t * t, 0.4, interpolation="midpoint") * t.sum()),
    ("sum(torch.nanmean(x ** 3, 1) * torch.nansum(x, 1))", lambda t: (torch.nanmean(t ** 3, 1) * torch.nansum(t, 1)).sum()),
    ("torch.nanmedian(x) ** 3 + sum(torch.nanmedian(x * x, 0)[0])",
     lambda t: torch.nanmedian(t) ** 3 + torch.nanmedian(t * t, 0)[0].sum()),
])
def test_hessians_as_torch(expr, fn):
    x = np.array([[3.0, 1.0, 4.0, 1.5, 2.0], [2.0, 7.0, 2.5, 8.0, 2.2]])
    want = torch.autograd.functional.hessian(fn, torch.tensor(x))
    np.testing.assert_allclose(hessian(expr, {"x": x}).hessian["x"]["x"], want.numpy(), rtol=1e-12, atol=1e-13)


MODE_ROWS = [[3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 2.0, NAN], [2.0, 2.0, 1.0, 1.0, 0.0, 5.0, 5.0, 5.0],
             [1.0, 1.0, NAN, 2.0, NAN, 0.0, 2.0, 2.0], [-0.0, 0.0, INF, INF, 1.0, 0.0, -INF, 4.0]]


@pytest.mark.parametrize("expr, fn", [
    ("torch.mode(x)[0]", lambda t: torch.mode(t)[0]),
    ("torch.mode(x, 0)[1]", lambda t: torch.mode(t, 0)[1]),
    ("x.mode(dim=1, keepdim=True).values", lambda t: t.mode(dim=1, keepdim=True).values),
    ("torch.mode(x, 1).indices", lambda t: torch.mode(t, 1).indices),
    ("torch.mode(x, -1)[-2] * 3", lambda t: torch.mode(t, -1)[0] * 3),
    ("torch.mode(x) + torch.mode(x[0, 0])[0]", lambda t: torch.mode(t)[0] + torch.mode(t[0, 0])[0]),
])
def test_mode_as_torch(expr, fn):
    # the smallest of the most frequent values, at its last entry in a row of up to 16 (a NaN equal to none)
    _both(expr, fn, MODE_ROWS)


def test_mode_picks_torchs_index_in_long_rows_and_around_nan():
    # rows past 16 entries, and rows with a NaN, follow libstdc++'s introsort, not a stable order
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 4, (60, 41)).astype(float)
    rows[rng.random(rows.shape) < 0.1] = NAN
    rows[::7] = np.sort(rows[::7], axis=-1)
    got = jacobian("torch.mode(x, 1)[1]", {"x": rows}).value
    np.testing.assert_array_equal(got, torch.mode(torch.tensor(rows), 1)[1].numpy())
    _both("torch.mode(x, 1)[0]", lambda t: torch.mode(t, 1)[0], rows[:20, :20].tolist(), dtype=torch.float32,
          rtol=1e-6)


OBSERVATIONS = np.random.default_rng(1).standard_normal((3, 5)).tolist()
FREQUENCIES, ANALYTIC = [1, 2, 0, 1, 3], [0.5, 1.0, 2.0, 0.1, 1.0]


@pytest.mark.parametrize("expr, fn", [
    ("torch.cov(x)", torch.cov),
    ("x.cov(correction=0)", lambda t: t.cov(correction=0)),
    ("torch.cov(x[0])", lambda t: torch.cov(t[0])),
    ("torch.cov(x[:, :1])", lambda t: torch.cov(t[:, :1])),  # (n - 1 = 0: divided by 0, as torch)
    (f"torch.cov(x, fweights=torch.tensor({FREQUENCIES}))", lambda t: torch.cov(t, fweights=torch.tensor(FREQUENCIES))),
    (f"torch.cov(x, aweights=torch.tensor({ANALYTIC}), correction=2)",
     lambda t: torch.cov(t, aweights=torch.tensor(ANALYTIC, dtype=t.dtype), correction=2)),
    (f"torch.cov(x, fweights=torch.tensor({FREQUENCIES}), aweights=torch.tensor({ANALYTIC}))",
     lambda t: torch.cov(t, fweights=torch.tensor(FREQUENCIES), aweights=torch.tensor(ANALYTIC, dtype=t.dtype))),
    ("torch.corrcoef(x)", torch.corrcoef),
    ("x.corrcoef()", lambda t: t.corrcoef()),
    ("torch.corrcoef(x[:1])", lambda t: torch.corrcoef(t[:1])),
])
def test_cov_and_corrcoef_as_torch(expr, fn):
    _both(expr, fn, OBSERVATIONS, rtol=1e-11)


def test_cov_hessian_and_aweights_gradient_as_torch():
    x, a = torch.tensor(OBSERVATIONS, dtype=torch.float64), torch.tensor(ANALYTIC, dtype=torch.float64)
    want = torch.autograd.functional.hessian(lambda t: (torch.corrcoef(t) ** 2).sum() + torch.cov(t).sum(), x)
    got = hessian("sum(torch.corrcoef(x) ** 2) + sum(torch.cov(x))", {"x": OBSERVATIONS}).hessian["x"]["x"]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
    a.requires_grad_(True)
    torch.cov(x, aweights=a).sum().backward()
    r = grad("sum(torch.cov(x, aweights=a))", {"x": OBSERVATIONS, "a": ANALYTIC}, wrt="a")
    np.testing.assert_allclose(r.gradients["a"], a.grad.numpy(), rtol=1e-11)


@pytest.mark.parametrize("expr, fn", [
    ("F.embedding(i, w)", lambda i, w: torch.nn.functional.embedding(i, w)),
    ("F.embedding(i, w, padding_idx=2)", lambda i, w: torch.nn.functional.embedding(i, w, padding_idx=2)),
    ("torch.nn.functional.embedding(i, w, -2)", lambda i, w: torch.nn.functional.embedding(i, w, -2)),
    ("F.embedding(i, w, 3) * inf", lambda i, w: torch.nn.functional.embedding(i, w, 3) * INF),
    ("F.one_hot(i) * w[0, 0] + F.one_hot(i, num_classes=5)[..., :4] * w[1, 1]",
     lambda i, w: torch.nn.functional.one_hot(i) * w[0, 0] + torch.nn.functional.one_hot(i, num_classes=5)[..., :4] * w[1, 1]),
])
def test_lookups_as_torch(expr, fn):
    # the gradient adds up into the rows read; padding_idx's row gets none, not even an inf's nan
    indices = [[0, 2, 1], [2, 2, 3]]
    w = torch.tensor(np.arange(12.0).reshape(4, 3) / 7, requires_grad=True)
    out = fn(torch.tensor(indices), w)
    c = torch.tensor(np.cos(np.arange(out.numel()))).reshape(out.shape)
    value = (out * c).sum()
    got = grad(f"sum(c * ({expr}))", {"w": w.tolist(), "i": indices, "c": c.tolist()}, wrt="w")
    np.testing.assert_allclose(got.value, value.item(), rtol=1e-13)
    np.testing.assert_array_equal(got.gradients["w"], torch.autograd.grad(value, w)[0].numpy())


@pytest.mark.parametrize("expr, message", [
    ("torch.quantile(x, 1.5)", "in the range [0, 1]"),
    ("torch.quantile(x, 0.5, interpolation='cubic')", "takes interpolation= as 'linear' or"),
    ("torch.nanquantile(x, [[0.5]])", "a number or a 1-d tensor"),
    ("torch.nanmedian(x, 3)", "not an axis"),
    ("torch.cov(x, fweights=torch.tensor([1.5, 1]))", "whole numbers"),
    ("F.embedding(torch.tensor([0, 2]), x)", "out of bounds"),
    ("F.embedding(torch.tensor([0, 1]), x, max_norm=1.0)", "max_norm"),
    ("F.one_hot(torch.tensor([0, 3]), 2) * x[0]", "smaller than num_classes"),
    ("torch.cov(x, aweights=torch.tensor([-1, 1]))", "cannot be negative"),
    ("torch.cov(x, fweights=torch.tensor([0, 0]))", "weights sum to zero"),
    ("torch.cov(x, aweights=torch.tensor([1, 1, 1]))", "one entry per observation"),
])
def test_refusals(expr, message):
    with pytest.raises(GradcliError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grad(expr, {"x": [[1.0, 2.0], [3.0, 4.0]]})


def test_the_command_line(cli):
    out = cli("grad", "torch.quantile(x, 0.25)", "--x", "[4, 1, 3, 2, 5]", "-f", "json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["value"] == 2.0 and out.json()["gradients"]["x"] == [0.0, 0.0, 0.0, 1.0, 0.0]
    out = cli("grad", "torch.mode(x)[0] * torch.mode(x).indices", "--x", "[2, 1, 2, 1, 3]", "-f", "json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["value"] == 3.0 and out.json()["gradients"]["x"] == [0.0, 0.0, 0.0, 3.0, 0.0]
    out = cli("grad", "torch.nansum(x) + x.nanmedian()", "--x", "[1, nan, 3]", "-f", "json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["value"] == 5.0 and out.json()["gradients"]["x"] == [2.0, 0.0, 1.0]  # (the lower median, 1)


def test_gradcli_run(tmp_path, cli):
    script = tmp_path / "statistics.py"
    script.write_text("import torch\n"
                      "x = torch.tensor([[1., 5., 2., 8.], [3., float('nan'), 0., 4.]], requires_grad=True)\n"
                      "v, i = torch.nanmedian(x, 1)\n"
                      "q = torch.nanquantile(x, torch.tensor([0.25, 0.5]), dim=1)\n"
                      "(v * 2 + q.sum(0) + x.nanmean(0).sum()).sum().backward()\n"
                      "m = torch.mode(x, 0)\n"
                      "print(i.tolist(), m.indices.tolist(), x.grad.tolist())\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    t = torch.tensor([[1.0, 5.0, 2.0, 8.0], [3.0, NAN, 0.0, 4.0]], dtype=torch.float64, requires_grad=True)
    v, i = torch.nanmedian(t, 1)
    q = torch.nanquantile(t, torch.tensor([0.25, 0.5], dtype=torch.float64), dim=1)
    (v * 2 + q.sum(0) + t.nanmean(0).sum()).sum().backward()
    indices, mode, gradient = run.stdout.strip().split("] ", 2)
    assert ast.literal_eval(indices + "]") == i.tolist()
    assert ast.literal_eval(mode + "]") == torch.mode(t, 0).indices.tolist()
    np.testing.assert_allclose(ast.literal_eval(gradient), t.grad.numpy(), rtol=1e-6)
