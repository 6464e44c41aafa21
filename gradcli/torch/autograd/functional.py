"""torch.autograd.functional: jacobian and hessian of a Python function of tensors, one backward pass per
output entry (as PyTorch's default, vectorize=False)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff import engine
from gradcli.torch.autograd.grads import grad
from gradcli.torch.tensor import Tensor, wrap


def jacobian(func: Any, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """d func / d inputs: for one input and one output a tensor shaped output.shape + input.shape,
    else tuples (per output, per input) as PyTorch nests them."""
    single_in = isinstance(inputs, Tensor)
    xs = [wrap(engine.Tensor(x._t.data, requires_grad=True)) for x in ((inputs,) if single_in else inputs)]
    with engine.enable_grad():
        out = func(*xs)
    single_out = isinstance(out, Tensor)
    rows = []
    for o in (out,) if single_out else out:
        blocks = [np.zeros(o.shape + x.shape, x._t.dtype) for x in xs]
        flat = o.reshape(-1)
        for k in range(flat.numel()):
            if not flat.requires_grad:
                break
            grads = grad(flat[k], xs, retain_graph=True, create_graph=create_graph, allow_unused=True)
            for block, g in zip(blocks, grads):
                if g is not None:
                    block.reshape((-1,) + block.shape[o.dim():])[k] = g._t.data
        rows.append(tuple(wrap(engine.Tensor(b, dtype=b.dtype)) for b in blocks))
    shaped = [r[0] if single_in else r for r in rows]
    return shaped[0] if single_out else tuple(shaped)


def hessian(func: Any, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """d² func / d inputs² of a function with one scalar output: the Jacobian of its gradient."""
    single_in = isinstance(inputs, Tensor)

    def gradient(*xs: Any) -> Any:
        found = grad(func(*xs), xs, create_graph=True, allow_unused=True)
        return found[0] if single_in else found

    return jacobian(gradient, inputs)
