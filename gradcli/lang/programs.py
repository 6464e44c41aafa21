"""Programs, several statements read as one expression: each step and function named once, used
only after its definition and not by itself, and the last statement the expression computed.
"""

from __future__ import annotations

from collections.abc import Iterator

from gradcli.errors import GradcliError
from gradcli.lang.grammar import BOOLEANS, CONSTANTS
from gradcli.lang.tokens import place
from gradcli.lang.tree import Expr, defined_name, postorder


def check_program(statements: list[Expr], source: str) -> None:
    """A program's statements: named once each, used after their definition, the last an expression."""
    *steps, last = statements
    if last.kind in ("let", "def"):
        raise GradcliError("a program ends with the expression it computes: add it on a line of its own "
                           f"(here, {defined_name(last)} is only defined)", kind="syntax", span=last.span,
                           source=source)
    for s in steps:
        if s.kind not in ("let", "def"):
            raise GradcliError("only the last line of a program is a bare expression: name this one "
                               "(NAME = ...) or remove it", kind="syntax", span=s.span, source=source)
    defined: dict[str, Expr] = {}
    for i, s in enumerate(statements):
        for node in _uses(s):
            later = [t for t in statements[i:] if defined_name(t) == node.value]
            if node.value not in defined and later:
                what = "calls itself: a function cannot recurse" if later[0] is s else \
                    f"is used before its definition (at {place(source, later[0].span[0])})"
                raise GradcliError(f"{node.value} {what}", kind="name", span=node.name_span or node.span,
                                   source=source)
        name = defined_name(s)
        if name is None:
            continue
        if name in CONSTANTS or name in BOOLEANS:
            raise GradcliError(f"{name} is a constant: give the step another name", kind="name",
                               span=s.name_span, source=source)
        if name in defined:
            raise GradcliError(f"{name} is defined twice (at {place(source, defined[name].span[0])} and at "
                               f"{place(source, s.span[0])})", kind="name", span=s.name_span, source=source)
        defined[name] = s


def _uses(statement: Expr) -> Iterator[Expr]:
    """The name and call nodes of a statement, a function's body included (its parameters left out)."""
    if statement.kind == "def":
        _, params, body = statement.value
        yield from (n for n in postorder(body) if n.kind in ("name", "call") and n.value not in params)
        return
    yield from (n for n in postorder(statement) if n.kind in ("name", "call"))
