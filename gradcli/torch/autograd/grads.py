"""torch.autograd.grad and torch.autograd.backward: the passes of passes.py with façade tensors."""

from __future__ import annotations

from typing import Any

import gradcli.torch.core as core
from gradcli.autodiff import engine
import gradcli.torch.autograd.passes as passes
from gradcli.torch.tensor import wrap


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables: Any = None, inputs: Any = None, retain_variables: bool | None = None) -> None:
    """Accumulate the gradients of tensors (weighted by grad_tensors) into the leaves' .grad."""
    if inputs is not None:
        raise core.unsupported("backward(inputs=...)")
    passes.backward(tensors, grad_tensors if grad_tensors is not None else grad_variables, retain_graph,
                    create_graph, retain_variables)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of outputs with respect to inputs (leaves), as a tuple; .grad is left alone."""
    if is_grads_batched:
        raise core.unsupported("autograd.grad(is_grads_batched=True)")
    xs = tuple(core.unwrap(x) for x in (inputs if isinstance(inputs, (tuple, list)) else (inputs,)))
    found = passes.gradients(outputs, xs, grad_outputs, retain_graph, create_graph,
                             bool(allow_unused or materialize_grads))
    if materialize_grads:
        found = [engine.Tensor._result(x.data * 0, None) if g is None else g for x, g in zip(xs, found)]
    return tuple(None if g is None else wrap(g) for g in found)
