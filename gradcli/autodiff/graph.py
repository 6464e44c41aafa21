"""The recorded graph: a Node per operation applied with grad on, a LeafNode per leaf that
requires grad, the edge a cotangent takes from a tensor, and the order a backward pass
visits nodes in.
"""

from __future__ import annotations

import itertools
from operator import attrgetter
from collections.abc import Iterable, Sequence

import numpy as np

from gradcli.autodiff.mode import mode
from gradcli.autodiff.op import Op
from gradcli.autodiff.tensor import Tensor

_sequence = itertools.count()  # creation order of nodes (next() on it is atomic)


class Node:
    """A recorded operation: the `grad_fn` of its output.

    Holds what the operation's backward rule needs (inputs and/or the output value, per
    the op's `saves`), the edges to its inputs' nodes, and the span of the
    sub-expression it came from. Made by `recorded_node`.
    """

    __slots__ = ("op", "params", "next_functions", "in_shapes", "out_shape", "needs",
                 "saved", "_ans", "span", "seq", "freed", "uniform", "batch")

    @property
    def name(self) -> str:
        """The PyTorch-style grad_fn name, e.g. MulBackward0 (made when asked: most never are)."""
        return self.op.node_name(self.in_shapes, self.params)

    # What backward rules read.
    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self.saved

    @property
    def x(self) -> Tensor:
        return self.saved[0]

    @property
    def y(self) -> Tensor:
        return self.saved[1]

    @property
    def ans(self) -> Tensor:
        """The forward output as a tensor whose grad_fn is this node (for second order)."""
        return Tensor._result(self._ans, self if mode.grad_enabled else None)

    def __repr__(self) -> str:
        return f"<{self.name}>"


def recorded_node(op: Op, inputs: Sequence[Tensor], ans: np.ndarray, params: dict) -> Node:
    """The Node of op applied to inputs (its value ans), the grad_fn of its result.

    Made without a constructor: this runs for every operation recorded, and a call of
    __init__ costs more than the fields' stores.
    """
    node = _new(Node)
    node.op = op
    node.params = params
    if len(inputs) == 2:  # (most operations: the pair read without a loop)
        a, b = inputs
        # (a leaf's AccumulateGrad, once made, read without a call: a variable is used many times)
        node.next_functions = (a.grad_fn or a._leaf_node or (edge_of(a) if a.requires_grad else None),
                               b.grad_fn or b._leaf_node or (edge_of(b) if b.requires_grad else None))
        node.in_shapes = (a.data.shape, b.data.shape)
        node.needs = (a.requires_grad, b.requires_grad)
    elif len(inputs) == 1:  # (a function of one input, sin(x): no list to make)
        a, = inputs
        node.next_functions = (a.grad_fn or a._leaf_node or (edge_of(a) if a.requires_grad else None),)
        node.in_shapes = (a.data.shape,)
        node.needs = (a.requires_grad,)
    else:  # (list comprehensions, not generators)
        node.next_functions = tuple([t.grad_fn or (edge_of(t) if t.requires_grad else None) for t in inputs])
        node.in_shapes = tuple([t.data.shape for t in inputs])
        node.needs = tuple([t.requires_grad for t in inputs])
    node.out_shape = ans.shape
    saves = op.saves
    node.saved = tuple(inputs) if saves == "inputs" or saves == "both" else None
    node._ans = ans if saves == "output" or saves == "both" else None
    node.span = mode.span
    node.seq = next(_sequence)
    node.freed = False
    # Set by the backward pass before the rule runs: the one number the cotangent holds when it
    # is a broadcast scalar (a sum's or a mean's), else None. A rule that reads it needs not
    # read g to find out, so g can still be read once and given up.
    node.uniform = None
    node.batch = 0  # set with it: how many leading batch axes the cotangent carries
    return node


_new = object.__new__


class LeafNode:
    """AccumulateGrad: where gradients arrive for a leaf tensor that requires grad."""

    __slots__ = ("tensor", "seq", "span", "next_functions", "name", "freed")

    def __init__(self, tensor: Tensor):
        self.tensor = tensor
        self.seq = next(_sequence)
        self.span = None
        self.next_functions = ()
        self.name = "AccumulateGrad"
        self.freed = False

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def edge_of(t: Tensor) -> Node | LeafNode | None:
    """The node a cotangent for t flows to: its grad_fn, its AccumulateGrad, or none."""
    if t.grad_fn is not None:
        return t.grad_fn
    if not t.requires_grad:
        return None
    if t._leaf_node is None:
        t._leaf_node = LeafNode(t)
    return t._leaf_node


def topological_order(roots: Iterable[Node | LeafNode]) -> list[Node | LeafNode]:
    """Nodes reachable from roots, each after every node that feeds it a cotangent.

    Iterative depth-first search (no recursion), in a deterministic order. Nodes hash by
    identity, so the visited set holds them (None too, which marks an edge to nothing).
    """
    order: list = []
    visited: set = {None}
    mark, visit = visited.add, order.append
    for root in roots:
        if root in visited:
            continue
        mark(root)
        stack = [(root, iter(root.next_functions))]
        push, pop = stack.append, stack.pop
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in visited:
                    mark(child)
                    push((child, iter(child.next_functions)))
                    break
            else:
                pop()
                visit(node)
    order.reverse()
    return order


def creation_order(roots: Iterable[Node | LeafNode]) -> list[Node | LeafNode]:
    """Nodes reachable from roots, the latest made first: the order PyTorch's engine runs a
    graph in (its ready queue takes the highest sequence number), so the cotangents meeting
    at a node are added in its order, to its bits. A node is made after the nodes of its
    inputs, so it comes before every node it sends a cotangent to."""
    nodes = reachable(roots)
    nodes.sort(key=_made, reverse=True)
    return nodes


_made = attrgetter("seq")


def reachable(roots: Iterable[Node | LeafNode]) -> list[Node | LeafNode]:
    """Nodes reachable from roots, in no particular order (cheaper than topological_order)."""
    found = [root for root in set(roots) if root is not None]
    seen: set = {None, *found}
    for node in found:  # (grows as it goes: each node once)
        for child in node.next_functions:
            if child not in seen:
                seen.add(child)
                found.append(child)
    return found
