"""The normalization layers, dropout's identities and the activations hardshrink, softshrink, threshold,
glu, prelu and celu's alpha against PyTorch: its spellings of the calls (positional and keyword, F., torch.,
methods), values, gradients and Hessians at kinks (the shrink thresholds, prelu at 0, zero variance), the
errors PyTorch raises, and the command line on a real command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.errors import GradcliError

torch = pytest.importorskip("torch")
TF = torch.nn.functional
T = torch.float64

RNG = np.random.default_rng(11)
X3 = RNG.standard_normal((2, 3, 4))
C3 = RNG.standard_normal(3)
D3 = RNG.standard_normal(3)
W4 = RNG.standard_normal(4)
KINKS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 0.7, -0.7, 2.0])


def _agree(text, torch_fn, values, *, rtol=1e-12, atol=1e-13, hessian=True):
    """gradcli's value, Jacobian and Hessian of sum(text) are torch's."""
    names = list(values)
    tensors = tuple(torch.tensor(values[n], dtype=T) for n in names)
    got = functional.jacobian(text, values)
    np.testing.assert_allclose(got.value, torch_fn(*tensors).numpy(), rtol=rtol, atol=atol)
    want = torch.autograd.functional.jacobian(torch_fn, tensors)
    for name, block in zip(names, want):
        np.testing.assert_allclose(got.jacobian[name], block.numpy(), rtol=rtol, atol=atol)
    if hessian:
        h = functional.hessian(f"sum({text})", values).hessian
        want_h = torch.autograd.functional.hessian(lambda *a: torch_fn(*a).sum(), tensors)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                np.testing.assert_allclose(h[a][b], want_h[i][j].numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("text, torch_fn", [
    ("F.layer_norm(x, (4,))", lambda x: TF.layer_norm(x, (4,))),
    ("F.layer_norm(x, [3, 4], eps=0.1) * x", lambda x: TF.layer_norm(x, (3, 4), eps=0.1) * x),
    ("torch.layer_norm(x, x.shape[-1:], w, b) * x",
     lambda x: TF.layer_norm(x, (4,), torch.tensor(W4), torch.tensor(W4 ** 2)) * x),
    ("F.rms_norm(x, (4,)) * x", lambda x: TF.rms_norm(x, (4,)) * x),
    ("F.rms_norm(x, [3, 4], eps=0.01) ** 2", lambda x: TF.rms_norm(x, (3, 4), eps=0.01) ** 2),
    ("F.batch_norm(x, weight=c, bias=d, training=True) * x",
     lambda x: TF.batch_norm(x, None, None, torch.tensor(C3), torch.tensor(D3), training=True) * x),
    ("F.batch_norm(x, torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.25, 2.0]), c, d) * x",
     lambda x: TF.batch_norm(x, torch.tensor([0.5, -1.0, 2.0], dtype=T), torch.tensor([1.0, 0.25, 2.0], dtype=T),
                             torch.tensor(C3), torch.tensor(D3)) * x),
    ("F.group_norm(x, 3, c, d) * x", lambda x: TF.group_norm(x, 3, torch.tensor(C3), torch.tensor(D3)) * x),
    ("torch.group_norm(x, 1, eps=0.2) * x", lambda x: TF.group_norm(x, 1, eps=0.2) * x),
    ("F.instance_norm(x, weight=c, bias=d) * x",
     lambda x: TF.instance_norm(x, weight=torch.tensor(C3), bias=torch.tensor(D3)) * x),
    ("F.local_response_norm(x, 2) * x", lambda x: TF.local_response_norm(x, 2) * x),
    ("F.local_response_norm(x, 3, alpha=0.5, beta=0.5, k=2.0) * x",
     lambda x: TF.local_response_norm(x, 3, 0.5, 0.5, 2.0) * x),
])
def test_norms_agree_with_torch_to_second_order(text, torch_fn):
    # (c and d, where the text reads them, are constants here: the next test gives them gradients)
    text = text.replace(", w, b)", f", torch.tensor({W4.tolist()}), torch.tensor({(W4 ** 2).tolist()}))")
    text = text.replace("c, d", f"torch.tensor({C3.tolist()}), torch.tensor({D3.tolist()})")
    text = text.replace("=c, bias=d", f"=torch.tensor({C3.tolist()}), bias=torch.tensor({D3.tolist()})")
    _agree(text, torch_fn, {"x": X3}, rtol=1e-10, atol=1e-12)


def test_the_affine_parameters_get_torchs_gradients():
    values = {"x": X3, "w": W4, "b": RNG.standard_normal(4)}
    _agree("F.layer_norm(x, (4,), w, b) * x", lambda x, w, b: TF.layer_norm(x, (4,), w, b) * x, values,
           rtol=1e-10, atol=1e-12)
    values = {"x": X3, "c": C3, "d": D3}
    _agree("F.group_norm(x, 3, weight=c, bias=d) ** 2", lambda x, c, d: TF.group_norm(x, 3, c, d) ** 2, values,
           rtol=1e-10, atol=1e-12)
    _agree("F.batch_norm(x, weight=c, bias=d, training=True) ** 2",
           lambda x, c, d: TF.batch_norm(x, None, None, c, d, training=True) ** 2, values, rtol=1e-10, atol=1e-12)


def test_layer_norms_gradient_is_torchs_native_backward_to_rounding():
    """layer_norm is a composite here; torch's native_layer_norm_backward agrees with it to a few ulps."""
    x = RNG.standard_normal((5, 7))
    uu = np.random.default_rng(3).standard_normal((5, 7))
    got = functional.grad("sum(F.layer_norm(x, (7,)) * u)", {"x": x, "u": uu}, wrt="x").gradients["x"]
    t = torch.tensor(x, requires_grad=True)
    (want,) = torch.autograd.grad((TF.layer_norm(t, (7,)) * torch.tensor(uu)).sum(), t)
    assert np.max(np.abs(got - want.numpy())) <= 1e-14 * np.max(np.abs(want.numpy()))


