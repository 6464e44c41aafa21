"""Taylor mode: truncated power series pushed through every operation, as jax.experimental.jet.

A series of order K is an array of K+1 coefficients on a leading axis: s[k] is the
coefficient of t**k of a value x(t) = s[0] + s[1] t + ... + s[K] t**K, so s[k] * k! is
its k-th derivative in t. Each operation's record says how the output's series follows
from its inputs' (Op.taylor); this module holds the recurrences those rules share and
`propagate`, which runs them over the operations an evaluation applied, in order.

Every recurrence costs O(K**2) array operations (a power series ODE for exp, tan, tanh,
sigmoid; a Cauchy product for mul and matmul; the division recurrence), so the cost
grows polynomially in K, never as the 2**K of nested backward passes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from gradcli.autodiff.mode import setting, without_donation
from gradcli.autodiff.op import Op
from gradcli.autodiff.power import power as power_of_values
from gradcli.errors import GradcliError

Series = np.ndarray  # (K+1,) + the value's shape


class Step:
    """What a Taylor rule reads of one applied operation: `ans`, `params`, `forward(*arrays)`."""

    __slots__ = ("op", "ans", "params")

    def __init__(self, op: Op, ans: np.ndarray, params: dict):
        self.op, self.ans, self.params = op, ans, params

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        return np.asarray(self.op.forward(*arrays, **self.params), dtype=self.ans.dtype)


@contextmanager
def tracing() -> Iterator[list]:
    """Context manager: the operations applied inside are listed, (op, inputs, params, result, span).

    No result is written into an input's array meanwhile: a listed input must keep its value.
    """
    trace: list = []
    with setting("trace", trace), without_donation():
        yield trace


def propagate(trace: Sequence[tuple], seeds: dict[int, Series], order: int) -> dict[int, Series]:
    """The series of every value the seeded tensors reach, by id of its Tensor.

    seeds: id(tensor) -> its series (K+1 = order+1 coefficients). A value no seed reaches is a
    constant and gets no series; an operation without a derivative (a comparison, floor, detach)
    gives a constant. An operation reached without a Taylor rule raises GradcliError naming it.
    """
    series = dict(seeds)
    for op, inputs, params, result, span in trace:
        if not any(id(t) in series for t in inputs):
            continue
        if not op.differentiable:
            continue  # piecewise constant: its series is its value, as its gradient is 0
        if op.taylor is None:
            where = f"gradcli ops {op.name} says whether" if op.public else "docs/higher.md lists the operations that"
            raise GradcliError(f"{op.name} has no Taylor rule, so derivatives of higher order cannot pass through "
                               f"it ({where} an operation has one)", kind="value", span=span)
        ans = result.data
        xs = [_aligned(series[id(t)] if id(t) in series else constant(t.data, order), ans.ndim, op.elementwise)
              for t in inputs]
        out = np.array(np.broadcast_to(op.taylor(Step(op, ans, params), *xs), (order + 1,) + ans.shape),
                       dtype=ans.dtype)
        out[0] = ans  # the forward's own value (a rule's recurrence may round it differently)
        series[id(result)] = out
    return series


def _aligned(s: Series, ndim: int, elementwise: bool) -> Series:
    """An elementwise operation's input series with its value axes broadcast-aligned to the output's."""
    missing = ndim - (s.ndim - 1)
    if not elementwise or missing <= 0:
        return s
    return s.reshape((s.shape[0],) + (1,) * missing + s.shape[1:])


def constant(value: Any, order: int) -> Series:
    """The series of a constant: its value, then zeros."""
    value = np.asarray(value)
    s = np.zeros((order + 1,) + value.shape, value.dtype if value.dtype.kind == "f" else np.float64)
    s[0] = value
    return s


def variable(value: Any, order: int) -> Series:
    """The series of the variable itself at value: value + t."""
    s = constant(value, order)
    if order:
        s[1] = 1.0
    return s


def is_constant(s: Series) -> bool:
    return not s[1:].any()


# -- rules many operations share ----------------------------------------------------------------

def linear(n: Step, *xs: Series) -> Series:
    """An operation linear in its inputs together (add, sum, reshape, index, cat, ...): coefficient by coefficient."""
    return np.stack([n.forward(*(x[k] for x in xs)) for k in range(len(xs[0]))])


def multilinear(n: Step, *xs: Series) -> Series:
    """An operation linear in each input (matmul, contractions): the Cauchy product through its forward,
    out[k] = the sum over j1 + ... + jm = k of forward(x1[j1], ..., xm[jm]) (constant inputs stay at j = 0)."""
    varying = [i for i, x in enumerate(xs) if not is_constant(x)]
    out = np.zeros((len(xs[0]),) + n.ans.shape, n.ans.dtype)
    for k in range(len(out)):
        for split in _compositions(k, len(varying)):
            args = [x[0] for x in xs]
            for i, j in zip(varying, split):
                args[i] = xs[i][j]
            out[k] += n.forward(*args)
    return out


def _compositions(k: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every tuple of parts whole numbers adding up to k."""
    if parts == 0:
        if k == 0:
            yield ()
        return
    for first in range(k + 1):
        for rest in _compositions(k - first, parts - 1):
            yield (first, *rest)


