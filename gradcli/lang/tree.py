"""The expression tree: the node `Expr`, the root a parse returns with what it recorded
(`Root`, `recorded`), the walks over a tree (`postorder`, `fold`), and what a node says
(`defined_name`, `spelling`).

A node is a named tuple: immutable, compared by value, and made in one step; the walks use no
recursion, so deep trees are fine.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from gradcli.errors import Span
from gradcli.lang.grammar import SPELLINGS


class Expr(NamedTuple):
    """A node of the expression tree.

    kind: num (value: float), name (value: str), unary (value: "neg" | "pos"),
    program (args: its statements, the last the output), let (a step NAME = EXPR: value
    NAME, args: EXPR), def (a function NAME(A, B) = BODY: value (NAME, (A, B), BODY); the
    body is no child, as its parameters have values only in a call),
    str (value: the text between the quotes, for a word such as reduction="sum" or an
    einsum subscript), binary (value: an operation name, args: left, right), call (value: function name,
    args, keywords), index (args: target, *items), slice (args: start, stop, step; any
    may be None), attr (value: "T"), list (args: items), tuple (args: items).

    A call's text is its name as written when that is not the plain name: "torch.sin" for
    a module prefix, ".sum" for a method (whose receiver is then args[0]); name_span is
    where the name stands, which errors about the function point at.

    A named tuple: immutable, compared by value, and made in one step, once a token.
    """

    kind: str
    span: Span
    value: Any = None
    args: tuple[Expr | None, ...] = ()
    keywords: tuple[tuple[str, Expr], ...] = ()
    text: str = ""  # the source text of a number, so `x[1]` reads as the integer 1; see calls above
    name_span: Span | None = None


class Recorded(NamedTuple):
    """What a parse met, so that no walk of the tree looks for it again: the variables in reading
    order, the first call node of each spelling, in postorder, and the nodes below the root in
    postorder (the order the parse made them in)."""

    variables: list[str]
    calls: list[Expr]
    below: list[Expr]


class Root(Expr):
    """The node a parse returns: an Expr that also holds what the parse recorded. None for a program
    or a conditional, whose walks decide (steps are no variables; where(c, a, b) is read a, c, b).
    A tree is immutable, so the record stays true; a copy made with _replace has none."""

    recorded: Recorded | None = None


def recorded(tree: Expr) -> Recorded | None:
    """What the parse recorded, when tree is a parse's root that has a record."""
    return getattr(tree, "recorded", None)


def defined_name(statement: Expr) -> str | None:
    """The name a step or function definition gives; None for an expression."""
    if statement.kind == "let":
        return statement.value
    return statement.value[0] if statement.kind == "def" else None


def spelling(call: Expr) -> str:
    """Whose conventions a call follows: "torch" (a method, torch., F.), "numpy" (np.) or "" (plain)."""
    if call.text.startswith("."):
        return "torch"
    return SPELLINGS.get(call.text.rpartition(".")[0], "")


def postorder(root: Expr) -> list[Expr]:
    """Every node after its children, children in order, without recursion (deep trees are fine).

    The order the parse recorded, when root has a record; else built as the reverse of a walk
    that visits a node and then its children from the last to the first: one push and one pop
    a node, no generator (the tree is walked a few times for every expression).
    """
    record = recorded(root)
    if record is not None:
        return [*record.below, root]
    order: list[Expr] = []
    stack = [root]
    push, pop, visit = stack.append, stack.pop, order.append
    while stack:
        node = pop()
        visit(node)
        for child in node.args:
            if child is not None:
                push(child)
        for _, value in node.keywords:
            push(value)
    order.reverse()
    return order


def fold(root: Expr, combine) -> Any:
    """Bottom-up fold over the tree: combine(node, child_results) for every node."""
    results: dict[int, Any] = {}
    for node in postorder(root):
        kids = [results.pop(id(c)) if c is not None else None for c in node.args]
        kws = [(k, results.pop(id(v))) for k, v in node.keywords]
        results[id(node)] = combine(node, kids, kws)
    return results[id(root)]
