"""torch.Tensor for gradcli: a façade over one engine Tensor (gradcli.autodiff) with PyTorch's surface.

Operators and methods go through the registry (apply, core.call); `.grad` is the engine
leaf's gradient array seen as a tensor; in-place updates (`w.data = ...`, `x[0] = ...`, `zero_()`,
`add_()`) either write into the array (no graph involved) or rebind the façade to a new engine
tensor that records the update, so a node that saved the old value keeps it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import gradcli.ops  # noqa: F401  (importing it registers the operations)
from gradcli.api.evaluate import bind
from gradcli.api.indexing import index
from gradcli.autodiff import engine
from gradcli.autodiff.op import FUNCTIONS, Op, paired
from gradcli.errors import GradcliError
from gradcli.lang.tree import Expr
import gradcli.torch.core as core
from gradcli.torch.autograd.graph import Node, grad_fn_of
from gradcli.torch.printing import tensor_repr


class Size(tuple):
    """torch.Size: a tuple that prints as torch.Size([2, 3])."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        return int(np.prod(self))


def wrap(t: engine.Tensor, is_bool: bool = False) -> Tensor:
    out = Tensor.__new__(Tensor)
    out._t = t
    out._bool = is_bool
    out._grad = None
    out._title = None
    return out


def _shape(size: tuple) -> tuple:
    """A size given as numbers (2, 3) or as one sequence ((2, 3), [2, 3], torch.Size)."""
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _operand_array(value: Any) -> np.ndarray:
    return value._t.data if isinstance(value, Tensor) else np.asarray(value)


def _operand(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value._t
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=np.float64)
    return value


