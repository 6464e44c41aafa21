"""Distances (torch.dist, F.pairwise_distance, torch.cdist, F.pdist) and the affine matrix products
(addmm, addmv, addr, baddbmm, addbmm) with inner and vdot, as PyTorch writes and computes them.

The pinned numbers are torch 2.13's (they hold without torch); the comparisons with torch itself
are skipped where it is not installed. The registry tests (tests/test_ops.py and the others)
cover each record's samples; this file covers PyTorch's spellings, the kinks, float32 and the CLI.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api import functional

inf, nan = np.inf, np.nan
RNG = np.random.default_rng(20261202)


def run(text: str, dtype=None, **values):
    with np.errstate(all="ignore"):
        return functional.grad(text, {k: np.asarray(v, dtype=dtype or float) for k, v in values.items()}, dtype=dtype)


def against_torch(text, torch_fn, values, rtol=1e-12, dtype="float64"):
    """gradcli's value and gradients of text against torch_fn's, in dtype."""
    torch = pytest.importorskip("torch")
    np_dtype = np.dtype(dtype)
    values = {k: np.asarray(v, dtype=np_dtype) for k, v in values.items()}
    ours = run(text, dtype=dtype if dtype != "float64" else None, **values)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    out = torch_fn(torch, **leaves)
    out.backward()
    np.testing.assert_allclose(ours.value, out.detach().numpy(), rtol=rtol, atol=rtol, err_msg=text)
    for k, t in leaves.items():
        want = np.zeros(values[k].shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(ours.gradients[k], want, rtol=rtol, atol=rtol, err_msg=f"{text}: {k}")
        assert np.asarray(ours.gradients[k]).dtype == np_dtype
    return ours


# -- pairwise_distance ----------------------------------------------------------------------------
PAIRWISE_CALLS = [
    ("F.pairwise_distance(a, b)", lambda t, a, b: t.nn.functional.pairwise_distance(a, b)),
    ("torch.pairwise_distance(a, b, 1)", lambda t, a, b: t.pairwise_distance(a, b, 1)),
    ("torch.nn.functional.pairwise_distance(a, b, 3, 0.5, True)",
     lambda t, a, b: t.nn.functional.pairwise_distance(a, b, 3, 0.5, True)),
    ("F.pairwise_distance(a, b, p=inf, keepdim=True)", lambda t, a, b: t.nn.functional.pairwise_distance(a, b, inf, keepdim=True)),
    ("F.pairwise_distance(a, x2=b, eps=0, p=0.5)", lambda t, a, b: t.nn.functional.pairwise_distance(a, b, 0.5, 0)),
]


@pytest.mark.parametrize("text, torch_fn", PAIRWISE_CALLS, ids=[c[0] for c in PAIRWISE_CALLS])
def test_pairwise_distance_spellings_agree_with_torch(text, torch_fn):
    a, b, w = RNG.standard_normal((3, 4)), RNG.standard_normal((4,)), RNG.standard_normal(3)
    shape = (3, 1) if "True" in text else (3,)
    against_torch(f"sum({text} * w)", lambda t, a, b, w: (torch_fn(t, a, b) * w).sum(),
                  {"a": a, "b": b, "w": w.reshape(shape)})


def test_pairwise_distance_adds_eps_to_the_difference():
    # torch: norm(x1 - x2 + eps): equal rows are eps * sqrt(M) apart, with gradient 1/sqrt(M) each
    r = run("sum(F.pairwise_distance(a, b))", a=[[1.0, 2.0, 3.0, 4.0]], b=[[1.0, 2.0, 3.0, 4.0]])
    assert r.value == np.sqrt(4 * 1e-6 ** 2) == 2e-6
    np.testing.assert_array_equal(r.gradients["a"], [[0.5] * 4])
    np.testing.assert_array_equal(r.gradients["b"], [[-0.5] * 4])
    # (the difference -eps cancels eps: a zero distance, whose gradient is 0 as the norm's)
    r = run("sum(F.pairwise_distance(a, b))", a=[0.0, 0.0], b=[1e-6, 1e-6])
    assert r.value == 0.0
    np.testing.assert_array_equal(r.gradients["a"], [0.0, 0.0])


@pytest.mark.parametrize("values", [{"a": [[0.0, 0.0], [1.0, 2.0]], "b": [[0.0, 0.0], [1.0, 2.0]]},
                                    {"a": [[1.0, -1.0, 0.5]], "b": [[0.0, 0.0, 0.0]]}], ids=["zero", "ties"])
@pytest.mark.parametrize("p", [2.0, 1.0, inf, 3.0])
def test_pairwise_distance_at_kinks_agrees_with_torch(values, p):
    against_torch(f"sum(F.pairwise_distance(a, b, p={p}, eps=0))",
                  lambda t, a, b: t.nn.functional.pairwise_distance(a, b, p, 0).sum(), values)


def test_pairwise_distance_in_float32():
    a, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    against_torch("sum(F.pairwise_distance(a, b))", lambda t, a, b: t.nn.functional.pairwise_distance(a, b).sum(),
                  {"a": a, "b": b}, rtol=1e-6, dtype="float32")


# -- dist ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, inf, 0.5])
def test_dist_agrees_with_torch(p):
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3,))
    against_torch(f"torch.dist(a, b, {p})", lambda t, a, b: t.dist(a, b, p), {"a": a, "b": b})
    against_torch(f"a.dist(b, p={p}) * 2", lambda t, a, b: a.dist(b, p=p) * 2, {"a": a, "b": b})


def test_dist_at_its_kinks():
    # a zero distance: gradient 0; ties at p = inf share the gradient (torch's norm_backward); p = 1 at equal
    # coordinates: sign(0) = 0
    assert run("torch.dist(a, b)", a=[1.0, 2.0], b=[1.0, 2.0]).gradients["a"].tolist() == [0.0, 0.0]
    assert run("torch.dist(a, b, inf)", a=[1.0, -1.0], b=[0.0, 0.0]).gradients["a"].tolist() == [0.5, -0.5]
    assert run("torch.dist(a, b, 1)", a=[1.0, 3.0], b=[1.0, 2.0]).gradients["a"].tolist() == [0.0, 1.0]
    for p in (2.0, inf, 1.0):
        against_torch(f"torch.dist(a, b, {p})", lambda t, a, b: t.dist(a, b, p), {"a": [1.0, -1.0, 0.0],
                                                                                     "b": [0.0, 0.0, 0.0]})


# -- cdist and pdist ----------------------------------------------------------------------------------
KINKED = {"a": [[0.0, 0.0], [1.0, 2.0], [1.0, 1.0]], "b": [[0.0, 0.0], [2.0, 3.0], [1.0, 1.0], [1.0, 0.0]]}


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, inf])
def test_cdist_agrees_with_torch(p):
    a, b, w = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((5, 4)), RNG.standard_normal((2, 3, 5))
    against_torch(f"sum(torch.cdist(a, b, p={p}) * w)", lambda t, a, b, w: (t.cdist(a, b, p=p) * w).sum(),
                  {"a": a, "b": b, "w": w})
    # at zero distances, ties at the largest difference and equal coordinates
    against_torch(f"sum(torch.cdist(a, b, {p}) * w)", lambda t, a, b, w: (t.cdist(a, b, p) * w).sum(),
                  {**KINKED, "w": RNG.standard_normal((3, 4))})


def test_cdist_ties_at_p_inf_each_get_the_whole_gradient():
    # torch's _cdist_backward: not shared as the norm's (dist's) ties are
    r = run("sum(torch.cdist(a, b, p=inf))", a=[[1.0, -1.0], [3.0, 0.0]], b=[[0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(r.gradients["a"], [[1.0, -2.0], [2.0, 0.0]])
    np.testing.assert_array_equal(r.gradients["b"], [[-2.0, 1.0], [-1.0, 1.0]])


def test_cdist_zero_distance_has_gradient_zero_and_a_note():
    r = run("sum(torch.cdist(a, b))", a=[[0.0, 0.0], [1.0, 0.0]], b=[[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(r.gradients["a"], [[-1.0, 0.0], [1.0, 0.0]])
    assert r.notes == ["torch.cdist(a, b) is a zero distance (at 2 of 4 entries), where it has no derivative: "
                       "gradcli uses the gradient 0 (as PyTorch)"]


def test_cdist_second_order_agrees_with_differences_of_its_gradient():
    # torch refuses a second derivative of cdist; gradcli's is the derivative of torch's first-order rule
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3))
    for p in (2.0, 3.0, 1.5):
        text = f"sum(torch.cdist(a, b, {p}) ** 2)"
        hessian = functional.hessian(text, {"a": a, "b": b}, wrt="a").hessian["a"]["a"]
        h = 1e-6
        for index in np.ndindex(a.shape):
            step = np.zeros(a.shape)
            step[index] = h
            plus, minus = (functional.grad(text, {"a": a + s, "b": b}).gradients["a"] for s in (step, -step))
            np.testing.assert_allclose(hessian[(...,) + index], (plus - minus) / (2 * h), rtol=1e-6, atol=1e-7)


def test_cdist_compute_mode_is_taken_and_computes_directly():
    # torch's matrix-product form (its default for p = 2 above 25 rows) gives equal rows a distance of
    # about 1e-8; gradcli's is 0 in every mode (docs/differences.md)
    a = RNG.standard_normal((30, 3))
    for mode in ("", ", compute_mode='use_mm_for_euclid_dist'", ", 2, 'donot_use_mm_for_euclid_dist'"):
        r = run(f"sum(torch.cdist(a, a{mode}) * eye(30))", a=a)
        assert r.value == 0.0
        np.testing.assert_array_equal(r.gradients["a"], np.zeros((30, 3)))
    against_torch("sum(torch.cdist(a, b, compute_mode='donot_use_mm_for_euclid_dist'))",
                  lambda t, a, b: t.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").sum(),
                  {"a": a, "b": RNG.standard_normal((4, 3))})


def test_cdist_and_pdist_at_nan_and_inf_as_torchs_kernels():
    # cdist's p = inf passes over a nan difference (a running max from 0), pdist's keeps it; the kernels'
    # sign is nan at a nan difference, and the p = inf mask nan where |diff| - dist is (inf - inf)
    torch = pytest.importorskip("torch")
    a = np.array([[nan, 1.0], [1.0, nan], [inf, 1.0], [0.5, -inf]])
    b = np.array([[0.0, 1.0], [inf, 0.0], [1.0, 1.0]])
    for p in (0.0, 0.5, 1.0, 2.0, 3.0, inf):
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (torch.cdist(ta, tb, p=p) * torch.arange(12.0, dtype=torch.float64).reshape(4, 3)).sum().backward()
        ours = run(f"sum(torch.cdist(a, b, {p}) * arange(12.).reshape(4, 3))", a=a, b=b)
        for got, want in ((ours.gradients["a"], ta.grad), (ours.gradients["b"], tb.grad)):
            np.testing.assert_array_equal(got, want.numpy(), err_msg=str(p))
        x = torch.tensor(np.concatenate([a, b]), requires_grad=True)
        want = torch.nn.functional.pdist(x, p=p)
        want.sum().backward()
        ours = run(f"sum(F.pdist(x, {p}))", x=x.detach().numpy())
        np.testing.assert_array_equal(ours.value, want.sum().item(), err_msg=str(p))
        np.testing.assert_array_equal(ours.gradients["x"], x.grad.numpy(), err_msg=str(p))
    assert run("torch.cdist(a, b, inf)[0, 1]", a=[[nan, 1.0]], b=[[0.0, 0.0], [inf, 0.0]]).value == 1.0


def test_p_zero_sends_no_gradient_upstream():
    # torch's norm_backward gives none at p = 0: an inf upstream of the difference meets no zeros
    r = run("F.pairwise_distance(x, y @ z, p=0) + torch.dist(x, y @ z, 0)", x=[1.0, 2.0], y=[[1.0, 2.0], [3.0, 4.0]],
            z=[inf, 1.0])
    np.testing.assert_array_equal(r.gradients["y"], np.zeros((2, 2)))


def test_cdist_refuses_what_torch_refuses():
    with pytest.raises(Exception, match="cdist takes rows"):
        run("torch.cdist(a, b)", a=[1.0, 2.0], b=[[1.0, 2.0]])
    with pytest.raises(Exception, match="non-negative p"):
        run("sum(torch.cdist(a, a, p=-1))", a=[[1.0, 2.0]])


@pytest.mark.parametrize("p", [2.0, 1.0, inf, 3.0, 0.0])
def test_pdist_agrees_with_torch(p):
    w = RNG.standard_normal(6)
    against_torch(f"sum(F.pdist(a, {p}) * w)", lambda t, a, w: (t.nn.functional.pdist(a, p) * w).sum(),
                  {"a": RNG.standard_normal((4, 3)), "w": w})
    against_torch(f"sum(torch.pdist(a, p={p}) * w)", lambda t, a, w: (t.pdist(a, p=p) * w).sum(),
                  {"a": [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, -1.0]], "w": w})


def test_pdist_order_is_row_major():
    r = run("F.pdist(a) @ w", a=[[0.0], [1.0], [3.0]], w=[1.0, 10.0, 100.0])
    assert r.value == 1 * 1 + 10 * 3 + 100 * 2


def test_distances_in_float32():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    against_torch("sum(torch.cdist(a, b, 3))", lambda t, a, b: t.cdist(a, b, 3).sum(), {"a": a, "b": b},
                  rtol=1e-5, dtype="float32")
    against_torch("sum(F.pdist(a))", lambda t, a: t.nn.functional.pdist(a).sum(), {"a": a}, rtol=1e-5, dtype="float32")
    against_torch("torch.dist(a, b[0])", lambda t, a, b: t.dist(a, b[0]), {"a": a, "b": b}, rtol=1e-5, dtype="float32")


# -- the affine products ------------------------------------------------------------------------------
AFFINE = [
    ("torch.addmm(c, a, b)", lambda t, c, a, b: t.addmm(c, a, b), ((2, 4), (2, 3), (3, 4))),
    ("c.addmm(a, b, beta=0.5, alpha=-2)", lambda t, c, a, b: c.addmm(a, b, beta=0.5, alpha=-2), ((4,), (2, 3), (3, 4))),
    ("torch.addmv(c, a, b, alpha=3)", lambda t, c, a, b: t.addmv(c, a, b, alpha=3), ((2,), (2, 3), (3,))),
    ("c.addmv(mat=a, vec=b, beta=2)", lambda t, c, a, b: c.addmv(a, b, beta=2), ((), (2, 3), (3,))),
    ("torch.addr(c, a, b, beta=2)", lambda t, c, a, b: t.addr(c, a, b, beta=2), ((2, 3), (2,), (3,))),
    ("c.addr(a, b, alpha=0.5)", lambda t, c, a, b: c.addr(a, b, alpha=0.5), ((3,), (2,), (3,))),
    ("torch.baddbmm(c, a, b, beta=0.25)", lambda t, c, a, b: t.baddbmm(c, a, b, beta=0.25), ((2, 2, 4), (2, 2, 3), (2, 3, 4))),
    ("c.baddbmm(a, b)", lambda t, c, a, b: c.baddbmm(a, b), ((2, 4), (2, 2, 3), (2, 3, 4))),
    ("torch.addbmm(c, a, b, alpha=0.5)", lambda t, c, a, b: t.addbmm(c, a, b, alpha=0.5), ((4,), (3, 2, 3), (3, 3, 4))),
    ("c.addbmm(a, b, beta=-1)", lambda t, c, a, b: c.addbmm(a, b, beta=-1), ((2, 4), (3, 2, 3), (3, 3, 4))),
]


@pytest.mark.parametrize("text, torch_fn, shapes", AFFINE, ids=[c[0] for c in AFFINE])
def test_affine_products_agree_with_torch(text, torch_fn, shapes):
    values = {k: RNG.standard_normal(s) for k, s in zip("cab", shapes)}
    r = against_torch(f"sum(({text}) ** 2)", lambda t, c, a, b: (torch_fn(t, c, a, b) ** 2).sum(), values)
    torch = pytest.importorskip("torch")
    leaves = [torch.tensor(values[k], requires_grad=True) for k in "cab"]
    theirs = torch.autograd.functional.hessian(lambda c, a, b: (torch_fn(torch, c, a, b) ** 2).sum(), tuple(leaves))
    ours = functional.hessian(f"sum(({text}) ** 2)", values).hessian
    for i, x in enumerate("cab"):
        for j, y in enumerate("cab"):
            np.testing.assert_allclose(ours[x][y], theirs[i][j].numpy(), rtol=1e-12, atol=1e-12, err_msg=f"{x}{y}")
    assert r.value > 0


def test_affine_products_at_zero_scalars_as_torch():
    # beta = 0 ignores input (its nan does not pass; its gradient is 0)
    r = run("sum(torch.addmm(c, a, b, beta=0))", c=[[nan, nan], [nan, nan]], a=[[1.0, 2.0], [3.0, 4.0]],
            b=[[1.0, 0.0], [0.0, 1.0]])
    assert r.value == 10.0
    np.testing.assert_array_equal(r.gradients["c"], np.zeros((2, 2)))
    # alpha = 0: addmm, addmv and addbmm leave the product out; addr and baddbmm multiply it by 0 (inf gives nan)
    m, ones = [[inf, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]
    assert run("sum(torch.addmm(c, m, n, alpha=0))", c=ones, m=m, n=ones).value == 4.0
    # (the product's cotangent times 0, as torch's maybe_multiply: an inf in n gives nan)
    np.testing.assert_array_equal(run("sum(torch.addmm(c, m, n, alpha=0))", c=ones, m=ones, n=m).gradients["m"],
                                  [[nan, 0.0], [nan, 0.0]])
    assert run("sum(torch.addmv(c, m, v, alpha=0))", c=[1.0, 1.0], m=m, v=[1.0, 1.0]).value == 2.0
    assert np.isnan(run("sum(torch.addr(c, u, v, alpha=0))", c=ones, u=[inf, 1.0], v=[1.0, 1.0]).value)
    assert np.isnan(run("sum(torch.baddbmm(c, a, b, alpha=0))", c=ones, a=[m], b=[ones]).value)
    assert run("sum(torch.addbmm(c, a, b, alpha=0))", c=ones, a=[m], b=[ones]).value == 4.0
    for scalars in ({"alpha": 0}, {"beta": 0}):
        written = ", ".join(f"{k}={v}" for k, v in scalars.items())
        against_torch(f"sum(torch.addmm(c, m, n, {written}))",
                      lambda t, c, m, n: t.addmm(c, m, n, **scalars).sum(), {"c": ones, "m": m, "n": m})


def test_affine_products_in_float32():
    values = {"c": RNG.standard_normal((2, 4)), "a": RNG.standard_normal((2, 3)), "b": RNG.standard_normal((3, 4))}
    against_torch("sum(torch.addmm(c, a, b, alpha=2) ** 2)", lambda t, c, a, b: (t.addmm(c, a, b, alpha=2) ** 2).sum(),
                  values, rtol=1e-5, dtype="float32")


def test_affine_products_refuse_misfit_shapes():
    with pytest.raises(Exception, match="do not fit"):
        run("torch.addmm(c, a, b)", c=[1.0], a=[[1.0, 2.0]], b=[[1.0, 2.0]])
    with pytest.raises(Exception, match="does not broadcast"):
        run("torch.addmv(c, a, b)", c=[1.0, 2.0, 3.0], a=[[1.0, 2.0]], b=[1.0, 2.0])


@pytest.mark.parametrize("text, torch_fn, shapes", [
    ("torch.inner(a, b)", lambda t, a, b: t.inner(a, b), ((2, 3), (4, 3))),
    ("a.inner(b)", lambda t, a, b: a.inner(b), ((2, 2, 3), (3,))),
    ("torch.inner(a, b)", lambda t, a, b: t.inner(a, b), ((), (4, 3))),
    ("torch.vdot(a, b)", lambda t, a, b: t.vdot(a, b), ((3,), (3,))),
    ("a.vdot(b)", lambda t, a, b: a.vdot(b), ((4,), (4,)))], ids=lambda v: v if isinstance(v, str) else "")
def test_inner_and_vdot_agree_with_torch(text, torch_fn, shapes):
    values = {k: RNG.standard_normal(s) for k, s in zip("ab", shapes)}
    against_torch(f"sum(({text}) ** 2)", lambda t, a, b: (torch_fn(t, a, b) ** 2).sum(), values)


# -- node names and the command line ----------------------------------------------------------------
@pytest.mark.parametrize("text, node", [("torch.addmm(c, a, b)", "AddmmBackward0"),
                                        ("torch.addmv(c[0], a, b[:, 0])", "AddmvBackward0"),
                                        ("torch.addr(c, a[0], b[0])", "AddrBackward0"),
                                        ("c.baddbmm(a[None], b[None])", "BaddbmmBackward0"),
                                        ("c.addbmm(a[None], b[None])", "AddbmmBackward0"),
                                        ("c + torch.cdist(a, b.T)", "CdistBackward0")])
def test_node_names_are_torchs(text, node, cli):
    run_ = cli("graph", f"sum({text})", "--c", "randn(2,2)", "--a", "randn(2,2)", "--b", "randn(2,2)")
    assert run_.exit_code == 0, run_.stderr
    assert f"{node}  " in run_.stdout


def test_gradcli_run_names_the_nodes_as_torch(tmp_path, cli):
    script = tmp_path / "d.py"
    script.write_text("import torch\nimport torch.nn.functional as F\n"
                      "a = torch.tensor([[0., 1.], [2., 2.]], requires_grad=True)\n"
                      "b = torch.tensor([[1., 1.], [0., 0.]])\n"
                      "print(type(torch.dist(a, b).grad_fn).__name__, type(F.pairwise_distance(a, b).grad_fn).__name__,"
                      " type(F.pdist(a).grad_fn).__name__, type(torch.addmm(b, a, b).grad_fn).__name__)\n")
    out = cli("run", str(script))
    assert out.exit_code == 0, out.stderr
    assert out.stdout.split() == ["DistBackward0", "NormBackward1", "PdistBackward0", "AddmmBackward0"]


def test_cli_gradient_of_a_distance(cli):
    out = cli("grad", "sum(torch.cdist(a, b, p=1))", "--a", "0,0;1,2", "--b", "0,0;2,3;1,1", "-f", "json").json()
    assert out["value"] == 0 + 5 + 2 + 3 + 2 + 1
    assert out["gradients"]["a"] == [[-2.0, -2.0], [0.0, 1.0]]
    assert out["gradients"]["b"] == [[-1.0, -1.0], [2.0, 2.0], [1.0, 0.0]]