def series_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """A reduction's axis (a number, a tuple, or None for all) over a value of ndim axes, as the same axes
    of its series (past the leading one)."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    return tuple(a if a < 0 else a + 1 for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))


def extreme(x: Series, axes: tuple[int, ...], pick: Any, keepdims: bool = False) -> Series:
    """The series of the max (pick np.max) or min over the given series axes: the entries at the extreme
    share it evenly, as they share the gradient."""
    at = x[:1] == pick(x[:1], axis=axes, keepdims=True)
    return np.sum(x * at, axis=axes, keepdims=keepdims) / np.sum(at, axis=axes, keepdims=keepdims)


def zero(n: Step, *xs: Series) -> Series:
    """A piecewise constant operation (sign, floor): its value, then zeros."""
    return constant(n.ans, len(xs[0]) - 1)


# -- the arithmetic of series (elementwise, broadcasting on the value axes) ---------------------

def cauchy(a: Series, b: Series) -> Series:
    """The series of a * b: c[k] = sum over j of a[j] b[k-j]."""
    if is_constant(b):
        return a * b[0]
    if is_constant(a):
        return a[0] * b
    shape = np.broadcast_shapes(a.shape, b.shape)
    out = np.empty(shape, np.result_type(a, b))
    for k in range(shape[0]):
        out[k] = (a[:k + 1] * b[k::-1]).sum(0)
    return out


def divide(a: Series, b: Series) -> Series:
    """The series of a / b: q[k] = (a[k] - sum over j >= 1 of b[j] q[k-j]) / b[0]."""
    if is_constant(b):
        return a / b[0]
    shape = np.broadcast_shapes(a.shape, b.shape)
    q = np.empty(shape, np.result_type(a, b))
    for k in range(shape[0]):
        q[k] = (a[k] - (b[1:k + 1] * q[k - 1::-1][:k]).sum(0)) / b[0] if k else a[0] / b[0]
    return q


def rate(s: Series) -> Series:
    """The series of ds/dt, its last coefficient (of order K, which needs s's of order K + 1) left 0."""
    out = np.zeros_like(s)
    out[:-1] = s[1:] * np.arange(1, len(s)).reshape((-1,) + (1,) * (s.ndim - 1))
    return out


def antiderivative(y0: Any, g: Series) -> Series:
    """The series of y with y(0) = y0 and dy/dt = g."""
    y = np.empty_like(g)
    y[0] = y0
    y[1:] = g[:-1] / np.arange(1, len(g)).reshape((-1,) + (1,) * (g.ndim - 1))
    return y


def integrate(y0: Any, x: Series, g: Series) -> Series:
    """The series of y with y(0) = y0 and y' = g x' (g the series of f'(x), so y = f(x)).

    From t y' = t g x': k y[k] = sum over j = 1..k of j x[j] g[k-j].
    """
    y = np.empty(np.broadcast_shapes(x.shape, g.shape), np.result_type(x, g))
    y[0] = y0
    for k in range(1, len(y)):
        j = np.arange(1, k + 1).reshape((k,) + (1,) * (y.ndim - 1))
        y[k] = (j * x[1:k + 1] * g[k - 1::-1][:k]).sum(0) / k
    return y


def riccati(y0: Any, x: Series, a: float, b: float, c: float) -> Series:
    """The series of y = f(x) with f' = a + b f + c f**2: exp (0, 1, 0), tan (1, 0, 1), tanh (1, 0, -1),
    sigmoid (0, 1, -1), expm1 (1, 1, 0). g = f'(x) is built a coefficient behind y."""
    y = np.empty(x.shape, x.dtype)
    g = np.empty(x.shape, x.dtype)
    y[0] = y0
    for k in range(1, len(y)):
        m = k - 1
        g[m] = b * y[m] + c * (y[:m + 1] * y[m::-1]).sum(0) + (a if m == 0 else 0.0)
        j = np.arange(1, k + 1).reshape((k,) + (1,) * (y.ndim - 1))
        y[k] = (j * x[1:k + 1] * g[m::-1]).sum(0) / k
    return y


def sin_cos(s0: Any, c0: Any, x: Series, sign: float = -1.0) -> tuple[Series, Series]:
    """The series of (sin x, cos x) (sign -1) or (sinh x, cosh x) (sign +1): s' = c x', c' = sign s x'."""
    s = np.empty(x.shape, x.dtype)
    c = np.empty(x.shape, x.dtype)
    s[0], c[0] = s0, c0
    for k in range(1, len(x)):
        j = np.arange(1, k + 1).reshape((k,) + (1,) * (x.ndim - 1))
        jx = j * x[1:k + 1]
        s[k] = (jx * c[k - 1::-1][:k]).sum(0) / k
        c[k] = sign * (jx * s[k - 1::-1][:k]).sum(0) / k
    return s, c


def power(x: Series, p: Any, y0: Any = None) -> Series:
    """The series of x**p for a constant p (a number or an array broadcasting with x's values).

    A whole p from 0 to 64 (the same for every entry) is repeated products, exact at x = 0 too;
    otherwise x y' = p x' y gives k x[0] y[k] = sum over j of ((p+1) j - k) x[j] y[k-j], with
    y[1] = p x[0]**(p-1) x[1] as the first derivative has it (inf for a negative power at 0).
    """
    p = np.asarray(p, dtype=x.dtype)
    if p.size and np.all(p == p.flat[0]) and float(p.flat[0]).is_integer() and 0 <= p.flat[0] <= 64:
        return _whole_power(x, int(p.flat[0]), np.broadcast_shapes(x.shape, (1,) + p.shape))
    y = np.empty(np.broadcast_shapes(x.shape, (1,) + p.shape), x.dtype)
    y[0] = power_of_values(x[0], p) if y0 is None else y0
    if len(y) > 1:
        y[1] = p * power_of_values(x[0], p - 1) * x[1]  # (the first derivative's numbers: pow's kernels)
    for k in range(2, len(y)):
        j = np.arange(1, k + 1).reshape((k,) + (1,) * (y.ndim - 1))
        y[k] = (((p + 1) * j - k) * x[1:k + 1] * y[k - 1::-1][:k]).sum(0) / (k * x[0])
    return y


def _whole_power(x: Series, p: int, shape: tuple[int, ...]) -> Series:
    result = None
    base = x
    while p:
        if p & 1:
            result = base if result is None else cauchy(result, base)
        p >>= 1
        if p:
            base = cauchy(base, base)
    if result is None:  # x**0 = 1
        return np.broadcast_to(constant(np.ones(shape[1:], x.dtype), shape[0] - 1), shape)
    return np.broadcast_to(result, shape)


def offset(s: Series, c: Any) -> Series:
    """The series of s + c for a constant c."""
    out = np.array(s)
    out[0] = out[0] + c
    return out


def reciprocal(x: Series) -> Series:
    return divide(constant(np.ones_like(x[0]), len(x) - 1), x)


def exp(x: Series, y0: Any = None) -> Series:
    return riccati(np.exp(x[0]) if y0 is None else y0, x, 0.0, 1.0, 0.0)


def log(x: Series, y0: Any = None) -> Series:
    return integrate(np.log(x[0]) if y0 is None else y0, x, reciprocal(x))


def sigmoid(x: Series, y0: Any) -> Series:
    """y0: sigmoid(x[0]), computed by the caller without overflow."""
    return riccati(y0, x, 0.0, 1.0, -1.0)


def select(mask: np.ndarray, a: Series, b: Series) -> Series:
    """Entry by entry, a's series where mask holds, else b's (a piecewise function follows one branch)."""
    return np.where(mask, a, b)


# -- products along an axis (prod, cumprod, the products of the others) ---------------------------

def _last(x: Series, axes: tuple[int, ...]) -> Series:
    """x with the given series axes moved last and merged into one."""
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    return moved.reshape(moved.shape[:x.ndim - len(axes)] + (-1,))


def running_product(x: Series, axis: int) -> Series:
    """The series of the running products along a series axis: successive Cauchy products, O(n K**2)."""
    moved = np.moveaxis(x, axis, -1)
    out = np.empty_like(moved)
    if moved.shape[-1]:
        out[..., 0] = moved[..., 0]
    for i in range(1, moved.shape[-1]):
        out[..., i] = cauchy(out[..., i - 1], moved[..., i])
    return np.moveaxis(out, -1, axis)


def product(x: Series, axes: tuple[int, ...]) -> Series:
    """The series of the product over the given series axes (the result without them)."""
    flat = _last(x, axes)
    if not flat.shape[-1]:
        return constant(np.ones(flat.shape[1:-1], x.dtype), len(x) - 1)
    return running_product(flat, -1)[..., -1]


def product_of_others(x: Series, axes: tuple[int, ...]) -> Series:
    """The series of each entry's product of the other entries over the given series axes (shaped as x):
    the running products from either end, multiplied."""
    flat = _last(x, axes)
    ones = constant(np.ones(flat.shape[1:-1], x.dtype), len(x) - 1)[..., None]
    before = running_product(np.concatenate([ones, flat[..., :-1]], axis=-1), -1)
    after = running_product(np.concatenate([ones, flat[..., :0:-1]], axis=-1), -1)[..., ::-1]
    out = np.stack([cauchy(before[..., i], after[..., i]) for i in range(flat.shape[-1])], axis=-1)
    moved_shape = np.moveaxis(x, axes, tuple(range(-len(axes), 0))).shape
    return np.moveaxis(out.reshape(moved_shape), tuple(range(-len(axes), 0)), axes)
