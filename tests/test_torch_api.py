"""gradcli.torch against PyTorch: each item of its API computed both ways (tests that need torch import
it themselves, so that the others run without it), PyTorch's printing rules, the unsupported-feature
error, and `gradcli run` (exit statuses, the user's traceback, sys.argv, what it imports)."""

from __future__ import annotations

import math
import os
import subprocess
import warnings
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcli.torch as gt
import gradcli.torch.nn.functional as GF

ROOT = Path(__file__).resolve().parent.parent


def real_torch():
    return pytest.importorskip("torch")


def close(ours, theirs, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(ours.detach()._t.data), theirs.detach().numpy(), rtol=rtol, atol=1e-7)


# -- printing ---------------------------------------------------------------------------------
PRINTED = [
    ([1.0, 2.0, 3.0], "tensor([1., 2., 3.])"),
    ([0.6666667, 0.6666667], "tensor([0.6667, 0.6667])"),
    ([5.0, 14.0, 27.0], "tensor([ 5., 14., 27.])"),
    ([1e-5, 1.0], "tensor([1.0000e-05, 1.0000e+00])"),
    ([1.0, 2000.0], "tensor([1.0000e+00, 2.0000e+03])"),
    ([1.5, float("nan"), float("inf")], "tensor([1.5000,    nan,    inf])"),
    (91.5, "tensor(91.5000)"),
    (1024.0, "tensor(1024.)"),
    ([[1.0, 2.0], [3.0, 4.0]], "tensor([[1., 2.],\n        [3., 4.]])"),
]


@pytest.mark.parametrize(("values", "text"), PRINTED, ids=[t for _, t in PRINTED])
def test_printing_follows_pytorchs_rules(values, text):
    assert repr(gt.tensor(values)) == text


def test_printing_wraps_at_80_columns_and_summarises_above_1000_entries():
    # as PyTorch 2.13 prints torch.arange(30) / 7: 9 entries of width 6 (+2) fit in 80 - 7 columns
    assert repr(gt.arange(30) / 7) == (
        "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
        "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
        "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
        "        3.8571, 4.0000, 4.1429])")
    summary = repr(gt.arange(1001.0))
    assert summary == "tensor([   0.,    1.,    2.,  ...,  998.,  999., 1000.])"
    matrix = repr(gt.ones(40, 30))
    assert matrix.splitlines()[0] == "tensor([[1., 1., 1.,  ..., 1., 1., 1.],"
    assert "        ...," in matrix.splitlines()


def test_printing_adds_dtype_grad_fn_and_requires_grad_as_pytorch_does():
    x = gt.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(gt.tensor([1.0], dtype=gt.float64)) == "tensor([1.], dtype=torch.float64)"
    assert repr(gt.tensor(2.0) == gt.tensor(2.0)) == "tensor(True)"
    assert str(gt.ones(2, 3).shape) == "torch.Size([2, 3])"


@pytest.mark.parametrize("seed", range(12))
def test_printing_matches_pytorch_on_random_tensors(seed):
    torch = real_torch()
    rng = np.random.default_rng(seed)
    shape = [(), (7,), (3, 4), (2, 3, 4), (30,), (1200,), (40, 40), (5, 300)][seed % 8]
    scale = 10.0 ** rng.integers(-6, 9)
    values = (rng.standard_normal(shape) * scale).astype(np.float32)
    if seed % 3 == 0:
        values = np.round(values)
    if seed % 4 == 1 and values.size > 2:
        values.flat[1] = np.inf
    assert repr(gt.tensor(values)) == repr(torch.tensor(values))
    assert repr(gt.tensor(values.astype(np.float64))) == repr(torch.tensor(values.astype(np.float64)))


# -- creation -------------------------------------------------------------------------------------
def test_creation_functions_make_what_torch_makes():
    torch = real_torch()
    torch.manual_seed(0)
    cases = [("zeros", (2, 3)), ("ones", (4,)), ("eye", (3,)), ("full", ((2, 2), 7.0)), ("arange", (5,)),
             ("arange", (1.0, 2.0, 0.25)), ("linspace", (0.0, 1.0, 5))]
    for name, args in cases:
        ours, theirs = getattr(gt, name)(*args), getattr(torch, name)(*args)
        if name != "arange" or isinstance(args[0], float):  # (torch.arange(5) is int64: ours is float32)
            assert repr(ours) == repr(theirs), name
        assert tuple(ours.shape) == tuple(theirs.shape)
    x = gt.tensor([[1.0, 2.0]], requires_grad=True)
    assert repr(gt.ones_like(x)) == repr(torch.ones_like(torch.tensor([[1.0, 2.0]], requires_grad=True)))
    assert gt.zeros_like(x).requires_grad is False
    assert repr(gt.FloatTensor([[2, 3]])) == repr(torch.FloatTensor([[2, 3]]))
    assert repr(gt.DoubleTensor([1, 2])) == repr(torch.DoubleTensor([1, 2]))
    assert gt.randn(5, 3, requires_grad=True).shape == (5, 3)
    assert gt.randn(size=()).dim() == 0


