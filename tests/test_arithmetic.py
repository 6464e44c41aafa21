"""The elementwise extras (gradcli/ops/arithmetic.py) against torch: addcmul, addcdiv, lerp, copysign,
float_power, fmax, fmin, logaddexp2, rsub, positive, deg2rad, rad2deg, special.erfcx, logical_xor,
logical_not and isclose, written as PyTorch code writes them; values, gradients and Hessians in float64
at kinks (0, -0, ties, lerp's switch at |weight| = 0.5), NaN and infinities, float32, and the command line.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import run_cli

from gradcli.api import functional
from gradcli.ops.arithmetic import erfcx

torch = pytest.importorskip("torch")

NAN, INF = math.nan, math.inf


def _torch_sum_grads(fn, values, dtype):
    tensors = [torch.tensor(v, dtype=dtype, requires_grad=True) for v in values.values()]
    out = fn(*tensors)
    grads = torch.autograd.grad(out.sum(), tensors, allow_unused=True) if out.requires_grad else [None] * len(tensors)
    return out.detach().numpy(), [np.zeros(np.shape(v)) if g is None else g.numpy() for g, v in
                                  zip(grads, values.values())]


def _agree(text, fn, values, *, dtype="float64", rtol=1e-13, hessian=True):
    """gradcli's value, gradient and (float64) Hessian of sum(text) are torch's."""
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    want, want_grads = _torch_sum_grads(fn, values, torch_dtype)
    r = functional.grad(f"sum({text})", values, dtype=dtype)
    got = functional.jacobian(text, values, dtype=dtype).value if want.ndim else r.value
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True)
    for name, g in zip(values, want_grads):
        np.testing.assert_allclose(r.gradients[name], g, rtol=rtol, atol=0, equal_nan=True, err_msg=name)
    if hessian and dtype == "float64":
        tensors = tuple(torch.tensor(v, dtype=torch.float64) for v in values.values())
        h = torch.autograd.functional.hessian(lambda *a: fn(*a).sum(), tensors)
        got_h = functional.hessian(f"sum({text})", values).hessian
        names = list(values)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                np.testing.assert_allclose(got_h[a][b], h[i][j].numpy(), rtol=rtol, atol=1e-300, equal_nan=True,
                                           err_msg=f"{a}, {b}")


X = [0.3, -1.2, 2.0, 0.0, -0.0, 5.5]
Y = [1.5, 0.7, -0.4, -2.0, 3.0, -1.0]
Z = [-0.8, 2.5, 1.1, 0.9, -3.0, 0.25]

CASES = [
    ("torch.addcmul(x, y, z)", lambda x, y, z: torch.addcmul(x, y, z)),
    ("x.addcmul(y, z, value=-0.3)", lambda x, y, z: x.addcmul(y, z, value=-0.3)),
    ("torch.addcdiv(x, y, z, value=2)", lambda x, y, z: torch.addcdiv(x, y, z, value=2)),
    ("addcdiv(x, tensor1=y, tensor2=z)", lambda x, y, z: torch.addcdiv(x, y, z)),
    ("torch.lerp(x, y, z)", torch.lerp),
    ("x.lerp(y, z)", torch.lerp),
    ("torch.copysign(x, y) * z", lambda x, y, z: torch.copysign(x, y) * z),
    ("torch.fmax(x, y) + torch.fmin(y, z)", lambda x, y, z: torch.fmax(x, y) + torch.fmin(y, z)),
    ("torch.logaddexp2(x, y) * z", lambda x, y, z: torch.logaddexp2(x, y) * z),
    ("torch.rsub(x, y, alpha=2) * z", lambda x, y, z: torch.rsub(x, y, alpha=2) * z),
    ("x.rsub(y) * z", lambda x, y, z: torch.rsub(x, y) * z),
    ("torch.positive(x) * torch.deg2rad(y) + torch.rad2deg(z)",
     lambda x, y, z: torch.positive(x) * torch.deg2rad(y) + torch.rad2deg(z)),
    ("torch.float_power(abs(x) + 0.5, y) * z", lambda x, y, z: torch.float_power(x.abs() + 0.5, y) * z),
    ("torch.special.erfcx(x * 3) * y + z", lambda x, y, z: torch.special.erfcx(x * 3) * y + z),
]


@pytest.mark.parametrize("text, fn", CASES, ids=[c[0] for c in CASES])
def test_values_gradients_and_hessians_are_torchs(text, fn):
    _agree(text, fn, {"x": X, "y": Y, "z": Z})


@pytest.mark.parametrize("text, fn", CASES, ids=[c[0] for c in CASES])
def test_float32_is_torchs_float32(text, fn):
    _agree(text, fn, {"x": X, "y": Y, "z": Z}, dtype="float32", rtol=2e-6)


def test_lerp_switches_formula_at_half_as_torch():
    # weights on both sides of 0.5 and -0.5, at 1 (end exactly), beyond [0, 1], and a number
    s = [0.1, 1e16, -3.3, 7.0, 0.1, 1e-3, 2.0]
    u = [0.7, 1.0, 1e-8, 7.0 + 1e-9, 0.3, -5.0, 2.0]
    w = [0.49999999999, 0.5, -0.5, 1.0, 2.5, -0.4999, 0.0]
    # (torch's kernel fuses the product and the sum: the last bit may differ)
    _agree("torch.lerp(s, u, w)", torch.lerp, {"s": s, "u": u, "w": w}, rtol=3e-16)
    _agree("torch.lerp(s, u, 0.75)", lambda s, u: torch.lerp(s, u, 0.75), {"s": s, "u": u}, rtol=3e-16)
    _agree("s.lerp(u, weight=0.25)", lambda s, u: torch.lerp(s, u, 0.25), {"s": s, "u": u}, rtol=3e-16)


def test_lerp_at_infinities_and_nan_as_torch():
    s = [INF, 1.0, 0.0, NAN, 1.0, -INF]
    u = [1.0, INF, 1.0, 1.0, 2.0, INF]
    w = [0.25, 0.75, INF, 0.5, NAN, 0.5]
    _agree("torch.lerp(s, u, w)", torch.lerp, {"s": s, "u": u, "w": w}, hessian=False)


def test_copysign_gradient_at_zero_minus_zero_nan_and_inf_as_torch():
    a = [0.0, -0.0, 0.0, NAN, INF, -INF, 2.0, -2.0]
    b = [1.0, 1.0, -0.0, 1.0, -1.0, -0.0, NAN, 0.0]
    _agree("torch.copysign(a, b)", torch.copysign, {"a": a, "b": b}, rtol=0)
    r = functional.grad("sum(torch.copysign(a, b))", {"a": a, "b": b})
    np.testing.assert_array_equal(r.gradients["a"][:3], 0.0)  # 0 at 0 and -0, whatever b's sign
    assert np.isnan(r.gradients["a"][3]) and np.isnan(r.gradients["a"][4])  # result / self: nan, inf / inf
    assert str(float(r.value)) == "nan"


def test_fmax_and_fmin_ignore_nan_and_give_a_tie_to_the_first_as_torch():
    a = [1.0, NAN, 2.0, NAN, 3.0, -INF, INF]
    b = [1.0, 3.0, NAN, NAN, 3.0, 0.0, INF]
    for name in ("fmax", "fmin"):
        fn = getattr(torch, name)
        _agree(f"torch.{name}(a, b)", fn, {"a": a, "b": b}, rtol=0)
        _agree(f"b.{name}(a)", lambda a, b: fn(b, a), {"a": a, "b": b}, rtol=0)
    r = functional.grad("sum(fmax(a, b))", {"a": a, "b": b})
    np.testing.assert_array_equal(r.gradients["a"], [1, 0, 1, 1, 1, 0, 1])


def test_logaddexp2_at_infinities_as_torch():
    a = [-INF, INF, -INF, 3.0, 1e300, -1074.0]
    b = [-INF, INF, 1.0, INF, 1e300, -1075.0]
    _agree("torch.logaddexp2(a, b)", torch.logaddexp2, {"a": a, "b": b}, hessian=False)


def test_erfcx_is_torchs_over_its_range():
    x = np.concatenate([np.linspace(-26, 30, 561), [0.0, -0.0, 1e-300, 24.999, 25.0, 25.001, 1e5, 1e300, INF, -INF,
                                                     NAN, -26.6, -27.0]])
    want = torch.special.erfcx(torch.tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(erfcx(x), want, rtol=2e-14, atol=0, equal_nan=True)
    small = {"x": [-2.0, -0.3, 0.0, 0.4, 3.0, 12.0, 40.0]}
    _agree("torch.special.erfcx(x)", torch.special.erfcx, small, rtol=1e-12)


def test_erfcx_in_float32():
    x = np.array([-3.0, -0.5, 0.0, 0.7, 4.0, 30.0], np.float32)
    r = functional.grad("sum(torch.special.erfcx(x))", {"x": x}, dtype="float32")
    t = torch.tensor(x, requires_grad=True)
    torch.special.erfcx(t).sum().backward()
    assert float(r.value) == pytest.approx(float(torch.special.erfcx(t).sum().detach()), rel=1e-6)
    np.testing.assert_allclose(r.gradients["x"], t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_logical_functions_and_isclose_are_masks_without_gradient():
    a = np.array([0.0, 1.0, NAN, -2.0, 0.0, 1e-9])
    b = np.array([0.0, 0.0, NAN, -2.0 + 1e-7, 3.0, 0.0])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for text, want in (("torch.logical_xor(a, b)", torch.logical_xor(ta, tb)),
                       ("a.logical_not()", torch.logical_not(ta)),
                       ("torch.isclose(a, b)", torch.isclose(ta, tb)),
                       ("torch.isclose(a, b, equal_nan=True)", torch.isclose(ta, tb, equal_nan=True)),
                       ("torch.isclose(a, b, rtol=0, atol=1e-8)", torch.isclose(ta, tb, rtol=0, atol=1e-8)),
                       ("a.isclose(b, 1e-9, 1e-9)", torch.isclose(ta, tb, 1e-9, 1e-9))):
        r = functional.grad(f"sum(({text}) * a * b)", {"a": a, "b": b})
        mask = want.double().numpy()
        used = {"a": a, "b": b} if "b" in text else {"a": a}
        np.testing.assert_array_equal(functional.jacobian(text, used).value, mask, err_msg=text)
        np.testing.assert_array_equal(r.gradients["a"], mask * b, err_msg=text)  # (a mask times nan is nan)


def test_command_line_lerp_and_addcmul():
    text = "torch.lerp(s, u, 0.75).sum() + torch.addcmul(s, u, u, value=0.5).sum()"
    out = run_cli("grad", text, "--s", "[1, 2]", "--u", "[3, 5]", "-f", "json")
    assert out.exit_code == 0, out.stderr
    payload = json.loads(out.stdout)
    s, u = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in ([1.0, 2.0], [3.0, 5.0]))
    f = torch.lerp(s, u, 0.75).sum() + torch.addcmul(s, u, u, value=0.5).sum()
    f.backward()
    assert payload["value"] == pytest.approx(f.item(), rel=1e-15)
    assert payload["gradients"]["s"] == pytest.approx(s.grad.tolist(), rel=1e-15)
    assert payload["gradients"]["u"] == pytest.approx(u.grad.tolist(), rel=1e-15)


@pytest.fixture
def extras_alone(monkeypatch):
    """The differential suite with this family's forms alone, picked at half the sub-expressions."""
    import differential
    import twins_extras

    monkeypatch.setattr(differential, "TWINS", dict(differential.TWINS))
    monkeypatch.setattr(differential, "FORMS", [])
    monkeypatch.setattr(differential, "FAMILY_SHARE", 0.5)
    twins_extras.add(differential)
    return differential


