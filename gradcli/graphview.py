"""The graph the engine built, as data, and its exporters (rich tree, DOT, Mermaid, JSON).

    >>> g = computation_graph(problem("x*x + y", {"x": 3, "y": 1}))
    >>> [n.name for n in g.nodes]
    ['AccumulateGrad', 'MulBackward0', 'AccumulateGrad', 'AddBackward0']

Each node is one engine node: a `grad_fn` (MulBackward0, ...) or the AccumulateGrad of a
leaf. A leaf used twice is one node with two parents, as in PyTorch's graph; the parser
builds a tree, so `sin(x)*sin(x)` has two SinBackward0 nodes, as PyTorch would too.
`inputs` mirrors `next_functions`: one entry per input, None where no gradient flows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import LeafNode, Node, Tensor, edge_of, no_grad, run_backward, topological_order
from .errors import GradcliError
from .evaluate import evaluate, variables
from .functional import Problem, problem
from .ops.common import format_shape
from .render import json_number
from .parser import parse


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

    def text(self, node: Node | LeafNode, source: str = "") -> str:
        if isinstance(node, LeafNode):
            return next((k for k, t in self.leaves.items() if t is node.tensor), "leaf")
        if node.span is None:
            return node.op.name
        return source[node.span[0]:node.span[1]]


def trace(p: Problem) -> Traced:
    """Run p's forward pass and collect its graph and every node's forward value."""
    events: list[tuple[Any, Any]] = []
    leaves = p.leaves()
    out = evaluate(p.tree, leaves, source=p.source, on_node=lambda e, v: events.append((e, v)))
    nodes = _engine_nodes(out)
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
    return Traced(out, leaves, nodes, values, events)


def _engine_nodes(out: Tensor) -> list[Node | LeafNode]:
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
    out = traced.output
    ids = {id(n): i for i, n in enumerate(traced.engine_nodes)}
    grads: dict[int, np.ndarray] = {}
    seed = _seed(out, grad_output)
    if seed is not None and traced.engine_nodes:
        def observe(node: Node, g: Tensor, cts: tuple) -> None:
            grads[id(node)] = g.data

        with np.errstate(all="ignore"):
            found = run_backward([(out, Tensor(seed))], retain_graph=True, observer=observe)
        grads.update({id(leaf): ct.data for leaf, ct in found.items()})
    nodes = [
        GraphNode(
            id=ids[id(n)], name=n.name, op="leaf" if isinstance(n, LeafNode) else n.op.name,
            span=None if n.span is None else n.span, text=traced.text(n, p.source),
            shape=n.tensor.shape if isinstance(n, LeafNode) else n.out_shape,
            inputs=[None if e is None else ids[id(e)] for e in n.next_functions],
            value=traced.values.get(id(n)), grad=grads.get(id(n)),
        )
        for n in traced.engine_nodes
    ]
    root = edge_of(out)
    return Graph(p.source, nodes, None if root is None else ids[id(root)], out.data,
                 None if grad_output is None else seed)


def graph_of(expr: str, values: Mapping[str, Any], wrt: Any = None, grad_output: Any = None) -> Graph:
    """The graph of expr at values; variables without a value give the graph's structure only.

    Such variables stand in as the scalar 1.0, and then no node shows a value, a gradient
    or a shape (they would be the stand-in's, not the expression's).
    """
    tree = parse(expr)
    names = variables(tree)
    missing = [n for n in names if n not in values]
    if not missing:
        return computation_graph(problem(tree, values, wrt, source=expr), grad_output)
    if grad_output is not None:
        raise GradcliError(f"--grad-output needs the values of every variable; give "
                           f"{' '.join(f'--{n} VALUE' for n in missing)}", kind="usage")
    try:
        g = computation_graph(problem(tree, {n: values.get(n, 1.0) for n in names}, wrt, source=expr))
    except GradcliError as err:
        raise GradcliError(f"{err.message} (without values, {', '.join(missing)} stood in as scalars: give "
                           f"{' '.join(f'--{n} VALUE' for n in missing)}, the graph depends on their shapes)",
                           kind=err.kind, span=err.span, source=err.source) from None
    for node in g.nodes:
        node.value = node.grad = node.shape = None
    g.value = None
    return g


def _seed(out: Tensor, grad_output: Any) -> np.ndarray | None:
    if grad_output is not None:
        from .engine import seed_cotangent

        return seed_cotangent(out, grad_output).data
    return np.ones_like(out.data) if out.size == 1 else None


# -- formatting ------------------------------------------------------------------------
def number_text(v: float, digits: int = 6) -> str:
    """A number as people write it: 2.0, -0.5, 1e-08, nan, inf."""
    v = float(v)
    if not np.isfinite(v):
        return json_number(v)
    text = f"{v:.{digits}g}"
    return text if any(c in text for c in ".en") else text + ".0"


def array_text(a: Any, digits: int = 6) -> str:
    """A value on one line: a number, or a bracketed (summarised when long) array."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return number_text(arr, digits)
    text = np.array2string(arr, separator=", ", threshold=24, edgeitems=3, max_line_width=10**6,
                           formatter={"float_kind": lambda v: number_text(v, digits)})
    return text.replace("\n", "")


