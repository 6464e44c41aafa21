"""x ** c for a number c gives PyTorch's bits (autodiff/power.py), forward, gradient and Hessian.

torch's pow(Tensor, Scalar) computes 2, 3, -0.5, -1 and -2 by products, 1/sqrt and division,
and its gradient c * x.pow(c - 1) goes through the same kernels. Each test compares gradcli
with torch 2 (float64 and float32) entry by entry, byte for byte (a nan against a nan: the
sign of a nan is the hardware's choice), at random values over many magnitudes and at 0,
-0, +-inf and nan, on every path: the eager engine on arrays and on 0-d values (the scalar
path), a traced program replayed plainly, on Python floats (tiny) and block by block (fused).

What stays different, because torch's own kernel is not one numpy has: x**0.5 is torch's
sqrt, which on its CPU build is not the correctly rounded root (about 1% of float64 and 18%
of float32 entries differ in the last bit), so gradcli's x**0.5 is its sqrt, the correctly
rounded one; and the gradients of x**-2 and x**-0.5 take x**-3 and x**-1.5 by torch's
vectorised pow. Those are pinned below against gradcli's own operations and kernels instead
(the last test, which needs no torch, spells out every kernel).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradcli
from gradcli.api.compiled import gradient_program, value_program
from gradcli.api.problem import problem
from gradcli.autodiff import fused
from gradcli.autodiff.fused import Fused
from gradcli.autodiff.power import cube, power
from gradcli.autodiff.scalar import ScalarProgram
from gradcli.autodiff.trace import Program

FORWARD = (2.0, 3.0, -0.5, -1.0, -2.0, 0.0, 1.0)  # the exponents whose value is torch's, bit for bit
GRADIENT = (2.0, 3.0, 0.5, -1.0, 0.0, 1.0)  # ... whose gradient is (c - 1 among FORWARD, or no pow at all)
DTYPES = ("float64", "float32")
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def draw(n: int, dtype: str, seed: int) -> np.ndarray:
    """n values over magnitudes 1e-4 to 1e4, both signs, then the special ones."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * np.exp(rng.uniform(-9.0, 9.0, n))
    return np.concatenate([x, SPECIAL]).astype(dtype)


def assert_bits(got, want, where) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, where
    nan = np.isnan(want)
    assert (np.isnan(got) == nan).all(), where
    # (the bits as unsigned integers: -0.0 differs from 0.0)
    wrong = np.flatnonzero(got[~nan].view(f"u{got.itemsize}") != want[~nan].view(f"u{want.itemsize}"))
    assert not len(wrong), (where, f"{len(wrong)} of {got.size}", got[~nan][wrong[:3]], want[~nan][wrong[:3]])


