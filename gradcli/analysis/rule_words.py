"""What explain says about each node: a label for every engine node (the sub-expression
it came from, or a variable's name), and each input's local rule in words, with the
sub-expressions put in and, for an elementwise rule, the number the chain rule multiplies by.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from gradcli.analysis.graph import Traced
from gradcli.api.evaluate import evaluate
from gradcli.api.problem import Problem
from gradcli.autodiff.engine import LeafNode, Node, Tensor
from gradcli.autodiff.op import FUNCTIONS, Words
from gradcli.errors import GradcliError
from gradcli.lang.numbers import array_text
from gradcli.lang.parser import parse
from gradcli.lang.printer import unparse
from gradcli.lang.tree import Expr, fold

GENERIC_WORDS = "the vector-Jacobian product of {op}"  # for an operation without words of its own


# -- naming ------------------------------------------------------------------------------
class Names:
    """Labels for the engine nodes of one traced pass: sub-expression texts and variable names."""

    def __init__(self, p: Problem, traced: Traced):
        self.source = p.source
        self.traced = traced
        self.expr_of: dict[int, Expr] = {}
        self.step_of: dict[int, str] = {}  # a program's step names, by the node that computes the step
        for expr, value in traced.events:
            if isinstance(value, Tensor) and value.grad_fn is not None:
                self.expr_of.setdefault(id(value.grad_fn), expr)
                if expr.kind == "let":
                    self.step_of.setdefault(id(value.grad_fn), expr.value)
        self.values = {id(e): v for e, v in traced.events}

    def text(self, expr: Expr) -> str:
        return self.source[expr.span[0]:expr.span[1]]

    def label(self, node: Node | LeafNode) -> str:
        if isinstance(node, LeafNode):
            return self.traced.text(node)
        expr = self.expr_of.get(id(node))
        if id(node) in self.step_of:
            return self.step_of[id(node)]  # a program's step, by its name
        if expr is not None:
            return self.text(expr)
        return f"{node.name} in {self.traced.text(node, self.source)}"

    def where_cond(self, where: Node) -> str:
        """The condition text of a where node ("cond" when the tree does not say)."""
        expr = self.expr_of.get(id(where))
        return self.text(expr.args[0]) if expr is not None and expr.kind == "call" else "cond"

    def input_exprs(self, node: Node) -> list[Expr | None]:
        """The sub-expressions node's inputs came from, where the tree says so."""
        expr = self.expr_of.get(id(node))
        if expr is None or expr.kind not in ("binary", "call", "unary", "index", "list"):
            return [None] * len(node.next_functions)
        args: list[Expr | None] = [a for a in expr.args if a is not None and a.kind != "slice"]
        if expr.kind == "index":
            args = args[:1]
        op = FUNCTIONS.get(expr.value) if expr.kind == "call" else None
        if op is not None and op.sequence and args and args[0].kind in ("list", "tuple"):
            args = list(args[0].args)  # cat([x, y], 0): the items are the inputs
        elif op is not None:  # inputs given by name (clamp(x, max=1)); one left out is a constant
            named = dict(expr.keywords)
            args += [named.get(name) for name in op.inputs[len(args):]]
        return args if len(args) == len(node.next_functions) else [None] * len(node.next_functions)

    def input_label(self, node: Node, i: int) -> str:
        edge = node.next_functions[i]
        expr = self.input_exprs(node)[i]
        if expr is not None:
            return self.text(expr)
        return self.label(edge) if edge is not None else "a constant"


def wrap(text: str) -> str:
    """text as a name in ∂a/∂b: bare when it is one word, else in parentheses."""
    return text if text.replace("_", "").isalnum() else f"({text})"


# -- local rules -------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _formula(text: str) -> Expr:
    return parse(text)


def _rebuild(node: Expr, kids: list, kws: list) -> Expr:
    return Expr(node.kind, node.span, node.value, tuple(kids), tuple(kws), node.text)


def _substitute(tree: Expr, mapping: dict[str, Expr]) -> Expr:
    """tree with names replaced by (fresh copies of) expressions: fold needs unshared nodes."""
    def combine(node: Expr, kids: list, kws: list) -> Expr:
        if node.kind == "name" and node.value in mapping:
            return fold(mapping[node.value], _rebuild)
        return _rebuild(node, kids, kws)
    return fold(tree, combine)


_ARITHMETIC = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
               "div": lambda a, b: a / b if b else None, "pow": lambda a, b: a ** b if a or b > 0 else None}


def _simplify(tree: Expr) -> Expr:
    """Fold numeric constants and drop x**1 and 1*x, so 2*(u)**(2 - 1) reads 2*u."""
    def num(v: float) -> Expr:
        return Expr("num", (0, 0), v, text=array_text(v).removesuffix(".0"))

    def combine(node: Expr, kids: list, kws: list) -> Expr:
        if node.kind == "binary":
            a, b = kids
            if a.kind == "num" and b.kind == "num" and node.value in _ARITHMETIC:
                v = _ARITHMETIC[node.value](a.value, b.value)
                if v is not None:
                    return num(v)
            if node.value == "pow" and b.kind == "num" and b.value == 1:
                return a
            if node.value == "mul" and a.kind == "num" and a.value == 1:
                return b
            if node.value in ("mul", "div") and b.kind == "num" and b.value == 1:
                return a
        return _rebuild(node, kids, kws)
    return fold(tree, combine)


def words_of(node: Node) -> Words:
    """The words of node's operation (in its record), or a generic sentence."""
    count = len(node.next_functions)
    if node.op.words is not None:
        return node.op.words.for_inputs(count)
    return Words(tuple(f"x{i}" for i in range(count)), vjp=(GENERIC_WORDS.format(op=node.op.name),) * count)


def local_rule(node: Node, i: int, names: Names, inputs: list[np.ndarray | None],
               out: np.ndarray | None) -> dict[str, Any]:
    """Input i's rule: words, and for elementwise rules the local derivative's value."""
    rule = words_of(node)
    if not rule.local:
        labels = {a: wrap(names.input_label(node, j)) for j, a in enumerate(rule.args)}
        words = rule.vjp[i].format(out=wrap(names.label(node)), **labels)
        return {"rule": f"∂L/∂{labels[rule.args[i]]} = {words}", "local": None}
    formula = _formula(rule.local[i])
    exprs = names.input_exprs(node)
    own = names.expr_of.get(id(node))
    numeric = {a: e for a, e in zip(rule.args, exprs) if e is not None and e.kind == "num"}
    words_tree = _simplify(_substitute(formula, numeric))
    symbolic = {a: e if e is not None else Expr("name", (0, 0), wrap(names.input_label(node, j)))
                for j, (a, e) in enumerate(zip(rule.args, exprs))}
    symbolic["out"] = own if own is not None else Expr("name", (0, 0), wrap(names.label(node)))
    words = unparse(_substitute(words_tree, symbolic))
    env = {a: Tensor(v) for a, v in zip(rule.args, inputs) if v is not None}
    if out is not None:
        env["out"] = Tensor(out)
    try:
        local = evaluate(formula, env).data
    except GradcliError:  # an input whose value was not kept: the words stand without a number
        local = None
    own_text = wrap(names.label(node))
    return {"rule": f"∂{own_text}/∂{wrap(names.input_label(node, i))} = {words}", "local": local}
