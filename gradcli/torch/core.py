"""What every part of gradcli.torch shares: dtypes, the unsupported-feature error, the engine tensor
inside a façade tensor, and gradcli's errors as the exceptions PyTorch raises."""

from __future__ import annotations

import itertools
import sys
import weakref
from typing import Any
from collections.abc import Callable

import numpy as np

from gradcli.autodiff import engine
from gradcli.errors import GradcliError

MODULE = "torch.autograd.function"  # where PyTorch's grad_fn classes of custom functions live
SUBSET = "gradcli implements autograd's subset of PyTorch (docs/torch.md lists it)"


class Unsupported(NotImplementedError, AttributeError):
    """A PyTorch feature gradcli.torch does not have (an AttributeError too, so hasattr() answers False)."""


def unsupported(what: str) -> Unsupported:
    return Unsupported(f"{what} is not supported: {SUBSET}")


class device:  # (lower case, as torch.device)
    """torch.device: gradcli computes on the CPU, so every tensor's device is cpu. A script's choice of
    device (torch.device("cuda" if torch.cuda.is_available() else "cpu")) reads cpu; "cuda" is refused."""

    def __init__(self, type: Any = "cpu", index: int | None = None):
        if str(type).split(":")[0] != "cpu":
            raise unsupported(f"torch.device({str(type)!r}) (gradcli computes on the CPU)")
        self.type, self.index = "cpu", None

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device)

    def __hash__(self) -> int:
        return hash("cpu")


CPU = device()


class dtype:  # (lower case: torch.float32 is an instance of torch.dtype)
    """A torch dtype: float32 and float64 compute; bool marks the results of comparisons."""

    def __init__(self, name: str, numpy: np.dtype | None):
        self.name = name
        self.numpy = numpy
        self.is_floating_point = numpy is not None

    def __repr__(self) -> str:
        return f"torch.{self.name}"


float32 = dtype("float32", np.dtype(np.float32))
float64 = dtype("float64", np.dtype(np.float64))
bool_ = dtype("bool", None)
DEFAULT = {"dtype": float32}  # torch.set_default_dtype changes it


def numpy_dtype(wanted: Any) -> np.dtype:
    """The array dtype a torch dtype (or None: the default) stands for."""
    if wanted is None:
        return DEFAULT["dtype"].numpy
    if isinstance(wanted, dtype) and wanted.numpy is not None:
        return wanted.numpy
    try:
        return engine.dtype_of(getattr(wanted, "name", wanted))
    except GradcliError:
        raise unsupported(f"dtype {wanted!r}") from None


def torch_dtype(array_dtype: np.dtype) -> dtype:
    return float64 if array_dtype == np.float64 else float32


def unwrap(value: Any) -> Any:
    """The engine Tensor inside a façade tensor; other values as they are."""
    return getattr(value, "_t", value)


def as_parameter(value: Any) -> Any:
    """A keyword's value as bind() reads it: numbers become 0-d tensors, tuples stay tuples."""
    if isinstance(value, (tuple, list)):
        return tuple(as_parameter(v) for v in value)
    if isinstance(value, (bool, int, float, np.number)):
        return engine.Tensor(float(value))
    return unwrap(value)


def as_torch_error(err: GradcliError) -> Exception:
    """A gradcli error as the exception PyTorch raises for the same mistake (RuntimeError, mostly)."""
    kinds = {"index": IndexError, "usage": TypeError, "syntax": TypeError}
    return kinds.get(err.kind, RuntimeError)(err.message)


class _Trace:
    """What `gradcli run --explain/--graph` asks the façade to keep: each node's line of the user's file
    (as a span of its text) and forward value. file is None when nothing is asked (the usual case)."""

    file: str | None = None
    starts: list[int] = []  # the character offset where each line of the file starts
    values: dict[int, tuple[Any, np.ndarray]] = {}  # id(node) -> (node, forward value)


TRACE = _Trace()
# Called with a backward pass's (output, seed) pairs before it runs; each returns a function called after it.
BACKWARD_HOOKS: list[Callable[[list], Callable[[], None]]] = []


def user_line_span() -> tuple[int, int] | None:
    """The span of the user's line that is running (the innermost frame in TRACE.file)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != TRACE.file:
        frame = frame.f_back
    if frame is None or frame.f_lineno >= len(TRACE.starts):
        return None
    return TRACE.starts[frame.f_lineno - 1], TRACE.starts[frame.f_lineno] - 1


def call(op: Any, *inputs: Any, **params: Any) -> engine.Tensor:
    """engine.call, with numpy's floating-point warnings off (PyTorch gives nan and inf silently); while gradcli
    run traces, the new node also keeps its line and forward value."""
    if TRACE.file is None:
        with np.errstate(all="ignore"):
            return engine.call(op, *inputs, **params)
    with engine.source_span(user_line_span()), np.errstate(all="ignore"):
        result = engine.call(op, *inputs, **params)
    if result.grad_fn is not None:
        TRACE.values[id(result.grad_fn)] = (result.grad_fn, result.data)
    return result


# Anomaly detection (torch.autograd.set_detect_anomaly): whether backward passes stop at a NaN
ANOMALY = {"on": False}

# Tensor hooks (x.register_hook): engine tensor -> {handle id: function of its gradient}, in the order registered
HOOKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class RemovableHandle:
    """What register_hook gives: remove() takes the hook away."""

    _ids = itertools.count()  # (not id(self): a handle dropped at once would give its id to the next)

    def __init__(self, hooks: dict):
        self._hooks, self.id = hooks, next(self._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


# Non-leaf tensors whose gradient a backward pass keeps in .grad (x.retain_grad()): id(node) -> the tensor
RETAINED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
