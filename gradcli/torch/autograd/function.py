"""torch.autograd.Function: a user's forward and backward as one node of the engine's graph.

`apply` runs the forward with grad off; when an input requires grad it records a node whose
operation record (not registered: it belongs to the class) hands the cotangent to the class's
backward and its answers, one per forward argument, back to the tensor inputs.
"""

from __future__ import annotations

from typing import Any

from gradcli.autodiff import engine
from gradcli.autodiff.op import Op, Sample
import gradcli.torch.core as core
from gradcli.torch.tensor import Tensor, wrap

_RECORDS: dict[type, Op] = {}


class FunctionCtx:
    """ctx: what forward leaves for backward (save_for_backward, any attribute)."""

    def __init__(self, needs: tuple[bool, ...]):
        self.needs_input_grad = needs
        self._saved: tuple = ()
        self.saved_variables = ()

    def save_for_backward(self, *tensors: Any) -> None:
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        return self._saved

    def mark_non_differentiable(self, *tensors: Any) -> None:
        pass  # (outputs of a custom function get a gradient only through its backward anyway)

    def set_materialize_grads(self, value: bool) -> None:
        pass  # (gradients reaching backward are always tensors here)


class Function:
    """Subclass with static forward(ctx, *args) and backward(ctx, *grad_outputs); call Class.apply(*args)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a torch.autograd.Function subclass defines forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a torch.autograd.Function subclass defines backward(ctx, ...) to be differentiated")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with engine.no_grad():
            result = cls.forward(ctx, *args)
        if isinstance(result, tuple):
            raise core.unsupported("a torch.autograd.Function with several outputs")
        if not isinstance(result, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a tensor, not {type(result).__name__}")
        records = engine.is_grad_enabled() and any(args[i].requires_grad for i in positions)
        if not records:
            return result
        ctx.cls, ctx.positions = cls, positions
        node_input = [args[i]._t for i in positions]
        return wrap(core.call(_record(cls), *node_input, result=result._t.data, ctx=ctx))


def _record(cls: type) -> Op:
    """The operation record of a Function class, made on its first apply."""
    if cls not in _RECORDS:
        name = f"{cls.__name__}Backward"
        _RECORDS[cls] = Op(name=name, doc=f"the torch.autograd.Function {cls.__qualname__}", family=core.MODULE,
                           signature=f"{cls.__name__}.apply(...)", forward=_forward, backward=_backward,
                           shape=lambda *shapes, result, ctx: result.shape, sympy=_no_sympy, saves="none",
                           torch_name=name, arity=None, keywords=("result", "ctx"), samples=(Sample(((1,),)),))
    return _RECORDS[cls]


def _forward(*arrays: Any, result: Any, ctx: FunctionCtx) -> Any:
    return result  # (computed by the class's forward already)


def _backward(node: Any, g: engine.Tensor) -> tuple:
    ctx = node.params["ctx"]
    grads = ctx.cls.backward(ctx, wrap(g))
    grads = grads if isinstance(grads, tuple) else (grads,)
    return tuple(core.unwrap(grads[i]) if i < len(grads) else None for i in ctx.positions)


def _no_sympy(*_: Any, **__: Any) -> Any:
    raise core.unsupported("a SymPy form of a torch.autograd.Function")
