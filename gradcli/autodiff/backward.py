"""The backward pass: cotangents from the outputs to the leaves, and `Tensor.backward`.

Semantics follow PyTorch's autograd: `run_backward` walks the nodes in reverse
topological order, applies each operation's rule, undoes broadcasting once per cotangent
(`sum_to`), and sums cotangents that meet at a node. A pass owns its cotangents (a dict
local to the pass); only `Tensor.backward` accumulates into `.grad`. Without
`retain_graph` a node's saved values are freed as soon as its rule has run.

Memory the pass owns is reused, decided here and in call.py only:
- cotangents meeting at a node are summed in place when the existing one is held by the
  pass alone (its dict, nothing else: not sent to two inputs, not seen by an observer) and
  is not 0-d (one entry: nothing to save);
- a rule that reads its cotangent g at most once, however it runs (counted in its
  bytecode: no loop, no closure over g), gets g given up: after that read the rule's own
  name for g is dead, so the operation reading it may write into g's array as into a
  temporary's (call.py checks everything else);
- the cotangents left at the leaves of a first-order pass own their arrays (a copy where
  one is shared with a value, a seed or another leaf), so `.grad` never aliases anything.
"""

from __future__ import annotations

import dis
from collections.abc import Callable, Sequence
from types import CodeType, SimpleNamespace
from typing import Any

import numpy as np

from gradcli.collector import collection_paused
from gradcli.errors import GradcliError, format_shape, param
from gradcli.autodiff.call import call, function, holders, temporary_holders
from gradcli.autodiff.graph import LeafNode, Node, creation_order, edge_of
from gradcli.autodiff.mode import mode, reusing, setting
from gradcli.autodiff.op import OPS
from gradcli.autodiff.parallel import apply_ufunc
from gradcli.autodiff.tensor import Tensor, lift
from gradcli.autodiff.trace import decide


