"""Making tensors as torch does: tensor, zeros, ones, eye, full, arange, linspace, rand, randn, the *_like
forms, FloatTensor/DoubleTensor, stack, the default dtype (float32) and the random generator's seed.

Random draws come from numpy's generator seeded by manual_seed: the same seed gives the same numbers
in every gradcli run, not PyTorch's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff import engine
import gradcli.torch.core as core
from gradcli.torch.tensor import Tensor, function, new_tensor, wrap

_random = {"generator": np.random.default_rng()}


def _sizes(args: tuple, size: Any) -> tuple[int, ...]:
    if size is not None:
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(n) for n in args)


def _made(array: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    wanted = core.numpy_dtype(dtype)
    out = wrap(engine.Tensor(np.asarray(array, dtype=wanted), dtype=wanted))
    out._t.requires_grad = bool(requires_grad)
    return out


def _like(t: Tensor, dtype: Any) -> Any:
    return t.dtype if dtype is None else dtype


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return new_tensor(data, dtype, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or core.numpy_dtype(dtype) == data._t.dtype):
        return data
    return new_tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    if array.dtype not in (np.float32, np.float64):
        raise core.unsupported(f"a tensor of {array.dtype}")
    return wrap(engine.Tensor._result(array, None))


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, out: Any = None, **_: Any) -> Tensor:
    return _made(np.zeros(_sizes(size, _.get("size"))), dtype, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return _made(np.ones(_sizes(size, _.get("size"))), dtype, requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, **_)


def full(size: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return _made(np.full(_sizes((size,), None), float(fill_value)), dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return _made(np.eye(n, m), dtype, requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False,
           **_: Any) -> Tensor:
    start, end = (0, start) if end is None else (start, end)
    return _made(np.arange(start, end, step), dtype, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return _made(np.linspace(start, end, steps), dtype, requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return _made(_random["generator"].random(_sizes(size, _.get("size"))), dtype, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return _made(_random["generator"].standard_normal(_sizes(size, _.get("size"))), dtype, requires_grad)


def randint(low: int, high: int | None = None, size: Any = None, dtype: Any = None, requires_grad: bool = False,
            **_: Any) -> Tensor:
    """Whole numbers drawn from [low, high) (randint(high, size) from [0, high)), as floats: gradcli has no
    integer tensors."""
    if size is None:  # torch.randint(10, (3,)): the size in high's place
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    return _made(_random["generator"].integers(low, high, _sizes((), size)).astype(np.float64), dtype, requires_grad)


def randperm(n: int, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    """0, ..., n - 1 in a random order, as floats (gradcli has no integer tensors)."""
    return _made(_random["generator"].permutation(int(n)).astype(np.float64), dtype, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return zeros(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return ones(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return zeros(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return full(t.shape, fill_value, dtype=_like(t, dtype), requires_grad=requires_grad)


def rand_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return rand(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def randn_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Tensor:
    return randn(t.shape, dtype=_like(t, dtype), requires_grad=requires_grad)


def FloatTensor(*data: Any) -> Tensor:
    """The legacy constructor: FloatTensor([[2, 3]]) holds the data, FloatTensor(2, 3) is 2x3 (zeros here)."""
    return _legacy(data, core.float32)


def DoubleTensor(*data: Any) -> Tensor:
    return _legacy(data, core.float64)


def _legacy(data: tuple, dtype: core.dtype) -> Tensor:
    if len(data) == 1 and not isinstance(data[0], int):
        return new_tensor(data[0], dtype)
    return zeros(*data, dtype=dtype)


def stack(tensors: Any, dim: int = 0) -> Tensor:
    """torch.stack, numbers and lists among the items made tensors first (as torch.stack takes only tensors,
    but the expression language's [a, b] stacks anything)."""
    tensors = [t if isinstance(t, Tensor) else new_tensor(t) for t in tensors]
    return function("stack")(tensors, dim)


def manual_seed(seed: int) -> Any:
    _random["generator"] = np.random.default_rng(int(seed))
    return _random["generator"]


def set_default_dtype(dtype: core.dtype) -> None:
    if dtype not in (core.float32, core.float64):
        raise TypeError("only floating-point types are supported as the default type")
    core.DEFAULT["dtype"] = dtype


def get_default_dtype() -> core.dtype:
    return core.DEFAULT["dtype"]


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """The legacy torch.autograd.Variable: today a tensor sharing data's values, a leaf that requires grad if asked."""
    made = wrap(engine.Tensor._result(data._t.data, None)) if isinstance(data, Tensor) else new_tensor(data)
    made._t.requires_grad = bool(requires_grad)
    return made
