"""The losses (ops/losses.py, ops/loss_rules.py) and softmin, cosine_similarity: values and gradients.

With torch, every loss is compared with torch.nn.functional on fixed inputs for each
reduction, weight, label_smoothing and ignore_index, first and second derivatives; the
pinned numbers below hold without torch (written out from the formulas). The command-line
tests run the real app. The registry-wide tests and the differential suite cover them too.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from conftest import run_cli

from gradcli.api import functional
from gradcli.errors import GradcliError

X = np.array([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4], [-0.7, 0.9, 0.2], [0.0, 2.2, -1.1]])  # (N, C) logits
CLASSES = np.array([2.0, 0.0, 1.0, 1.0])
WEIGHT = np.array([0.5, 2.0, 1.5])
A = np.array([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]])
B = np.array([[1.0, -1.2, 0.5], [1.0, 0.6, -2.4]])  # d = A - B: 0 (l1's kink), 0.5 (huber's delta) and more


def _log_softmax(x, axis):
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def test_cross_entropy_with_class_indices_is_the_weighted_mean_of_picked_log_probabilities():
    r = functional.grad("cross_entropy(x, t, w)", {"x": X, "t": CLASSES, "w": WEIGHT})
    logp = _log_softmax(X, 1)
    picked = logp[np.arange(4), CLASSES.astype(int)]
    w = WEIGHT[CLASSES.astype(int)]
    assert float(r.value) == pytest.approx(-(w * picked).sum() / w.sum(), rel=1e-14)
    # d/dx = w_n (softmax - onehot) / sum(w); the class indices get no gradient
    onehot = np.eye(3)[CLASSES.astype(int)]
    np.testing.assert_allclose(r.gradients["x"], w[:, None] * (np.exp(logp) - onehot) / w.sum(), rtol=1e-13)
    assert not np.any(r.gradients["t"])


def test_ignore_index_and_label_smoothing_as_written_out():
    r = functional.grad("cross_entropy(x, t, ignore_index=1, label_smoothing=0.2, reduction='sum')",
                        {"x": X, "t": CLASSES})
    logp = _log_softmax(X, 1)
    kept = CLASSES != 1
    nll = -logp[np.arange(4), CLASSES.astype(int)][kept].sum()
    uniform = -logp.sum(axis=1)[kept].sum()
    assert float(r.value) == pytest.approx(0.8 * nll + 0.2 / 3 * uniform, rel=1e-14)
    assert not np.any(r.gradients["x"][~kept])  # ignored rows get nothing


def test_class_indices_or_probabilities_are_told_by_shape():
    probabilities = np.exp(_log_softmax(B, 1))
    r = functional.grad("cross_entropy(a, p)", {"a": A, "p": probabilities})
    assert float(r.value) == pytest.approx(-(probabilities * _log_softmax(A, 1)).sum() / 2, rel=1e-14)
    np.testing.assert_allclose(r.gradients["p"], -_log_softmax(A, 1) / 2, rtol=1e-14)  # a target that gets one
    with pytest.raises(GradcliError, match=r"fits neither class indices \(shape \(2,\)\) nor probabilities"):
        functional.grad("cross_entropy(a, t)", {"a": A, "t": np.zeros(3)})
    with pytest.raises(GradcliError, match="target 3 is not a class index"):
        functional.grad("nll_loss(a, t)", {"a": A, "t": np.array([0.0, 3.0])})
    with pytest.raises(GradcliError, match="target 0.5 is not a class index"):
        functional.grad("nll_loss(a, t)", {"a": A, "t": np.array([0.5, 1.0])})


def test_huber_smooth_l1_and_l1_at_their_kinks_take_pytorchs_values():
    d = A - B  # [[-0.7, 0, 1.5], [0.5, -0.5, 2]]
    g = functional.grad("huber_loss(a, b, delta=0.5, reduction='sum')", {"a": A, "b": B}).gradients["a"]
    np.testing.assert_allclose(g, np.clip(d, -0.5, 0.5), rtol=1e-15)  # ±delta at |d| = delta, from either side
    g = functional.grad("smooth_l1_loss(a, b, beta=0.5, reduction='sum')", {"a": A, "b": B}).gradients["a"]
    np.testing.assert_allclose(g, np.clip(d / 0.5, -1, 1), rtol=1e-15)
    g = functional.grad("l1_loss(a, b, reduction='sum')", {"a": A, "b": B}).gradients["a"]
    np.testing.assert_array_equal(g, np.sign(d))  # 0 where they are equal
    h = functional.hessian("huber_loss(a, b, delta=0.5, reduction='sum')", {"a": A[1], "b": B[1]}).hessian["a"]["a"]
    np.testing.assert_array_equal(h, np.zeros((3, 3)))  # |d| >= delta everywhere in this row: 0, as PyTorch


def test_margin_ranking_passes_the_gradient_on_the_hinge():
    r = functional.grad("margin_ranking_loss(a, b, y, margin=0.5, reduction='sum')",
                        {"a": np.array([1.0, 2.0]), "b": np.array([0.5, 0.0]), "y": np.array([1.0, 1.0])})
    assert float(r.value) == 0.0
    np.testing.assert_array_equal(r.gradients["a"], [-1.0, 0.0])  # value 0 at the first: still the slope


@pytest.mark.parametrize("text", [
    "F.cross_entropy(x, t)", "sum(torch.nn.functional.cross_entropy(x, t, reduction='none'))",
    "nll_loss(log_softmax(x, dim=1), t, w, reduction='sum')", "cross_entropy(x, t, weight=w, label_smoothing=0.1)",
])
def test_command_line_runs_the_losses(text):
    weight = ("--w", json.dumps(WEIGHT.tolist())) if "w" in text.replace("weight", "") else ()
    run = run_cli("grad", text, "--x", json.dumps(X.tolist()), "--t", json.dumps(CLASSES.tolist()), *weight,
                  "--wrt", "x", "--format", "json")
    assert run.exit_code == 0, run.stderr
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    t, w = torch.tensor(CLASSES).long(), torch.tensor(WEIGHT)
    tf = torch.nn.functional
    want = {"F.cross_entropy(x, t)": lambda: tf.cross_entropy(x, t),
            "sum(torch.nn.functional.cross_entropy(x, t, reduction='none'))":
                lambda: tf.cross_entropy(x, t, reduction="none").sum(),
            "nll_loss(log_softmax(x, dim=1), t, w, reduction='sum')":
                lambda: tf.nll_loss(torch.log_softmax(x, 1), t, w, reduction="sum"),
            "cross_entropy(x, t, weight=w, label_smoothing=0.1)":
                lambda: tf.cross_entropy(x, t, weight=w, label_smoothing=0.1)}[text]()
    got = run.json()
    assert got["value"] == pytest.approx(want.item(), rel=1e-13)
    np.testing.assert_allclose(got["gradients"]["x"], torch.autograd.grad(want, x)[0].numpy(), rtol=1e-12)


def test_a_wrong_reduction_is_named():
    run = run_cli("grad", "mse_loss(a, b, reduction='average')", "--a", "[1, 2]", "--b", "[0, 0]")
    assert run.exit_code != 0
    assert "takes reduction= as 'mean' or 'sum' or 'none', not 'average'" in run.stderr


# -- against torch --------------------------------------------------------------------------
P = np.array([[0.2, 0.7, 0.9], [0.5, 0.05, 0.35]])  # probabilities (bce's input)
Q = np.array([[0.0, 1.0, 0.6], [0.5, 0.3, 1.0]])

CASES = [  # gradcli text, its variables, those torch differentiates, torch's function of the named tensors
    ("mse_loss(a, b{r})", "ab", "ab", lambda t, r: t.F.mse_loss(t.a, t.b, reduction=r)),
    ("l1_loss(a, b{r})", "ab", "ab", lambda t, r: t.F.l1_loss(t.a, t.b, reduction=r)),
    ("huber_loss(a, b{r}, delta=0.5)", "ab", "ab", lambda t, r: t.F.huber_loss(t.a, t.b, reduction=r, delta=0.5)),
    ("smooth_l1_loss(a, b{r}, beta=0.5)", "ab", "ab",
     lambda t, r: t.F.smooth_l1_loss(t.a, t.b, reduction=r, beta=0.5)),
    ("smooth_l1_loss(a, b{r}, beta=0)", "ab", "ab", lambda t, r: t.F.smooth_l1_loss(t.a, t.b, reduction=r, beta=0.0)),
    ("kl_div(log_softmax(a, dim=1), p{r})", "ap", "ap",
     lambda t, r: t.F.kl_div(t.torch.log_softmax(t.a, 1), t.p, reduction=r)),
    ("kl_div(a, b{r}, log_target=True)", "ab", "ab", lambda t, r: t.F.kl_div(t.a, t.b, reduction=r, log_target=True)),
    ("margin_ranking_loss(a[0], a[1], b[1]{r}, margin=0.3)", "ab", "ab",
     lambda t, r: t.F.margin_ranking_loss(t.a[0], t.a[1], t.b[1], reduction=r, margin=0.3)),
    ("binary_cross_entropy(p, q{r})", "pq", "pq", lambda t, r: t.F.binary_cross_entropy(t.p, t.q, reduction=r)),
    ("binary_cross_entropy(p, q, c{r})", "pqc", "pq",
     lambda t, r: t.F.binary_cross_entropy(t.p, t.q, t.c.detach(), reduction=r)),
    ("binary_cross_entropy_with_logits(a, q{r})", "aq", "aq",
     lambda t, r: t.F.binary_cross_entropy_with_logits(t.a, t.q, reduction=r)),
    ("binary_cross_entropy_with_logits(a, q, weight=c, pos_weight=w{r})", "aqcw", "aq",
     lambda t, r: t.F.binary_cross_entropy_with_logits(t.a, t.q, weight=t.c.detach(), pos_weight=t.w.detach(),
                                                       reduction=r)),
    ("cross_entropy(x, t{r})", "xt", "x", lambda t, r: t.F.cross_entropy(t.x, t.t, reduction=r)),
    ("cross_entropy(x, t, w{r}, ignore_index=0)", "xtw", "x",
     lambda t, r: t.F.cross_entropy(t.x, t.t, t.w.detach(), reduction=r, ignore_index=0)),
    ("cross_entropy(x, t, w{r}, label_smoothing=0.25)", "xtw", "x",
     lambda t, r: t.F.cross_entropy(t.x, t.t, t.w.detach(), reduction=r, label_smoothing=0.25)),
    ("cross_entropy(x, t{r}, ignore_index=1, label_smoothing=0.25)", "xt", "x",
     lambda t, r: t.F.cross_entropy(t.x, t.t, reduction=r, ignore_index=1, label_smoothing=0.25)),
    ("cross_entropy(a, p, w{r}, label_smoothing=0.1)", "apw", "apw",
     lambda t, r: t.F.cross_entropy(t.a, t.p, t.w, reduction=r, label_smoothing=0.1)),
    ("cross_entropy(x[0], t[0]{r})", "xt", "x", lambda t, r: t.F.cross_entropy(t.x[0], t.t[0], reduction=r)),
    ("cross_entropy(y, k, w{r})", "ykw", "y", lambda t, r: t.F.cross_entropy(t.y, t.k, t.w.detach(), reduction=r)),
    ("nll_loss(log_softmax(x, dim=1), t, w{r}, ignore_index=2)", "xtw", "x",
     lambda t, r: t.F.nll_loss(t.torch.log_softmax(t.x, 1), t.t, t.w.detach(), reduction=r, ignore_index=2)),
    ("soft_margin_loss(a, s{r})", "as", "a", lambda t, r: t.F.soft_margin_loss(t.a, t.s.detach(), reduction=r)),
    ("poisson_nll_loss(a, v{r}, full=True)", "av", "av", lambda t, r: t.F.poisson_nll_loss(t.a, t.v, full=True,
                                                                                           reduction=r)),
    ("poisson_nll_loss(p, q{r}, log_input=False, eps=0.1)", "pq", "pq",
     lambda t, r: t.F.poisson_nll_loss(t.p, t.q, log_input=False, eps=0.1, reduction=r)),
    ("gaussian_nll_loss(a, b, v{r})", "abv", "abv", lambda t, r: t.F.gaussian_nll_loss(t.a, t.b, t.v, reduction=r)),
    ("gaussian_nll_loss(a, b, c[:2]{r}, full=True, eps=0.75)", "abc", "abc",
     lambda t, r: t.F.gaussian_nll_loss(t.a, t.b, t.c[:2], full=True, eps=0.75, reduction=r)),
    ("multilabel_soft_margin_loss(a, q, c{r})", "aqc", "aqc",
     lambda t, r: t.F.multilabel_soft_margin_loss(t.a, t.q, t.c, reduction=r)),
    ("cosine_embedding_loss(a, b, u{r}, margin=0.2)", "abu", "ab",
     lambda t, r: t.F.cosine_embedding_loss(t.a, t.b, t.u, margin=0.2, reduction=r)),
    ("triplet_margin_loss(a, b, n{r}, swap=True)", "abn", "abn",
     lambda t, r: t.F.triplet_margin_loss(t.a, t.b, t.n, swap=True, reduction=r)),
    ("triplet_margin_loss(a, b, n{r}, margin=2, p=1, eps=0)", "abn", "abn",
     lambda t, r: t.F.triplet_margin_loss(t.a, t.b, t.n, margin=2.0, p=1, eps=0.0, reduction=r)),
]


class _Named:
    """The tensors of a case by name, as torch wants them (class indices as integers)."""

    def __init__(self, torch, values):
        self.torch, self.F = torch, torch.nn.functional
        for name, v in values.items():
            setattr(self, name, torch.tensor(v).long() if name in "tk" else torch.tensor(v, requires_grad=True))


VALUES = {"a": A, "b": B, "p": P, "q": Q, "c": np.array([1.0, 0.5, 2.0]), "x": X, "t": CLASSES, "w": WEIGHT,
          "y": X.reshape(2, 2, 3).transpose(0, 2, 1), "k": CLASSES.reshape(2, 2),  # (N, C, d1) and (N, d1)
          "s": np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, 0.5]]), "u": np.array([1.0, -1.0]),  # signs
          "v": np.array([[0.5, 2.0, 3.5], [1e-9, 1.0, 7.0]]),  # variances (one below eps), counts above 1
          "n": np.array([[0.2, 0.1, 0.0], [0.9, -0.3, 0.4]])}  # a negative


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("text, names, compared, reference", CASES, ids=[c[0].replace("{r}", "") for c in CASES])
def test_value_gradient_and_hessian_agree_with_torch(text, names, compared, reference, reduction):
    torch = pytest.importorskip("torch")
    text = text.format(r=f", reduction='{reduction}'")
    values = {n: VALUES[n] for n in names}
    t = _Named(torch, values)
    summed = reference(t, reduction).sum()
    r = functional.grad(f"sum({text})", values)
    np.testing.assert_allclose(float(r.value), summed.item(), rtol=1e-13, err_msg=text)
    grads = torch.autograd.grad(summed, [getattr(t, n) for n in compared], create_graph=True)
    for n, g in zip(compared, grads):
        np.testing.assert_allclose(r.gradients[n], g.detach().numpy(force=True), rtol=1e-12, atol=1e-15,
                                   err_msg=f"{text}: d/d{n}")
    # second order: the Hessian in the first input times a direction, against torch's Hessian-vector product
    first = compared[0]
    v = np.linspace(-1, 1, values[first].size).reshape(values[first].shape)
    hvp = torch.autograd.grad((grads[0] * torch.tensor(v)).sum(), getattr(t, first), allow_unused=True,
                              materialize_grads=True)[0].numpy(force=True)
    h = functional.hessian(f"sum({text})", values, wrt=[first]).hessian[first][first]
    np.testing.assert_allclose(np.tensordot(np.asarray(h), v, axes=v.ndim), hvp, rtol=1e-10, atol=1e-12,
                               err_msg=f"{text}: Hessian times v")


def test_weights_get_their_gradient_where_torch_refuses_one():
    # d/dw_k of the weighted mean sum(w_n l_n) / sum(w_n): (sum over n of class k of (l_n - loss)) / sum(w_n)
    r = functional.grad("cross_entropy(x, t, w)", {"x": X, "t": CLASSES, "w": WEIGHT})
    losses = -_log_softmax(X, 1)[np.arange(4), CLASSES.astype(int)]
    w = WEIGHT[CLASSES.astype(int)]
    expected = [sum(losses[n] - float(r.value) for n in range(4) if CLASSES[n] == k) / w.sum() for k in range(3)]
    np.testing.assert_allclose(r.gradients["w"], expected, rtol=1e-13)
    r = functional.grad("binary_cross_entropy(p, q, c, reduction='sum')", {"p": P, "q": Q, "c": VALUES["c"]})
    entries = -(Q * np.log(P) + (1 - Q) * np.log(1 - P))
    np.testing.assert_allclose(r.gradients["c"], entries.sum(axis=0), rtol=1e-13)


def test_cosine_similarity_and_softmin():
    a, b = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]]), np.array([[2.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    r = functional.grad("sum(cosine_similarity(a, b))", {"a": a, "b": b})
    assert float(r.value) == pytest.approx(4 / 3 / math.sqrt(5), rel=1e-14)  # the zero row: 0, its norm eps
    np.testing.assert_allclose(r.gradients["a"][0], b[0] / 3 / math.sqrt(5) - (4 / 3 / math.sqrt(5)) * a[0] / 9,
                               rtol=1e-13)
    s = functional.grad("softmin(x, dim=0)[0]", {"x": np.array([1.0, 2.0])})
    assert float(s.value) == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-14)


# -- the margin and likelihood losses at their kinks and edges --------------------------------
def test_soft_margin_loss_far_from_zero_is_torchs_log1p_of_exp():
    x, y = np.array([-800.0, -40.0, 40.0, 800.0]), np.ones(4)
    r = functional.grad("soft_margin_loss(x, y, reduction='sum')", {"x": x, "y": y})
    assert float(r.value) == math.inf  # exp(800) overflows: PyTorch's inf
    # the slope -y z / (1 + z), z = exp(-x y): inf / inf is nan at -800; exp(-40) survives at 40
    np.testing.assert_array_equal(r.gradients["x"][[1, 3]], [-1.0, -0.0])
    assert math.isnan(r.gradients["x"][0])
    assert r.gradients["x"][2] == pytest.approx(-math.exp(-40.0), rel=1e-15)
    row = functional.hessian("soft_margin_loss(x, y, reduction='sum')", {"x": x[1:3], "y": y[1:3]}).hessian["x"]["x"]
    np.testing.assert_allclose(np.diag(row), [math.exp(-40.0)] * 2, rtol=1e-14)  # z / (1 + z)**2, both sides
    r = functional.grad("soft_margin_loss(x, y, reduction='sum')", {"x": np.array([0.5]), "y": np.array([-2.0])})
    assert r.gradients["y"][0] == pytest.approx(-0.5 / (1 + math.exp(-1.0)), rel=1e-14)  # -x sigmoid(-x y)


def test_hinge_embedding_loss_passes_the_gradient_on_the_hinge():
    r = functional.grad("hinge_embedding_loss(x, y, margin=0.5, reduction='sum')",
                        {"x": np.array([0.5, 0.7, 0.2, 0.3]), "y": np.array([-1.0, -1.0, 1.0, 0.0])})
    assert float(r.value) == pytest.approx(0.0 + 0.0 + 0.2 + (0.2 + 0.3), rel=1e-15)
    # at x = margin (value 0) the slope -1 passes, as clamp_min; a target of neither sign takes both terms
    np.testing.assert_array_equal(r.gradients["x"], [-1.0, 0.0, 1.0, 0.0])
    assert not np.any(r.gradients["y"])


def test_poisson_full_adds_stirling_only_above_one():
    x, t = np.array([0.3, 0.3, 0.3, 0.3]), np.array([0.0, 0.5, 1.0, 2.0])
    r = functional.grad("poisson_nll_loss(x, t, full=True, reduction='none')[1] + poisson_nll_loss(x, t, "
                        "full=True, reduction='sum')", {"x": x, "t": t})
    plain = np.exp(x) - t * x
    stirling = 2 * math.log(2) - 2 + 0.5 * math.log(4 * math.pi)
    assert float(r.value) == pytest.approx(plain[1] + plain.sum() + stirling, rel=1e-14)
    # d/dt: -x below 1 (and torch's nan at 0, 0 times log 0); log(t) + 1/(2t) - x above
    assert math.isnan(r.gradients["t"][0])
    np.testing.assert_allclose(r.gradients["t"][1:], [-0.6, -0.3, math.log(2) + 0.25 - 0.3], rtol=1e-14)


def test_gaussian_nll_clamps_var_and_passes_its_gradient():
    r = functional.grad("gaussian_nll_loss(x, t, v, reduction='sum')",
                        {"x": np.array([1.0, 1.0]), "t": np.array([0.0, 0.0]), "v": np.array([1e-9, 2.0])})
    eps = 1e-6
    assert float(r.value) == pytest.approx(0.5 * (math.log(eps) + 1 / eps) + 0.5 * (math.log(2) + 0.5), rel=1e-14)
    # the gradient at var's clamped value, flowing to var itself: (1/v - d**2/v**2) / 2 at v = eps
    np.testing.assert_allclose(r.gradients["v"], [0.5 * (1 / eps - 1 / eps**2), 0.5 * (0.5 - 0.25)], rtol=1e-13)
    with pytest.raises(GradcliError, match="var has a negative entry"):
        functional.grad("gaussian_nll_loss(x, t, v)", {"x": np.ones(2), "t": np.zeros(2), "v": np.array([1.0, -1.0])})
    with pytest.raises(GradcliError, match=r"var of shape \(3,\) does not fit an input of shape \(2, 2\)"):
        functional.grad("gaussian_nll_loss(x, x, v)", {"x": np.ones((2, 2)), "v": np.ones(3)})


def test_cosine_embedding_loss_adds_float32s_epsilon_to_each_squared_length():
    a, b = np.array([[1e-7, 0.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [4.0, 3.0]])
    values = {"a": a, "b": b, "y": np.array([1.0, -1.0])}
    eps = float(np.float32(1e-12))
    first = functional.grad("cosine_embedding_loss(a, b, y, margin=0.5, reduction='none')[0]", values)
    assert float(first.value) == pytest.approx(1 - 1e-7 / math.sqrt((1e-14 + eps) * (1 + eps)), rel=1e-14)
    second = functional.grad("cosine_embedding_loss(a, b, y, margin=0.5, reduction='none')[1]", values)
    assert float(second.value) == pytest.approx(24 / 25 - 0.5, rel=1e-14)


def test_multi_margin_and_multilabel_margin_pass_no_gradient_at_the_hinge():
    # row 0: target 1, margin - x[1] + x[0] = 0 exactly (no gradient); x[2] gives 0.7 (a gradient)
    x = np.array([[0.5, 1.5, 1.2], [0.0, 2.0, 0.5]])
    r = functional.grad("multi_margin_loss(x, t, reduction='sum')", {"x": x, "t": np.array([1.0, 0.0])})
    assert float(r.value) == pytest.approx((0.7 + 3.0 + 1.5) / 3, rel=1e-15)
    np.testing.assert_allclose(r.gradients["x"], [[0, -1 / 3, 1 / 3], [-2 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    # targets 1 and 3 (up to the -1); 1 - (x[1] - x[0]) = 0 passes nothing, the other three pairs do
    m = functional.grad("multilabel_margin_loss(x, t)", {"x": np.array([0.5, 1.5, 0.2, 1.0]),
                                                          "t": np.array([1.0, 3.0, -1.0, 0.0])})
    assert float(m.value) == pytest.approx((0.5 + 0.2 + 0.0 - 0.3 * 0) / 4, rel=1e-15)
    np.testing.assert_allclose(m.gradients["x"], [0.25, 0.0, 0.25, -0.5], rtol=1e-15)


# multilabel_margin_loss's targets: class indices up to the first -1 (a class twice counts twice)
LABELS = np.array([[2.0, 0.0, -1.0], [1.0, 1.0, 2.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 2.0]])
CLASS_CASES = [  # gradcli text, torch's function of x, the class indices, the weight, the labels, reduction
    ("multi_margin_loss(x, t{r})", lambda F, x, t, w, s, r: F.multi_margin_loss(x, t, reduction=r)),
    ("multi_margin_loss(x, t, w, p=2, margin=0.5{r})",
     lambda F, x, t, w, s, r: F.multi_margin_loss(x, t, p=2, margin=0.5, weight=w, reduction=r)),
    ("multi_margin_loss(x[1], t[1], margin=2{r})",
     lambda F, x, t, w, s, r: F.multi_margin_loss(x[1], t[1], margin=2.0, reduction=r)),
    ("multilabel_margin_loss(x, s{r})", lambda F, x, t, w, s, r: F.multilabel_margin_loss(x, s, reduction=r)),
]


def _used(text: str, values: dict) -> dict:
    """The values of the variables text names (a name of one letter, not an attribute's or a keyword's)."""
    names = set(re.findall(r"(?<![.\w])([a-z])(?![\w=(])", text))
    return {n: v for n, v in values.items() if n in names}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("text, reference", CLASS_CASES, ids=[c[0].replace("{r}", "") for c in CLASS_CASES])
def test_class_index_margin_losses_agree_with_torch(text, reference, reduction):
    # torch has no second derivative of these kernels: gradcli's Hessian is compared with central differences
    # of torch's gradient (0 for p = 1, piecewise constant for p = 2)
    torch = pytest.importorskip("torch")
    text = f"sum({text.format(r=f', reduction={reduction!r}')})"
    values = _used(text, {"x": X, "t": CLASSES, "w": WEIGHT, "s": LABELS})
    r = functional.grad(text, values, wrt=["x"])

    def torch_grad(x):
        x = torch.tensor(x, requires_grad=True)
        out = reference(torch.nn.functional, x, torch.tensor(CLASSES).long(), torch.tensor(WEIGHT),
                        torch.tensor(LABELS).long(), reduction).sum()
        return out.item(), torch.autograd.grad(out, x)[0].numpy()

    value, grad = torch_grad(X)
    assert float(r.value) == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(r.gradients["x"], grad, rtol=1e-13, atol=1e-16)
    h = np.asarray(functional.hessian(text, values, wrt=["x"]).hessian["x"]["x"]).reshape(X.size, X.size)
    step = 1e-6
    for i in range(X.size):
        up, down = X.copy().reshape(-1), X.copy().reshape(-1)
        up[i] += step
        down[i] -= step
        column = (torch_grad(up.reshape(X.shape))[1] - torch_grad(down.reshape(X.shape))[1]).reshape(-1) / (2 * step)
        np.testing.assert_allclose(h[:, i], column, rtol=1e-6, atol=1e-8)


def test_multi_margin_weight_gets_its_gradient():
    # loss = sum over rows of w[t] h_n / C, mean over N: d/dw_k = sum of h_n over rows of class k / (C N)
    r = functional.grad("multi_margin_loss(x, t, w)", {"x": X, "t": CLASSES, "w": WEIGHT})
    picked = X[np.arange(4), CLASSES.astype(int)]
    h = np.maximum(1 - picked[:, None] + X, 0)
    h[np.arange(4), CLASSES.astype(int)] = 0
    per_row = h.sum(axis=1) / 3
    expected = [per_row[CLASSES == k].sum() / 4 for k in range(3)]
    np.testing.assert_allclose(r.gradients["w"], expected, rtol=1e-14)


@pytest.mark.parametrize("text, reference", [
    ("F.hinge_embedding_loss(a, s, 0.5)", lambda t: t.F.hinge_embedding_loss(t.a, t.s, 0.5)),
    ("torch.nn.functional.poisson_nll_loss(p, v, False, True, eps=0.1, reduction='sum')",
     lambda t: t.F.poisson_nll_loss(t.p, t.v, False, True, eps=0.1, reduction="sum")),
    ("F.gaussian_nll_loss(a, b, v, True, 0.5)", lambda t: t.F.gaussian_nll_loss(t.a, t.b, t.v, True, 0.5)),
    ("F.gaussian_nll_loss(a, b, c[0])", lambda t: t.F.gaussian_nll_loss(t.a, t.b, t.c[0] * t.torch.ones(2, 3))),
    ("F.cosine_embedding_loss(a, b, u, 0.3)", lambda t: t.F.cosine_embedding_loss(t.a, t.b, t.u, 0.3)),
    ("F.triplet_margin_loss(a, b, n, 0.5, 1, 1e-3, True, reduction='none')",
     lambda t: t.F.triplet_margin_loss(t.a, t.b, t.n, 0.5, 1, 1e-3, True, reduction="none")),
    ("a.soft_margin_loss(s)", lambda t: t.F.soft_margin_loss(t.a, t.s.detach())),
    ("F.multilabel_soft_margin_loss(a, q, weight=c, reduction='none')",
     lambda t: t.F.multilabel_soft_margin_loss(t.a, t.q, weight=t.c, reduction="none")),
    ("F.multi_margin_loss(x, t, 2, 0.5)", None),
], ids=lambda v: v if isinstance(v, str) else "")
def test_pytorch_calls_by_position_and_by_name(text, reference):
    torch = pytest.importorskip("torch")
    values = _used(text, VALUES)
    names = sorted(values)
    if reference is None:  # multi_margin_loss's third place is weight: p and margin by name
        with pytest.raises(GradcliError, match="give p, margin, reduction by name"):
            functional.grad(f"sum({text})", values)
        with pytest.raises(GradcliError, match="give p and margin by name"):
            functional.grad(f"sum({text.replace(', 0.5', '')})", values)
        return
    t = _Named(torch, values)
    expected = reference(t).sum()
    r = functional.grad(f"sum({text})", values)
    assert float(r.value) == pytest.approx(expected.item(), rel=1e-13)
    first = names[0]
    want = torch.autograd.grad(expected, getattr(t, first))[0].numpy()
    np.testing.assert_allclose(r.gradients[first], want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("text, says", [
    ("multi_margin_loss(x, t, p=3)", "takes p=1 or p=2"),
    ("multi_margin_loss(x, t[:2])", r"a target of shape \(4,\), not \(2,\)"),
    ("multi_margin_loss(x, t + 0.5)", "target 2.5 is not a class index"),
    ("multilabel_margin_loss(x, x)", "is not a class index"),
    ("triplet_margin_loss(x, x, x, margin=0)", "a margin above 0"),
    ("cosine_embedding_loss(x, x, x)", "cosine_embedding_loss takes vectors"),
])
def test_wrong_arguments_are_named(text, says):
    with pytest.raises(GradcliError, match=says):
        functional.grad(f"sum({text})", _used(text, {"x": X, "t": CLASSES}))


def test_command_line_runs_a_margin_loss():
    run = run_cli("grad", "F.triplet_margin_loss(a, p, n, margin=0.5)", "--a", "[[0, 1], [1, 1]]", "--p",
                  "[[0, 2], [1, 0]]", "--n", "[[1, 1], [1, 1.5]]", "--wrt", "a", "--format", "json")
    assert run.exit_code == 0, run.stderr
    torch = pytest.importorskip("torch")
    a = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.triplet_margin_loss(a, torch.tensor([[0.0, 2.0], [1.0, 0.0]], dtype=torch.float64),
                                                   torch.tensor([[1.0, 1.0], [1.0, 1.5]], dtype=torch.float64),
                                                   margin=0.5)
    assert run.json()["value"] == pytest.approx(loss.item(), rel=1e-14)
    np.testing.assert_allclose(run.json()["gradients"]["a"], torch.autograd.grad(loss, a)[0].numpy(), rtol=1e-12)


def test_margin_kernels_leave_a_nan_term_out():
    # PyTorch's kernels count a term `if (z > 0)`: a nan score drops out of the sum and takes no gradient
    x = np.array([[-0.3, np.nan, 0.25], [0.2, -np.inf, np.nan]])
    r = functional.grad("multi_margin_loss(x, t, reduction='sum')", {"x": x, "t": np.array([0.0, 1.0])}, wrt=["x"])
    assert float(r.value) == math.inf  # the second row's 1 + inf + 0.2
    np.testing.assert_array_equal(r.gradients["x"], [[-1 / 3, 0, 1 / 3], [1 / 3, -1 / 3, 0]])
    m = functional.grad("multilabel_margin_loss(x, t)", {"x": np.array([0.5, np.nan, 0.2, 1.0]),
                                                          "t": np.array([3.0, -1.0, 0.0, 0.0])}, wrt=["x"])
    assert float(m.value) == pytest.approx((0.5 + 0.2) / 4, rel=1e-15)
    np.testing.assert_allclose(m.gradients["x"], [0.25, 0.0, 0.25, -0.5], rtol=1e-15)
