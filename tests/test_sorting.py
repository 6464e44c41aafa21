"""sort, argsort, msort, topk, kthvalue, median, cummax and cummin against PyTorch: their values and
gradients in PyTorch's spellings, their pairs taken apart ([0], [1], .values, .indices, [-1]), the
index PyTorch picks among equal entries (where the gradient goes), NaN, and gradcli run."""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api.functional import grad, hessian

torch = pytest.importorskip("torch")

# Ties everywhere: each row has equal entries, and the whole array has several copies of its median.
TIED = [[3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 2.0], [0.5, 0.5, -1.0, 2.0, 2.0, 0.5, -1.0], [1.0, 1.0, 1.0, 1.0, 4.0, 0.0, 2.0]]
WEIGHTS = np.cos(np.arange(21.0)).reshape(3, 7)


def _both(expr: str, fn, x, **extra):
    """gradcli's value and gradient of sum(w * expr) at x against torch's (fn of a torch tensor)."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(xt)
    w = torch.tensor(WEIGHTS.reshape(-1)[:out.numel()]).reshape(out.shape)
    value = (out.double() * w).sum()
    want = torch.autograd.grad(value, xt)[0].numpy() if out.requires_grad else np.zeros(np.shape(x))
    got = grad(f"sum(w * ({expr}))", {"x": x, "w": w.tolist(), **extra}, wrt="x")
    np.testing.assert_allclose(got.value, value.item(), rtol=1e-12)
    np.testing.assert_array_equal(got.gradients["x"], want)


@pytest.mark.parametrize("expr, fn", [
    ("torch.sort(x)[0]", lambda x: torch.sort(x)[0]),
    ("x.sort(0).values", lambda x: x.sort(0).values),
    ("torch.sort(x, dim=1, descending=True)[-2]", lambda x: torch.sort(x, dim=1, descending=True)[0]),
    ("torch.sort(x, 1, True)[1]", lambda x: torch.sort(x, 1, True)[1]),
    ("x.sort(stable=True, descending=True).indices", lambda x: x.sort(stable=True, descending=True).indices),
    ("torch.argsort(x, dim=0, descending=True)", lambda x: torch.argsort(x, dim=0, descending=True)),
    ("torch.msort(x)", lambda x: torch.msort(x)),
    ("x.kthvalue(2)[0]", lambda x: x.kthvalue(2)[0]),
    ("torch.kthvalue(x, 5, 1, True).indices", lambda x: torch.kthvalue(x, 5, 1, True).indices),
    ("torch.kthvalue(x, 2, dim=0)[-1]", lambda x: torch.kthvalue(x, 2, dim=0)[1]),
    ("torch.median(x, 1)[0]", lambda x: torch.median(x, 1)[0]),
    ("x.median(dim=0, keepdim=True).indices", lambda x: x.median(dim=0, keepdim=True).indices),
    ("torch.median(x)", lambda x: torch.median(x)),
    ("torch.cummax(x, 1)[0]", lambda x: torch.cummax(x, 1)[0]),
    ("x.cummin(dim=0).values", lambda x: x.cummin(dim=0).values),
    ("torch.cummax(x, -1).indices", lambda x: torch.cummax(x, -1).indices),
    ("torch.cummin(x, 1)[1]", lambda x: torch.cummin(x, 1)[1]),
])
def test_torchs_values_indices_and_gradients_at_ties(expr, fn):
    # The gradient goes to the entry torch's index names: stable sort, kthvalue's quickselect, median's
    # middle of the stable order, the latest of equal running extremes; torch.median(x) shares it.
    _both(expr, fn, TIED)


def test_a_pair_used_whole_is_its_values():
    x = [[2.0, -1.0, 0.5], [0.0, 3.0, 3.0]]
    _both("torch.sort(x) + x.cummax(1) + torch.topk(x, 3)", lambda t: torch.sort(t)[0] + t.cummax(1)[0]
          + torch.topk(t, 3)[0], x)
    _both("torch.kthvalue(x, 2) + x.median(1)", lambda t: torch.kthvalue(t, 2)[0] + t.median(1)[0], x)


def test_topk_without_ties_by_position_and_name():
    x = [[0.3, -1.2, 2.5, 0.7], [1.1, 0.2, -0.4, 0.9]]
    _both("torch.topk(x, 2)[0] + x.topk(k=2, dim=-1, largest=False).values",
          lambda t: torch.topk(t, 2)[0] + t.topk(k=2, dim=-1, largest=False).values, x)
    _both("torch.topk(x, 1, 0)[1] + torch.topk(x, 1, 0, False, True)[0]",
          lambda t: torch.topk(t, 1, 0)[1] + torch.topk(t, 1, 0, False, True)[0], x)


def test_nan_is_the_largest_entry_as_in_torch():
    x = [[1.0, float("nan"), -2.0, 0.5], [float("nan"), 0.0, float("nan"), 3.0]]
    for expr, fn in [("torch.sort(x, descending=True)[1]", lambda t: torch.sort(t, descending=True)[1]),
                     ("torch.sort(x)[1]", lambda t: torch.sort(t)[1]),
                     ("torch.median(x, 1)[1]", lambda t: torch.median(t, 1)[1]),
                     ("torch.kthvalue(x, 3)[1]", lambda t: torch.kthvalue(t, 3)[1]),
                     ("torch.cummax(x, 1)[1] + torch.cummin(x, 1)[1]",
                      lambda t: torch.cummax(t, 1)[1] + torch.cummin(t, 1)[1])]:
        _both(expr, fn, x)
    r = grad("torch.median(x)", {"x": x[0]})
    assert np.isnan(r.value) and r.gradients["x"].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_second_order_through_a_sort():
    # sort moves entries: the Hessian of sum(w * sort(x)**3) is diagonal, 6 w_rank(i) x_i.
    x = [0.3, -1.2, 2.5, 0.7]
    h = hessian("sum([1, 2, 3, 4] * torch.sort(x)[0] ** 3)", {"x": x}).hessian["x"]["x"]
    np.testing.assert_allclose(np.diag(h), [6 * 2 * 0.3, 6 * 1 * -1.2, 6 * 4 * 2.5, 6 * 3 * 0.7], rtol=1e-14)
    assert np.count_nonzero(h - np.diag(np.diag(h))) == 0


def test_out_of_range_k_is_refused():
    with pytest.raises(Exception, match="k=5 is out of range"):
        grad("sum(torch.kthvalue(x, 5)[0])", {"x": [1.0, 2.0, 3.0]})
    with pytest.raises(Exception, match="not a function gradcli has|numpy's"):
        grad("np.median(x)", {"x": [1.0, 2.0, 3.0]})


def test_the_cli_takes_a_pair_apart(cli):
    run = cli("grad", "sum(torch.sort(x, descending=True)[0] * [1, 10, 100]) + torch.median(x, 0)[1]", "--x",
              "[2, 7, 2]", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    # sorted [7, 2, 2] (the first 2 first): 7 + 20 + 200, plus the median's index: torch's stable middle,
    # the second 2 (2)
    assert out["value"] == 229.0
    assert out["gradients"]["x"] == [10.0, 1.0, 100.0]


def test_gradcli_run_gives_torchs_return_types(tmp_path, cli):
    script = tmp_path / "order.py"
    script.write_text(
        "import torch\n"
        "x = torch.tensor([[3., 1., 2.], [0., 5., 5.]], requires_grad=True)\n"
        "v, i = torch.sort(x, 1, descending=True)\n"
        "t = x.topk(2)\n"
        "m = x.median(dim=0)\n"
        "loss = (v * torch.tensor([1., 2., 3.])).sum() + t.values.sum() + torch.median(x) + m[0].sum()\n"
        "loss = loss + torch.cummax(x, 1)[0].sum() + torch.kthvalue(x, 2)[0].sum()\n"
        "loss.backward()\n"
        "print(i.tolist(), t.indices.tolist(), m.indices.tolist(), x.grad.tolist(), v.grad_fn.name())\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    # torch: i [[0, 2, 1], [1, 2, 0]], topk [[0, 2], [1, 2]], median indices [1, 0, 0],
    # grad [[5, 4, 6], [5, 4, 4]] (torch prints its indices as integers, gradcli as whole floats)
    assert run.stdout.split() == ["[[0.0,", "2.0,", "1.0],", "[1.0,", "2.0,", "0.0]]", "[[0.0,", "2.0],", "[1.0,",
                                  "2.0]]", "[1.0,", "0.0,", "0.0]", "[[5.0,", "4.0,", "6.0],", "[5.0,", "4.0,",
                                  "4.0]]", "SortBackward0"]


def test_gradcli_run_prints_pairs_as_torch_and_amax_gives_values_alone(tmp_path, cli):
    """torch.max(x, 0) prints as torch.return_types.max; torch.amax(x, 0) gives one tensor, from its own node;
    torch.var_mean gives a plain tuple whose parts come from one node, VarMeanBackward0."""
    script = tmp_path / "pairs.py"
    script.write_text(
        "import torch\n"
        "x = torch.tensor([[1., 3.], [2., 0.5]], requires_grad=True)\n"
        "print(torch.max(x, 0))\n"
        "print(torch.amax(x, 0))\n"
        "print(x.amin(1))\n"
        "v, m = torch.var_mean(x, 0)\n"
        "print(type(torch.var_mean(x, 0)).__name__, v.grad_fn.name(), m.grad_fn.name(), m.tolist())\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [
        "torch.return_types.max(", "values=tensor([2., 3.], grad_fn=<MaxBackward0>),", "indices=tensor([1., 0.]))",
        "tensor([2., 3.], grad_fn=<AmaxBackward0>)", "tensor([1.0000, 0.5000], grad_fn=<AminBackward0>)",
        "tuple VarMeanBackward0 VarMeanBackward0 [1.5, 1.75]"]


def test_amax_and_amin_are_no_pairs_in_an_expression(cli):
    """torch.amax(x, 0)[1] is the entry 1 of the maxima, where torch.max(x, 0)[1] is the indices."""
    for expr, value in (("torch.amax(x, 0)[1]", 3.0), ("torch.max(x, 0)[1][1]", 0.0), ("x.amin(1)[0]", 1.0)):
        run = cli("grad", expr, "--x", "[[1, 3], [2, 0.5]]", "--format", "json")
        assert run.exit_code == 0, run.stderr
        assert run.json()["value"] == value, expr


def test_a_pair_along_a_dim_given_by_position_with_keepdim(cli):
    """torch.median(x, -1, True)[-1]: the dim and keepdim by position; torch 2.13 gives the index tensor([0])."""
    run = cli("grad", "torch.median(x, -1, True)[-1].sum() + 10 * torch.nanmedian(x, 0, True)[1].sum() + x.sum()",
              "--x", "[3, 1, 4, 1, 5]", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["value"] == 14.0 and run.json()["gradients"]["x"] == [1.0] * 5