def torch_pow(torch, x: np.ndarray, c: float, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x ** c and the gradient of sum(w * x ** c), by torch."""
    t = torch.from_numpy(x.copy()).requires_grad_()
    y = t ** c
    (torch.from_numpy(w) * y).sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def weights(x: np.ndarray) -> np.ndarray:
    return np.random.default_rng(7).uniform(0.5, 2.0, x.shape).astype(x.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", sorted(set(FORWARD + GRADIENT)))
@pytest.mark.parametrize("each", (False, True), ids=("arrays", "0-d values"))
def test_eager(c, dtype, each, torch):
    x = draw(60 if each else 4000, dtype, seed=int(c * 10) + 100)
    w = weights(x)
    value, grad = torch_pow(torch, x, c, w)
    if each:  # one 0-d value at a time: the short path (call.py _short_first)
        results = [gradcli.grad(f"w * x ** {c!r}", {"x": xi, "w": wi}, wrt=["x"], dtype=dtype) for xi, wi in zip(x, w)]
        got_value, want_value = np.array([r.value for r in results], dtype), w * value
        got_grad = np.array([r.gradients["x"] for r in results], dtype)
    else:
        got_grad = gradcli.grad(f"sum(w * x ** {c!r})", {"x": x, "w": w}, wrt=["x"], dtype=dtype).gradients["x"]
        with gradcli.no_grad():
            got_value, want_value = (gradcli.Tensor(x) ** c).data, value
    if c in FORWARD:
        assert_bits(got_value, want_value, ("value", c, dtype))
    if c in GRADIENT:
        assert_bits(got_grad, grad, ("gradient", c, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", sorted(set(FORWARD + GRADIENT)))
@pytest.mark.parametrize("size, kind", [((), ScalarProgram), ((3,), ScalarProgram), ((300,), Program),
                                        ((5000,), Fused)])
def test_compiled(c, dtype, size, kind, monkeypatch, torch):
    if kind is ScalarProgram and dtype == "float32":
        kind = Program  # (Python floats are float64: a float32 program replays plainly)
    monkeypatch.setattr(fused, "FUSE_ENTRIES", 1024)  # (so that 5000 entries fuse, in several blocks)
    monkeypatch.setattr(fused, "BLOCK", 512)
    n = max(int(np.prod(size)), 1)
    points = draw(max(n, 40), dtype, seed=int(c * 10) + 300)
    gradient = value = None
    for start in range(0, len(points) - n + 1, n):
        x = points[start:start + n].reshape(size)
        w = weights(x)
        values = {"x": x, "w": w}
        if gradient is None:  # (each records at its first call)
            gradient = gradient_program(problem(f"sum(w * x ** {c!r})", values, wrt=["x"], dtype=dtype))
            value = value_program(problem(f"w * x ** {c!r}", values, dtype=dtype))
            gradient(values), value(values)
        got_value, got_grad = value(values), gradient(values)[1]["x"]
        want_value, want_grad = torch_pow(torch, x, c, w)
        if c in FORWARD:
            assert_bits(got_value, w * want_value, ("value", c, dtype, size))
        if c in GRADIENT:
            assert_bits(got_grad, want_grad, ("gradient", c, dtype, size))
    for traced in (gradient.traced, value.traced):
        programs = list(traced.programs.values())
        assert traced.replayed and all(type(p) is kind for p in programs), programs
        if kind is Fused and c not in (0.0, 1.0):  # (x**0's rule makes zeros, x**1's passes g on: no power)
            steps = [fn for item in programs[0].schedule if isinstance(item, fused.Phase) for _, fn, *_ in item.steps]
            assert power in steps, steps


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", (3.0, -0.5, -2.0))
def test_eager_on_threads(c, dtype, monkeypatch, torch):
    # 2^20 entries: the engine runs the power in slices on two threads, the exponent broadcast.
    monkeypatch.setenv("GRADCLI_THREADS", "2")
    x = np.abs(draw(1 << 20, dtype, seed=9))
    with gradcli.no_grad():
        got = (gradcli.Tensor(x) ** c).data
    assert_bits(got, (torch.from_numpy(x) ** c).numpy(), (c, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", (2.0, 3.0, 0.5, -1.0))
def test_hessian(c, dtype, torch):
    # torch's double backward: grad * c * ((c - 1) * x.pow(c - 2)), with x**0 and x**1 (bit for bit),
    # or x**-1.5 and x**-3 (torch's vectorised pow: within a few ulps)
    x = np.abs(draw(30, dtype, seed=11)) if c == 0.5 else draw(30, dtype, seed=11)
    t = torch.from_numpy(x.copy()).requires_grad_()
    (g,) = torch.autograd.grad((t ** c).sum(), t, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), t)
    got = gradcli.hessian(f"sum(x ** {c!r})", {"x": x}, dtype=dtype).hessian["x"]["x"]
    if c in (0.5, -1.0):
        np.testing.assert_allclose(np.diag(got), h.numpy(), rtol=4 * np.finfo(dtype).eps)
    else:
        assert_bits(np.diag(got), h.numpy(), (c, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_number_kernels_are_the_operations_own(dtype):
    """x**0.5 is gradcli's sqrt, x**-0.5 its rsqrt, x**-1 its reciprocal, x**2 its square, bit for bit
    (also where torch's sqrt, not the correctly rounded root, gives other last bits). Their rules are
    torch's own, and differ from pow's but for square's (which is x**2)."""
    x = np.abs(draw(2000, dtype, seed=13))
    for c, name in ((0.5, "sqrt"), (-0.5, "rsqrt"), (-1.0, "reciprocal"), (2.0, "square")):
        r = gradcli.grad(f"sum(w * x ** {c!r})", {"x": x, "w": weights(x)}, wrt=["x"], dtype=dtype)
        s = gradcli.grad(f"sum(w * {name}(x))", {"x": x, "w": weights(x)}, wrt=["x"], dtype=dtype)
        assert_bits(r.value, s.value, (c, dtype))
        if name == "square":
            assert_bits(r.gradients["x"], s.gradients["x"], (c, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_power_is_the_kernel_for_one_number_and_numpys_pow_otherwise(dtype):
    """Without torch: each exponent's kernel spelled out, for an exponent of one number however it
    is held (0-d, one entry, broadcast as on threads), with out= too; numpy's pow for others."""
    x = draw(500, dtype, seed=17)
    with np.errstate(all="ignore"):
        spelled = {2.0: x * x, 3.0: x * x * x, 0.5: np.sqrt(x), -0.5: 1 / np.sqrt(x), -1.0: 1 / x,
                   -2.0: 1 / (x * x)}
        for c, want in spelled.items():
            for b in (np.array(c, dtype), np.array([c], dtype), np.broadcast_to(np.array(c, dtype), x.shape)):
                assert_bits(power(x, b), want, (c, b.shape))
                out = np.empty_like(x)
                assert power(x, b, out) is out
                assert_bits(out, want, (c, b.shape, "out"))
        for c in (1.5, -3.0, 4.0, 0.0, 1.0):
            b = np.array(c, dtype)
            assert_bits(power(x, b), np.power(x, b), c)
        many = np.full(x.shape, 3.0, dtype)  # an exponent of many entries is numpy's pow, all of them 3 or not
        assert_bits(power(x, many), np.power(x, many), "many")
        # the result's shape and dtype are np.power's: a (1, 1) exponent of another dtype
        other = np.array([[3.0]], "float32" if dtype == "float64" else "float64")
        got = power(x, other)
        assert got.shape == (1, x.size) and got.dtype == np.float64
        assert_bits(got[0], cube(x.astype(np.float64)), "promoted")
