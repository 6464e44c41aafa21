"""The losses (ops/losses.py, ops/loss_rules.py) and softmin, cosine_similarity: values and gradients.

With torch, every loss is compared with torch.nn.functional on fixed inputs for each
reduction, weight, label_smoothing and ignore_index, first and second derivatives; the
pinned numbers below hold without torch (written out from the formulas). The command-line
tests run the real app. The registry-wide tests and the differential suite cover them too.
"""

from __future__ import annotations

import json
import math

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
]


class _Named:
    """The tensors of a case by name, as torch wants them (class indices as integers)."""

    def __init__(self, torch, values):
        self.torch, self.F = torch, torch.nn.functional
        for name, v in values.items():
            setattr(self, name, torch.tensor(v).long() if name in "tk" else torch.tensor(v, requires_grad=True))


VALUES = {"a": A, "b": B, "p": P, "q": Q, "c": np.array([1.0, 0.5, 2.0]), "x": X, "t": CLASSES, "w": WEIGHT,
          "y": X.reshape(2, 2, 3).transpose(0, 2, 1), "k": CLASSES.reshape(2, 2)}  # (N, C, d1) and (N, d1)


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