def test_the_default_dtype_is_float32_and_can_be_changed():
    assert gt.tensor([1.0]).dtype is gt.float32 and gt.get_default_dtype() is gt.float32
    gt.set_default_dtype(gt.float64)
    try:
        assert gt.tensor([1.0]).dtype is gt.float64 and gt.zeros(2).dtype is gt.float64
        assert repr(gt.tensor([1.0], dtype=gt.float32)) == "tensor([1.], dtype=torch.float32)"
    finally:
        gt.set_default_dtype(gt.float32)


def test_manual_seed_repeats_the_draws():
    gt.manual_seed(3)
    first = gt.randn(4).tolist()
    gt.manual_seed(3)
    assert gt.randn(4).tolist() == first


# -- operations: the registry under torch's names ------------------------------------------------------
FUNCTIONS = [
    ("matmul", lambda m, x, W, v: m.matmul(W, x)),
    ("mm", lambda m, x, W, v: m.mm(W, W.t())),
    ("exp/log/sin", lambda m, x, W, v: m.exp(x) + m.log(m.abs(x) + 1) * m.sin(x)),
    ("pow method", lambda m, x, W, v: x.pow(3) + x ** 2),
    ("mean dim", lambda m, x, W, v: W.mean(dim=0)),
    ("sum keepdim", lambda m, x, W, v: W.sum(dim=1, keepdim=True) * W),
    ("norm", lambda m, x, W, v: x.norm()),
    ("relu softmax", lambda m, x, W, v: v.relu(x) + v.softmax(W, dim=1).sum(0)),
    ("mse_loss", lambda m, x, W, v: v.mse_loss(x, x * 0.5 + 1)),
    ("bce logits", lambda m, x, W, v: v.binary_cross_entropy_with_logits(x, m.sigmoid(x).detach())),
    ("tanh method", lambda m, x, W, v: x.tanh().sum()),
    ("index", lambda m, x, W, v: W[1, 0] * x[2] + W[:, 1].sum()),
    ("view t", lambda m, x, W, v: W.view(3, 2).t() * 2),
    # max and min along a dim give (values, indices), as torch.return_types.max
    ("max dim", lambda m, x, W, v: m.max(W, 0)[0] * W.min(dim=0).values + W.max(1, keepdim=True).indices),
    ("max whole", lambda m, x, W, v: W.max() * x),
    ("gather", lambda m, x, W, v: W.gather(1, m.tensor([[0, 2], [1, 1]])) + m.gather(W, 0, m.tensor([[1, 0]]))),
    ("linear", lambda m, x, W, v: v.linear(W, W, x[:2])),
    ("torch.special", lambda m, x, W, v: m.special.gammaln(m.abs(x) + 1) + m.special.expit(x) * m.special.ndtr(x)),
]


