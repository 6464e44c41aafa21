"""Helpers the operation files share: shape rules, SymPy lifting, and `F` for rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.errors import GradcliError, format_shape
from gradcli.autodiff.engine import Tensor, function
from gradcli.autodiff.op import OPS, Shape


def same_shape(shape: Shape, **_: Any) -> Shape:
    return shape


def broadcast_shapes(*shapes: Shape, **_: Any) -> Shape:
    """numpy's broadcast of shapes, or an error naming them."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(format_shape(s) for s in shapes)
        raise GradcliError(f"shapes {listed} cannot be broadcast together", kind="shape") from None


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """axis (None, an int or a tuple of ints) as sorted negative axes of an ndim array.

    Negative axes keep rules correct when a cotangent carries leading batch axes.
    """
    if axis is None:
        return tuple(range(-ndim, 0))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = set()
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise GradcliError(f"axis must be a whole number, not {a!r}", kind="index")
        if not -ndim <= a < ndim:
            raise GradcliError(f"axis {a} is out of range for a value with {ndim} dimension"
                               f"{'' if ndim == 1 else 's'}", kind="index")
        out.add(int(a) - ndim if a >= 0 else int(a))
    return tuple(sorted(out))


def reduced_shape(shape: Shape, axis: Any = None, keepdims: bool = False, **_: Any) -> Shape:
    axes = {a + len(shape) for a in normalize_axes(axis, len(shape))}
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def sympy_elementwise(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Lift a scalar SymPy function to object arrays (broadcasting like numpy)."""
    def rule(sp: Any, *args: np.ndarray, **_: Any) -> np.ndarray:
        ufunc = np.frompyfunc(lambda *xs: fn(sp, *xs), len(args), 1)
        return np.asarray(ufunc(*args), dtype=object)
    return rule


class _Functions:
    """F.name(*inputs, **params) applies the operation `name`: the vocabulary of rules."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in OPS:
            raise AttributeError(f"no operation named {name!r}")
        apply = function(OPS[name])
        setattr(self, name, apply)
        return apply


F = _Functions()


def symmetric_jvp(n: Any, tangents: tuple) -> Any:
    """The JVP of an operation whose Jacobian is symmetric (it is a gradient: cofactor is det's):
    its backward rule, given the tangent."""
    return n.op.backward(n, tangents[0])[0]


def one_axis(a: int, ndim: int, what: str = "dim") -> int:
    """a as a non-negative axis of an ndim array (a 0-d value acts as one of one axis, as in torch)."""
    bound = max(ndim, 1)
    if isinstance(a, tuple) or not -bound <= a < bound:
        raise GradcliError(f"{what}={a!r} is not an axis of a value with {ndim} dimension{'' if ndim == 1 else 's'}",
                           kind="index")
    return a % bound


def flat_entries(a: np.ndarray) -> tuple:
    """An array's entries as a tuple of numbers: an index read through decide (a guard compares tuples)."""
    return tuple(a.reshape(-1).tolist())


def zeros_like(g: Tensor) -> Tensor:
    """Zeros shaped like g, a constant: the cotangent of a rule whose derivative is 0.

    As torch's zeros_like(grad): an inf or nan in g does not pass, and the zeros are real
    numbers downstream (times an inf factor they give nan there, as in torch).
    """
    return Tensor(np.zeros(g.shape, dtype=g.data.dtype))


# -- fast paths rules share ----------------------------------------------------------------
# Each gives the same numbers as the plain rule (the op-table tests compare them) with fewer
# passes over memory.

def factor_cotangent(n: Any, g: Any, i: int, other: Any) -> Any:
    """g * other: the cotangent of input i of a product whose other factor is `other`."""
    v = n.uniform
    if v is not None and other.shape == n.out_shape:
        # a sum's cotangent: the other factor itself (times v), no product with g
        return other.detach() if v == 1.0 else F.mul(other, v)
    # (the cheap tests first: most products are of two arrays, or of two numbers)
    if n.in_shapes[i] == () and other.data.ndim and other.data.shape == n.out_shape:
        batch = g.ndim - len(n.out_shape)
        if batch <= 1:
            # A scalar factor's cotangent is the dot product of g and the other factor: one pass,
            # no product array to fill and sum.
            size = other.size
            if other.ndim > 1:
                other = F.reshape(other, src=other.shape, dst=(size,))
                g = F.reshape(g, src=g.shape, dst=g.shape[:batch] + (size,))
            return F.matmul(g, other)
    return F.mul(g, other)
