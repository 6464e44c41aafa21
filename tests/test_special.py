"""The special functions (ops/special.py, ops/special_binary.py): values, derivatives and kinks.

Values against the standard library and closed forms; gradients at kinks and non-finite
inputs pinned to PyTorch's numbers (they hold without torch installed); with torch, value,
first and second derivative of every function compared on a grid of ordinary points,
kinks, ties and nan/inf. The registry-wide tests (tests/test_ops.py) and the differential
suite cover them too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcli.api import functional

INF, NAN = math.inf, math.nan


def derivatives(text: str, **values: float) -> tuple[float, list[float], list[list[float]]]:
    """value, gradient and Hessian of a scalar expression of scalar variables."""
    arrays = {k: np.float64(v) for k, v in values.items()}
    g = functional.grad(text, arrays)
    h = functional.hessian(text, arrays)
    names = list(values)
    return (float(g.value), [float(g.gradients[n]) for n in names],
            [[float(h.hessian[a][b]) for b in names] for a in names])


def test_values_against_the_standard_library():
    x = np.array([-2.5, -0.3, 0.0, 0.7, 3.0])
    p = np.array([0.1, 0.25, 0.5, 0.8, 0.95])
    sigmoid = 1 / (1 + np.exp(-x))
    erf = np.array([math.erf(v) for v in x])
    cases = {
        "erf(x)": erf, "erfc(x)": 1 - erf, "gelu(x)": x * 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x])),
        "silu(x)": x * sigmoid, "swish(x)": x * sigmoid, "mish(x)": x * np.tanh(np.log1p(np.exp(x))),
        "logsigmoid(x)": np.log(sigmoid), "softsign(x)": x / (1 + abs(x)), "asinh(x)": np.arcsinh(x),
        "exp2(x)": 2.0 ** x, "elu(x)": np.where(x > 0, x, np.exp(x) - 1), "elu(x, 0.5)": np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
        "leaky_relu(x)": np.where(x > 0, x, 0.01 * x), "F.leaky_relu(x, negative_slope=0.2)": np.where(x > 0, x, 0.2 * x),
        "hardtanh(x)": np.clip(x, -1, 1), "hardtanh(x, min_val=0, max_val=2)": np.clip(x, 0, 2),
        "relu6(10 * x)": np.clip(10 * x, 0, 6), "floor(x)": [-3, -1, 0, 0, 3], "ceil(x)": [-2, -0, 0, 1, 3],
        "trunc(x)": [-2, -0, 0, 0, 3], "round(x + 0.5)": [-2, 0, 0, 1, 4],  # halves to even: -2.0, 0.2, 0.5, 1.2, 3.5
        "sinc(x)": [math.sin(math.pi * v) / (math.pi * v) if v else 1.0 for v in x],
        "atan2(x, 2)": [math.atan2(v, 2) for v in x], "hypot(x, 2)": [math.hypot(v, 2) for v in x],
        "logaddexp(x, 1)": np.log(np.exp(x) + math.e), "fmod(x, 2)": [math.fmod(v, 2) for v in x],
        "remainder(x, 2)": [v % 2 for v in x], "x.clamp_min(0.5)": np.maximum(x, 0.5), "clamp_max(x, 0.5)": np.minimum(x, 0.5),
        "xlogy(x, 2)": x * math.log(2), "xlogy(0 * x, -1)": np.zeros(5),
    }
    for text, expected in cases.items():
        np.testing.assert_allclose(functional.jacobian(text, {"x": x}).value, expected, rtol=1e-14, atol=1e-15,
                                   err_msg=text)
    for text, expected in {"log2(p)": np.log(p) / math.log(2), "log10(p)": np.log(p) / math.log(10),
                           "rsqrt(p)": 1 / np.sqrt(p), "reciprocal(p)": 1 / p, "atanh(p)": np.arctanh(p),
                           "acosh(1 + p)": np.arccosh(1 + p), "logit(p)": np.log(p / (1 - p)),
                           "logit(p, eps=0.2)": np.log(np.clip(p, 0.2, 0.8) / (1 - np.clip(p, 0.2, 0.8)))}.items():
        np.testing.assert_allclose(functional.jacobian(text, {"p": p}).value, expected, rtol=1e-14, err_msg=text)


# PyTorch 2.13's value, first and second derivative at the point (torch.autograd.grad twice).
@pytest.mark.parametrize(("text", "x", "expected"), [
    ("relu6(x)", 0.0, (0.0, 0.0, 0.0)), ("relu6(x)", 6.0, (6.0, 0.0, 0.0)), ("relu6(x)", NAN, (NAN, 1.0, 0.0)),
    ("hardtanh(x)", -1.0, (-1.0, 0.0, 0.0)), ("hardtanh(x)", 1.0, (1.0, 0.0, 0.0)),
    ("elu(x, 0.5)", 0.0, (0.0, 0.5, 0.0)), ("elu(x, 0.5)", 800.0, (800.0, 1.0, 0.0)), ("elu(x)", INF, (INF, 1.0, 0.0)),
    ("elu(x, 0.5)", -1.0, (0.5 * math.expm1(-1.0), 0.5 * math.exp(-1.0), 0.5 * math.exp(-1.0))),
    ("leaky_relu(x, 0.2)", 0.0, (0.0, 0.2, 0.0)),
    ("sinc(x)", 0.0, (1.0, 0.0, NAN)), ("sinc(x)", 1e-200, (1.0, 0.0, NAN)), ("sinc(x)", 0.5, (2 / math.pi, -4 / math.pi, None)),
    ("logit(x)", 0.0, (-INF, INF, NAN)), ("logit(x)", -1.0, (NAN, NAN, 0.0)), ("logit(x)", 0.5, (0.0, 4.0, 0.0)),
    ("logit(x, eps=0.1)", 0.0, (math.log(1 / 9), 0.0, NAN)), ("logit(x, eps=0.1)", NAN, (NAN, NAN, NAN)),
    ("logit(x, eps=0.1)", 0.1, (math.log(1 / 9), 1 / 0.09, None)),
    ("floor(x)", INF, (INF, 0.0, 0.0)), ("round(x)", 2.5, (2.0, 0.0, 0.0)), ("trunc(x)", NAN, (NAN, 0.0, 0.0)),
    ("rsqrt(x)", 0.0, (INF, -INF, INF)), ("acosh(x)", 1.0, (0.0, INF, -INF)), ("atanh(x)", 1.0, (INF, INF, INF)),
    ("softsign(x)", INF, (NAN, NAN, NAN)), ("softsign(x)", 0.0, (0.0, 1.0, 0.0)),
    ("logsigmoid(x)", -800.0, (-800.0, 1.0, 0.0)), ("silu(x)", -800.0, (0.0, 0.0, 0.0)),
    ("gelu(x)", 0.0, (0.0, 0.5, 2 / math.sqrt(2 * math.pi))),
    ("x / remainder(x, 3)", -3.0, (INF, None, None)),  # remainder(-3, 3) is -0.0, as PyTorch's (numpy's is 0.0)
])
def test_pytorch_numbers_at_kinks_and_nonfinite_points(text, x, expected):
    value, (grad,), ((second,),) = derivatives(text, x=x)
    for got, want in zip((value, grad, second), expected):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=text)


@pytest.mark.parametrize(("text", "a", "b", "grads"), [
    ("xlogy(a, b)", 0.0, 2.0, (math.log(2), 0.0)),   # d/da at a = 0 is log(b) ...
    ("xlogy(a, b)", 0.0, 0.0, (0.0, NAN)),           # ... and 0 where b <= 0
    ("xlogy(a, b)", 0.0, NAN, (NAN, NAN)),
    ("atan2(a, b)", 0.0, 0.0, (0.0, 0.0)),
    ("hypot(a, b)", 0.0, 0.0, (NAN, NAN)),
    ("fmod(a, b)", 3.0, 1.5, (1.0, -2.0)), ("fmod(a, b)", -3.5, 1.5, (1.0, 2.0)),
    ("remainder(a, b)", -3.0, 1.5, (1.0, 2.0)), ("remainder(a, b)", -3.5, 1.5, (1.0, 3.0)),
    ("remainder(a, b)", 1.0, 0.1, (1.0, -9.0)),      # 1 // 0.1 is 9 (0.1 is above 1/10), not floor(1/0.1) = 10
    ("clamp_min(a, b)", 1.0, 1.0, (1.0, 0.0)), ("clamp_max(a, b)", 1.0, 1.0, (1.0, 0.0)),
    ("clamp_min(a, b)", NAN, 1.0, (0.0, 0.0)),
    ("logaddexp(a, b)", -INF, -INF, (NAN, NAN)),
])
def test_pytorch_gradients_of_two_arguments(text, a, b, grads):
    _, got, _ = derivatives(text, a=a, b=b)
    np.testing.assert_allclose(got, grads, rtol=1e-12, err_msg=text)


def test_the_parameters_are_inputs_with_defaults_and_get_gradients():
    # d/dalpha elu = expm1(x) for x <= 0; d/dslope leaky_relu = x for x < 0; the bounds of hardtanh
    # take the gradient where the value is theirs; d/deps logit = +-1/(eps*(1 - eps)) where clamped.
    x = np.array([-1.0, 0.5, 2.0])
    r = functional.grad("sum(elu(x, alpha) + leaky_relu(x, s) + hardtanh(x, lo, hi) + logit(x / 4, eps))",
                        {"x": x, "alpha": 0.5, "s": 0.2, "lo": -0.5, "hi": 1.5, "eps": 0.2})
    assert r.gradients["alpha"] == pytest.approx(math.expm1(-1.0))
    assert r.gradients["s"] == pytest.approx(-1.0)
    assert (r.gradients["lo"], r.gradients["hi"]) == (1.0, 1.0)
    assert r.gradients["eps"] == pytest.approx(2 / 0.16)  # x/4: -0.25 and 0.125 are below eps, 0.5 inside


def test_spellings_of_pytorch_and_numpy(cli):
    run = cli("grad", "F.gelu(x) + torch.special.erf(x) + np.arcsinh(x) + x.atanh() + np.arctan2(x, 1) + "
              "torch.nn.functional.silu(x) + x.log_sigmoid() + np.mod(x, 0.3)", "--x", "0.5", "--format", "json")
    assert run.exit_code == 0, run.stderr
    x = 0.5
    cdf = 0.5 * (1 + math.erf(x / math.sqrt(2)))
    s = 1 / (1 + math.exp(-x))
    expected = (cdf + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi) + 2 / math.sqrt(math.pi) * math.exp(-x * x)
                + 1 / math.sqrt(1 + x * x) + 1 / (1 - x * x) + 1 / (1 + x * x) + s * (1 + x * (1 - s)) + (1 - s) + 1)
    assert run.json()["gradients"]["x"] == pytest.approx(expected, rel=1e-14)


def test_a_kink_is_noted_on_the_command_line(cli):
    run = cli("grad", "sum(hardtanh(x) + leaky_relu(x) + clamp_min(x, 1))", "--x", "0,1")
    assert run.exit_code == 0
    notes = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 3
    for start in ("hardtanh(x) has x exactly on a bound", "leaky_relu(x) is evaluated at 0",
                  "clamp_min(x, 1) has x equal to its bound"):
        assert any(n.startswith(f"note: {start}") for n in notes), (start, notes)


torch = pytest.importorskip("torch")
TF = torch.nn.functional
T = torch.float64

UNARY = {
    "rsqrt(x)": torch.rsqrt, "reciprocal(x)": torch.reciprocal, "log2(x)": torch.log2, "log10(x)": torch.log10,
    "exp2(x)": torch.exp2, "erf(x)": torch.erf, "erfc(x)": torch.erfc, "gelu(x)": TF.gelu, "silu(x)": TF.silu,
    "mish(x)": TF.mish, "logsigmoid(x)": TF.logsigmoid, "softsign(x)": TF.softsign, "asinh(x)": torch.asinh,
    "acosh(x)": torch.acosh, "atanh(x)": torch.atanh, "floor(x)": torch.floor, "ceil(x)": torch.ceil,
    "round(x)": torch.round, "trunc(x)": torch.trunc, "sinc(x)": torch.sinc, "relu6(x)": TF.relu6,
    "elu(x)": TF.elu, "elu(x, 0.5)": lambda x: TF.elu(x, 0.5), "leaky_relu(x)": TF.leaky_relu,
    "leaky_relu(x, 0.2)": lambda x: TF.leaky_relu(x, 0.2), "hardtanh(x)": TF.hardtanh,
    "hardtanh(x, -0.5, 2)": lambda x: TF.hardtanh(x, -0.5, 2.0), "logit(x)": torch.logit,
    "logit(x, eps=0.1)": lambda x: torch.logit(x, 0.1),
}
BINARY = {"xlogy": torch.xlogy, "hypot": torch.hypot, "atan2": torch.atan2, "logaddexp": torch.logaddexp,
          "fmod": torch.fmod, "remainder": torch.remainder, "clamp_min": torch.clamp_min, "clamp_max": torch.clamp_max}
# Not 800 for mish: see the test after these.
POINTS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, 6.0, 0.1, 0.9, 1.5, 3.0, -2.7, 30.0, -30.0, 300.0, -800.0,
          1e-200, INF, -INF, NAN]
PAIRS = [(a, b) for a in (0.0, 1.0, -1.0, 2.5, -3.0, 3.0, 1.5, INF, -INF, NAN, 800.0)
         for b in (0.0, 1.0, -1.0, 1.5, -1.5, 3.0, INF, -INF, NAN, 0.1)]


def torch_derivatives(fn, *xs):
    """value, gradient and Hessian by torch; the gradient without create_graph, as torch.autograd.grad gives it.

    NOTE: torch 2.13's logit(x, eps) gives a nan x the gradient nan (its kernel's formula), but 0 when
    the graph is kept for second order; gradcli follows the kernel.
    """
    leaves = [torch.tensor(x, dtype=T, requires_grad=True) for x in xs]
    out = fn(*leaves)
    plain = torch.autograd.grad(fn(*leaves), leaves, allow_unused=True)
    grads = torch.autograd.grad(out, leaves, create_graph=True, allow_unused=True)
    hessian = []
    for g in grads:
        row = torch.autograd.grad(g, leaves, allow_unused=True, retain_graph=True) if g is not None and \
            g.requires_grad else [None] * len(leaves)
        hessian.append([0.0 if h is None else h.item() for h in row])
    return out.item(), [0.0 if g is None else g.item() for g in plain], hessian


def agree(got, want) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return bool(np.allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)
                and np.array_equal(np.isinf(got), np.isinf(want)))


@pytest.mark.parametrize("text", list(UNARY))
def test_one_argument_agrees_with_torch_to_second_order(text):
    wrong = []
    for x in POINTS:
        ours, theirs = derivatives(text, x=x), torch_derivatives(UNARY[text], x)
        if not all(agree(a, b) for a, b in zip(ours, theirs)):
            wrong.append(f"at {x}: gradcli {ours}, torch {theirs}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", list(BINARY))
def test_two_arguments_agree_with_torch_to_second_order(name):
    wrong = []
    for a, b in PAIRS:
        ours, theirs = derivatives(f"{name}(a, b)", a=a, b=b), torch_derivatives(BINARY[name], a, b)
        if not all(agree(u, v) for u, v in zip(ours, theirs)):
            wrong.append(f"at {a}, {b}: gradcli {ours}, torch {theirs}")
    assert not wrong, "\n".join(wrong)


def test_mish_above_709_differs_from_torch_at_second_order():
    """torch's second derivative of mish is nan above about 709, where exp(x) overflows; gradcli's is 0, the limit."""
    assert derivatives("mish(x)", x=800.0)[2] == [[0.0]]
    assert math.isnan(torch_derivatives(TF.mish, 800.0)[2][0][0])