@pytest.mark.parametrize("case", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_operations_agree_with_torch_in_value_and_gradient(case):
    torch = real_torch()
    _, f = case
    xs, Ws = [0.5, -1.2, 2.0], [[0.3, -0.7, 1.1], [0.9, 0.2, -0.4]]
    x, W = gt.tensor(xs, requires_grad=True), gt.tensor(Ws, requires_grad=True)
    tx, tW = torch.tensor(xs, requires_grad=True), torch.tensor(Ws, requires_grad=True)
    ours, theirs = f(gt, x, W, GF), f(torch, tx, tW, torch.nn.functional)
    close(ours, theirs)
    assert ours.dtype is gt.float32
    ours.sum().backward()
    theirs.sum().backward()
    for a, b in ((x, tx), (W, tW)):
        if b.grad is None:
            assert a.grad is None
        else:
            close(a.grad, b.grad, rtol=1e-5)
    assert ours.grad_fn.name() == theirs.grad_fn.name()




def _linalg(m, A, b):
    """A sum over torch.linalg's functions gradcli has, each with torch.linalg's own defaults."""
    L = m.linalg
    return (L.norm(A, 2) + L.norm(A) + L.norm(b, 3) + L.det(A) + L.inv(A).sum() + (L.solve(A, b) ** 2).sum()
            + L.diagonal(A.reshape(1, 3, 3)).sum() * 0.5 + L.vander(b).sum() * 0.1 + L.matrix_norm(A, "nuc")
            + L.vector_norm(A, 1) + L.slogdet(A)[1] + L.matrix_power(A, 3).sum() * 0.01
            + (L.cross(A, A.flip(0)) * A).sum() + L.svdvals(A).sum() + L.eigvalsh(A + A.T).sum() + L.pinv(A).sum()
            + L.matrix_exp(A * 0.1).sum() + L.cholesky(A @ A.T).sum()
            + L.solve_triangular(A.triu(), b[:, None], upper=True).sum() + L.matmul(A, b).sum())


def test_torch_linalg_agrees_with_torch():
    torch = real_torch()
    A0, b0 = [[2.0, 1.0, 0.5], [0.3, 3.0, -1.0], [0.1, 0.2, 1.5]], [1.0, -2.0, 0.5]
    A, b = gt.tensor(A0, dtype=gt.float64, requires_grad=True), gt.tensor(b0, dtype=gt.float64, requires_grad=True)
    tA = torch.tensor(A0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    ours, theirs = _linalg(gt, A, b), _linalg(torch, tA, tb)
    ours.backward()
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-13)
    close(A.grad, tA.grad, rtol=1e-11)
    close(b.grad, tb.grad, rtol=1e-11)


def test_torch_linalg_has_torchs_names_only():
    with pytest.raises(NotImplementedError, match="torch.linalg.qr is not supported"):
        gt.linalg.qr(gt.eye(2))
    assert not hasattr(gt.linalg, "sin")  # (torch.sin is torch's, not torch.linalg's)
    # torch.linalg.norm(A, 2) of a matrix is its largest singular value, not the Frobenius norm
    assert gt.linalg.norm(gt.tensor([[3.0, 0.0], [0.0, 4.0]]), 2).item() == 4.0


def _indexed(m, x, W):
    """x and W indexed as PyTorch code does: masks, arrays and lists of indices, None, ... and a 0-d tensor."""
    return (x[x > 0].sum() + (x[:, None] * W[0][None, :3].sum() ** 2).sum() * 0.01 + (W[m.tensor([1, 0, 1])] * 2).sum()
            + W[:, [0, 2]].prod() + x[[True, False, True, False]].sum() * 3 + W[..., 1].sum() + x[m.tensor(2)])


def test_indexing_by_masks_and_arrays_agrees_with_torch():
    torch = real_torch()
    x0, W0 = [1.0, -2.0, 3.0, -0.5], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    x, W = gt.tensor(x0, requires_grad=True), gt.tensor(W0, requires_grad=True)
    tx, tW = torch.tensor(x0, requires_grad=True), torch.tensor(W0, requires_grad=True)
    ours, theirs = _indexed(gt, x, W), _indexed(torch, tx, tW)
    assert ours.item() == theirs.item()
    ours.backward()
    theirs.backward()
    close(x.grad, tx.grad, rtol=0)
    close(W.grad, tW.grad, rtol=0)
    assert [x[x > 0].grad_fn.name(), W[:, [0, 2]].grad_fn.name(), x[1].grad_fn.name()] == \
           [tx[tx > 0].grad_fn.name(), tW[:, [0, 2]].grad_fn.name(), tx[1].grad_fn.name()]


def test_assignment_through_a_mask_and_indices():
    y = gt.tensor([1.0, -2.0, 3.0, -0.5])
    y[y < 0] = 0
    y[gt.tensor([0])] = 7
    y[[2]] = 5
    # torch 2.13 gives [7.0, 0.0, 5.0, 0.0]
    assert y.tolist() == [7.0, 0.0, 5.0, 0.0]


def test_parameter_is_a_leaf_that_requires_grad():
    torch = real_torch()
    for m in (gt, torch):
        made = m.ones(2, requires_grad=True) * 3
        p = m.nn.Parameter(made)
        assert (p.is_leaf, p.grad_fn, p.requires_grad, isinstance(p, m.Tensor)) == (True, None, True, True)
    assert repr(gt.nn.Parameter(gt.ones(2))) == repr(torch.nn.Parameter(torch.ones(2))) == \
        "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert repr(gt.nn.Parameter(gt.ones(2), requires_grad=False)) == "Parameter containing:\ntensor([1., 1.])"
    w, tw = gt.nn.Parameter(gt.tensor([1.0, 2.0])), torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    for m, v in ((gt, w), (torch, tw)):
        (v ** 2).sum().backward()
        m.optim.SGD([v], lr=0.1).step()
    assert w.tolist() == tw.tolist() and type(w * 2).__name__ == "Tensor"


def test_allclose_equal_device_and_cuda_answer_as_torch():
    torch = real_torch()
    for m in (gt, torch):
        a, b = m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-6])
        assert (m.allclose(a, b), m.allclose(a, b, rtol=0, atol=1e-7), a.allclose(b), m.equal(a, b), a.equal(a),
                m.equal(a, m.tensor([1.0, 2.0, 3.0]))) == (True, False, True, False, True, False)
        device = m.device("cuda" if m.cuda.is_available() else "cpu")
        x = m.ones(2).to(device)
        assert (str(device), repr(device), str(x.device), x.device == device) == \
               ("cpu", "device(type='cpu')", "cpu", True)


