"""The functional API: grad, vjp, jacobian and hessian of an expression at a point.

    >>> r = grad("mean(2*x)", {"x": [1, 2, 3]})
    >>> r.value, r.gradients["x"]
    (array(4.), array([0.66666667, 0.66666667, 0.66666667]))

Each returns a Result whose attributes carry the JSON keys' names (value, gradients,
jacobian, hessian) as numpy arrays. Shapes: gradients[v] is shaped like v;
jacobian[v] is output.shape + v.shape (J[i, j] = d out_i / d v_j); hessian[a][b] is
a.shape + b.shape. With dtype="float32" the values are rounded to float32 once and every
operation and backward rule computes in float32, as PyTorch's default dtype does:

    >>> grad("mean(2*x)", {"x": [1, 2, 3]}, dtype="float32").gradients["x"]
    array([0.6666667, 0.6666667, 0.6666667], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gradcli.autodiff.engine import (LeafNode, Node, Tensor, as_array, creation_order, edge_of, run_backward,
                                     topological_order)
from gradcli.errors import GradcliError, param
from gradcli.api.diagnose import finite, with_warnings
from gradcli.api.forward import check_mode, forward_columns, hvp, pick_mode
from gradcli.api.kinks import kink_notes
from gradcli.collector import collection_paused
from gradcli.api.problem import Problem, Result, differentiating, leaf_arrays, leaf_cotangents, problem
from gradcli.limits import LIMITS
from gradcli.errors import format_shape
from gradcli.lang.tree import Expr

# Entries in one batched cotangent array before the basis is split into chunks.
CHUNK_BUDGET = 1 << 23


def grad(expr: str | Expr, values: Mapping[str, Any], *, wrt: Iterable[str] | str | None = None,
         grad_output: Any = None, dtype: Any = None, show: Iterable[str] | str | None = None) -> Result:
    """Value and gradient of a scalar expression; with grad_output, the vector-Jacobian product.

    gradients[v] has v's shape: d out / d v, or sum_i grad_output_i d out_i / d v. show names
    steps of a program ("all": every one): result.steps gives each one's value and the output's
    gradient with respect to it, as retain_grad() does in PyTorch.
    """
    with collection_paused():  # (one pause over the parse, the walk and the pass: see collector.py)
        return _grad(expr, values, wrt, grad_output, dtype, show)


def _grad(expr: str | Expr, values: Mapping[str, Any], wrt: Iterable[str] | str | None, grad_output: Any,
          dtype: Any, show: Iterable[str] | str | None) -> Result:
    p = expr if isinstance(expr, Problem) else problem(expr, values, wrt, dtype=dtype)
    shown = shown_steps(p, show)
    steps: dict[str, Tensor] = {}
    watch = (lambda node, value: steps.setdefault(node.value, value) if node.kind == "let" and node.value in shown
             else None) if shown else None
    out, leaves = p.forward(on_node=watch)
    if grad_output is None and out.size != 1:
        raise GradcliError(
            f"the output has shape {format_shape(out.shape)}, not a scalar, and grad needs a scalar "
            f"(PyTorch says: grad can be implicitly created only for scalar outputs). Either give "
            f"{param('grad_output')} V shaped like the output for the vector-Jacobian product Vᵀ·J, as "
            f"y.backward(V) does, or use `gradcli jacobian` for the full Jacobian", kind="grad")
    seed = np.ones_like(out.data) if grad_output is None else as_array(grad_output, out.dtype)
    if seed.shape != out.shape:
        raise GradcliError(f"{param('grad_output')} has shape {format_shape(seed.shape)} but the output has shape "
                           f"{format_shape(out.shape)}: they must match", kind="shape")
    order = creation_order([edge_of(out)]) if out.requires_grad else []  # (one listing for both)
    notes = kink_notes(out, p.source, order)  # before backward frees the saved inputs it reads
    at_steps: dict[int, np.ndarray] = {}
    observe = _step_observer(steps, at_steps) if steps else None
    with differentiating(p):
        found = run_backward([(out, Tensor(seed))], observer=observe, order=order) if out.requires_grad else {}
    result = Result("grad" if grad_output is None else "vjp", p, out.data,
                    gradients=leaf_arrays(leaves, p.wrt, found),
                    grad_output=None if grad_output is None else seed, notes=notes)
    if shown:
        result.steps = _step_gradients(steps, at_steps, found, shown)
    return with_warnings(result)


def shown_steps(p: Problem, show: Iterable[str] | str | None) -> list[str]:
    """The steps named by show ("all" for every one), checked against the program's."""
    if show is None:
        return []
    names = [n.strip() for n in show.split(",")] if isinstance(show, str) else list(show)
    if not p.steps:
        raise GradcliError(f"{param('show')} names steps of a program (h = ...; sum(h)), and this expression has "
                           f"none", kind="name")
    if names == ["all"]:
        return list(p.steps)
    for name in names:
        if name not in p.steps:
            raise GradcliError(f"{param('show')} names {name!r}, which is not a step of the program (its steps: "
                               f"{', '.join(p.steps)})", kind="name")
    return names


