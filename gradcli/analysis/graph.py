"""The graph the engine built, as data (render/graph.py draws it: rich tree, DOT, Mermaid, JSON).

    >>> g = computation_graph(problem("x*x + y", {"x": 3, "y": 1}))
    >>> [n.name for n in g.nodes]
    ['AccumulateGrad', 'MulBackward0', 'AccumulateGrad', 'AddBackward0']

Each node is one engine node: a `grad_fn` (MulBackward0, ...) or the AccumulateGrad of a
leaf. A leaf used twice is one node with two parents, as in PyTorch's graph; the parser
builds a tree, so `sin(x)*sin(x)` has two SinBackward0 nodes, as PyTorch would too.
`inputs` mirrors `next_functions`: one entry per input, None where no gradient flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.autodiff.engine import LeafNode, Node, Tensor, edge_of, no_grad, run_backward, topological_order
from gradcli.errors import GradcliError, param, value_hint
from gradcli.api.evaluate import evaluate, variables
from gradcli.api.problem import Problem, problem
from gradcli.lang.parser import parse


@dataclass
class GraphNode:
    """One node: id (creation order), PyTorch-style name, op, span and text, shape, inputs."""

    id: int
    name: str
    op: str  # the operation's name, or "leaf"
    span: tuple[int, int] | None
    text: str  # the sub-expression it came from (a leaf: the variable's name)
    shape: tuple[int, ...] | None  # None when the graph was built without values
    inputs: list[int | None]
    value: np.ndarray | None = None
    grad: np.ndarray | None = None


@dataclass
class Graph:
    """The nodes in creation order (every node after its inputs); output is the root's id."""

    source: str
    nodes: list[GraphNode]
    output: int | None
    value: np.ndarray | None
    grad_output: np.ndarray | None = None
    parents: dict[int, list[int]] = field(default_factory=dict)
    dtype: np.dtype = np.dtype(np.float64)  # the values and gradients are computed in it

    def __post_init__(self) -> None:
        for node in self.nodes:
            for i in node.inputs:
                if i is not None:
                    self.parents.setdefault(i, []).append(node.id)


@dataclass
class Traced:
    """A forward pass kept for inspection: the output, the engine nodes and their values."""

    output: Tensor
    leaves: dict[str, Tensor]
    engine_nodes: list[Node | LeafNode]  # creation order
    values: dict[int, np.ndarray]  # id(engine node) -> forward value
    events: list[tuple[Any, Any]]  # (Expr, value) for every sub-expression, in evaluation order
    steps: dict[int, str] = field(default_factory=dict)  # id(engine node) -> the program's step it computes

    def text(self, node: Node | LeafNode, source: str = "") -> str:
        if isinstance(node, LeafNode):
            return next((k for k, t in self.leaves.items() if t is node.tensor), "leaf")
        if node.span is None:
            return node.op.name
        step = self.steps.get(id(node))
        return (f"{step} = " if step else "") + source[node.span[0]:node.span[1]]


def trace(p: Problem) -> Traced:
    """Run p's forward pass and collect its graph and every node's forward value."""
    events: list[tuple[Any, Any]] = []
    leaves = p.leaves()
    out = evaluate(p.tree, leaves, source=p.source, on_node=lambda e, v: events.append((e, v)))
    nodes = nodes_of(out)
    values: dict[int, np.ndarray] = {}
    for _, value in events:
        if isinstance(value, Tensor) and value.grad_fn is not None:
            values[id(value.grad_fn)] = value.data
    for node in nodes:
        if isinstance(node, LeafNode):
            values[id(node)] = node.tensor.data
            continue
        # Inputs a rule saved are the outputs of the nodes they came from (composites' insides).
        for t in node.saved or ():
            if t.grad_fn is not None:
                values.setdefault(id(t.grad_fn), t.data)
        if node.op.saves in ("output", "both"):
            with no_grad():
                values.setdefault(id(node), node.ans.data)
        if id(node) not in values:
            # NOTE: an inner node of a composite whose consumer saved nothing: recompute it
            # from its inputs (all of them are graph nodes, or it has no saved inputs to use).
            inputs = [None if e is None else values.get(id(e)) for e in node.next_functions]
            if all(v is not None for v in inputs):
                values[id(node)] = node.op.forward(*inputs, **node.params)
    steps = {id(v.grad_fn): e.value for e, v in events if e.kind == "let" and getattr(v, "grad_fn", None) is not None}
    return Traced(out, leaves, nodes, values, events, steps)


