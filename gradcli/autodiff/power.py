"""a ** b as PyTorch computes it: the kernel an exponent of one number picks.

PyTorch's pow(Tensor, Scalar) (ATen's pow_tensor_scalar_optimized_kernel, what `x ** 3`
calls) does not call pow for the common exponents: 2 is x*x, 3 is x*x*x, 0.5 is sqrt(x),
-0.5 is 1/sqrt(x), -1 is 1/x and -2 is 1/(x*x). numpy's pow gives other last bits for 3,
-0.5 and -2 (about a quarter of the entries) and, at x = -inf, 0 where 1/sqrt(-inf) is nan.
`power` computes those exponents by the same operations, so a**b here has torch's numbers,
and so has pow's gradient, whose rule is c * a**(c - 1) (x**3's gradient takes x*x, x**0.5's
1/sqrt(x)). Any other exponent, and an exponent of many entries, is numpy's pow. (x**0.5 is
numpy's sqrt, the correctly rounded root, as gradcli's sqrt is; torch's CPU sqrt is not, in
about 1% of float64 entries and 18% of float32 ones.)

An exponent is one number when it holds one entry, or is one entry broadcast (the engine
hands a 0-d exponent to slices on threads broadcast to the whole shape). Whether it is a
constant does not matter: torch's pow of two tensors (x ** y, even for a 0-d y) is its
vectorised pow, whose last bits numpy's pow does not give either (about 6% of float64
entries differ), so a variable exponent gains nothing from numpy's pow and takes the same
kernel.

`power` is an `Elementwise` function: the engine runs it as it runs np.power (on threads,
in a temporary input's buffer, as one step of a traced program, block by block in a fused
pass); its choice of kernel is a dictionary lookup per call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff.op import Elementwise


def rsqrt(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / sqrt(x), as torch.rsqrt (a division of the correctly rounded root)."""
    return np.divide(1.0, np.sqrt(x), out=out)


def cube(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(x * x) * x."""
    return np.multiply(np.multiply(x, x), x, out=out)


def inverse_square(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (x * x)."""
    return np.reciprocal(np.multiply(x, x), out=out)


# exponent -> the function of the base torch's pow(Tensor, Scalar) computes instead of pow
KERNELS = {2.0: np.square, 3.0: cube, 0.5: np.sqrt, -0.5: rsqrt, -1.0: np.reciprocal, -2.0: inverse_square}
# Those Power calls: np.power squares for 2 in its own loop already (the same bits), with less to call.
_CALLED = {c: kernel for c, kernel in KERNELS.items() if c != 2.0}


def one_number(b: np.ndarray) -> Any:
    """The exponent's one number (a Python float) when it holds one, broadcast or not; else None."""
    if b.size == 1:
        return b.item()
    if b.size and not any(b.strides):
        return b.flat[0].item()
    return None


class Power(Elementwise):
    """np.power(a, b, out=out) for arrays a and b, with PyTorch's kernel where b is one of KERNELS'
    exponents."""

    __name__ = "power"  # (as np.power's: what a listing of a program's steps calls it)

    def __call__(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # (this runs for every power of a 0-d value: the common case, one entry, is tried first)
        try:
            kernel = _CALLED.get(b.item())
        except ValueError:  # (not one entry)
            kernel = _CALLED.get(one_number(b))
        if kernel is None:
            return np.power(a, b, out=out)
        if b.ndim > a.ndim or (a.dtype is not b.dtype and a.dtype != b.dtype):  # (np.power's shape and dtype)
            a = np.broadcast_to(np.asarray(a, np.result_type(a, b)), np.broadcast_shapes(a.shape, b.shape))
        return kernel(a, out=out)


power = Power()
