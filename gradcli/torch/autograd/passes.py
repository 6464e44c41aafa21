"""Backward passes with PyTorch's signatures and errors, on the engine's tensors (below the façade's
Tensor, which calls `backward` here; torch.autograd.grad wraps `gradients`).

The pass is the engine's (gradcli.autodiff.backward.run_backward); this module checks what PyTorch
checks first, with PyTorch's words, and accumulates into `.grad` as PyTorch does (in place).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import gradcli.torch.core as core
from gradcli.torch.autograd.anomaly import check_for_nan
from gradcli.autodiff import engine
from gradcli.errors import GradcliError

SECOND_TIME = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
               "have already been freed). Saved intermediate values of the graph are freed when you call "
               ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
               "graph a second time or if you need to access saved tensors after calling backward.")
IMPLICIT = "grad can be implicitly created only for scalar outputs"
RETAIN_VARIABLES = ("UserWarning: retain_variables option is deprecated and will be removed in 0.3. "
                    "Use retain_graph instead.")


def retained(retain_graph: bool | None, create_graph: bool, retain_variables: bool | None = None) -> bool:
    """Whether the pass keeps the graph: retain_graph, else create_graph (legacy retain_variables noted)."""
    if retain_variables is not None:
        print(RETAIN_VARIABLES, file=sys.stderr)
        retain_graph = retain_variables if retain_graph is None else retain_graph
    return create_graph if retain_graph is None else bool(retain_graph)


def _sequence(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _seeds(outputs: Any, gradients: Any) -> list[tuple[engine.Tensor, engine.Tensor]]:
    """(output, starting cotangent) pairs, refused as PyTorch refuses them."""
    outputs = [core.unwrap(o) for o in _sequence(outputs)]
    gradients = _sequence(gradients) if gradients is not None else (None,) * len(outputs)
    seeds = []
    for i, (out, gradient) in enumerate(zip(outputs, gradients)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if gradient is None and out.size != 1:
            raise RuntimeError(IMPLICIT)
        try:
            seeds.append((out, engine.seed_cotangent(out, core.unwrap(gradient))))
        except GradcliError as err:
            raise core.as_torch_error(err) from None
    return seeds


def _run(seeds: list, retain_graph: bool, create_graph: bool, keep_retained: bool = False) -> dict:
    """The engine's pass; keep_retained: retained tensors' gradients go to their .grad (backward, not grad)."""
    watching = [f for f, on in ((_keep_retained, keep_retained and core.RETAINED), (check_for_nan, core.ANOMALY["on"]))
                if on]

    def observer(node: Any, g: engine.Tensor, cts: tuple) -> None:
        for watch in watching:
            watch(node, g, cts)

    try:
        with np.errstate(all="ignore"):  # (PyTorch gives nan and inf silently)
            return engine.run_backward(seeds, retain_graph=retain_graph, create_graph=create_graph,
                                       observer=observer if watching else None,
                                       hooks=_hooks() if core.HOOKS else None)
    except GradcliError as err:
        if err.kind == "grad" and "second time" in err.message:
            raise RuntimeError(SECOND_TIME) from None
        raise core.as_torch_error(err) from None


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             retain_variables: bool | None = None) -> None:
    """Accumulate the gradients of tensors (weighted by grad_tensors) into the leaves' .grad."""
    retain = retained(retain_graph, create_graph, retain_variables)
    seeds = _seeds(tensors, grad_tensors)
    afterwards = [hook(seeds) for hook in core.BACKWARD_HOOKS]  # (gradcli run --explain, --graph)
    leaves = _run(seeds, retain, create_graph, keep_retained=True)
    del seeds  # (so that the pass owns its seeds)
    for leaf_node, ct in leaves.items():
        _accumulate(leaf_node.tensor, ct if create_graph else ct.data)
    for after in afterwards:
        after()


def _accumulate(t: engine.Tensor, value: Any) -> None:
    previous = t.grad
    if previous is None:
        t.grad = value if isinstance(value, engine.Tensor) else np.array(value)
    elif isinstance(value, engine.Tensor) or isinstance(previous, engine.Tensor):  # a gradient with its graph
        t.grad = engine.call("add", previous, value)
    else:
        previous += value  # in place, as PyTorch accumulates: a name for x.grad sees the sum


def _hooks() -> dict:
    """The tensor hooks of this pass (x.register_hook): each tensor's node -> its hooks in the order registered,
    each given the gradient the one before gave (a hook giving None keeps it), as PyTorch runs them."""
    found = {}
    for t, functions in list(core.HOOKS.items()):
        node = engine.edge_of(t)
        if node is not None and functions:
            found[node] = _hooked(t, list(functions.values()))
    return found


def _hooked(t: engine.Tensor, functions: list) -> Any:
    def run(g: engine.Tensor) -> engine.Tensor:
        for function in functions:
            given = function(g)
            if given is not None:
                changed = core.unwrap(given)
                if changed.shape != g.shape:
                    raise RuntimeError(f"hook changed the gradient's shape from {list(g.shape)} to "
                                       f"{list(changed.shape)}")
                g = changed
        return g
    return run


def _keep_retained(node: Any, g: engine.Tensor, cts: tuple) -> None:
    """The backward pass's observer: the cotangent reaching a retained tensor's node goes to its .grad."""
    kept = core.RETAINED.get(id(node))
    if kept is not None and kept.grad_fn is node:
        _accumulate(kept, g.data)


def gradients(outputs: Any, inputs: tuple[engine.Tensor, ...], grad_outputs: Any, retain_graph: bool | None,
              create_graph: bool, allow_unused: bool) -> list[engine.Tensor | None]:
    """d outputs / d inputs (leaves), one cotangent or None per input; .grad is left alone."""
    if any(x.grad_fn is not None for x in inputs):
        raise core.unsupported("autograd.grad with respect to a non-leaf tensor")
    if any(not x.requires_grad for x in inputs):
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    leaves = _run(_seeds(outputs, grad_outputs), retained(retain_graph, create_graph), create_graph)
    found = [leaves.get(engine.edge_of(x)) for x in inputs]
    if None in found and not allow_unused:
        raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                           "Set allow_unused=True if this is the desired behavior.")
    return found