def _disagreements(differential, names, cases, streams):
    import warnings

    found, seen = [], set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for stream in streams:
            for second in (False, True):
                for seed in range(cases):
                    case = differential.make_case(seed, stream, second_order=second)
                    if not case.ops() & names:
                        continue
                    seen |= case.ops() & names
                    outcome = differential.compare(case)
                    if outcome.kind == "disagree":
                        found.append(f"{case.minimal_form()}\n    {outcome.detail[:300]}")
    return found, seen


ELEMENTWISE_NAMES = {"addcmul", "addcdiv", "linear_interpolation", "copysign", "float_power", "fmax", "fmin",
                     "logaddexp2", "rsub", "positive", "deg2rad", "rad2deg", "erfcx", "logical_xor", "logical_not",
                     "isclose"}


# NOTE: not the nonfinite stream, where two disagreements of other operations show through these: copysign reads
# the sign of logsigmoid(inf), -0.0 in gradcli and 0.0 in torch, and lerp's nan weight meets prod's second
# derivative at a 0-d input (hessian of v*(1 - w) + prod(v)*w at w = nan: gradcli nan, torch 0). The tests
# above take these functions to nan and the infinities one at a time.
@pytest.mark.parametrize("stream", ["random", "integer", "kink", "large"])
def test_differential_cases_of_the_family_agree_with_torch(extras_alone, stream):
    found, seen = _disagreements(extras_alone, ELEMENTWISE_NAMES, 120, (stream,))
    assert not found, "\n".join(found[:6])
    assert len(seen) >= 10
