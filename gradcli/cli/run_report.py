"""`gradcli run --explain` and `--graph`: each backward() of the user's file explained as `gradcli explain`
explains an expression, and its graph drawn as `gradcli graph` draws one, labelled with the file's line.

The façade keeps each node's line and forward value while the file runs (gradcli.torch.core.TRACE); before
a backward pass runs, the hook here rebuilds what analysis/ reads from an expression (a Traced pass, its
Names) from the recorded graph, then renders it with render/explain.py and render/graph.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.analysis.explain import backward_steps
from gradcli.analysis.graph import Traced, nodes_of, traced_graph
from gradcli.analysis.rule_words import Names
from gradcli.api.problem import Problem
from gradcli.autodiff.engine import LeafNode, Node, Tensor
from gradcli.lang.numbers import array_text
from gradcli.lang.tree import Expr
from gradcli.render.explain import backward_lines
from gradcli.torch.core import TRACE


class RunNames(Names):
    """Labels from the user's code: the variable that holds a node's output, else the node and its line."""

    def __init__(self, p: Problem, traced: Traced, held: dict[int, str], line_of: Callable[[Any], int | None]):
        super().__init__(p, traced)
        self.held = held
        self.line_of = line_of

    def label(self, node: Node | LeafNode) -> str:
        if isinstance(node, LeafNode):
            return self.traced.text(node)
        if id(node) in self.held:
            return self.held[id(node)]
        line = self.line_of(node)
        return f"{node.name} (line {line})" if line else node.name


class BackwardReports:
    """The hook gradcli.torch calls before each backward pass: prints its explanation and/or graph."""

    def __init__(self, file: str, source: str, explain: bool, graph: str | None, write: Callable[[str], Any]):
        self.file, self.source, self.explain, self.graph, self.write = file, source, explain, graph, write
        self.count = 0

    def line_of(self, node: Any) -> int | None:
        span = getattr(node, "span", None)
        return None if span is None else self.source.count("\n", 0, span[0]) + 1

    def __call__(self, seeds: list) -> Callable[[], None]:
        frame = _user_frame(self.file)
        output, seed = seeds[0]
        if len(seeds) > 1 or frame is None:
            return lambda: None
        self.count += 1
        line = frame.f_lineno
        held = _names_in(frame)
        nodes = nodes_of(output)
        leaves = {held.get(id(n.tensor), f"leaf{i}"): n.tensor for i, n in enumerate(nodes) if isinstance(n, LeafNode)}
        values = {id(n): TRACE.values[id(n)][1] for n in nodes if id(n) in TRACE.values}
        values.update({id(n): n.tensor.data for n in nodes if isinstance(n, LeafNode)})
        traced = Traced(output, leaves, nodes, values, [])
        code = self.source.splitlines()[line - 1].strip()
        self.write(f"── backward #{self.count}, line {line}: {code}")
        if self.graph is not None:
            self._draw(traced, seed)
        if not self.explain:
            return lambda: None
        before = {name: _grad_text(t) for name, t in leaves.items()}
        p = Problem(self.source, Expr("name", (0, 0), "L"), list(leaves), list(leaves),
                    {n: t.data for n, t in leaves.items()}, output.dtype)
        names = RunNames(p, traced, {i: n for i, n in held.items() if i in {id(x) for x in nodes}}, self.line_of)
        root = names.label(output.grad_fn) if output.grad_fn is not None else "L"
        with np.errstate(all="ignore"):
            steps, _ = backward_steps(p, traced, names, seed.data)
        scalar = seed.data.size == 1 and float(seed.data.reshape(())) == 1.0
        self.write(f"L = {root} = {array_text(output.data)}" if scalar else
                   f"L = sum(v * out) with out = {root} = {array_text(output.data)}, v = {array_text(seed.data)}")
        self.write("Backward pass, in the order the engine runs it")
        for text in backward_lines(steps, root, "L" if scalar else "out"):
            self.write(text)

        def after() -> None:
            self.write(".grad before and after")
            for name, t in leaves.items():
                self.write(f"  {name}.grad: {before[name]} -> {_grad_text(t)}")
            self.write("")
        return after

    def _draw(self, traced: Traced, seed: Tensor) -> None:
        from gradcli.render.graph import dot, mermaid

        graph = traced_graph(traced, self.source, seed.data, None, traced.output.dtype)
        for node in graph.nodes:  # a node's text: its line of code, not the whole file
            node.text = node.text.strip()
        if self.graph == "tree":
            from rich.console import Console

            from gradcli.render.graph import rich_tree

            Console(file=sys.stdout, highlight=False).print(rich_tree(graph))
        else:
            self.write(dot(graph) if self.graph == "dot" else mermaid(graph))


def _user_frame(file: str) -> Any:
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != file:
        frame = frame.f_back
    return frame


def _names_in(frame: Any) -> dict[int, str]:
    """id(engine tensor or node) -> the user's name for the tensor (locals first, then globals)."""
    found: dict[int, str] = {}
    for scope in (frame.f_globals, frame.f_locals):
        for name, value in scope.items():
            inner = getattr(value, "_t", None)
            if isinstance(inner, Tensor) and not name.startswith("_"):
                found[id(inner)] = name
                if inner.grad_fn is not None:
                    found[id(inner.grad_fn)] = name
    return found


def _grad_text(t: Tensor) -> str:
    grad = t.grad
    if grad is None:
        return "None"
    return array_text(grad.data if isinstance(grad, Tensor) else grad)