def _step_observer(steps: Mapping[str, Tensor], at_steps: dict[int, np.ndarray]) -> Any:
    """A backward observer keeping the cotangent each step's node receives (summed over its uses)."""
    wanted = {id(node) for node in map(edge_of, steps.values()) if node is not None}

    def observe(node: Node, g: Tensor, cts: Any) -> None:
        if id(node) in wanted:
            at_steps[id(node)] = np.array(g.data)
    return observe


def _step_gradients(steps: Mapping[str, Tensor], at_steps: Mapping[int, np.ndarray],
                    found: Mapping[LeafNode, Tensor], shown: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Each shown step's value and the output's gradient with respect to it (0 where none flowed)."""
    at_leaves = {id(node): ct.data for node, ct in found.items()}
    out = {}
    for name in shown:
        t = steps[name]
        node = edge_of(t)
        g = None if node is None else at_steps.get(id(node), at_leaves.get(id(node)))
        gradient = np.zeros(t.shape, t.dtype) if g is None else np.array(np.broadcast_to(g, t.shape))
        out[name] = {"value": np.array(t.data), "gradient": gradient}
    return out


def _chunks(total: int, size: int) -> Iterable[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def check_method(method: str, chunk: int | None) -> None:
    """Raise for a Jacobian method or chunk size that does not exist."""
    if method not in ("batched", "loop"):
        raise GradcliError(f"unknown method {method!r}: use batched or loop", kind="usage")
    if chunk is not None and chunk < 1:
        raise GradcliError(f"{param('chunk')} must be at least 1", kind="usage")


def chunk_size(out_size: int, wrt_sizes: Iterable[int], chunk: int | None) -> int:
    """Rows of the basis handled in one batched pass: bounded memory, few passes."""
    if chunk is not None:
        return chunk
    per_row = max([out_size, *wrt_sizes, 1])
    return max(1, min(out_size, CHUNK_BUDGET // per_row))


def basis_vjps(output: Tensor, leaves: Mapping[str, Tensor], wrt: list[str], method: str,
                chunk: int | None) -> dict[str, np.ndarray]:
    """Rows d output_i / d v for every i, as VJPs with the standard basis: v -> (out.size,) + v.shape."""
    n = output.size
    check_entries(output, leaves, wrt)
    check_method(method, chunk)
    rows = {name: np.zeros((n,) + leaves[name].shape, output.dtype) for name in wrt}
    if not output.requires_grad or n == 0:
        return rows
    if method == "batched":
        diagonal = _diagonal_rows(output, leaves, wrt)
        if diagonal is not None:
            return diagonal
    if method == "loop":
        for i in range(n):
            seed = np.zeros(n, output.dtype)
            seed[i] = 1.0
            found = run_backward([(output, Tensor(seed.reshape(output.shape)))], retain_graph=True)
            for name, ct in leaf_arrays(leaves, wrt, found).items():
                rows[name][i] = ct
        return rows
    size = rows_per_pass([output], n, [leaves[name].size for name in wrt], chunk)
    if size >= n:
        # One pass covers the basis: its cotangents are the rows, no copy into `rows` needed.
        return leaf_arrays(leaves, wrt, _basis_pass(output, range(n)), (n,))
    for block in _chunks(n, size):
        for name, ct in leaf_arrays(leaves, wrt, _basis_pass(output, block), (len(block),)).items():
            rows[name][block.start:block.stop] = ct
    return rows


def check_entries(output: Tensor, leaves: Mapping[str, Tensor], wrt: list[str]) -> None:
    """Raise when a block d output / d v of the Jacobian would pass the element limit."""
    n = output.size
    for name in wrt:
        entries = n * leaves[name].size
        if entries > LIMITS.max_elements:
            raise GradcliError(f"the derivative of the output ({n:,} entries) with respect to {name} "
                               f"({leaves[name].size:,} entries) would have {entries:,} entries; the limit is "
                               f"{LIMITS.max_elements:,} (GRADCLI_MAX_ELEMENTS)", kind="limit")


def rows_per_pass(outputs: list[Tensor], n: int, widths: list[int], chunk: int | None) -> int:
    """Basis vectors stacked in one batched pass (backward: n output entries; forward: n input entries)."""
    # NOTE: a batched pass holds a row of cotangent (or tangent) for every node of the graph, so
    # the largest node (an outer product inside a sum, say) bounds the rows per pass.
    largest = max((int(np.prod(node.out_shape)) for node in topological_order([o.grad_fn for o in outputs])
                   if isinstance(node, Node)), default=n)
    size = chunk_size(n, (*widths, largest), chunk)
    return max(1, min(size, LIMITS.max_elements // max(1, largest)))


def _diagonal_rows(output: Tensor, leaves: Mapping[str, Tensor], wrt: list[str]) -> dict[str, np.ndarray] | None:
    """The rows when the output is an elementwise function of every variable, else None.

    Then entry i of the output depends on entry i of each variable only: each Jacobian is
    diagonal, and one backward pass with a cotangent of ones gives every diagonal (the
    products each basis row would have met, entry by entry). That holds when every node
    between the output and the variables is an elementwise operation (as its record says)
    whose output, and whose inputs on those paths, have the variables' shape (nothing
    broadcast, reduced or moved).
    """
    shape = output.shape
    if any(leaves[name].shape != shape for name in wrt):
        return None
    reaching = {id(edge_of(leaves[name])) for name in wrt}
    for node in reversed(topological_order([edge_of(output)])):  # inputs before their consumers
        if isinstance(node, LeafNode):
            continue
        on_path = [i for i, edge in enumerate(node.next_functions) if edge is not None and id(edge) in reaching]
        if not on_path:
            continue
        if not node.op.elementwise or node.out_shape != shape or any(node.in_shapes[i] != shape for i in on_path):
            return None
        reaching.add(id(node))
    found = run_backward([(output, Tensor(np.ones(shape, output.dtype)))], retain_graph=True)
    diagonals = leaf_arrays(leaves, wrt, found)
    if not all(finite(d) for d in diagonals.values()):
        # A nan or inf factor at entry j makes the basis rows' 0 * factor nan across column j,
        # as the row loop and PyTorch report it: let those passes run.
        return None
    n = output.size
    rows = {}
    for name, diagonal in diagonals.items():
        r = np.zeros((n, n), diagonal.dtype)
        r[np.arange(n), np.arange(n)] = diagonal.ravel()
        rows[name] = r.reshape((n,) + shape)
    return rows


def _basis_pass(output: Tensor, block: range) -> dict[LeafNode, Tensor]:
    """One backward pass whose cotangent stacks the basis vectors e_i, i in block, on a leading axis."""
    seeds = np.zeros((len(block), output.size), output.dtype)
    seeds[np.arange(len(block)), np.asarray(block)] = 1.0
    # A temporary: the pass owns it, and the first rule may write its result into it.
    return run_backward([(output, Tensor(seeds.reshape((len(block),) + output.shape)))], retain_graph=True)


def jacobian(expr: str | Expr, values: Mapping[str, Any], *, wrt: Iterable[str] | str | None = None,
             method: str = "batched", chunk: int | None = None, dtype: Any = None, mode: str = "auto") -> Result:
    """Value and Jacobian: jacobian[v] has shape output.shape + v.shape.

    mode="reverse" builds it by rows, vector-Jacobian products with the standard basis of the
    output; "forward" by columns, Jacobian-vector products with the standard basis of the
    inputs; "auto" (the default) takes the fewer passes, forward when the inputs have fewer
    entries than the output. By default batched: a few passes whose cotangents (tangents)
    carry a leading axis of basis vectors; method="loop" does one pass per basis vector (the
    reference the batched method is tested against). result.mode says which was used.
    """
    p = expr if isinstance(expr, Problem) else problem(expr, values, wrt, dtype=dtype)
    out, leaves = p.forward()
    chosen = pick_mode(mode, sum(leaves[name].size for name in p.wrt), out.size)
    with differentiating(p):
        if chosen == "reverse":
            rows = basis_vjps(out, leaves, p.wrt, method, chunk)
            jac = {name: r.reshape(out.shape + leaves[name].shape) for name, r in rows.items()}
        else:
            jac = basis_jvps([out], leaves, p.wrt, method, chunk)[0]
    return with_warnings(Result("jacobian", p, out.data, jacobian=jac, mode=chosen))


def basis_jvps(outputs: list[Tensor], leaves: Mapping[str, Tensor], wrt: list[str], method: str,
                chunk: int | None) -> list[dict[str, np.ndarray]]:
    """Each output's Jacobian blocks by columns: forward passes with the standard basis of wrt's entries."""
    for output in outputs:
        check_entries(output, leaves, wrt)
    check_method(method, chunk)
    if not any(o.requires_grad for o in outputs):
        return [{name: np.zeros(o.shape + leaves[name].shape, o.dtype) for name in wrt} for o in outputs]
    total = sum(leaves[name].size for name in wrt)
    rows = 1 if method == "loop" else rows_per_pass(outputs, total, [o.size for o in outputs], chunk)
    return forward_columns(outputs, leaves, wrt, rows)


def hessian(expr: str | Expr, values: Mapping[str, Any], *, wrt: Iterable[str] | str | None = None,
            method: str = "batched", chunk: int | None = None, dtype: Any = None, mode: str = "auto",
            vector: Mapping[str, Any] | None = None) -> Result:
    """Value and Hessian blocks of a scalar expression: hessian[a][b] = d²f / da db, a.shape + b.shape.

    The gradient is computed with a differentiable backward pass (create_graph), then
    differentiated again: mode="reverse" by VJPs of each gradient block over the standard
    basis (a pass per variable), "forward" by JVPs of every block at once over the basis of
    all the variables' entries (forward over reverse: one pass for them all); "auto" is
    reverse, as torch.autograd.functional.hessian. With vector, the Hessian-vector product
    H·v instead, without forming H (api/forward.py hvp).
    """
    if vector is not None:
        return hvp(expr, values, vector, wrt=wrt, dtype=dtype)
    p = expr if isinstance(expr, Problem) else problem(expr, values, wrt, dtype=dtype)
    out, leaves = p.forward()
    if out.size != 1:
        raise GradcliError(f"the output has shape {format_shape(out.shape)}: a Hessian needs a scalar output "
                           f"(use sum(...) or index one entry)", kind="grad")
    blocks: dict[str, dict[str, np.ndarray]] = {}
    with differentiating(p):
        found = run_backward([(out, Tensor(np.ones_like(out.data)))], create_graph=True, retain_graph=True) \
            if out.requires_grad else {}
        first = leaf_cotangents(leaves, p.wrt, found)
        # NOTE: auto is reverse over reverse, as torch.autograd.functional.hessian: where a nan or an inf
        # meets a 0, forward over reverse can give other numbers (a pass per variable costs no more arithmetic).
        check_mode(mode)
        chosen = "reverse" if mode == "auto" else mode
        flowing = [a for a in p.wrt if first[a] is not None]
        if chosen == "forward" and flowing:
            columns = dict(zip(flowing, basis_jvps([first[a] for a in flowing], leaves, p.wrt, method, chunk)))
        gradients = {}
        for a in p.wrt:
            ga = first[a]
            gradients[a] = np.zeros(leaves[a].shape, p.dtype) if ga is None else np.array(ga.data)
            if ga is None:
                blocks[a] = {b: np.zeros(leaves[a].shape + leaves[b].shape, p.dtype) for b in p.wrt}
            elif chosen == "forward":
                blocks[a] = columns[a]
            else:
                rows = basis_vjps(ga, leaves, p.wrt, method, chunk)
                blocks[a] = {b: rows[b].reshape(leaves[a].shape + leaves[b].shape) for b in p.wrt}
    return with_warnings(Result("hessian", p, out.data, gradients=gradients, hessian=blocks, mode=chosen))

