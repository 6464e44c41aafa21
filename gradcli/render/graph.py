"""The computation graph drawn: a rich tree, Graphviz DOT, a Mermaid flowchart, its JSON
object; and its View, where the tree is the table and dot and mermaid are text formats.
The graph is data (analysis/graph.py); everything here draws it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gradcli.analysis.graph import Graph, GraphNode
from gradcli.errors import format_shape
from gradcli.lang.numbers import array_text, to_json
from gradcli.render.view import View, once


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
    out: dict[str, Any] = {"expression": graph.source, "output": graph.output,
                           "value": None if graph.value is None else to_json(graph.value)}
    if graph.dtype.name == "float32":  # (float64, the default, goes unsaid)
        out["dtype"] = "float32"
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


NOT_NUMBERS = "the graph is drawn (tree, dot, mermaid) or given as data (json), not as {}"


def graph_view(graph: Graph) -> View:
    """tree for people (the table), dot and mermaid as text, json the graph's object."""
    return View(json=once(lambda: [graph_payload(graph)]), csv=NOT_NUMBERS.format("CSV"),
                plain=NOT_NUMBERS.format("plain numbers"), table=lambda console: console.print(rich_tree(graph)),
                text={"dot": once(lambda: [dot(graph)]), "mermaid": once(lambda: [mermaid(graph)])})