def backward(output: Tensor, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Tensor.backward: accumulate d(output)/d(leaf), weighted by gradient, into each leaf's .grad."""
    if not output.requires_grad:
        raise GradcliError(
            "this tensor does not require grad and has no grad_fn: nothing to differentiate",
            kind="grad",
        )
    leaves = run_backward([(output, seed_cotangent(output, gradient))],
                          retain_graph=retain_graph or create_graph, create_graph=create_graph)
    for leaf_node, ct in leaves.items():
        leaf = leaf_node.tensor
        value = ct.data if not create_graph else ct
        if leaf.grad is None:
            leaf.grad = value
        elif create_graph:
            leaf.grad = call("add", leaf.grad, value)
        else:
            leaf.grad = leaf.grad + value


Tensor._backward = staticmethod(backward)


def seed_cotangent(output: Tensor, gradient: Any) -> Tensor:
    """The cotangent a backward pass starts from: 1 for a scalar, else `gradient`."""
    if gradient is None:
        if output.size != 1:
            raise GradcliError(
                f"grad can be implicitly created only for scalar outputs, and this output has "
                f"shape {format_shape(output.shape)}: give a cotangent shaped like the output "
                f"({param('grad_output')} / backward(gradient)) for a vector-Jacobian product, or compute "
                f"the full Jacobian",
                kind="grad",
            )
        return Tensor._result(np.ones_like(output.data), None)
    seed = gradient if isinstance(gradient, Tensor) and gradient.dtype == output.dtype else \
        Tensor(gradient, dtype=output.dtype)
    if seed.shape != output.shape:
        raise GradcliError(
            f"the gradient has shape {format_shape(seed.shape)} but the output has shape "
            f"{format_shape(output.shape)}: they must match",
            kind="shape",
        )
    return seed


def run_backward(
    seeds: Sequence[tuple[Tensor, Tensor]],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    observer: Any = None,
    order: list | None = None,
    hooks: dict | None = None,
) -> dict[LeafNode, Tensor]:
    """One backward pass from (output, cotangent) pairs; returns cotangents at the leaves.

    Cotangents may carry leading batch axes (a stack of seeds for a Jacobian): every rule
    works on trailing axes, and each cotangent is summed back to its input's shape (batch
    axes kept) here, once. `observer(node, g, cts)`, if given, sees each step (explain).
    order: creation_order of the seeds' nodes, when the caller has it already.
    hooks: node -> a function of the whole cotangent reaching it, giving the one it passes on (or a leaf keeps):
    PyTorch's tensor hooks (x.register_hook), which run before the node's rule.
    A seed the caller keeps no reference to belongs to the pass, which may write into it.
    """
    grads, roots = _seeded(seeds, create_graph)
    unit = None if create_graph or len(grads) != 1 else _unit(next(iter(grads.values())))
    del seeds  # (so that a seed nothing else holds is the pass's own)
    leaves: dict[LeafNode, Tensor] = {}
    with setting("grad_enabled", create_graph), reusing(), collection_paused():
        outer_given = mode.given  # (a rule that gives g up sets it and puts it back: read once a pass)
        for node in creation_order(roots) if order is None else order:
            if node not in grads:
                continue
            if hooks is not None and node in hooks:
                grads[node] = hooks[node](grads[node])
            if type(node) is LeafNode:
                leaves[node] = grads.pop(node)
                continue
            if node.freed:
                raise GradcliError(
                    f"trying to backward through the graph a second time ({node.name} has "
                    f"already freed its saved values): pass retain_graph=True to the first "
                    f"backward if you need to do this",
                    kind="grad",
                )
            _step(node, grads, create_graph, observer, outer_given, unit)
            if not retain_graph and (node.saved is not None or node._ans is not None):
                # Let go of what the node kept. Only a node that kept values has lost something a second
                # pass needs (PyTorch raises there, and lets a pass through a node that saves nothing, such
                # as a sum's, run again).
                node.freed = True
                node.saved = node._ans = None
    if not create_graph:
        _own_leaf_arrays(leaves)
    return leaves


def _seeded(seeds: Sequence[tuple[Tensor, Tensor]], create_graph: bool) -> tuple[dict, list]:
    grads: dict[Node | LeafNode, Tensor] = {}  # (nodes hash by identity)
    roots = []
    for output, seed in seeds:
        node = edge_of(output)
        if node is None:
            continue
        roots.append(node)
        accumulate(grads, node, seed, create_graph)
    return grads, roots


def _step(node: Node, grads: dict, create_graph: bool, observer: Any, outer_given: Any, unit: Tensor | None) -> None:
    """Apply node's rule to its cotangent and send the results on (a function: its names die with it).

    outer_given: mode.given as the pass found it; unit: the seed, when it is the number 1."""
    g = grads[node]
    g_shape, g_dtype = g.data.shape, g.data.dtype
    batch_ndim = len(g_shape) - len(node.out_shape)
    # What rules may read. A cotangent that is the seed 1 itself (a term of a sum of terms) is
    # uniform too: a product's rule then gives the other factor, no product with 1.
    node.uniform = (1.0 if g is unit else None) if not g_shape else _broadcast_scalar(node, g)
    node.batch = batch_ndim
    if observer is None:
        del g  # (the observer reads g after the rule; else the pass alone holds it, and may give it up)
    try:
        if g_shape and observer is None and reads_once(node.op.backward):
            cts = _run_rule(node, grads, node, True)
        elif outer_given is None:  # (nothing to give up: a 0-d cotangent takes no result, see call.py)
            cts = node.op.backward(node, grads.pop(node))
        else:
            cts = _run_rule(node, grads, node, False)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
        # A rule's numerics failed (the forward pass catches the same): say where.
        raise GradcliError(f"the gradient of {node.op.name} could not be computed ({err})",
                           kind="value", span=node.span) from None
    for edge, ct, shape in zip(node.next_functions, cts, node.in_shapes):
        if edge is None or ct is None:
            continue
        if type(ct) is not Tensor:
            ct = lift(ct, g_dtype)
        target = g_shape[:batch_ndim] + shape if batch_ndim else shape
        if ct.data.shape != target:
            ct = sum_to(ct, target, batch_ndim)
        if edge in grads:
            accumulate(grads, edge, ct, create_graph)
        else:  # (its first cotangent: nothing to add it to)
            grads[edge] = ct
    if observer is not None:
        observer(node, g, cts)


def _run_rule(node: Any, grads: dict, key: Any, give_up: bool) -> tuple:
    """node's rule on the cotangent at key, which leaves grads; given up when the rule reads it once."""
    previous = mode.given
    mode.given = (id(grads[key]), _given_extra()) if give_up else None
    try:
        return node.op.backward(node, grads.pop(key))
    finally:
        mode.given = previous


def _unit(seed: Tensor) -> Tensor | None:
    """seed when it is a 0-d cotangent holding 1, else None."""
    return seed if not seed.data.ndim and decide(_is_one, seed.data) else None


def _is_one(a: np.ndarray) -> bool:
    return bool(a == 1.0)


def _broadcast_scalar(node: Node, g: Tensor) -> float | None:
    """The one number g holds when it is a constant broadcast of a scalar (a sum's or a mean's
    cotangent: a view with zero strides), in a first-order pass without batch axes; else None."""
    d = g.data
    if d.ndim == 0 or d.size == 0 or any(d.strides) or g.ndim != len(node.out_shape) or mode.grad_enabled:
        return None
    return decide(_first, d)


def _first(a: np.ndarray) -> float:
    return float(a.flat[0])


_READS_ONCE: dict[CodeType, bool] = {}
_ENDS = frozenset({"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD", "JUMP_ABSOLUTE",
                   "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "JUMP_NO_INTERRUPT"})


def reads_once(rule: Callable[..., Any]) -> bool:
    """Whether rule(n, g, ...) reads g at most once on every path through its code."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_argcount < 2:
        return False
    if code not in _READS_ONCE:
        _READS_ONCE[code] = _reads_once(code)
    return _READS_ONCE[code]


def _reads_once(code: CodeType) -> bool:
    g = code.co_varnames[1]
    if g in code.co_cellvars or getattr(code, "co_exceptiontable", b""):
        return False  # a closure or an exception handler reads g where this walk does not look
    instructions = list(dis.get_instructions(code))
    position = {ins.offset: i for i, ins in enumerate(instructions)}
    most = [-1] * len(instructions)  # most reads of g on a path reaching instruction i (-1: none reaches it)
    most[0] = 0
    for i, ins in enumerate(instructions):
        if most[i] < 0:
            continue
        names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
        reads = 0
        if ins.opcode in dis.haslocal and g in names:
            if not ins.opname.startswith("LOAD_FAST"):
                return False  # g is stored to or deleted
            reads = names.count(g)
        after = most[i] + reads
        if after > 1:
            return False
        targets = [] if ins.opname in _ENDS else [i + 1]
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            target = position.get(ins.argval)
            if target is None or target <= i:
                return False  # a loop could read g again
            targets.append(target)
        for t in targets:
            if t < len(most):
                most[t] = max(most[t], after)
    return True


_given: int | None = None  # references a given-up cotangent shows beyond a temporary's; 0: never given up


def _given_extra() -> int:
    """Calibrated on first use: a rule that reads g once, through F, on a g the pass holds no more."""
    global _given
    if _given is None:
        temporary = temporary_holders()
        rule = SimpleNamespace(op=SimpleNamespace(backward=lambda n, g: (n.neg(g),)), neg=function(OPS["neg"])) \
            if "neg" in OPS else None
        seen: list = []
        if rule is not None and temporary != (0, 0):
            with setting("probing", seen):
                _run_rule(rule, {0: _probe()}, 0, False)
        counts = seen[0] if seen else None
        _given = counts[0] - temporary[0] if counts and counts[1] == temporary[1] and counts[0] > temporary[0] else 0
    return _given


def sum_to(ct: Tensor, target: tuple[int, ...], batch_ndim: int) -> Tensor:
    """Undo broadcasting: sum ct (batch axes + broadcast shape) down to target."""
    src = ct.shape[batch_ndim:]
    dst = target[batch_ndim:]
    if len(src) < len(dst) or ct.shape[:batch_ndim] != target[:batch_ndim]:
        # A rule produced a cotangent smaller than its input (e.g. a kept dim): broadcast up.
        return call("expand", ct, src=src, dst=dst)
    return call("sum_to", ct, src=src, dst=dst)


def accumulate(grads: dict, node: Any, ct: Tensor, create_graph: bool) -> None:
    """Add ct to the cotangent gathered for node: in place when the pass alone holds that one."""
    existing = grads.get(node)
    if existing is None:
        grads[node] = ct
    elif create_graph:
        grads[node] = call("add", existing, ct)
    elif existing.data.ndim and existing.shape == ct.shape and existing.dtype == ct.dtype and mode.donate and \
            _pass_owns(existing):  # (in place, a 0-d sum saves nothing worth the checks)
        apply_ufunc(np.add, (existing.data, ct.data), existing.data)
    else:
        a, b = existing.data, ct.data
        if not a.ndim and not b.ndim and a.dtype is b.dtype and mode.short:  # (short: nothing records it)
            total = np.add(a, b, out=...)  # (a 0-d array, cheaper than the scalar's conversion)
        else:
            total = sum_of(a, b)
            if mode.recorder is not None:
                mode.recorder.ufunc(np.add, (a, b), total)
        grads[node] = Tensor._result(total, None)


def sum_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b as a new array (0-d + 0-d gives a numpy scalar: asarray makes it an array)."""
    return np.asarray(apply_ufunc(np.add, (a, b)))


def _own_leaf_arrays(leaves: dict[LeafNode, Tensor]) -> None:
    # (not .items(): its iterator keeps the last pair, one more reference to each cotangent)
    for node in leaves:
        ct = leaves[node]
        if not _pass_owns(ct):
            copy = np.array(ct.data)
            if mode.recorder is not None:
                mode.recorder.step(np.array, (ct.data,), {}, copy)
            leaves[node] = Tensor._result(copy, None)


_owned: tuple[int, int] | None = None  # holders() of a cotangent the pass's dict alone holds; (0, 0): none is


def _pass_owns(t: Tensor) -> bool:
    """Whether t, held by one entry of a pass's dict and one name of the caller, is held by nothing else."""
    counts = holders(t)
    if mode.probing is not None:
        mode.probing.append(counts)
        return False
    if _owned is None:
        _calibrate_owned()
    return counts is not None and counts == _owned


def _calibrate_owned() -> None:
    global _owned
    node = object()
    grads = {node: _probe()}
    seen: list = []
    with setting("probing", seen), setting("donate", True):
        accumulate(grads, node, _probe(), False)
        kept = grads[node]  # a second holder
        accumulate(grads, node, _probe(), False)
    del kept
    sole, shared = seen
    _owned = sole if sole is not None and shared == (sole[0] + 1, sole[1]) else (0, 0)


def _probe() -> Tensor:
    return Tensor._result(np.zeros(2), None)