def test_to_reads_a_device_and_a_dtype_as_torch_does():
    torch = real_torch()
    for m in (gt, torch):
        x = m.tensor([1.0, 2.0], dtype=m.float64)
        got = (x.to("cpu", m.float32).dtype, x.to(device="cpu", dtype=m.float32).dtype, x.to(m.float32).dtype,
               x.to(m.ones(1)).dtype, x.to("cpu").dtype, x.to(m.device("cpu")) is x, x.to(m.float64) is x)
        assert [str(d) for d in got[:5]] + list(got[5:]) == \
            ["torch.float32", "torch.float32", "torch.float32", "torch.float32", "torch.float64", True, True]
    with pytest.raises(gt.Unsupported, match="cuda"):  # (a CPU-only torch raises too: not compiled with CUDA)
        gt.ones(2).to("cuda")
    with pytest.raises(gt.Unsupported, match="cuda"):
        gt.ones(2).to(device="cuda:0")
    if not torch.cuda.is_available():
        with pytest.raises(AssertionError, match="CUDA"):
            torch.ones(2).to("cuda")


def test_a_left_out_bound_keeps_the_tensors_dtype():
    torch = real_torch()
    m, tm = gt.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert repr(m.clamp(min=2)) == repr(tm.clamp(min=2)) == "tensor([[2., 2.],\n        [3., 4.]])"
    assert repr(gt.clamp(m, max=2.5)) == repr(torch.clamp(tm, max=2.5))


def _hooked(m):
    """Hooks on a leaf and on an intermediate tensor (one printing, one doubling, one removed), as PyTorch runs
    them: in the order registered, before the gradient goes on or into .grad; retain_grad keeps the hooked one."""
    x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 2)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g + 1)
    gone = y.register_hook(lambda g: g * 100)
    gone.remove()
    (y ** 2).sum().backward()
    return x.grad.tolist(), y.grad.tolist(), seen


def test_tensor_hooks_run_as_pytorchs():
    torch = real_torch()
    assert _hooked(gt) == _hooked(torch)
    # torch 2.13: ([24.0, -30.0, 78.0], [4.0, -5.0, 13.0], [[12.0, -15.0, 39.0]])
    assert _hooked(gt)[0] == [24.0, -30.0, 78.0]
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        gt.ones(2).register_hook(print)


def _anomalies(m):
    found = []
    x = m.tensor([0.0, 1.0], requires_grad=True)
    with m.autograd.detect_anomaly():
        try:
            (x.sqrt() * 0).sum().backward()
        except RuntimeError as err:
            found.append(str(err))
    found.append(m.is_anomaly_enabled())
    with m.autograd.set_detect_anomaly(True):
        found.append(m.is_anomaly_enabled())
    (x.sqrt() * 0).sum().backward()  # (off again: the nan reaches .grad)
    return found, str(x.grad.tolist())


def test_anomaly_detection_stops_at_the_first_nan_as_pytorch():
    torch = real_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch warns that anomaly detection is slow)
        theirs = _anomalies(torch)
    assert _anomalies(gt) == theirs == (["Function 'SqrtBackward0' returned nan values in its 0th output.", False,
                                         True], "[nan, 0.0]")


def _operators(m, x):
    """Python's operators on tensors and numbers, masks combined, and the functions whose node PyTorch names by
    which operands are tensors."""
    mask = x > 0
    return [x % 0.7, 5.0 % x, abs(x), +x, -x, x ** 2, 2 ** x, x.abs() ** x, 1 - x, 2 / x, 3 / x, ~mask,
            mask & (x < 2), mask | (x < 0), mask ^ (x < 2), m.pow(2, x), m.fmod(x, x), m.fmod(x, 2.0),
            m.remainder(x, x), m.sub(x, 2)]


