"""Convolution and pooling against PyTorch: F.unfold and F.fold, conv1d/2d/3d, conv_transpose1d/2d/3d and the
avg, max, adaptive and lp pools, in PyTorch's spellings (positional and keyword, F., torch., with and without
the batch axis): values, gradients and Hessians in float64, float32, the index max pooling picks at ties and
NaN, the errors, the command line and gradcli run."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.api.problem import problem
from gradcli.autodiff.engine import Tensor
from gradcli.errors import GradcliError
from gradcli.ops.common import F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
T = torch.float64

RNG = np.random.default_rng(5)
X1 = RNG.standard_normal((2, 3, 7))
X2 = RNG.standard_normal((2, 3, 5, 6))
X3 = RNG.standard_normal((1, 2, 4, 3, 5))
W1 = RNG.standard_normal((4, 3, 3))
W2 = RNG.standard_normal((4, 3, 3, 2))
W2G = RNG.standard_normal((4, 1, 2, 2))
W3 = RNG.standard_normal((3, 2, 2, 2, 3))
B4 = RNG.standard_normal(4)
B3 = RNG.standard_normal(3)
B2 = RNG.standard_normal(2)
WT2 = RNG.standard_normal((3, 2, 3, 3))
WT1 = RNG.standard_normal((3, 4, 2))
VALUES = {"x1": X1, "x2": X2, "x3": X3, "w1": W1, "w2": W2, "wg": W2G, "w3": W3, "b": B4, "b3": B3, "b2": B2, "wt": WT2,
          "wt1": WT1}


def _torch_of(names, fn):
    return lambda *a: fn(**dict(zip(names, a)))


def _agree(text, torch_fn, names, *, rtol=1e-12, atol=1e-12, hessian=False, values=VALUES):
    """gradcli's value and Jacobian of text (and the Hessian of its sum) are torch's, for the named inputs."""
    given = {n: values[n] for n in names}
    tensors = tuple(torch.tensor(given[n], dtype=T) for n in names)
    fn = _torch_of(names, torch_fn)
    got = functional.jacobian(text, given)
    np.testing.assert_allclose(got.value, fn(*tensors).numpy(), rtol=rtol, atol=atol)
    for name, block in zip(names, torch.autograd.functional.jacobian(fn, tensors)):
        np.testing.assert_allclose(got.jacobian[name], block.numpy(), rtol=rtol, atol=atol)
    if hessian:
        h = functional.hessian(f"sum({text})", given).hessian
        want = torch.autograd.functional.hessian(lambda *a: fn(*a).sum(), tensors)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                np.testing.assert_allclose(h[a][b], want[i][j].numpy(), rtol=rtol, atol=atol)


CONVOLUTIONS = [
    ("F.conv1d(x1, w1, b, 2, 1)", lambda x1, w1, b: TF.conv1d(x1, w1, b, 2, 1)),
    ("torch.conv1d(x1, w1, stride=1, padding=2, dilation=2)",
     lambda x1, w1: TF.conv1d(x1, w1, stride=1, padding=2, dilation=2)),
    ("F.conv1d(x1[0], w1, None, 1, 1)", lambda x1, w1: TF.conv1d(x1[0], w1, None, 1, 1)),
    ("F.conv2d(x2, w2, b, stride=(2, 1), padding=(1, 0))", lambda x2, w2, b: TF.conv2d(x2, w2, b, (2, 1), (1, 0))),
    ("torch.nn.functional.conv2d(x2, w2, b, 1, 1, 2)", lambda x2, w2, b: TF.conv2d(x2, w2, b, 1, 1, 2)),
    ("F.conv2d(x2[:, :2], wg, groups=2, dilation=(1, 2))",
     lambda x2, wg: TF.conv2d(x2[:, :2], wg, groups=2, dilation=(1, 2))),
    ("F.conv2d(x2[1], w2, b)", lambda x2, w2, b: TF.conv2d(x2[1], w2, b)),
    ("F.conv3d(x3, w3, b3, padding=1, stride=(1, 2, 2))",
     lambda x3, w3, b3: TF.conv3d(x3, w3, b3, padding=1, stride=(1, 2, 2))),
    ("F.conv_transpose2d(x2[:1, :, :3, :2], wt, b2, 2, 1, 1)",
     lambda x2, wt, b2: TF.conv_transpose2d(x2[:1, :, :3, :2], wt, b2, 2, 1, 1)),
    ("F.conv_transpose2d(x2[1, :, :2], wt, stride=(1, 2), padding=(0, 1), output_padding=(1, 0), groups=3, "
     "dilation=(2, 1))",
     lambda x2, wt: TF.conv_transpose2d(x2[1, :, :2], wt, stride=(1, 2), padding=(0, 1), output_padding=(1, 0),
                                        groups=3, dilation=(2, 1))),
    ("torch.conv_transpose1d(x1[1], wt1, None, 3, 2, 2, 1, 2)",
     lambda x1, wt1: TF.conv_transpose1d(x1[1], wt1, None, 3, 2, 2, 1, 2)),
]


@pytest.mark.parametrize("text, torch_fn", CONVOLUTIONS)
def test_convolutions_agree_with_torch(text, torch_fn):
    names = list(torch_fn.__code__.co_varnames[:torch_fn.__code__.co_argcount])
    _agree(text, torch_fn, names)


@pytest.mark.parametrize("text, torch_fn, shapes", [
    ("F.conv1d(x, w, b, padding=1) ** 2", lambda x, w, b: TF.conv1d(x, w, b, padding=1) ** 2,
     {"x": (1, 2, 4), "w": (2, 2, 2), "b": (2,)}),
    ("sin(F.conv2d(x, w, stride=2, padding=1))", lambda x, w: torch.sin(TF.conv2d(x, w, stride=2, padding=1)),
     {"x": (1, 1, 3, 3), "w": (2, 1, 2, 2)}),
    ("F.conv_transpose1d(x, w, stride=2) ** 3", lambda x, w: TF.conv_transpose1d(x, w, stride=2) ** 3,
     {"x": (1, 2, 2), "w": (2, 1, 2)}),
    ("F.avg_pool2d(x ** 2, 2, 1, 1, count_include_pad=False)[..., 1:, 1:] * x",
     lambda x: TF.avg_pool2d(x ** 2, 2, 1, 1, count_include_pad=False)[..., 1:, 1:] * x, {"x": (1, 1, 3, 3)}),
    ("F.max_pool1d(x, 2, 1) ** 2", lambda x: TF.max_pool1d(x, 2, 1) ** 2, {"x": (2, 4)}),
    ("F.adaptive_max_pool2d(x, 2) ** 2 * F.adaptive_avg_pool2d(x, 2)",
     lambda x: TF.adaptive_max_pool2d(x, 2) ** 2 * TF.adaptive_avg_pool2d(x, 2), {"x": (1, 3, 3)}),
    ("F.lp_pool1d(x, 2, 2) ** 3", lambda x: TF.lp_pool1d(x, 2, 2) ** 3, {"x": (1, 4)}),
    ("F.fold(exp(F.unfold(x, 2)), (3, 3), 2)", lambda x: TF.fold(torch.exp(TF.unfold(x, 2)), (3, 3), 2),
     {"x": (1, 1, 3, 3)}),
])
def test_second_order_is_torchs(text, torch_fn, shapes):
    values = {n: RNG.standard_normal(s) for n, s in shapes.items()}
    _agree(text, torch_fn, list(values), hessian=True, values=values)


POOLS = [
    ("F.avg_pool1d(x1, 3)", lambda x1: TF.avg_pool1d(x1, 3)),
    ("F.avg_pool1d(x1, 3, 2, 1, True, False)", lambda x1: TF.avg_pool1d(x1, 3, 2, 1, True, False)),
    ("torch.avg_pool1d(x1[0], kernel_size=2, stride=1, padding=1)",
     lambda x1: torch.avg_pool1d(x1[0], kernel_size=2, stride=1, padding=1)),
    ("F.avg_pool2d(x2, (3, 2), (2, 1), 1, ceil_mode=True)", lambda x2: TF.avg_pool2d(x2, (3, 2), (2, 1), 1, True)),
    ("F.avg_pool2d(x2, 2, 1, divisor_override=3)", lambda x2: TF.avg_pool2d(x2, 2, 1, divisor_override=3)),
    ("F.avg_pool2d(x2[0], 3, 2, 1, True, False)", lambda x2: TF.avg_pool2d(x2[0], 3, 2, 1, True, False)),
    ("F.max_pool1d(x1, 3, 2, 1, 2, True)", lambda x1: TF.max_pool1d(x1, 3, 2, 1, 2, True)),
    ("torch.max_pool2d(x2, 2)", lambda x2: torch.max_pool2d(x2, 2)),
    ("F.max_pool2d(x2[1], (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True)",
     lambda x2: TF.max_pool2d(x2[1], (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True)),
    ("F.adaptive_avg_pool1d(x1, 4)", lambda x1: TF.adaptive_avg_pool1d(x1, 4)),
    ("F.adaptive_avg_pool1d(x1, 9)", lambda x1: TF.adaptive_avg_pool1d(x1, 9)),
    ("F.adaptive_avg_pool2d(x2, (3, 4))", lambda x2: TF.adaptive_avg_pool2d(x2, (3, 4))),
    ("F.adaptive_avg_pool2d(x2[0], 1)", lambda x2: TF.adaptive_avg_pool2d(x2[0], 1)),
    ("F.adaptive_max_pool1d(x1, output_size=5)", lambda x1: TF.adaptive_max_pool1d(x1, 5)),
    ("F.adaptive_max_pool2d(x2, (2, 4))", lambda x2: TF.adaptive_max_pool2d(x2, (2, 4))),
    ("F.lp_pool1d(abs(x1), 3, 2)", lambda x1: TF.lp_pool1d(torch.abs(x1), 3, 2)),
    ("F.lp_pool2d(x2, 2, (2, 3), stride=1, ceil_mode=True)",
     lambda x2: TF.lp_pool2d(x2, 2, (2, 3), stride=1, ceil_mode=True)),
]


@pytest.mark.parametrize("text, torch_fn", POOLS)
def test_pools_agree_with_torch(text, torch_fn):
    names = list(torch_fn.__code__.co_varnames[:torch_fn.__code__.co_argcount])
    _agree(text, torch_fn, names, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("text, torch_fn", [
    ("F.unfold(x2, (2, 3), padding=1, stride=(2, 1))", lambda x2: TF.unfold(x2, (2, 3), padding=1, stride=(2, 1))),
    ("F.unfold(x2[0], 2, 2)", lambda x2: TF.unfold(x2[0], 2, 2)),
    ("F.fold(x2.reshape(6, 30)[:, :9], (4, 3), (2, 3), padding=1, stride=(2, 1))",
     lambda x2: TF.fold(x2.reshape(6, 30)[:, :9], (4, 3), (2, 3), padding=1, stride=(2, 1))),
    ("F.fold(x2.reshape(2, 18, 5)[:, :12, :4], output_size=3, kernel_size=2, dilation=1)",
     lambda x2: TF.fold(x2.reshape(2, 18, 5)[:, :12, :4], output_size=3, kernel_size=2, dilation=1)),
])
def test_unfold_and_fold_agree_with_torch(text, torch_fn):
    # (they only move entries, and fold adds overlaps in torch's order: the same numbers exactly)
    _agree(text, torch_fn, ["x2"], rtol=0, atol=0)


def test_float32_computes_in_float32_as_torch():
    x, w = X2.astype(np.float32), W2.astype(np.float32)
    got = functional.grad("sum(F.max_pool2d(F.conv2d(x, w, padding=1), 2) ** 2)", {"x": x, "w": w}, dtype="float32")
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    want = (TF.max_pool2d(TF.conv2d(tx, tw, padding=1), 2) ** 2).sum()
    want.backward()
    assert got.value.dtype == np.float32 and got.gradients["x"].dtype == np.float32
    np.testing.assert_allclose(got.value, want.item(), rtol=2e-6)
    np.testing.assert_allclose(got.gradients["x"], tx.grad.numpy(), rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(got.gradients["w"], tw.grad.numpy(), rtol=2e-5, atol=2e-5)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("row, call, torch_fn, gradient", [
    # the first largest entry of each window takes the gradient; overlapping windows add up
    ([1.0, 3.0, 3.0, 2.0], "F.max_pool1d(x, 2, 1)", lambda t: TF.max_pool1d(t, 2, 1), [0.0, 2.0, 1.0, 0.0]),
    # a window with NaNs: its last NaN
    ([NAN, 1.0, NAN, 2.0, 5.0], "F.max_pool1d(x, 3, 1)", lambda t: TF.max_pool1d(t, 3, 1), [0.0, 0.0, 3.0, 0.0, 0.0]),
    # -inf everywhere in a padded window: its first entry inside the input, never the padding
    ([-INF, -INF, 1.0], "F.max_pool1d(x, 3, 1, 1)", lambda t: TF.max_pool1d(t, 3, 1, 1), [1.0, 0.0, 2.0]),
    ([2.0, 2.0, NAN, 1.0, 1.0], "F.adaptive_max_pool1d(x, 3)", lambda t: TF.adaptive_max_pool1d(t, 3),
     [1.0, 0.0, 1.0, 1.0, 0.0]),
    ([1.0, 1.0, 1.0, 1.0], "F.max_pool1d(x, 2, 1, dilation=2, ceil_mode=True)",
     lambda t: TF.max_pool1d(t, 2, 1, dilation=2, ceil_mode=True), [1.0, 1.0, 0.0, 0.0]),
])
def test_max_pooling_picks_torchs_entry(row, call, torch_fn, gradient):
    x = np.array([row])
    got = functional.grad(f"sum({call})", {"x": x})
    t = torch.tensor(x, requires_grad=True)
    torch_fn(t).sum().backward()
    np.testing.assert_array_equal(got.gradients["x"], [gradient])
    np.testing.assert_array_equal(t.grad.numpy(), [gradient])


def test_max_pool2d_at_ties_and_nan_in_row_major_order():
    x = np.array([[[NAN, 1.0, 2.0], [3.0, NAN, 1.0], [NAN, 0.0, 0.0]], [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0],
                                                                         [2.0, 2.0, 2.0]]])
    for call, fn in (("F.max_pool2d(x, 3, 1, 1)", lambda t: TF.max_pool2d(t, 3, 1, 1)),
                     ("F.max_pool2d(x, 2, 1, dilation=2, padding=1)", lambda t: TF.max_pool2d(t, 2, 1, 1, 2)),
                     ("F.adaptive_max_pool2d(x, 2)", lambda t: TF.adaptive_max_pool2d(t, 2))):
        got = functional.grad(f"sum({call})", {"x": x})
        t = torch.tensor(x, requires_grad=True)
        fn(t).sum().backward()
        np.testing.assert_array_equal(got.gradients["x"], t.grad.numpy())
        np.testing.assert_array_equal(np.isnan(got.value), np.isnan(fn(torch.tensor(x)).sum().item()))


RETURNING_INDICES = [
    ("F.max_pool1d(x, 2, return_indices=True)", lambda t: TF.max_pool1d(t, 2, return_indices=True), X1),
    ("F.max_pool1d(x, 3, 1, 1, 1, False, True)", lambda t: TF.max_pool1d(t, 3, 1, 1, 1, False, True), X1[0]),
    ("F.max_pool2d(x, (2, 3), stride=1, padding=1, return_indices=True)",
     lambda t: TF.max_pool2d(t, (2, 3), stride=1, padding=1, return_indices=True), X2),
    ("F.adaptive_max_pool2d(x, (2, 4), return_indices=True)",
     lambda t: TF.adaptive_max_pool2d(t, (2, 4), return_indices=True), X2[0]),
    ("F.adaptive_max_pool1d(x, 4, return_indices=True)", lambda t: TF.adaptive_max_pool1d(t, 4, return_indices=True),
     np.array([[2.0, 2.0, NAN, 1.0, 1.0]])),
]


@pytest.mark.parametrize("text, torch_fn, x", RETURNING_INDICES, ids=[c[0] for c in RETURNING_INDICES])
def test_return_indices_gives_torchs_pair(text, torch_fn, x):
    t = torch.tensor(x, requires_grad=True)
    values, indices = torch_fn(t)
    (values * torch.linspace(0.5, 2.0, values.numel(), dtype=t.dtype).reshape(values.shape)).sum().backward()
    weights = np.linspace(0.5, 2.0, values.numel()).reshape(values.shape)
    got = functional.grad(f"sum(({text})[0] * w) + 0 * sum(({text})[1])", {"x": x, "w": weights}, wrt=["x"])
    found, _ = problem(f"({text})[1]", {"x": x}).forward()
    np.testing.assert_array_equal(found.data, indices.double().numpy())  # (whole numbers, as floats here)
    np.testing.assert_allclose(got.gradients["x"], t.grad.numpy(), rtol=1e-15)


def test_infinities_stay_in_their_windows():
    x = np.array([[1.0, INF, 3.0, 2.0, -INF, 5.0, 0.0, 1.0]])
    for call, fn in (("F.avg_pool1d(x, 3, 2, 1)", lambda t: TF.avg_pool1d(t, 3, 2, 1)),
                     ("F.adaptive_avg_pool1d(x, 3)", lambda t: TF.adaptive_avg_pool1d(t, 3)),
                     ("F.conv1d(x, torch.tensor([[[1.0, -1.0]]]))",
                      lambda t: TF.conv1d(t, torch.tensor([[[1.0, -1.0]]], dtype=T)))):
        got = functional.jacobian(call, {"x": x})
        want = fn(torch.tensor(x, dtype=T)).numpy()
        np.testing.assert_array_equal(got.value, want)


def test_unfold_and_fold_are_adjoint_and_each_others_gradient():
    x = RNG.standard_normal((2, 3, 5, 4))
    cols = RNG.standard_normal((2, 3 * 2 * 3, 5 * 2))
    params = {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": (1, 2)}
    unfolded = F.unfold(Tensor(x), **params).data
    folded = F.fold(Tensor(cols), output_size=(5, 4), **params).data
    np.testing.assert_allclose(np.sum(unfolded * cols), np.sum(x * folded), rtol=1e-13)
    got = functional.grad("sum(F.unfold(x, (2, 3), (2, 1), 1, (1, 2)) * c)", {"x": x, "c": cols}, wrt="x")
    np.testing.assert_array_equal(got.gradients["x"], folded)


def test_padding_same_and_valid():
    x, w = Tensor(X1), Tensor(RNG.standard_normal((2, 3, 4)))
    for padding in ("same", "valid"):
        for dilation in (1, 2):
            got = F.conv1d(x, w, padding=padding, dilation=dilation).data
            want = TF.conv1d(torch.tensor(X1), torch.tensor(w.data), padding=padding, dilation=dilation).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    with pytest.raises(GradcliError, match="strided"):
        F.conv1d(x, w, padding="same", stride=2)


@pytest.mark.parametrize("text, message", [
    ("F.conv2d(x2, w1)", "weight of shape"),
    ("F.conv2d(x2, w2, b3)", r"bias of shape \(3,\)"),
    ("F.conv2d(x2, wg, groups=2)", "groups=2 must divide"),
    ("F.conv1d(x2, w1)", "takes an input of 2 or 3 axes"),
    ("F.conv2d(x2, w2, stride=0)", "stride= takes"),
    ("F.conv2d(x2[..., :1, :1], w2)", "does not fit"),
    ("F.conv_transpose2d(x2, wt, output_padding=1)", "output_padding"),
    ("F.max_pool2d(x2, 2, padding=2)", "at most half the kernel"),
    ("F.avg_pool2d(x2, 2, divisor_override=0)", "divisor_override"),
    ("F.fold(x2[0], (4, 3), 2)", "fold\\(\\) into \\(4, 3\\)"),
    ("F.unfold(x1[0], 2)", "takes an input of 3 or 4 axes"),
])
def test_errors_say_what_torch_needs(text, message):
    used = {name: value for name, value in VALUES.items() if re.search(rf"\b{name}\b", text)}
    with pytest.raises(GradcliError, match=message):
        functional.grad(f"sum({text})", used)


def test_a_small_network_is_fast():
    x, w = Tensor(RNG.standard_normal((1, 3, 32, 32)), requires_grad=True), \
        Tensor(RNG.standard_normal((8, 3, 3, 3)), requires_grad=True)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), kernel_size=2).sum().backward()
        best = min(best, time.perf_counter() - start)
    assert best < 0.05, best  # (a few milliseconds where it was written)


def test_the_command_line(cli):
    x, w = RNG.standard_normal((1, 2, 5, 5)), RNG.standard_normal((3, 2, 3, 3))
    run = cli("grad", "F.conv2d(x, w, stride=2, padding=1).tanh().sum()", "--x", json.dumps(x.tolist()),
              "--w", json.dumps(w.tolist()), "-f", "json")
    assert run.exit_code == 0, run.stderr
    out = json.loads(run.stdout)
    tx, tw = (torch.tensor(a, dtype=T, requires_grad=True) for a in (x, w))
    TF.conv2d(tx, tw, stride=2, padding=1).tanh().sum().backward()
    np.testing.assert_allclose(out["gradients"]["x"], tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(out["gradients"]["w"], tw.grad.numpy(), rtol=1e-12)
    # return_indices=True makes the call a pair; used whole, it is the values, as torch.max(x, dim)'s pair is
    run = cli("grad", "F.max_pool1d(x, 2, return_indices=True).sum()", "--x", "[[1, 2, 3, 4]]", "--format", "json")
    assert run.exit_code == 0 and run.json()["gradients"]["x"] == [[0.0, 1.0, 0.0, 1.0]]


def test_gradcli_run_names_torchs_nodes(tmp_path, cli):
    script = tmp_path / "net.py"
    script.write_text("import torch\nimport torch.nn.functional as F\n"
                      "x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)\n"
                      "w = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)\n"
                      "y = F.conv2d(x, w, stride=2, padding=1)\n"
                      "for z in (y, F.conv2d(x[0], w), F.max_pool2d(y, 2), F.avg_pool2d(y, 2), F.max_pool1d(y[0, 0], 2),\n"
                      "          F.adaptive_avg_pool2d(y, 2), F.unfold(x, 2), F.conv_transpose2d(y, w)):\n"
                      "    print(type(z.grad_fn).__name__)\n"
                      "F.max_pool2d(y, 2).sum().backward()\n"
                      "print(tuple(w.grad.shape))\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split() == ["ConvolutionBackward0", "SqueezeBackward1", "MaxPool2DWithIndicesBackward0",
                                  "AvgPool2DBackward0", "SqueezeBackward1", "AdaptiveAvgPool2DBackward0",
                                  "Im2ColBackward0", "ConvolutionBackward0", "(3,", "2,", "3,", "3)"]


def test_padding_same_and_valid_in_an_expression(cli):
    """padding='same' and 'valid' as PyTorch takes them (torch 2.13: 14 and 12, x's gradients [0, 2, 2, 1] and
    [1, 0, 1, 2]); another word is refused naming what padding= takes."""
    for padding, value, gradient in (("'same'", 14.0, [[0.0, 2.0, 2.0, 1.0]]), ("'valid'", 12.0, [[1.0, 0.0, 1.0, 2.0]])):
        run = cli("grad", f"F.conv1d(x, w, padding={padding}).sum()", "--x", "[[1, 2, 3, 4]]", "--w", "[[[1, -1, 2]]]",
                  "--wrt", "x", "--format", "json")
        assert run.exit_code == 0, run.stderr
        assert (run.json()["value"], run.json()["gradients"]["x"]) == (value, gradient)
    run = cli("grad", "F.conv1d(x, w, padding='full').sum()", "--x", "[[1, 2, 3, 4]]", "--w", "[[[1, -1, 2]]]")
    assert run.exit_code == 2
    assert "conv1d() takes padding= as 'valid' or 'same' or a whole number or a tuple, not 'full'" in run.stderr
