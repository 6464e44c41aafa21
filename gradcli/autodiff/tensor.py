"""Tensor: a float64 or float32 array that can record the operations applied to it.

This module holds the value side: construction, introspection, detach. What a Tensor's
operators and `backward` do lives with the machinery they need (`call.py` applies an
operation, `backward.py` runs a backward pass); those modules install themselves here as
`Tensor._operate` and `Tensor._backward` when imported, as JAX's array methods are attached
after jax.numpy is defined. `gradcli.autodiff.engine` imports them all: use that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff.mode import mode
from gradcli.errors import GradcliError, format_shape, param

DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}
_KEPT = frozenset(DTYPES.values())
_SPELLINGS = {"double": "float64", "float": "float32"}  # as torch.double and torch.float name them


def dtype_of(value: Any) -> np.dtype:
    """The dtype a name or type stands for: "float32"/"float64", numpy's types, or torch.float32/float64.

    None is the default (float64, unless default_dtype() says otherwise in this thread).
    """
    if value is None:
        return mode.dtype
    if isinstance(value, np.dtype) and value in DTYPES.values():
        return value
    name = value.__name__ if isinstance(value, type) else str(value)
    name = name.removeprefix("torch.").removeprefix("numpy.")
    found = DTYPES.get(_SPELLINGS.get(name, name))
    if found is None:
        raise GradcliError(f"{param('dtype')} is {value!r}: use float32 or float64", kind="usage")
    return found


def as_array(data: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """data as an array of dtype (default: the thread's default dtype); bools and integers are promoted."""
    dtype = mode.dtype if dtype is None else dtype
    if isinstance(data, np.ndarray) and data.dtype == dtype:
        return data
    return np.asarray(data, dtype=dtype)


def _engine_not_loaded(*_: Any, **__: Any) -> Any:
    raise RuntimeError("import gradcli.autodiff.engine before applying operations to tensors")


class Tensor:
    """An array of float64 or float32 that can record the operations applied to it.

    Tensor(data, requires_grad=False, dtype=None): dtype "float32" or "float64"; without
    it, a Tensor or a numpy array of either keeps its dtype (as torch.tensor does) and
    other data (numbers, lists) becomes float64, gradcli's default (PyTorch's is float32). Operations compute in their inputs'
    dtype; a Python number or array meeting a tensor takes the tensor's dtype. Leaves (made by the user) accumulate gradients in
    `.grad` on `backward()`; results of operations carry `.grad_fn`.
    """

    __slots__ = ("data", "requires_grad", "grad", "grad_fn", "_leaf_node", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator
    _operate = staticmethod(_engine_not_loaded)  # call.operate, once call.py is imported
    _backward = staticmethod(_engine_not_loaded)  # backward.backward, once backward.py is imported

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None and isinstance(data, (np.ndarray, np.floating)) and data.dtype in _KEPT:
            dtype = data.dtype
        self.data = as_array(data, dtype_of(dtype))
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.grad_fn: Any = None
        self._leaf_node: Any = None

    @classmethod
    def _result(cls, data: np.ndarray, grad_fn: Any) -> Tensor:
        t = cls.__new__(cls)
        t.data = data
        t.requires_grad = grad_fn is not None
        t.grad = None
        t.grad_fn = grad_fn
        t._leaf_node = None
        return t

    # -- introspection -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return float(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4)
        if self.data.dtype != np.float64:  # as torch names a dtype other than its default
            body += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            return f"tensor({body}, grad_fn=<{self.grad_fn.name}>)"
        return f"tensor({body}, requires_grad=True)" if self.requires_grad else f"tensor({body})"

    def detach(self) -> Tensor:
        """The same values, cut from the graph (no gradient flows back through it)."""
        return Tensor._result(self.data, None)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if not self.is_leaf:
            raise GradcliError("requires_grad can only be changed on a leaf tensor", kind="grad")
        self.requires_grad = flag
        return self

    # -- operators -------------------------------------------------------------------
    def __add__(self, other): return self._operate("add", self, other)
    def __radd__(self, other): return self._operate("add", other, self)
    def __sub__(self, other): return self._operate("sub", self, other)
    def __rsub__(self, other): return self._operate("sub", other, self)
    def __mul__(self, other): return self._operate("mul", self, other)
    def __rmul__(self, other): return self._operate("mul", other, self)
    def __truediv__(self, other): return self._operate("div", self, other)
    def __rtruediv__(self, other): return self._operate("div", other, self)
    def __pow__(self, other): return self._operate("pow", self, other)
    def __rpow__(self, other): return self._operate("pow", other, self)
    def __matmul__(self, other): return self._operate("matmul", self, other)
    def __rmatmul__(self, other): return self._operate("matmul", other, self)
    def __neg__(self): return self._operate("neg", self)
    def __pos__(self): return self
    def __lt__(self, other): return self._operate("lt", self, other)
    def __le__(self, other): return self._operate("le", self, other)
    def __gt__(self, other): return self._operate("gt", self, other)
    def __ge__(self, other): return self._operate("ge", self, other)
    def __getitem__(self, key): return self._operate("index", self, key=normalize_key(key, self.shape))

    __hash__ = object.__hash__  # == is not overloaded: tensors are compared by identity

    @property
    def T(self) -> Tensor:
        return self._operate("transpose", self)

    @property
    def mT(self) -> Tensor:
        """Swap of the last two axes (the batch-friendly transpose used in rules)."""
        return self._operate("permute", self, perm=(1, 0))

    def sum(self, axis=None): return self._operate("sum", self, axis=axis)
    def mean(self, axis=None): return self._operate("mean", self, axis=axis)

    def reshape(self, *shape: int) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        new = np.empty(self.shape, dtype=np.bool_).reshape(shape).shape if -1 in shape else tuple(shape)
        return self._operate("reshape", self, src=self.shape, dst=new)

    # -- differentiation -----------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf), weighted by `gradient`, into every leaf's `.grad`.

        For a non-scalar tensor `gradient` (shaped like self) is required: the result is
        the vector-Jacobian product gradientᵀ·J, as y.backward(gradient) in PyTorch.
        """
        self._backward(self, gradient, retain_graph, create_graph)


def lift(x: Any, dtype: np.dtype | None = None) -> Tensor:
    """x as a Tensor: a Tensor as it is, anything else as an array of dtype (default: the thread's)."""
    return x if isinstance(x, Tensor) else Tensor._result(as_array(x, dtype), None)


def normalize_key(key: Any, shape: tuple[int, ...]) -> tuple:
    """An index key as a tuple of ints and slices, checked against shape."""
    if not isinstance(key, tuple):
        key = (key,)
    if len(key) > len(shape):
        raise GradcliError(
            f"too many indices ({len(key)}) for a value of shape {format_shape(shape)}", kind="index")
    out = []
    for axis, (k, n) in enumerate(zip(key, shape)):
        if isinstance(k, slice):
            out.append(k)
            continue
        if isinstance(k, (float, np.floating)) and float(k).is_integer():
            k = int(k)
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise GradcliError(f"an index must be a whole number or a slice, not {k!r}", kind="index")
        if not -n <= k < n:
            raise GradcliError(
                f"index {k} is out of range for axis {axis} of size {n}", kind="index")
        out.append(int(k) % n)
    return tuple(out)