class Tensor:
    """A tensor of float32 (PyTorch's default) or float64 that can record the operations applied to it."""

    # _title: the grad_fn name PyTorch gives the result of a composite operation (a node of its own in
    # PyTorch, the last of its parts here: BinaryCrossEntropyWithLogitsBackward0, not MeanBackward0)
    __slots__ = ("_t", "_bool", "_grad", "_title", "__weakref__")

    def __init__(self, *sizes: Any):
        # torch.Tensor(2, 3) is uninitialised memory: zeros here; torch.Tensor([1, 2]) copies the data
        made = new_tensor(sizes[0] if len(sizes) == 1 and not isinstance(sizes[0], int) else np.zeros(sizes))
        self._t, self._bool, self._grad, self._title = made._t, False, None, None

    # -- values ------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        return wrap(engine.Tensor._result(self._t.data, None), self._bool)

    @data.setter
    def data(self, value: Any) -> None:
        self._t.data = value._t.data if isinstance(value, Tensor) else engine.as_array(value, self._t.dtype)

    @property
    def dtype(self) -> core.dtype:
        return core.bool_ if self._bool else core.torch_dtype(self._t.dtype)

    @property
    def shape(self) -> Size:
        return Size(self._t.shape)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self._t.shape[dim]

    def dim(self) -> int:
        return self._t.ndim

    ndim = property(dim)

    def numel(self) -> int:
        return int(self._t.data.size)

    nelement = numel

    def item(self) -> Any:
        if self._t.data.size != 1:
            raise RuntimeError(f"a Tensor with {self._t.data.size} elements cannot be converted to Scalar")
        value = self._t.data.reshape(()).item()
        return bool(value) if self._bool else float(value)

    def tolist(self) -> Any:
        return (self._t.data.astype(bool) if self._bool else self._t.data).tolist()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._t.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._t.data if dtype is None else self._t.data.astype(dtype)

    def __repr__(self) -> str:
        default = core.DEFAULT["dtype"]
        dtype_name = None if self._bool or self.dtype is default else repr(self.dtype)
        node = self.grad_fn
        return tensor_repr(self._t.data, dtype_name=dtype_name, grad_fn_name=None if node is None else node.name(),
                           requires_grad=self._t.requires_grad, is_bool=self._bool)

    def __format__(self, spec: str) -> str:
        if self._t.data.size == 1 and self._t.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __len__(self) -> int:
        if self._t.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._t.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self._t.data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._t.data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        return int(self.item())

    # -- autograd ----------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._t.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self._t.requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._t.grad_fn is None

    @property
    def grad_fn(self) -> Any:
        return grad_fn_of(self._t.grad_fn, self._title)

    @property
    def grad(self) -> Tensor | None:
        array = self._t.grad
        if array is None:
            return None
        if isinstance(array, engine.Tensor):  # a gradient with a graph (create_graph=True)
            if self._grad is None or self._grad._t is not array:
                self._grad = wrap(array)
            return self._grad
        if self._grad is None or self._grad._t.data is not array:
            self._grad = wrap(engine.Tensor._result(array, None))
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        self._t.grad = None if value is None else value._t.data
        self._grad = None

    def register_hook(self, hook: Any) -> core.RemovableHandle:
        """hook(grad) runs when this tensor's gradient is computed, before it goes on (or into a leaf's .grad); a
        tensor it returns replaces the gradient. As PyTorch's Tensor.register_hook."""
        if not self._t.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = core.HOOKS.setdefault(self._t, {})
        handle = core.RemovableHandle(hooks)
        hooks[handle.id] = lambda g: hook(wrap(g))
        return handle

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in .grad on backward passes (a leaf keeps its own anyway)."""
        if not self._t.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if not self.is_leaf:
            core.RETAINED[id(self._t.grad_fn)] = self._t

    @property
    def retains_grad(self) -> bool:
        return not self.is_leaf and core.RETAINED.get(id(self._t.grad_fn)) is self._t

    def detach(self) -> Tensor:
        return wrap(self._t.detach(), self._bool)

    def detach_(self) -> Tensor:
        self._t = self._t.detach()
        return self

    def clone(self) -> Tensor:
        return wrap(core.call("mul", self._t, 1.0) if self._t.requires_grad else
                    engine.Tensor._result(self._t.data.copy(), None), self._bool)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None, retain_variables: bool | None = None) -> None:
        from gradcli.torch.autograd.passes import backward

        if inputs is not None:
            raise core.unsupported("backward(inputs=...)")
        backward(self, gradient, retain_graph, create_graph, retain_variables=retain_variables)

    # -- in place ------------------------------------------------------------------------
    def _write(self, what: str) -> None:
        """Refuse an in-place write PyTorch refuses: into a leaf that requires grad while grad is on."""
        if self._t.requires_grad and self.is_leaf and engine.is_grad_enabled():
            raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation. ({what})")

    def _assign(self, result: Tensor | engine.Tensor) -> Tensor:
        """Make self the result of an in-place update: written into its array when no graph records it."""
        result = result._t if isinstance(result, Tensor) else result
        if result.grad_fn is None:
            np.copyto(self._t.data, result.data, casting="unsafe")
        else:
            self._t, self._title = result, None
        return self

    def zero_(self) -> Tensor:
        self._write("zero_")
        self._t.data[...] = 0
        return self

    def fill_(self, value: float) -> Tensor:
        self._write("fill_")
        self._t.data[...] = float(value)
        return self

    def copy_(self, src: Any) -> Tensor:
        self._write("copy_")
        return self._assign(core.call("add", core.call("mul", self._t, 0.0), _operand(src))
                            if _records(src) else engine.lift(np.broadcast_to(np.asarray(src), self._t.shape)))

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        self._write("add_")
        return self._assign(self + (other * alpha if alpha != 1 else other))

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        self._write("sub_")
        return self._assign(self - (other * alpha if alpha != 1 else other))

    def mul_(self, other: Any) -> Tensor:
        self._write("mul_")
        return self._assign(self * other)

    def div_(self, other: Any) -> Tensor:
        self._write("div_")
        return self._assign(self / other)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._write("index assignment")
        if not _records(value) and self._t.grad_fn is None:  # (x[x < 0] = 0: numpy's indexing, any key)
            self._t.data[_numpy_key(key)] = np.asarray(value._t.data if isinstance(value, Tensor) else value)
            return
        key = engine.normalize_key(_numpy_key(key), self._t.shape)
        # Recorded: the entries at key come from value, the others from self (where's gradient routing).
        mask = np.zeros(self._t.shape, dtype=bool)
        mask[key] = True
        part = engine.lift(_operand(value), self._t.dtype)
        indexed = self._t.data[key].shape
        if part.shape != indexed:
            part = core.call("expand", part, src=part.shape, dst=indexed) if part.ndim else \
                core.call("mul", part, np.ones(indexed, self._t.dtype))
        placed = core.call("index_put", part, key=key, src=self._t.shape)
        self._t, self._title = core.call("where", mask.astype(self._t.dtype), placed, self._t), None

    # -- shape -------------------------------------------------------------------------
    def view(self, *shape: Any) -> Tensor:
        return self.reshape(*shape)

    def reshape(self, *shape: Any) -> Tensor:
        return wrap(self._t.reshape(*shape), self._bool)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(*other.shape)

    @property
    def T(self) -> Tensor:
        return wrap(self._t.T)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped, of a matrix or a stack of them (TransposeBackward0)."""
        if self._t.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                               f"{self._t.ndim}-D tensor.")
        return apply(FUNCTIONS["transpose"], "transpose", (self, -2, -1), {})

    mH = mT  # (the conjugate transpose of a real tensor)

    def __getitem__(self, key: Any) -> Tensor:
        items = list(key) if isinstance(key, tuple) else [key]
        masks = [_is_mask(item) for item in items]
        try:
            return wrap(index(self._t, [_index_item(item) for item in items], masks), self._bool)
        except GradcliError as err:
            raise core.as_torch_error(err) from None

    # -- dtype ---------------------------------------------------------------------------
    @property
    def device(self) -> core.device:
        return core.CPU

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """x.to(dtype), x.to(device), x.to(device, dtype), x.to(other) and their keywords, as torch's: a
        device is read as torch.device reads one (the CPU; another is refused), a tensor gives its dtype,
        and non_blocking and copy change nothing here."""
        wanted = kwargs.get("dtype")
        for arg in (*args, kwargs.get("device")):
            if isinstance(arg, str):
                core.device(arg)
            elif isinstance(arg, Tensor):
                wanted = arg.dtype
            elif arg is not None and not isinstance(arg, (core.device, bool)):
                wanted = arg
        return self if wanted is None else self.type(wanted)

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"torch.{'Double' if self._t.dtype == np.float64 else 'Float'}Tensor"
        wanted = core.numpy_dtype(dtype)
        if wanted == self._t.dtype:
            return self
        return wrap(_cast(self._t, wanted))

    def float(self) -> Tensor:
        return self.type(core.float32)

    def double(self) -> Tensor:
        return self.type(core.float64)

    def cpu(self) -> Tensor:
        return self

    # -- operators -------------------------------------------------------------------------
    def _op(self, name: str, *args: Any) -> Tensor:
        out = wrap(core.call(name, *(_operand(a) for a in args)), is_bool=name in GIVES_BOOL)
        if out._t.grad_fn is not None:
            out._title = operand_title(name, args)
        return out

    def __add__(self, o): return self._op("add", self, o)
    def __radd__(self, o): return self._op("add", o, self)
    def __sub__(self, o): return self._op("sub", self, o)
    def __rsub__(self, o): return self._op("sub", o, self)
    def __mul__(self, o): return self._op("mul", self, o)
    def __rmul__(self, o): return self._op("mul", o, self)
    def __truediv__(self, o): return self._op("div", self, o)
    def __rtruediv__(self, o): return self._op("mul", self._op("reciprocal", self), o)  # (PyTorch's 2 / x, to its bits)
    def __mod__(self, o): return self._op("remainder", self, o)
    def __rmod__(self, o): return self._op("remainder", o, self)
    def __floordiv__(self, o): return self._op("floor_divide", self, o)
    def __rfloordiv__(self, o): return self._op("floor_divide", o, self)
    def __pow__(self, o): return self._op("pow", self, o)
    def __rpow__(self, o): return self._op("pow", o, self)
    def __matmul__(self, o): return self._op("matmul", self, o)
    def __rmatmul__(self, o): return self._op("matmul", o, self)
    def __neg__(self): return self._op("neg", self)
    def __pos__(self): return self
    def __abs__(self): return self._op("abs", self)
    def __invert__(self): return self._logical("logical_not", self)
    def __and__(self, o): return self._logical("logical_and", self, o)
    def __or__(self, o): return self._logical("logical_or", self, o)
    def __xor__(self, o): return self._logical("logical_xor", self, o)
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__
    def __lt__(self, o): return self._op("lt", self, o)
    def __le__(self, o): return self._op("le", self, o)
    def __gt__(self, o): return self._op("gt", self, o)
    def __ge__(self, o): return self._op("ge", self, o)
    def __eq__(self, o): return self._op("eq", self, o)  # type: ignore[override]
    def __ne__(self, o): return self._op("ne", self, o)  # type: ignore[override]
    def __iadd__(self, o): return self.add_(o) if not _records(self) and not _records(o) else self + o
    def __isub__(self, o): return self.sub_(o) if not _records(self) and not _records(o) else self - o
    def __imul__(self, o): return self.mul_(o) if not _records(self) and not _records(o) else self * o
    def __itruediv__(self, o): return self.div_(o) if not _records(self) and not _records(o) else self / o

    __hash__ = object.__hash__

    def _logical(self, name: str, *args: Any) -> Tensor:
        """~m, m & n, m | n, m ^ n of bool tensors (masks), as PyTorch's (its bitwise ones on integers are not here)."""
        if not all(a._bool for a in args if isinstance(a, Tensor)):
            raise core.unsupported(f"{'~' if name == 'logical_not' else name.split('_')[1]} of a float tensor "
                                   f"(PyTorch's bitwise operations take bool and integer tensors)")
        return self._op(name, *args)

    # -- new tensors of this one's dtype (x.new_zeros(2, 3)) -----------------------------------------------
    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return new_tensor(data, core.torch_dtype(self._t.dtype) if dtype is None else dtype, requires_grad)

    def new_full(self, size: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_tensor(np.full(_shape((size,)), float(fill_value)), dtype, requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape(size), 0.0, dtype, requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape(size), 1.0, dtype, requires_grad)

    new_empty = new_zeros  # (uninitialised memory in PyTorch: zeros here)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        """Whether |self - other| <= atol + rtol * |other| everywhere (broadcast), as torch.allclose."""
        return bool(np.allclose(self._t.data, _operand_array(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def equal(self, other: Any) -> bool:
        """Whether other has self's shape and entries, as torch.equal (nan is never equal)."""
        return bool(np.array_equal(self._t.data, _operand_array(other)))

    def __getattr__(self, name: str) -> Any:
        # x.pow(2), x.mean(dim=0), x.exp(): every method of the expression language, from the registry
        op = FUNCTIONS.get(name)
        if name.startswith("_") or op is None or not op.is_method:
            raise core.unsupported(f"Tensor.{name}")

        def method(*args: Any, **kwargs: Any) -> Tensor:
            return apply(op, name, (self, *args), kwargs, method=True)

        method.__name__ = name
        return method


Node.wrap = staticmethod(wrap)  # (grad_fn.variable, for an AccumulateGrad)


def apply(op: Op, name: str, args: tuple, kwargs: dict, method: bool = False, module: str = "torch") -> Any:
    """op called as module.name(*args, **kwargs) (torch, torch.linalg), or as the method x.name(*args[1:], **kwargs)
    (PyTorch's keywords and defaults), as a façade tensor."""
    count = len(args) if op.arity is None else op.arity
    # (the tensor inputs by position: the first ones, those around the dim of gather(x, dim, index), or those
    # after the order of torch.polygamma(n, x))
    first = len(op.preceding) if op.preceding and not method and len(args) > count else 0
    slots = range(first, first + count) if not op.leading else \
        [0, *range(1 + len(op.leading), 1 + len(op.leading) + count - 1)]
    if op.sequence and args and isinstance(args[0], (list, tuple)):  # torch.cat([x, y], 0): the arrays first
        inputs = [tuple(core.unwrap(t) for t in args[0]), *(core.as_parameter(a) for a in args[1:])]
    else:
        inputs = [core.unwrap(a) if i in slots else core.as_parameter(a) for i, a in enumerate(args)]
    keywords = {k: (core.unwrap(v) if k in op.inputs else core.as_parameter(v)) for k, v in kwargs.items()}
    call_node = Expr("call", (0, 0), value=name, text=f".{name}" if method else f"{module}.{name}")
    try:
        tensors, params = bind(op, call_node, inputs, keywords)
        if op.parts is not None:  # torch.chunk(x, 3): a tuple of the pieces
            count = op.parts(np.shape(core.unwrap(tensors[0]).data), **params)
            return tuple(apply_part(op, tensors, params, k) for k in range(count))
        result = core.call(op, *tensors, **params)
    except GradcliError as err:
        raise core.as_torch_error(err) from None
    out = wrap(result, is_bool=op.name in GIVES_BOOL)
    if result.grad_fn is not None and op.name in _BY_OPERANDS:
        out._title = operand_title(op.name, tuple(args))
    if op.composite is not None and result.grad_fn is not None:
        out._title = op.node_name(tuple(np.shape(core.unwrap(t).data if isinstance(core.unwrap(t), engine.Tensor) else t)
                                         for t in tensors), params)
    typed = f"linalg_{name}" if module == "torch.linalg" else name  # (torch.return_types.linalg_slogdet)
    if op.pair_fields and not op.pair:  # torch.linalg.slogdet(A): the pair gradcli stacks on a last axis
        first, second = out[..., 0], out[..., 1]
        first._title = second._title = op.node_name((np.shape(core.unwrap(tensors[0]).data),), params)
        return return_type(typed, op.pair_fields)(first, second)
    second = paired(name)
    if second is not None and (params.get(op.pair_when) if op.pair_when else
                               params.get("axis") is not None or not op.pair_along):
        part = wrap(core.call(second, *tensors, **params))
        if op.pair_when:  # F.max_pool2d(x, 2, return_indices=True): a plain tuple
            return out, part
        if second.differentiable:  # both parts of one node
            part._title = out._title
            if not op.pair_fields:
                return out, part  # torch.var_mean(x): a plain tuple
        # torch.max(x, dim), torch.sort(x), ...: torch.return_types.max(values, indices)
        return return_type(typed, op.pair_fields or ("values", "indices"))(out, part)  # (indices as floats here)
    return out


def apply_part(op: Op, tensors: list, params: dict, part: int) -> Tensor:
    """Piece part of what a function of parts gives (see Op.parts), named as PyTorch names its node."""
    piece = wrap(core.call(op, *tensors, **params, part=part))
    if piece._t.grad_fn is not None:
        piece._title = op.node_name((np.shape(core.unwrap(tensors[0]).data),), params)
    return piece


# PyTorch's node names where they depend on which operands are tensors and which are Python numbers (the
# registry names a node from shapes alone): (operation, kind of each operand) -> name
_OPERAND_NAMES = {
    ("sub", "number", "tensor"): "RsubBackward1",
    ("pow", "tensor", "tensor"): "PowBackward1", ("pow", "number", "tensor"): "PowBackward2",
    ("float_power", "tensor", "number"): "PowBackward0", ("float_power", "number", "tensor"): "PowBackward2",
    ("remainder", "tensor", "tensor"): "RemainderBackward1",
    ("remainder", "number", "tensor"): "torch::autograd::NotImplemented",
    ("fmod", "tensor", "tensor"): "FmodBackward1",
    ("clamp_min", "tensor", "number"): "ClampMinBackward0", ("clamp_max", "tensor", "number"): "ClampMaxBackward0",
    ("clip", "tensor", "tensor", "tensor"): "ClampBackward0",
}


_BY_OPERANDS = frozenset(name for name, *_ in _OPERAND_NAMES)


def operand_title(name: str, args: tuple) -> str | None:
    """PyTorch's name for the node of operation name on args, where it differs from the registry's; else None."""
    return _OPERAND_NAMES.get((name, *("tensor" if isinstance(a, Tensor) else "number" for a in args)))


# The operations whose results are bool tensors in PyTorch: comparisons, and the logical ones (masks combined).
GIVES_BOOL = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
                        "isclose"})


class ReturnType(tuple):
    """What torch.max(x, dim), torch.sort(x), torch.linalg.slogdet(A) and the like give: a pair with PyTorch's
    field names (values and indices, sign and logabsdet, ...), printed as torch.return_types.max is."""

    __slots__ = ()
    fields: tuple[str, str] = ("values", "indices")

    def __new__(cls, first: Any, second: Any):
        return super().__new__(cls, (first, second))

    def __getattr__(self, name: str) -> Any:
        if name in self.fields:
            return self[self.fields.index(name)]
        raise AttributeError(f"'torch.return_types.{type(self).__name__}' object has no attribute {name!r}")

    def __repr__(self) -> str:
        shown = ",\n".join(f"{field}={value!r}" for field, value in zip(self.fields, self))
        return f"torch.return_types.{type(self).__name__}(\n{shown})"


_RETURN_TYPES: dict[tuple, type] = {}


def return_type(function: str, fields: tuple[str, str] = ("values", "indices")) -> type:
    """torch.return_types.<function>: a ReturnType named after the function, with its fields."""
    found = _RETURN_TYPES.get((function, fields))
    if found is None:
        found = _RETURN_TYPES[function, fields] = type(function, (ReturnType,), {"__slots__": (), "fields": fields})
    return found


def function(name: str, module: str = "torch"):
    """module.name (torch.name, torch.linalg.name) as a function, from the registry; Unsupported when gradcli has
    no such operation."""
    op = FUNCTIONS.get(name)
    if op is None or op.constructor:
        raise core.unsupported(f"{module}.{name}")

    def torch_function(*args: Any, **kwargs: Any) -> Any:
        return apply(op, name, args, kwargs, module=module)

    torch_function.__name__ = name
    torch_function.__doc__ = op.doc
    return torch_function


def _records(value: Any) -> bool:
    """Whether an update by value would be recorded in a graph (grad is on and value requires grad)."""
    return isinstance(value, Tensor) and value._t.requires_grad and engine.is_grad_enabled()


def _cast(t: engine.Tensor, wanted: np.dtype) -> engine.Tensor:
    if t.requires_grad and engine.is_grad_enabled():
        raise core.unsupported("a dtype conversion of a tensor that requires grad")
    return engine.Tensor._result(t.data.astype(wanted), None)


def _is_mask(item: Any) -> bool:
    """Whether an index item selects as a mask: a bool tensor (x > 0), or a list or array of True and False."""
    if isinstance(item, Tensor):
        return item._bool
    return isinstance(item, (list, np.ndarray)) and np.asarray(item).dtype == np.bool_


def _index_item(item: Any) -> Any:
    """An index item as the expression language's indexing reads it: numbers and arrays of them as tensors;
    slices, None and ... as they are."""
    if isinstance(item, Tensor):
        return item._t
    if isinstance(item, (bool, np.bool_)):
        raise core.unsupported("a True or False index")
    if isinstance(item, (int, np.integer, list, np.ndarray)):
        return engine.Tensor(np.asarray(item, dtype=np.float64))
    return item


def _numpy_key(key: Any) -> Any:
    """An index as numpy reads it: a tensor as its array (a mask as bools, indices as whole numbers)."""
    if isinstance(key, tuple):
        return tuple(_numpy_key(k) for k in key)
    if isinstance(key, Tensor):
        data = key._t.data
        return data.astype(bool) if key._bool else data.astype(np.intp)
    return key


def new_tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """torch.tensor(data): a new leaf holding a copy of data (default dtype: float32, or data's own)."""
    if isinstance(data, Tensor):
        array = data._t.data
        wanted = array.dtype if dtype is None else core.numpy_dtype(dtype)
    else:
        array = np.asarray([_plain(d) for d in data] if isinstance(data, (list, tuple)) else _plain(data))
        kept = isinstance(data, (np.ndarray, np.generic)) and dtype is None and array.dtype in (np.float32, np.float64)
        wanted = array.dtype if kept else core.numpy_dtype(dtype)
    if array.dtype.kind not in "fbiu":
        raise TypeError(f"could not make a tensor of {type(data).__name__}")
    out = wrap(engine.Tensor(np.array(array, dtype=wanted), dtype=wanted))
    out._t.requires_grad = bool(requires_grad)
    return out


def _plain(item: Any) -> Any:
    if isinstance(item, Tensor):
        return item._t.data
    if isinstance(item, (list, tuple)):
        return [_plain(i) for i in item]
    return item

