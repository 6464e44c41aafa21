"""The problems the benchmark times, and their references: hand-written numpy and PyTorch.

The numpy versions are the limit for any numpy engine: the derivative worked out by
hand, fused, with temporaries reused in place. PyTorch and JAX are imported only when
asked for.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

LARGE_EXPRS = {
    "sinexp": {"expr": "sum(sin(x)*exp(-x**2))", "wrt": "x",
               "data": {"x": lambda rng, n: rng.standard_normal(n)}},
    "mse": {"expr": "mean((w*x - y)**2)", "wrt": "w",
            "data": {"w": lambda rng, n: np.float64(0.5), "x": lambda rng, n: rng.standard_normal(n),
                     "y": lambda rng, n: rng.standard_normal(n)}},
}
JACOBIAN_EXPRS = {"tanh(W @ x)": "tanh(W @ x)", "sin(x)*x**2": "sin(x)*x**2"}
HESSIAN_EXPR = "sum(tanh(W @ x))"


@cache
def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def jax_available() -> bool:
    try:
        _jax()
    except ImportError:
        return False
    return True


@cache
def _jax() -> Any:
    """jax in float64, as every other case computes: by default it computes in float32, whatever the
    inputs' dtype. Set in each process that calls jax (a timed case runs in a worker of its own)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _float64(result: Any) -> np.ndarray:
    out = np.asarray(result.block_until_ready())
    assert out.dtype == np.float64, f"jax computed in {out.dtype}, not float64"
    return out


@cache
def _jax_functions() -> dict[str, Any]:
    """The same problems in JAX, jit-compiled (the first, untimed call of a run compiles them)."""
    jax = _jax()
    import jax.numpy as jnp

    return {
        "sinexp": jax.jit(jax.value_and_grad(lambda x: jnp.sum(jnp.sin(x) * jnp.exp(-x**2)))),
        "mse": jax.jit(jax.value_and_grad(lambda w, x, y: jnp.mean((w * x - y) ** 2))),
        "tanh(W @ x)": jax.jit(jax.jacrev(lambda x, W: jnp.tanh(W @ x))),
        "sin(x)*x**2": jax.jit(jax.jacrev(lambda x: jnp.sin(x) * x**2)),
        "hessian": jax.jit(jax.hessian(lambda x, W: jnp.sum(jnp.tanh(W @ x)))),
    }


def jax_large(label: str, data: dict[str, Any]) -> np.ndarray:
    args = (data["x"],) if label == "sinexp" else (data["w"], data["x"], data["y"])
    _value, gradient = _jax_functions()[label](*args)
    return _float64(gradient)


def jax_jacobian(label: str, values: dict[str, np.ndarray]) -> np.ndarray:
    args = (values["x"], values["W"]) if "W" in values else (values["x"],)
    return _float64(_jax_functions()[label](*args))


def jax_hessian(values: dict[str, np.ndarray]) -> np.ndarray:
    return _float64(_jax_functions()["hessian"](values["x"], values["W"]))


# -- large gradients -----------------------------------------------------------------------------
def numpy_large(label: str, data: dict[str, Any]) -> np.ndarray:
    """Value and gradient by hand; returns the gradient."""
    if label == "sinexp":
        x = data["x"]
        e = np.multiply(x, x)
        np.negative(e, out=e)
        np.exp(e, out=e)
        s = np.sin(x)
        _value = np.dot(s, e)
        c = np.cos(x)
        # d/dx sin(x) exp(-x²) = exp(-x²) (cos x - 2 x sin x)
        s *= x
        s *= 2.0
        c -= s
        c *= e
        return c
    w, x, y = data["w"], data["x"], data["y"]
    r = w * x
    r -= y
    _value = np.dot(r, r) / r.size
    return np.asarray(2.0 * np.dot(r, x) / r.size)


_compiled: dict[tuple, Any] = {}


def gradcli_compiled(label: str, data: dict[str, Any]) -> np.ndarray:
    """gradcli's traced gradient program (api/compiled.py); returns the gradient. The first call
    at given shapes records the program (as jax.jit's first call compiles); later calls replay it."""
    spec = LARGE_EXPRS[label]
    key = (label, tuple(np.shape(v) for v in data.values()))
    if key not in _compiled:
        from gradcli.api.compiled import gradient_program
        from gradcli.api.problem import problem

        _compiled[key] = gradient_program(problem(spec["expr"], data, wrt=[spec["wrt"]]))
    return _compiled[key](data)[1][spec["wrt"]]


def torch_large(label: str, data: dict[str, Any]) -> np.ndarray:
    """Forward and backward in PyTorch (CPU, float64); returns the gradient."""
    import torch

    if label == "sinexp":
        x = torch.from_numpy(data["x"]).requires_grad_()
        (torch.sin(x) * torch.exp(-x**2)).sum().backward()
        return x.grad.numpy()
    w = torch.tensor(float(data["w"]), dtype=torch.float64, requires_grad=True)
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    ((w * x - y) ** 2).mean().backward()
    return w.grad.numpy()