def test_operators_and_their_nodes_agree_with_torch():
    torch = real_torch()
    values = np.random.default_rng(5).standard_normal(200).astype(np.float32) * 3
    x, tx = gt.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    for i, (ours, theirs) in enumerate(zip(_operators(gt, x), _operators(torch, tx))):
        # To the bit (3 / x is PyTorch's reciprocal(x) * 3, which differs from a division in a third of entries),
        # but for float32 powers, which numpy's and PyTorch's kernels round differently in a few entries.
        if i in (6, 7, 15):
            np.testing.assert_allclose(ours.tolist(), theirs.tolist(), rtol=2.5e-7)
        else:
            assert ours.tolist() == theirs.tolist()
        assert (ours.grad_fn and ours.grad_fn.name()) == (theirs.grad_fn and theirs.grad_fn.name())
        assert ours.dtype == (gt.bool if theirs.dtype == torch.bool else gt.float32)
    # (all but 5.0 % x, whose derivative PyTorch has not implemented)
    sum(o.sum() for i, o in enumerate(_operators(gt, x)[:11]) if i != 1).backward()
    sum(o.sum() for i, o in enumerate(_operators(torch, tx)[:11]) if i != 1).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=2e-6)
    with pytest.raises(NotImplementedError, match="~ of a float tensor"):
        ~x


