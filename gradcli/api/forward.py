"""Forward-mode derivatives of an expression at a point: jvp, Jacobians by columns,
Hessian-vector products and Hessians by forward over reverse.

    >>> jvp("sin(x) * y", {"x": [0.0, 1.0], "y": 2.0}, {"x": [1.0, 0.0]}).jvp
    array([2., 0.])

`jvp` is torch.func.jvp: the value and J·t, where t gives a tangent (shaped like its
variable) to some variables and the others are constants. A Jacobian by columns pushes a
batch of basis tangents (one per input entry) through one forward pass, where the reverse
method pulls a batch of basis cotangents (one per output entry) back: `pick_mode` chooses
the cheaper. A Hessian-vector product H·v is the JVP of the gradient (forward over
reverse: the gradient's graph is recorded by a create_graph backward pass, then tangents go
forward through it), without forming H.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.api.diagnose import with_warnings
from gradcli.api.problem import Problem, Result, differentiating, leaf_cotangents, problem
from gradcli.autodiff.engine import Tensor, as_array, run_backward
from gradcli.autodiff.forward import run_forward
from gradcli.errors import GradcliError, format_shape, param
from gradcli.lang.tree import Expr

MODES = ("auto", "reverse", "forward")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise GradcliError(f"{param('mode')} is {mode!r}: use auto, reverse or forward", kind="usage")


def pick_mode(mode: str, inputs: int, outputs: int) -> str:
    """forward or reverse: auto builds a Jacobian from the fewer of its columns (inputs) or rows (outputs)."""
    check_mode(mode)
    if mode != "auto":
        return mode
    return "forward" if inputs < outputs else "reverse"


def tangent_arrays(p: Problem, given: Mapping[str, Any], what: str) -> dict[str, np.ndarray]:
    """The tangents (or vectors) given per variable, as arrays of the problem's dtype, each shaped like it."""
    out = {}
    for name, value in given.items():
        if name not in p.names:
            raise GradcliError(f"{param(what)} names {name!r}, which is not a variable of the expression (its "
                               f"variables: {', '.join(p.names)})", kind="name")
        array = as_array(value, p.dtype)
        shape = p.values[name].shape
        if array.shape != shape:
            raise GradcliError(f"{param(what)} for {name} has shape {format_shape(array.shape)}, and {name} has shape "
                               f"{format_shape(shape)}: a tangent is shaped like its variable", kind="shape")
        out[name] = array
    return out


def jvp(expr: str | Expr, values: Mapping[str, Any], tangents: Mapping[str, Any], *, dtype: Any = None) -> Result:
    """Value and Jacobian-vector product J·t (shaped like the output), as torch.func.jvp.

    tangents: variable name -> tangent shaped like it; variables without one are constants.
    """
    if not tangents:
        raise GradcliError(f"give a tangent ({param('tangent')}) for at least one variable", kind="usage")
    p = expr if isinstance(expr, Problem) else problem(expr, values, dtype=dtype)
    chosen = tangent_arrays(p, tangents, "tangent")
    p.wrt = [n for n in p.names if n in chosen]  # (what the result is a derivative along)
    out, leaves = p.forward()
    with differentiating(p):
        (t,) = run_forward([out], {id(leaves[n]): v for n, v in chosen.items()})
    product = np.zeros(out.shape, p.dtype) if t is None else np.array(np.broadcast_to(t.data, out.shape))
    return with_warnings(Result("jvp", p, out.data, jvp=product, tangents=chosen))


def forward_columns(outputs: Sequence[Tensor], leaves: Mapping[str, Tensor], wrt: list[str],
                    rows: int) -> list[dict[str, np.ndarray]]:
    """Each output's Jacobian blocks, out.shape + v.shape per v in wrt, from forward passes whose
    tangents stack the basis vectors of every variable's entries, `rows` of them per pass."""
    sizes = [leaves[n].size for n in wrt]
    starts = np.cumsum([0, *sizes])
    total = int(starts[-1])
    dtype = leaves[wrt[0]].dtype
    blocks = [{n: np.zeros(o.shape + (leaves[n].size,), dtype) for n in wrt} for o in outputs]
    for first in range(0, total, max(1, rows)):
        last = min(total, first + max(1, rows))
        tangents = {}
        for name, start, size in zip(wrt, starts, sizes):
            lo, hi = max(first, start), min(last, start + size)
            if lo >= hi:
                continue
            basis = np.zeros((last - first, size), dtype)
            basis[np.arange(lo - first, hi - first), np.arange(lo - start, hi - start)] = 1.0
            tangents[id(leaves[name])] = basis.reshape((last - first,) + leaves[name].shape)
        for block, t, o in zip(blocks, run_forward(outputs, tangents), outputs):
            if t is None:
                continue
            columns = np.moveaxis(np.broadcast_to(t.data, (last - first,) + o.shape).reshape(last - first, -1), 0, -1)
            for name, start, size in zip(wrt, starts, sizes):
                lo, hi = max(first, start), min(last, start + size)
                if lo < hi:
                    block[name].reshape(-1, size)[:, lo - start:hi - start] = columns[:, lo - first:hi - first]
    return [{n: b[n].reshape(o.shape + leaves[n].shape) for n in wrt} for b, o in zip(blocks, outputs)]


def hvp(expr: str | Expr, values: Mapping[str, Any], vector: Mapping[str, Any], *, wrt: Any = None,
        dtype: Any = None) -> Result:
    """Value, gradient and the Hessian-vector product H·v of a scalar expression, without forming H.

    vector: a variable of wrt -> its part of v, shaped like it (variables of wrt left out: 0).
    hvp[a] = sum_b H[a][b] · v[b], shaped like a.
    """
    p = expr if isinstance(expr, Problem) else problem(expr, values, wrt, dtype=dtype)
    chosen = tangent_arrays(p, vector, "vector")
    outside = [n for n in chosen if n not in p.wrt]
    if outside:
        raise GradcliError(f"{param('vector')} gives {outside[0]}, which is not differentiated ({param('wrt')}: "
                           f"{', '.join(p.wrt)})", kind="name")
    out, leaves = p.forward()
    if out.size != 1:
        raise GradcliError(f"the output has shape {format_shape(out.shape)}: a Hessian-vector product needs a "
                           f"scalar output (use sum(...) or index one entry)", kind="grad")
    with differentiating(p):
        found = run_backward([(out, Tensor(np.ones_like(out.data)))], create_graph=True, retain_graph=True) \
            if out.requires_grad else {}
        first = leaf_cotangents(leaves, p.wrt, found)
        flowing = [a for a in p.wrt if first[a] is not None]
        pushed = run_forward([first[a] for a in flowing], {id(leaves[n]): v for n, v in chosen.items()})
    gradients = {a: np.zeros(leaves[a].shape, p.dtype) if first[a] is None else np.array(first[a].data) for a in p.wrt}
    products = {a: np.zeros(leaves[a].shape, p.dtype) for a in p.wrt}
    for a, t in zip(flowing, pushed):
        if t is not None:
            products[a] = np.array(np.broadcast_to(t.data, leaves[a].shape))
    vectors = {a: chosen.get(a, np.zeros(leaves[a].shape, p.dtype)) for a in p.wrt}
    return with_warnings(Result("hvp", p, out.data, gradients=gradients, hvp=products, tangents=vectors))