# -- long expressions ----------------------------------------------------------------------------
def terms_expr(n: int) -> str:
    """sin(x*1)*1 + sin(x*2)*2 + ... + sin(x*n)*n: 4 operations a term, x a scalar."""
    return " + ".join(f"sin(x*{i})*{i}" for i in range(1, n + 1))


def gradcli_terms(n: int) -> Any:
    """gradcli's gradient of terms_expr(n) in-process, parsing included; lifts the length limits
    that guard the command line (the 10^5-term text has 2 million characters)."""
    from gradcli.api import functional
    from gradcli.limits import LIMITS

    LIMITS.max_length = LIMITS.max_nodes = 10**8
    return functional.grad(terms_expr(n), {"x": 0.3}, wrt="x").gradients["x"]


def torch_terms(n: int) -> Any:
    """The same sum built term by term in PyTorch eager (float64), then backward."""
    import torch

    x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    total = torch.sin(x * 1) * 1
    for i in range(2, n + 1):
        total = total + torch.sin(x * i) * i
    total.backward()
    return x.grad.numpy()


# -- Jacobians and Hessians ----------------------------------------------------------------------
def numpy_jacobian(label: str, values: dict[str, np.ndarray]) -> np.ndarray:
    """The batched VJP with the identity basis, done by hand: rows I · diag(f') (· W)."""
    x = values["x"]
    basis = np.eye(x.size)
    if label == "tanh(W @ x)":
        t = np.tanh(values["W"] @ x)
        basis *= 1.0 - t * t
        return basis @ values["W"]
    basis *= np.cos(x) * x * x + 2.0 * x * np.sin(x)
    return basis


def numpy_hessian(values: dict[str, np.ndarray]) -> np.ndarray:
    """d²/dx² sum(tanh(W x)) = Wᵀ diag(-2 t (1 - t²)) W."""
    W, x = values["W"], values["x"]
    t = np.tanh(W @ x)
    return W.T @ ((-2.0 * t * (1.0 - t * t))[:, None] * W)


TORCH_JACOBIANS = {"torch jacrev": "jacrev", "torch jacobian (vectorize off)": "loop",
                   "torch jacobian (vectorize on)": "vectorized"}


def torch_jacobian(label: str, values: dict[str, np.ndarray], method: str) -> Any:
    """The Jacobian w.r.t. x in PyTorch: torch.func.jacrev, or autograd.functional.jacobian
    with vectorize off (a loop of rows) or on."""
    import torch
    from torch.autograd.functional import jacobian
    from torch.func import jacrev

    x = torch.from_numpy(values["x"])
    if label == "tanh(W @ x)":
        W = torch.from_numpy(values["W"])

        def f(v):
            return torch.tanh(W @ v)
    else:
        def f(v):
            return torch.sin(v) * v**2
    if method == "jacrev":
        return jacrev(f)(x)
    return jacobian(f, x, vectorize=method == "vectorized")


def torch_hessian(values: dict[str, np.ndarray]) -> Any:
    import torch
    from torch.func import hessian

    W, x = torch.from_numpy(values["W"]), torch.from_numpy(values["x"])
    return hessian(lambda v: torch.tanh(W @ v).sum())(x)


# -- derivatives of higher order of one variable ----------------------------------------------
HIGHER_EXPR = "exp(sin(x))*cos(x)/(1 + x**2)"
HIGHER_POINT = 0.5


def sympy_derivatives(order: int) -> list[float]:
    """f, f', ..., f^(order) at the point as a SymPy user gets them: diff(f, x, k), then evalf, each from
    an empty cache (a user's one run does not find its derivatives cached)."""
    import sympy as sp
    from sympy.core.cache import clear_cache

    clear_cache()
    x = sp.Symbol("x")
    f = sp.exp(sp.sin(x)) * sp.cos(x) / (1 + x**2)
    return [float(sp.diff(f, x, k).evalf(subs={x: HIGHER_POINT})) for k in range(order + 1)]


def sympy_derivative(order: int) -> float:
    """f^(order) alone: diff(f, x, order), then evalf at the point (from an empty cache)."""
    import sympy as sp
    from sympy.core.cache import clear_cache

    clear_cache()
    x = sp.Symbol("x")
    return float(sp.diff(sp.exp(sp.sin(x)) * sp.cos(x) / (1 + x**2), x, order).evalf(subs={x: HIGHER_POINT}))


@cache
def _jax_jet(order: int) -> Any:
    jax = _jax()
    import jax.numpy as jnp
    from jax.experimental import jet

    def derivatives(x0):
        primal, series = jet.jet(lambda x: jnp.exp(jnp.sin(x)) * jnp.cos(x) / (1 + x**2), (x0,),
                                 ((1.0,) + (0.0,) * (order - 1),))
        return primal, series

    return jax.jit(derivatives)


def jax_jet_derivatives(order: int) -> Any:
    """jax.experimental.jet, jit-compiled (its series are the derivatives f^(k), k = 1..order)."""
    primal, series = _jax_jet(order)(HIGHER_POINT)
    return float(_float64(primal)), [float(s) for s in series]
