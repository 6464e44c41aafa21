"""Forward mode: tangents pushed from the leaves to the outputs through a recorded graph.

`run_forward(outputs, tangents)` visits the nodes between the seeded leaves and the outputs,
inputs first, and gives each output its Jacobian-vector product J·t. Tangents may carry
leading batch axes (one per stacked direction: the columns of a Jacobian), as cotangents
do in a backward pass, and every rule works on trailing axes.

A node's JVP comes from its operation's record, in this order:
- `op.jvp(node, tangents)` where the record gives one (matmul: the product rule);
- an elementwise operation's backward rule, applied to each input's tangent in turn: its
  Jacobian is diagonal, so Jᵀ·t = J·t entry by entry;
- otherwise the transpose of the backward rule: u -> backward(node, u) is linear in u (it is
  Jᵀ·u), so it is recorded once on a variable u and a backward pass through that small graph,
  seeded with the tangents, gives (Jᵀ)ᵀ·t = J·t (the "double VJP"). No operation lacks a JVP.

Rules see the node's saved values cut from every graph (`Frozen`), so a JVP never walks
into, nor frees, the graph it reads; the graph must have been kept (no backward pass
without retain_graph has run through it). Forward over reverse (a Hessian-vector product)
is this pass run over the graph a create_graph backward pass recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradcli.autodiff.backward import run_backward, sum_to
from gradcli.autodiff.graph import LeafNode, Node, edge_of, topological_order
from gradcli.autodiff.mode import setting
from gradcli.autodiff.tensor import Tensor, lift
from gradcli.errors import GradcliError


class Frozen(Node):
    """What a rule reads of a node (saved values without their graph), for a rule run to find a JVP.

    needs says which inputs the rule should give a cotangent for (those with a tangent).
    spread: the inputs broadcast to the output's shape, as an elementwise rule then gives each
    input's cotangent entry by entry (a rule may otherwise sum over the broadcast axes itself).
    """

    __slots__ = ()

    def __init__(self, node: Node, needs: tuple[bool, ...], batch: int, spread: bool = False):
        self.op = node.op
        self.params = node.params
        self.in_shapes = (node.out_shape,) * len(node.in_shapes) if spread else node.in_shapes
        self.out_shape = node.out_shape
        self.needs = needs
        self.saved = None if node.saved is None else tuple(
            Tensor._result(np.broadcast_to(t.data, node.out_shape) if spread else t.data, None) for t in node.saved)
        self._ans = node._ans
        self.span = node.span
        self.uniform = None  # a tangent is never known to be a broadcast scalar
        self.batch = batch

    @property
    def ans(self) -> Tensor:
        return Tensor._result(self._ans, None)


def run_forward(outputs: Sequence[Tensor], tangents: Mapping[int, Any]) -> list[Tensor | None]:
    """J·t for each output: tangents maps id(leaf tensor) to its tangent (batch axes + the leaf's shape).

    Leaves without a tangent are constants. Every tangent carries the same batch axes. An
    output no tangent reaches gets None (its JVP is zero).
    """
    seeded: dict[int, Tensor] = {}
    batch: tuple[int, ...] | None = None
    for output in outputs:
        for node in topological_order([edge_of(output)]):
            if isinstance(node, LeafNode) and id(node.tensor) in tangents and id(node) not in seeded:
                leaf = node.tensor
                t = lift(tangents[id(leaf)], leaf.dtype)
                lead = t.shape[:t.ndim - leaf.ndim]
                if t.shape[len(lead):] != leaf.shape or (batch is not None and lead != batch):
                    raise GradcliError(f"a tangent of shape {t.shape} does not fit a value of shape {leaf.shape}"
                                       f"{'' if batch is None else f' with batch axes {batch}'}", kind="shape")
                batch = lead
                seeded[id(node)] = t
    if batch is None:
        return [None] * len(outputs)
    carried = dict(seeded)
    roots = [edge_of(o) for o in outputs]
    with np.errstate(all="ignore"):
        for node in reversed(topological_order(roots)):  # inputs before the nodes they feed
            if isinstance(node, LeafNode):
                continue
            if node.freed:
                raise GradcliError(f"{node.name} has freed its saved values: forward mode needs the graph kept "
                                   f"(retain_graph=True)", kind="grad")
            ins = [None if e is None else carried.get(id(e)) for e in node.next_functions]
            if any(t is not None for t in ins):
                out = node_jvp(node, ins, batch)
                if out is not None:
                    carried[id(node)] = out
    return [None if (e := edge_of(o)) is None else carried.get(id(e)) for o in outputs]


def node_jvp(node: Node, tangents: list[Tensor | None], batch: tuple[int, ...]) -> Tensor | None:
    """J·t at one node from its inputs' tangents (None: a constant input), shaped batch + its output's."""
    op = node.op
    target = batch + node.out_shape
    with setting("grad_enabled", False):
        if op.jvp is not None:
            out = op.jvp(Frozen(node, tuple(t is not None for t in tangents), len(batch)), tangents)
        elif op.elementwise:
            out = _diagonal(node, tangents, batch)
        else:
            out = _transposed(node, tangents, batch)
    if out is None:
        return None
    out = lift(out, tangents_dtype(tangents))
    return out if out.shape == target else Tensor._result(np.broadcast_to(out.data, target), None)


def tangents_dtype(tangents: Sequence[Tensor | None]) -> np.dtype:
    return next(t.dtype for t in tangents if t is not None)


def _diagonal(node: Node, tangents: list[Tensor | None], batch: tuple[int, ...]) -> Tensor | None:
    """An elementwise node's JVP: its backward rule given each input's tangent (broadcast to the output)."""
    total = None
    count = len(tangents)
    for i, t in enumerate(tangents):
        if t is None:
            continue
        shape = node.in_shapes[i]
        spread = t.data.reshape(batch + (1,) * (len(node.out_shape) - len(shape)) + shape)
        g = Tensor._result(np.broadcast_to(spread, batch + node.out_shape), None)
        part = node.op.backward(Frozen(node, tuple(j == i for j in range(count)), len(batch), spread=True), g)[i]
        if part is None:
            continue
        total = part if total is None else lift(total) + part
    return total


def _transposed(node: Node, tangents: list[Tensor | None], batch: tuple[int, ...]) -> Tensor | None:
    """J·t as the transpose of the linear map u -> backward(node, u), by one small backward pass."""
    dtype = tangents_dtype(tangents)
    # (ones, not zeros: a rule may take a shortcut where its cotangent is 0)
    u = Tensor(np.ones(batch + node.out_shape, dtype), requires_grad=True)
    frozen = Frozen(node, tuple(t is not None for t in tangents), len(batch))
    seeds = []
    with setting("grad_enabled", True):
        cts = node.op.backward(frozen, u)
        for ct, t, shape in zip(cts, tangents, node.in_shapes):
            if ct is None or t is None:
                continue
            ct = lift(ct, dtype)
            target = batch + shape
            if ct.shape != target:
                ct = sum_to(ct, target, len(batch))
            if ct.requires_grad:
                seeds.append((ct, t))
            elif np.any(ct.data):
                raise GradcliError(f"forward mode through {node.op.name}: its backward rule computes outside the "
                                   f"engine's operations, so it cannot be transposed; its record needs a jvp rule",
                                   kind="grad")
    if not seeds:
        return None
    found = run_backward(seeds)
    return found.get(edge_of(u))