def shorten(text: str, width: int = 60) -> str:
    """text, or its two ends around an ellipsis when it is longer than width."""
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return text[:half] + "…" + text[-half:]


def _details(node: GraphNode) -> list[str]:
    parts = [] if node.shape is None else [f"shape {format_shape(node.shape)}"]
    if node.value is not None:
        parts.append(f"value {array_text(node.value, 4)}")
    if node.grad is not None:
        parts.append(f"grad {array_text(node.grad, 4)}")
    return parts


def walk_tree(graph: Graph) -> Iterator[tuple[int, GraphNode, bool]]:
    """(depth, node, first time shown) from the output down its inputs, without recursion."""
    if graph.output is None:
        return
    shown: set[int] = set()
    stack = [(0, graph.output)]
    while stack:
        depth, i = stack.pop()
        node = graph.nodes[i]
        first = i not in shown
        shown.add(i)
        yield depth, node, first
        if first:
            stack.extend((depth + 1, j) for j in reversed(node.inputs) if j is not None)


def rich_tree(graph: Graph) -> Any:
    """A rich Tree: the output at the root, each node's inputs below it."""
    from rich.text import Text
    from rich.tree import Tree

    def label(node: GraphNode, first: bool) -> Text:
        text = Text()
        text.append(f"#{node.id} ", style="dim")
        text.append(node.name, style="bold green" if node.op == "leaf" else "bold cyan")
        text.append(f"  {shorten(node.text)}", style="bold" if node.op == "leaf" else "")
        if not first:
            text.append(f"  (the same node #{node.id}, shown above)", style="dim italic")
        elif _details(node):
            text.append("  " + "  ".join(_details(node)), style="dim")
        return text

    if graph.output is None:
        value = "" if graph.value is None else f" {array_text(graph.value)}"
        return Tree(Text(f"constant{value}: no variable with a gradient reaches the output"))
    tree_at: dict[int, Any] = {}
    root = None
    for depth, node, first in walk_tree(graph):
        if root is None:
            root = tree_at[0] = Tree(label(node, first))
            continue
        tree_at[depth] = tree_at[depth - 1].add(label(node, first))
    return root


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(graph: Graph) -> str:
    """Graphviz DOT: one box per node, an edge from each input to the node that uses it."""
    lines = ["digraph gradcli {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    for node in graph.nodes:
        label = "\n".join([node.name, shorten(node.text), *_details(node)])
        style = ', style=filled, fillcolor="lightblue"' if node.op == "leaf" else ""
        if node.id == graph.output:
            style = ', style=filled, fillcolor="lightyellow"'
        lines.append(f"  n{node.id} [label={_dot_quote(label)}{style}];")
    lines.extend(f"  n{i} -> n{node.id};" for node in graph.nodes for i in node.inputs if i is not None)
    lines.append("}")
    return "\n".join(lines)


def _mermaid_label(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(graph: Graph) -> str:
    """A Mermaid flowchart, inputs below the nodes that use them."""
    lines = ["flowchart BT"]
    for node in graph.nodes:
        label = "<br/>".join(_mermaid_label(s) for s in (node.name, shorten(node.text), *_details(node)))
        lines.append(f'  n{node.id}["{label}"]' if node.op != "leaf" else f'  n{node.id}(["{label}"])')
    lines.extend(f"  n{i} --> n{node.id}" for node in graph.nodes for i in node.inputs if i is not None)
    return "\n".join(lines)


def graph_payload(graph: Graph) -> dict[str, Any]:
    """The JSON object: expression, output id, value, and the nodes with their fields."""
    from .render import to_json

    out: dict[str, Any] = {"expression": graph.source, "output": graph.output,
                           "value": None if graph.value is None else to_json(graph.value)}
    if graph.grad_output is not None:
        out["grad_output"] = to_json(graph.grad_output)
    out["nodes"] = [
        {"id": n.id, "name": n.name, "op": n.op, "span": None if n.span is None else list(n.span),
         "expression": n.text, "shape": None if n.shape is None else list(n.shape), "inputs": n.inputs,
         "parents": graph.parents.get(n.id, []),
         "value": None if n.value is None else to_json(n.value),
         "grad": None if n.grad is None else to_json(n.grad)}
        for n in graph.nodes
    ]
    return out