def test_zero_variance_is_finite_as_torchs():
    """Equal entries: rsqrt(0 + eps) keeps the value 0 and the gradients finite, as PyTorch."""
    ones = np.ones((2, 3, 4))
    for text, torch_fn in (("F.layer_norm(x, (4,)) * x", lambda x: TF.layer_norm(x, (4,)) * x),
                           ("F.group_norm(x, 3) * x", lambda x: TF.group_norm(x, 3) * x),
                           ("F.batch_norm(x, training=True) * x",
                            lambda x: TF.batch_norm(x, None, None, training=True) * x)):
        _agree(text, torch_fn, {"x": ones})
    g = functional.grad("sum(F.layer_norm(x, (4,)) * x)", {"x": ones}).gradients["x"]
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize("text, torch_fn", [
    ("F.hardshrink(x) * x", lambda x: TF.hardshrink(x) * x),
    ("x.hardshrink(0.7) ** 2", lambda x: TF.hardshrink(x, 0.7) ** 2),
    ("F.softshrink(x, lambd=0.7) ** 2", lambda x: TF.softshrink(x, 0.7) ** 2),
    ("torch.nn.functional.softshrink(x) * x", lambda x: TF.softshrink(x) * x),
    ("F.threshold(x, 0.5, 2.0) ** 2", lambda x: TF.threshold(x, 0.5, 2.0) ** 2),
    ("torch.threshold(x, threshold=0.0, value=-1) * x", lambda x: TF.threshold(x, 0.0, -1.0) * x),
    ("F.celu(x, 2.0) ** 2", lambda x: TF.celu(x, 2.0) ** 2),
    ("F.celu(x, alpha=3) * x", lambda x: TF.celu(x, 3.0) * x),
    ("F.glu(x) ** 2", lambda x: TF.glu(x) ** 2),
    ("F.glu(x.reshape(4, 2), dim=0) * 3", lambda x: TF.glu(x.reshape(4, 2), 0) * 3),
])
def test_activations_agree_with_torch_at_their_kinks(text, torch_fn):
    _agree(text, torch_fn, {"x": KINKS})
    # NOTE: no nan: torch's vectorized shrink kernels take nan inside the band, its scalar loop (the last
    # entries of an array) outside; and glu's Hessian at an inf follows glu_double_backward's own formula.
    nonfinite = np.array([-1.0, 0.0, np.inf, -np.inf, 3.0, 2.0, 0.5, -0.5])
    _agree(text, torch_fn, {"x": nonfinite}, hessian="glu" not in text)


def test_shrinks_and_threshold_take_the_lower_piece_at_their_kinks():
    """hardshrink and softshrink have gradient 0 at ±lambd, threshold at the threshold, as PyTorch."""
    at = np.array([-0.5, 0.5])
    for text in ("F.hardshrink(x)", "F.softshrink(x)", "F.threshold(x, -0.5, 3.0)"):
        g = functional.grad(f"sum({text})", {"x": at}).gradients["x"]
        want = [0.0, 0.0] if "shrink" in text else [0.0, 1.0]
        np.testing.assert_array_equal(g, want)