def nodes_of(out: Tensor) -> list[Node | LeafNode]:
    root = edge_of(out)
    if root is None:
        return []
    return sorted(topological_order([root]), key=lambda n: n.seq)


def computation_graph(p: Problem, grad_output: Any = None) -> Graph:
    """The graph of p's expression with forward values and, where a seed exists, gradients.

    The seed is 1 for a scalar output, else grad_output (shaped like the output); without
    either, nodes carry no gradient.
    """
    traced = trace(p)
    seed = _seed(traced.output, grad_output)
    return traced_graph(traced, p.source, seed, None if grad_output is None else seed, p.dtype)


def traced_graph(traced: Traced, source: str, seed: np.ndarray | None, grad_output: np.ndarray | None,
                 dtype: np.dtype) -> Graph:
    """The graph of a traced forward pass (an expression's, or code's recorded by gradcli run), with
    gradients from a backward pass seeded with seed (none without one)."""
    out = traced.output
    ids = {id(n): i for i, n in enumerate(traced.engine_nodes)}
    grads: dict[int, np.ndarray] = {}
    if seed is not None and traced.engine_nodes:
        def observe(node: Node, g: Tensor, cts: tuple) -> None:
            grads[id(node)] = g.data

        with np.errstate(all="ignore"):
            found = run_backward([(out, Tensor(seed))], retain_graph=True, observer=observe)
        grads.update({id(leaf): ct.data for leaf, ct in found.items()})
    nodes = [
        GraphNode(
            id=ids[id(n)], name=n.name, op="leaf" if isinstance(n, LeafNode) else n.op.name,
            span=None if n.span is None else n.span, text=traced.text(n, source),
            shape=n.tensor.shape if isinstance(n, LeafNode) else n.out_shape,
            inputs=[None if e is None else ids[id(e)] for e in n.next_functions],
            value=traced.values.get(id(n)), grad=grads.get(id(n)),
        )
        for n in traced.engine_nodes
    ]
    root = edge_of(out)
    return Graph(source, nodes, None if root is None else ids[id(root)], out.data, grad_output, dtype=dtype)


def graph_of(expr: str, values: Mapping[str, Any], wrt: Any = None, grad_output: Any = None,
             dtype: Any = None) -> Graph:
    """The graph of expr at values (computed in dtype, float64 by default, or float32); variables
    without a value give the graph's structure only.

    Such variables stand in as the scalar 1.0, and then no node shows a value, a gradient
    or a shape (they would be the stand-in's, not the expression's).
    """
    tree = parse(expr)
    names = variables(tree)
    missing = [n for n in names if n not in values]
    if not missing:
        return computation_graph(problem(tree, values, wrt, source=expr, dtype=dtype), grad_output)
    if grad_output is not None:
        raise GradcliError(f"{param('grad_output')} needs the values of every variable; give "
                           f"{' '.join(value_hint(n) for n in missing)}", kind="usage")
    try:
        g = computation_graph(problem(tree, {n: values.get(n, 1.0) for n in names}, wrt, source=expr, dtype=dtype))
    except GradcliError as err:
        raise GradcliError(f"{err.words} (without values, {', '.join(missing)} stood in as scalars: give "
                           f"{' '.join(value_hint(n) for n in missing)}, the graph depends on their shapes)",
                           kind=err.kind, span=err.span, source=err.source) from None
    for node in g.nodes:
        node.value = node.grad = node.shape = None
    g.value = None
    return g


def _seed(out: Tensor, grad_output: Any) -> np.ndarray | None:
    if grad_output is not None:
        from gradcli.autodiff.engine import seed_cotangent

        return seed_cotangent(out, grad_output).data
    return np.ones_like(out.data) if out.size == 1 else None
