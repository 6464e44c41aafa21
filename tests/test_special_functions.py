"""The special functions torch has beside erf: lgamma, digamma, polygamma, mvlgamma, erfinv, ndtr, ndtri,
log_ndtr, entr, xlog1py, i0, i0e, i1, i1e and nan_to_num, against torch 2.13 in float64: their spellings,
values over wide ranges (large, tiny, negative, near the poles, inf and nan), gradients and second
derivatives at the poles, and the command line. The registry tests cover each record's rule and series.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.errors import GradcliError
from gradcli.ops import bessel, gamma, normal
from gradcli.ops.entropy import entr, xlog1py

torch = pytest.importorskip("torch")
S = torch.special
nan, inf = np.nan, np.inf


def grads(text: str, **values) -> dict:
    with np.errstate(all="ignore"):
        return functional.grad(text, {k: np.asarray(v, dtype=float) for k, v in values.items()}).gradients


def torch_grad(fn, x, create_graph=False):
    t = torch.tensor(np.asarray(x, dtype=float), requires_grad=True)
    (g,) = torch.autograd.grad(fn(t).sum(), t, create_graph=create_graph)
    return t, g


def same(ours, theirs, rtol=1e-13):
    """Equal to theirs within rtol, with inf and nan where theirs are."""
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=rtol, atol=0)


WIDE = np.concatenate([np.linspace(-30.25, 30.25, 243), 10.0 ** np.arange(-300, 301, 20.0),
                       -(10.0 ** np.arange(-12, 7, 1.5)), [1e-320, 0.5, 1.0, 1.5, 2.0, 2.5, 9.999, 10.0, 10.001]])
POLES = np.array([0.0, -0.0, -1.0, -2.0, -1e6, inf, -inf, nan])

# (gradcli function of an array, torch function): values over WIDE and at the poles
VALUES = [
    ("lgamma", gamma.lgamma, torch.lgamma, 1e-14),
    ("digamma", gamma.digamma, torch.digamma, 1e-15),
    ("trigamma", lambda x: gamma.polygamma(x, 1), lambda t: torch.polygamma(1, t), 1e-15),
    ("polygamma2", lambda x: gamma.polygamma(x, 2), lambda t: torch.polygamma(2, t), 1e-15),
    ("polygamma5", lambda x: gamma.polygamma(x, 5), lambda t: torch.polygamma(5, t), 1e-15),
    ("i0", bessel.i0, torch.i0, 1e-14),
    ("i0e", bessel.i0e, S.i0e, 1e-14),
    ("i1", bessel.i1, S.i1, 1e-14),
    ("i1e", bessel.i1e, S.i1e, 1e-14),
    ("log_ndtr", normal.log_ndtr, S.log_ndtr, 1e-14),
]


@pytest.mark.parametrize("name, ours, theirs, rtol", VALUES, ids=[v[0] for v in VALUES])
def test_values_over_wide_ranges_and_poles_are_torchs(name, ours, theirs, rtol):
    x = np.concatenate([WIDE, POLES])
    with np.errstate(all="ignore"):
        same(ours(x), theirs(torch.tensor(x)).numpy(), rtol)


def test_lgamma_keeps_its_digits_near_its_zeros_at_1_and_2():
    # (Python's math.lgamma is off by up to 1e-11 of the value here)
    x = np.array([1 - 1e-3, 1 + 1e-9, 1.0001, 2 - 1e-3, 2 + 1e-9, 1.9999, 0.9999780244577918])
    same(gamma.lgamma(x), torch.lgamma(torch.tensor(x)).numpy(), 1e-14)


def test_trigamma_keeps_torchs_series_error():
    # torch's trigamma stops its series after x**-7: 8e-10 off pi**2/6 at 1, and gradcli's value is torch's.
    assert gamma.polygamma(np.array(1.0), 1) == torch.polygamma(1, torch.tensor(1.0, dtype=torch.float64)).item()
    assert abs(float(gamma.polygamma(np.array(1.0), 1)) - math.pi ** 2 / 6) > 1e-10


def test_erfinv_and_ndtri_are_torchs_where_well_conditioned():
    y = np.concatenate([np.linspace(-0.999, 0.999, 401), [0.0, -0.0, 1e-300, 1.0, -1.0, 1.5, nan]])
    same(normal.erfinv(y), torch.erfinv(torch.tensor(y)).numpy(), 1e-14)
    p = np.concatenate([np.linspace(0.001, 0.999, 401), 10.0 ** np.arange(-300, -1, 7.0), [0.0, 1.0, -0.5, 2.0, nan]])
    same(normal.ndtri(p), S.ndtri(torch.tensor(p)).numpy(), 1e-14)


def test_entr_and_xlog1py_values():
    x = np.array([0.0, -0.0, 2.5, -1.0, inf, nan, 1e-300])
    with np.errstate(all="ignore"):
        same(entr(x), S.entr(torch.tensor(x)).numpy())
        y = np.array([-1.0, -1.0, 0.5, -2.0, nan, 1.0, -1.0])
        same(xlog1py(x, y), S.xlog1py(torch.tensor(x), torch.tensor(y)).numpy())


# Spellings of a call, each with the torch function it stands for, at points away from the poles.
SPELLINGS = [
    ("torch.lgamma(x)", torch.lgamma), ("x.lgamma()", torch.lgamma), ("torch.special.gammaln(x)", torch.lgamma),
    ("torch.digamma(x)", torch.digamma), ("x.digamma()", torch.digamma), ("torch.special.psi(x)", torch.digamma),
    ("torch.special.digamma(x)", torch.digamma),
    ("x.polygamma(2)", lambda t: torch.polygamma(2, t)), ("x.polygamma(n=3)", lambda t: torch.polygamma(3, t)),
    ("torch.polygamma(2, x)", lambda t: torch.polygamma(2, t)), ("polygamma(1, x)", lambda t: torch.polygamma(1, t)),
    ("torch.special.polygamma(3, x)", lambda t: S.polygamma(3, t)), ("polygamma(x, n=2)", lambda t: torch.polygamma(2, t)),
    ("torch.mvlgamma(x + 2, 3)", lambda t: torch.mvlgamma(t + 2, 3)),
    ("torch.mvlgamma(x + 2, p=2)", lambda t: torch.mvlgamma(t + 2, p=2)),
    ("torch.special.multigammaln(x + 2, 2)", lambda t: S.multigammaln(t + 2, 2)),
    ("(x + 2).mvlgamma(1)", lambda t: (t + 2).mvlgamma(1)),
    ("torch.erfinv(x / 4)", lambda t: torch.erfinv(t / 4)), ("torch.special.erfinv(x / 4)", lambda t: S.erfinv(t / 4)),
    ("(x / 4).erfinv()", lambda t: (t / 4).erfinv()),
    ("torch.special.ndtr(x)", S.ndtr), ("torch.special.ndtri(torch.sigmoid(x))", lambda t: S.ndtri(torch.sigmoid(t))),
    ("torch.special.log_ndtr(x)", S.log_ndtr), ("torch.special.expit(x)", S.expit),
    ("torch.special.entr(x)", S.entr), ("torch.special.xlog1py(x, x * x)", lambda t: S.xlog1py(t, t * t)),
    ("torch.i0(x)", torch.i0), ("x.i0()", torch.i0), ("torch.special.i0(x)", S.i0), ("torch.special.i0e(x)", S.i0e),
    ("torch.special.i1(x)", S.i1), ("torch.special.i1e(x)", S.i1e),
    ("x.nan_to_num()", torch.nan_to_num), ("torch.nan_to_num(x, 1.0, 2.0)", lambda t: torch.nan_to_num(t, 1.0, 2.0)),
]
POINTS = np.array([0.3, 1.7, 2.5, -0.6, 3.25, -2.75])


@pytest.mark.parametrize("text, fn", SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_spellings_give_torchs_values_gradients_and_second_derivatives(text, fn):
    with np.errstate(all="ignore"):
        result = functional.grad(f"({text}).sum()", {"x": POINTS})
        hessian = functional.hessian(f"({text}).sum()", {"x": POINTS}).hessian["x"]["x"]
    t, g = torch_grad(fn, POINTS, create_graph=True)
    same(result.value, fn(t).sum().item())
    same(result.gradients["x"], g.detach().numpy(), 1e-12)
    # (the Hessian is diagonal: its row sums are its diagonal; nan_to_num's gradient is a constant)
    h = torch.autograd.grad(g.sum(), t)[0].numpy() if g.requires_grad else np.zeros(len(POINTS))
    same(np.diag(hessian), h, 1e-11)


# At the poles and non-finite points, the gradient and the second derivative are torch's inf and nan.
AT_POLES = [
    ("lgamma(x)", torch.lgamma), ("digamma(x)", torch.digamma), ("x.polygamma(1)", lambda t: torch.polygamma(1, t)),
    ("x.polygamma(2)", lambda t: torch.polygamma(2, t)), ("erfinv(x)", torch.erfinv),
    ("torch.special.ndtri(x)", S.ndtri), ("torch.special.entr(x)", S.entr), ("torch.special.log_ndtr(x)", S.log_ndtr),
    ("torch.i0(x)", torch.i0), ("torch.special.i0e(x)", S.i0e), ("torch.special.i1(x)", S.i1),
    ("torch.special.i1e(x)", S.i1e), ("x.nan_to_num()", torch.nan_to_num),
]
EDGES = np.array([0.0, -0.0, -1.0, -3.0, 1.0, inf, -inf, nan, 1e-300, -1e-17])


@pytest.mark.parametrize("text, fn", AT_POLES, ids=[s[0] for s in AT_POLES])
def test_gradients_at_poles_and_non_finite_points_are_torchs(text, fn):
    for x in EDGES:
        with np.errstate(all="ignore"):
            ours = functional.hessian(f"({text}).sum()", {"x": np.array([x])})
            gradient = functional.grad(f"({text}).sum()", {"x": np.array([x])}).gradients["x"]
        t, g = torch_grad(fn, [x], create_graph=True)
        same(gradient, g.detach().numpy())
        second = torch.autograd.grad(g.sum(), t, allow_unused=True)[0] if g.requires_grad else None
        same(ours.hessian["x"]["x"].ravel(), [0.0] if second is None else second.numpy())


def test_lgamma_and_digamma_at_zero_follow_the_sign_of_zero():
    # digamma(+0) = -inf and digamma(-0) = +inf, as torch: the gradient of lgamma at 0 has the sign of -x
    g = grads("lgamma(x).sum()", x=[0.0, -0.0, -2.0])["x"]
    assert g[0] == -inf and g[1] == inf and np.isnan(g[2])


def test_i1_gradient_at_zero_is_one_half():
    assert grads("torch.special.i1(x).sum()", x=[0.0, 1e-17])["x"].tolist() == [0.5, 0.5]
    assert grads("torch.special.i1e(x).sum()", x=[0.0])["x"].tolist() == [0.5]


def test_nan_to_num_replaces_and_gives_no_gradient_where_not_finite():
    x = np.array([nan, inf, -inf, 1.5])
    with np.errstate(all="ignore"):
        r = functional.grad("x.nan_to_num(nan=0.5, posinf=2.0, neginf=-3.0).sum()", {"x": x})
    assert r.value == 0.5 + 2.0 - 3.0 + 1.5
    assert r.gradients["x"].tolist() == [0.0, 0.0, 0.0, 1.0]
    big = functional.grad("torch.nan_to_num(x).sum()", {"x": np.array([inf])}).value
    assert big == np.finfo(np.float64).max


def test_polygamma_refuses_a_negative_or_fractional_order():
    for n in ("-1", "1.5"):
        with pytest.raises(GradcliError, match="whole number"):
            functional.grad(f"x.polygamma({n}).sum()", {"x": np.array([1.0])})


def test_mvlgamma_is_a_sum_of_lgammas():
    x = np.array([2.5, 4.0])
    r = functional.grad("torch.mvlgamma(x, 3).sum()", {"x": x})
    want = sum(math.lgamma(v - j / 2) for v in x for j in range(3)) + 2 * 3 * 2 * math.log(math.pi) / 4
    same(r.value, want, 1e-13)
    same(r.gradients["x"], [sum(float(gamma.digamma(np.array(v - j / 2))) for j in range(3)) for v in x], 1e-13)


def test_gradients_agree_with_central_differences():
    x, h = np.array([0.7, 2.3, -1.4]), 1e-6
    for text, fn in [("lgamma", gamma.lgamma), ("digamma", gamma.digamma), ("torch.special.i1", bessel.i1),
                     ("torch.special.log_ndtr", normal.log_ndtr)]:
        numeric = (fn(x + h) - fn(x - h)) / (2 * h)
        np.testing.assert_allclose(grads(f"{text}(x).sum()", x=x)["x"], numeric, rtol=1e-7)


def test_float32_follows_torch_float32():
    x = np.array([0.3, 1.7, 2.5, -0.6, 3.25], dtype=np.float32)
    for text, fn in [("lgamma", torch.lgamma), ("digamma", torch.digamma), ("torch.special.i0e", S.i0e),
                     ("torch.special.log_ndtr", S.log_ndtr), ("torch.special.ndtri(torch.sigmoid(x))", None)]:
        call = text if fn is None else f"{text}(x)"
        r = functional.grad(f"{call}.sum()", {"x": x}, dtype="float32")
        t = torch.tensor(x, requires_grad=True)
        (S.ndtri(torch.sigmoid(t)) if fn is None else fn(t)).sum().backward()
        assert r.gradients["x"].dtype == np.float32
        np.testing.assert_allclose(r.gradients["x"], t.grad.numpy(), rtol=2e-6)


def test_the_command_line_computes_lgammas_gradient(cli):
    out = cli("grad", "torch.lgamma(x).sum()", "--x", "[0.5, 3.0]", "-f", "json").json()
    t, g = torch_grad(torch.lgamma, [0.5, 3.0])
    same(out["gradients"]["x"], g.numpy())