def _named_results(m):
    A = m.tensor([[2.0, 1.0], [0.5, 3.0]], requires_grad=True)
    b = m.tensor([[1.0], [2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch deprecates triangular_solve)
        solved = m.triangular_solve(b, A.triu())
    sign, logabsdet = m.linalg.slogdet(A)
    return [repr(m.linalg.slogdet(A)), repr(m.slogdet(A).logabsdet), repr(solved.solution),
            repr(solved.cloned_coefficient), repr(sign), repr(logabsdet), repr(m.max(A, 0).values)]


def test_results_with_named_fields_are_pytorchs():
    torch = real_torch()
    assert _named_results(gt) == _named_results(torch)
    assert _named_results(gt)[0] == ("torch.return_types.linalg_slogdet(\nsign=tensor(1., grad_fn=<LinalgSlogdetBackward0>),"
                                     "\nlogabsdet=tensor(1.7047, grad_fn=<LinalgSlogdetBackward0>))")


def _new_tensors(m):
    x, y = m.ones(2, dtype=m.float64), m.ones(2)
    return [repr(t) for t in (x.new_zeros(2, 3), x.new_ones((2,)), x.new_full((2,), 3.5), x.new_tensor([1.0, 2.0]),
                              y.new_zeros(m.Size([1, 2])), y.new_ones(2, dtype=m.float64))]


def test_new_tensors_take_the_dtype_of_the_one_they_come_from():
    torch = real_torch()
    assert _new_tensors(gt) == _new_tensors(torch)


def test_randint_and_randperm_draw_whole_numbers_in_range():
    gt.manual_seed(7)
    drawn = gt.randint(3, 9, (500,)).tolist() + gt.randint(4, size=(2, 50)).flatten().tolist()
    assert set(drawn[:500]) == {3.0, 4.0, 5.0, 6.0, 7.0, 8.0} and set(drawn[500:]) == {0.0, 1.0, 2.0, 3.0}
    assert sorted(gt.randperm(6).tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert gt.randint(0, 10, (3, 2)).shape == gt.Size([3, 2])

TRANSPOSES = [  # the same call in gradcli.torch and in torch, on m (2 x 3) and c (2 x 3 x 4)
    ("m.t()", lambda t, m, c: m.t()), ("torch.t(m)", lambda t, m, c: t.t(m)), ("m.T", lambda t, m, c: m.T),
    ("m.transpose(0, 1)", lambda t, m, c: m.transpose(0, 1)), ("torch.transpose(c, 0, 2)", lambda t, m, c: t.transpose(c, 0, 2)),
    ("m.swapaxes(0, 1)", lambda t, m, c: m.swapaxes(0, 1)), ("torch.swapdims(c, 0, 1)", lambda t, m, c: t.swapdims(c, 0, 1)),
    ("m.permute(1, 0)", lambda t, m, c: m.permute(1, 0)), ("torch.permute(c, (2, 0, 1))", lambda t, m, c: t.permute(c, (2, 0, 1))),
    ("c.movedim(0, 2)", lambda t, m, c: c.movedim(0, 2)),
    ("m.mT", lambda t, m, c: m.mT), ("c.mT", lambda t, m, c: c.mT), ("c.mH", lambda t, m, c: c.mH),
]


def test_mT_of_a_vector_is_refused_as_torch_refuses_it():
    torch = real_torch()
    with pytest.raises(RuntimeError) as ours:
        gt.tensor([1.0, 2.0]).mT  # noqa: B018
    with pytest.raises(RuntimeError) as theirs:
        torch.tensor([1.0, 2.0]).mT  # noqa: B018
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("case", TRANSPOSES, ids=[c[0] for c in TRANSPOSES])
def test_each_spelling_of_a_transpose_names_its_node_as_torch_does(case):
    torch = real_torch()
    _, f = case
    m, c = np.arange(6.0).reshape(2, 3), np.arange(24.0).reshape(2, 3, 4)
    ours = f(gt, gt.tensor(m, requires_grad=True), gt.tensor(c, requires_grad=True))
    theirs = f(torch, torch.tensor(m, requires_grad=True), torch.tensor(c, requires_grad=True))
    close(ours, theirs)
    assert ours.grad_fn.name() == theirs.grad_fn.name()

# -- the autograd surface --------------------------------------------------------------------
def test_leaf_attributes_and_conversions():
    x = gt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * 2).mean()
    assert x.is_leaf and not y.is_leaf and y.requires_grad and x.grad is None and x.grad_fn is None
    assert y.item() == 4.0 and x.detach().tolist() == [1.0, 2.0, 3.0] and x.size() == (3,) and x.size(0) == 3
    assert isinstance(x.detach().numpy(), np.ndarray) and x.detach().numpy().dtype == np.float32
    with pytest.raises(RuntimeError, match="Use tensor.detach"):
        x.numpy()
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 / 3] * 3, rtol=1e-6)
    g = x.grad
    (x * 2).mean().backward()
    assert g is x.grad  # accumulated in place, as PyTorch does
    np.testing.assert_allclose(g.numpy(), [4 / 3] * 3, rtol=1e-6)
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_grad_fn_names_and_next_functions_match_torch():
    torch = real_torch()

    def build(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        return ((a * 3 + 1).exp() - a).sum()

    ours, theirs = build(gt), build(torch)

    def names(fn):
        return [fn.name(), [names(f) if f is not None else None for f, _ in fn.next_functions]]
    assert names(ours.grad_fn) == names(theirs.grad_fn)
    assert type(ours.grad_fn).__name__ == "SumBackward0"
    assert repr(ours.grad_fn).startswith("<SumBackward0 object at 0x")


def test_retain_graph_errors_where_pytorch_raises_them():
    torch = real_torch()
    for m in (gt, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        s = x.sum()
        s.backward()
        s.backward()  # a sum saves nothing: a second pass runs
        assert x.grad.tolist() == [2.0, 2.0]
        p = (x * x).sum()
        p.backward()
        with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
            p.backward()
        q = (x * x).sum()
        q.backward(retain_graph=True)
        q.backward()
        assert x.grad.tolist() == [2 + 2 * 1.0 + 2 * 2 * 1.0, 2 + 2 * 2.0 + 2 * 2 * 2.0]  # sums, p, q twice


def test_retain_grad_keeps_a_non_leaf_gradient_like_torch():
    torch = real_torch()
    found = []
    for m in (gt, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        y.retain_grad()
        z = (y * 3).sum()
        z.retain_grad()
        u = y.exp()  # not retained: its .grad stays None
        z.backward(retain_graph=True)
        z.backward()
        found.append((y.grad.tolist(), z.grad.tolist(), x.grad.tolist(), y.retains_grad, u.grad))
    assert found[0] == found[1] == ([6.0, 6.0], 2.0, [12.0, 24.0], True, None)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        gt.ones(2).retain_grad()


def test_backward_with_a_gradient_and_the_scalar_rule():
    x = gt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="^grad can be implicitly created only for scalar outputs$"):
        y.backward()
    y.backward(gt.tensor([1.0, 0.0, 2.0]))
    assert x.grad.tolist() == [2.0, 0.0, 12.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        gt.tensor([1.0]).sum().backward()


def test_create_graph_gives_a_second_derivative_like_torch():
    torch = real_torch()
    results = []
    for m in (gt, torch):
        x = m.tensor([0.5, 1.5], requires_grad=True)
        (g,) = m.autograd.grad((x ** 3).sum(), x, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), x)
        y = (x.sin() * x).sum()
        y.backward(create_graph=True)
        first = x.grad.detach().tolist()
        results.append((g.detach().tolist(), h.tolist(), first))
    np.testing.assert_allclose(np.array(results[0][0]), results[1][0], rtol=1e-6)
    np.testing.assert_allclose(np.array(results[0][1]), results[1][1], rtol=1e-6)
    np.testing.assert_allclose(np.array(results[0][2]), results[1][2], rtol=1e-6)


def test_autograd_backward_and_grad_with_several_outputs():
    torch = real_torch()
    found = []
    for m in (gt, torch):
        a = m.tensor([1.0, -2.0], requires_grad=True)
        b = m.tensor([3.0, 0.5], requires_grad=True)
        u, v = a * b, (a + b).exp()
        m.autograd.backward([u, v], [m.ones(2), m.tensor([0.5, 2.0])], retain_graph=True)
        ga, gb = m.autograd.grad([(u * v).sum()], [a, b], retain_graph=True)
        found.append([a.grad.tolist(), b.grad.tolist(), ga.tolist(), gb.tolist()])
        unused = m.tensor(1.0, requires_grad=True)
        with pytest.raises(RuntimeError, match="appears to not have been used"):
            m.autograd.grad((a * 2).sum(), [a, unused])
        assert m.autograd.grad((a * 2).sum(), [a, unused], allow_unused=True)[1] is None
    np.testing.assert_allclose(np.array(found[0]), np.array(found[1]), rtol=1e-6)


def test_functional_jacobian_and_hessian_agree_with_torch():
    torch = real_torch()

    def f(x):
        return x.exp() * x.sum()

    def scalar(x):
        return (x ** 3).sum() * x[0]

    ours_j = gt.autograd.functional.jacobian(f, gt.tensor([0.1, 0.2, 0.3]))
    theirs_j = torch.autograd.functional.jacobian(f, torch.tensor([0.1, 0.2, 0.3]))
    close(ours_j, theirs_j, rtol=1e-5)
    ours_h = gt.autograd.functional.hessian(scalar, gt.tensor([1.0, 2.0]))
    theirs_h = torch.autograd.functional.hessian(scalar, torch.tensor([1.0, 2.0]))
    close(ours_h, theirs_h, rtol=1e-5)


def test_no_grad_enable_grad_and_detach():
    w = gt.tensor([1.0, 2.0], requires_grad=True)
    with gt.no_grad():
        assert not (w * 2).requires_grad
        with gt.enable_grad():
            assert (w * 2).requires_grad
        w -= 0.5 * gt.ones(2)  # an in-place update of a leaf, as optimizers do
    assert w.is_leaf and w.requires_grad and w.tolist() == [0.5, 1.5]
    assert not w.detach().requires_grad

    @gt.no_grad()
    def predict(x):
        return x * w
    assert not predict(gt.ones(2)).requires_grad

    @gt.no_grad
    def bare(x):
        return x * w
    assert not bare(gt.ones(2)).requires_grad
    with gt.set_grad_enabled(False):
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1.0)


def test_updates_through_data_and_indexed_assignment():
    w = gt.tensor([1.0], requires_grad=True)
    (w * 3).sum().backward()
    w.data = w.data - 0.1 * w.grad.data
    w.grad.data.zero_()
    assert w.tolist() == pytest.approx([0.7]) and w.grad.tolist() == [0.0] and w.is_leaf
    m = gt.tensor([[2.0, 3.0]], requires_grad=True)
    k = gt.zeros(1, 2)
    k[0, 0] = m[0, 0] ** 2 + 3 * m[0, 1]
    k[0, 1] = m[0, 1] ** 2 + 2 * m[0, 0]
    k.backward(gt.FloatTensor([[1, 0]]))
    assert m.grad.tolist() == [[4.0, 3.0]]


def test_custom_function_agrees_with_torch():
    torch = real_torch()
    found = []
    for m in (gt, torch):
        class Cube(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.save_for_backward(x)
                ctx.k = k
                return x ** 3 * k

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x ** 2 * ctx.k, None

        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = Cube.apply(x, 2.0)
        y.sum().backward()
        found.append((y.tolist(), x.grad.tolist(), type(y.grad_fn).__name__, y.grad_fn.next_functions[0][0].name()))
        assert repr(y.grad_fn).startswith("<torch.autograd.function.CubeBackward object at 0x")
    assert found[0] == found[1]


@pytest.mark.parametrize("make", [lambda m, p: m.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                                  lambda m, p: m.optim.SGD(p, lr=0.05, momentum=0.5, nesterov=True),
                                  lambda m, p: m.optim.Adam(p, lr=0.1),
                                  lambda m, p: m.optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True)],
                         ids=["sgd momentum", "sgd nesterov", "adam", "adam amsgrad"])
def test_optimizers_take_the_steps_torch_takes(make):
    torch = real_torch()
    found = []
    for m in (gt, torch):
        w = m.tensor([1.0, -2.0, 0.5], requires_grad=True)
        opt = make(m, [w])
        for _ in range(5):
            opt.zero_grad()
            loss = ((w - 3) ** 2).sum() + w.exp().sum()
            loss.backward()
            opt.step()
        found.append(w.detach().tolist())
    np.testing.assert_allclose(found[0], found[1], rtol=2e-6)


def test_variable_is_a_tensor_and_retain_variables_is_accepted(capsys):
    v = gt.autograd.Variable
    a = v(gt.FloatTensor([2, 3]), requires_grad=True)
    out = (3 * (a + 3) ** 2).mean()
    out.backward(retain_variables=True)
    out.backward()
    assert a.grad.tolist() == [30.0, 36.0]
    assert "retain_variables option is deprecated" in capsys.readouterr().err


def test_what_is_missing_says_so():
    for get in (lambda: gt.fft, lambda: gt.tensor([1.0]).unfold, lambda: gt.nn.Linear, lambda: gt.optim.LBFGS):
        with pytest.raises(NotImplementedError, match="gradcli implements autograd's subset"):
            get()
    assert not hasattr(gt, "cuda_is_not_here")
    with pytest.raises(NotImplementedError, match="torch.fft is not supported"):
        _ = gt.fft


# -- gradcli run ------------------------------------------------------------------------------
def run(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "listing.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gradcli", "run", str(script), *args], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_run_gives_the_script_its_arguments_and_main(tmp_path):
    done = run(tmp_path, "import sys\nimport torch as t\nimport torch.nn.functional as F\n"
               "from torch.autograd import Variable\n"
               "print(__name__, sys.argv[1:], F.relu(t.tensor([-1.0, 2.0])))\n", "--lr", "0.1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "__main__ ['--lr', '0.1'] tensor([0., 2.])\n"


def test_run_shows_the_users_traceback_and_exits_1(tmp_path):
    done = run(tmp_path, "import torch\n\nx = torch.ones(2)\ny = x[5]\n")
    assert done.returncode == 1
    assert 'listing.py", line 4, in <module>' in done.stderr and "IndexError" in done.stderr
    assert "runpy" not in done.stderr


def test_run_refuses_an_unsupported_feature_with_exit_2(tmp_path):
    done = run(tmp_path, "import torch\n\nmodel = torch.nn.Linear(2, 3)\n")
    assert done.returncode == 2
    assert "torch.nn.Linear is not supported: gradcli implements autograd's subset" in done.stderr
    assert "listing.py:3" in done.stderr
    done = run(tmp_path, "import torch.utils.data\n")
    assert done.returncode == 2 and "torch.utils" in done.stderr


def test_run_passes_the_scripts_exit_status(tmp_path):
    assert run(tmp_path, "import sys\nsys.exit(3)\n").returncode == 3


def test_run_loads_no_heavy_library(tmp_path):
    done = run(tmp_path, "import sys, torch\nprint(sorted(m for m in ('sympy', 'matplotlib', 'rich') "
               "if m in sys.modules))\n")
    assert done.stdout == "[]\n", done.stderr


NORMS = [  # gradcli's spelling, and PyTorch's call
    ("x.norm()", lambda t, x: x.norm()), ("x.norm(1, dim=1)", lambda t, x: x.norm(1, dim=1)),
    ("norm(x, 'fro')", lambda t, x: t.norm(x, "fro")), ("norm(x, 'nuc')", lambda t, x: t.norm(x, "nuc")),
    ("vector_norm(x, inf)", lambda t, x: t.linalg.vector_norm(x, math.inf)),
    ("matrix_norm(x)", lambda t, x: t.linalg.matrix_norm(x)),
    ("matrix_norm(x, 2)", lambda t, x: t.linalg.matrix_norm(x, 2)),
    ("matrix_norm(x, -inf)", lambda t, x: t.linalg.matrix_norm(x, -math.inf)),
]


@pytest.mark.parametrize("ours,theirs", NORMS, ids=[text for text, _ in NORMS])
def test_a_norms_node_is_named_as_pytorch_names_it(ours, theirs):
    torch = real_torch()
    from gradcli.api.evaluate import evaluate
    from gradcli.autodiff.engine import Tensor
    from gradcli.lang.parser import parse

    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    out = evaluate(parse(ours), {"x": Tensor(x, requires_grad=True)})
    reference = theirs(torch, torch.tensor(x, requires_grad=True))
    np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-12)
    assert out.grad_fn.name == reference.grad_fn.name()