def test_prelu_at_zero_follows_torchs_double_backward():
    """prelu'(0) is weight (the lower piece); PyTorch's double backward takes 0 with the upper piece, so the
    Hessian of prelu(x, w)**2 at x = 0 is 2 w (not 2 w**2) and d/dw of the slope there is 0: as torch's."""
    x, w = np.array([-1.0, 0.0, 2.0]), np.array([0.25])
    _agree("F.prelu(x, w) ** 2", lambda x, w: TF.prelu(x, w) ** 2, {"x": x, "w": w})
    h = functional.hessian("sum(F.prelu(x, w) ** 2)", {"x": x, "w": w}).hessian
    assert h["x"]["x"][1, 1] == 0.5 and h["x"]["w"][1, 0] == 0.0
    m, channels = RNG.standard_normal((2, 3, 2)), np.array([0.25, -1.0, 2.0])
    _agree("F.prelu(m, w) * m", lambda m, w: TF.prelu(m, w) * m, {"m": m, "w": channels})
    nonfinite = np.array([-1.0, 0.0, np.inf, -np.inf, np.nan, 2.0])
    _agree("torch.prelu(x, w) ** 2", lambda x, w: TF.prelu(x, w) ** 2, {"x": nonfinite, "w": w})


def test_dropout_in_eval_mode_is_the_input_itself():
    x = RNG.standard_normal((2, 3))
    for text in ("F.dropout(x, training=False)", "F.dropout(x, 0.0)", "F.dropout(x, p=0.3, training=False)",
                 "F.alpha_dropout(x)", "F.feature_alpha_dropout(x, 0.5)", "F.dropout1d(x, training=False)",
                 "torch.dropout(x, 0.5, False)"):
        got = functional.grad(f"sum({text} * x)", {"x": x})
        np.testing.assert_array_equal(got.value, np.sum(x * x))
        np.testing.assert_array_equal(got.gradients["x"], 2 * x)


@pytest.mark.parametrize("text, message", [
    ("F.dropout(x)", "training mode draws a random mask"),
    ("F.dropout(x, 0.2, True)", "training=False"),
    ("F.alpha_dropout(x, 0.5, training=True)", "cannot reproduce"),
    ("F.dropout(x, 2.0, training=False)", "between 0 and 1"),
    ("F.dropout1d(x[0], training=False)", "2 or 3 axes"),
    ("F.layer_norm(x, (2,))", "not the trailing shape"),
    ("F.group_norm(x, 2)", "do not split"),
    ("F.batch_norm(x)", "reads running_mean and running_var"),
    ("F.batch_norm(x[:1], training=True)", "more than one value per channel"),
    ("F.instance_norm(x)", "at least 3 axes"),
    ("F.glu(x)", "even number"),
    ("F.prelu(x, torch.tensor([0.1, 0.2]))", "one weight or one per channel"),
    ("F.softshrink(x, -0.5)", "lambd >= 0"),
])
def test_errors_as_pytorchs(text, message):
    with pytest.raises(GradcliError, match=message) as err:
        functional.grad(f"sum({text})", {"x": RNG.standard_normal((2, 3))})
    assert err.value.span is not None


def test_running_statistics_get_no_gradient():
    values = {"x": X3, "m": np.array([0.5, -1.0, 2.0]), "v": np.array([1.0, 0.25, 2.0])}
    got = functional.grad("sum(F.batch_norm(x, m, v) * x)", values).gradients
    np.testing.assert_array_equal(got["m"], 0.0)
    np.testing.assert_array_equal(got["v"], 0.0)


def test_the_command_line(cli):
    run = cli("grad", "F.layer_norm(x, (3,)).pow(3).sum()", "--x", "1,2,4", "-f", "json")
    assert run.exit_code == 0, run.stderr
    out = json.loads(run.stdout)
    t = torch.tensor([1.0, 2.0, 4.0], dtype=T, requires_grad=True)
    TF.layer_norm(t, (3,)).pow(3).sum().backward()
    np.testing.assert_allclose(out["gradients"]["x"], t.grad.numpy(), rtol=1e-12)
    run = cli("grad", "F.dropout(x).sum()", "--x", "1,2")
    assert run.exit_code != 0 and "training=False" in run.stderr and "^" in run.stderr


def test_gradcli_run_names_torchs_nodes(tmp_path, cli):
    script = tmp_path / "norm.py"
    script.write_text("import torch\nimport torch.nn.functional as F\n"
                      "x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)\n"
                      "print(type(F.layer_norm(x, (3,)).grad_fn).__name__)\n"
                      "print(type(F.glu(x.reshape(3, 2)).grad_fn).__name__)\n"
                      "print(type(F.prelu(x, torch.tensor([0.25], dtype=torch.float64)).grad_fn).__name__)\n"
                      "y = x * 2\n"
                      "print(type(F.dropout(y, training=False).grad_fn).__name__)\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split() == ["NativeLayerNormBackward0", "GluBackward0", "PreluKernelBackward0", "MulBackward0"]
