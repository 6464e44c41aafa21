"""Evaluation at non-differentiable points: which rule gradcli used, what others would give.

abs and relu at 0, ties in maximum/minimum and in max/min, x on a clip bound, norm of
the zero vector, and x**0 at 0 have no derivative; gradcli follows PyTorch's choice
there. `kink_notes(output, source)` walks a graph that still holds its saved inputs
(call it before backward frees them) and returns one line per such node:

    >>> from gradcli.functional import problem
    >>> out, _ = problem("abs(x)", {"x": 0.0}).forward()
    >>> [note.split(":")[0] for note in kink_notes(out, "abs(x)")]
    ['abs(x) is evaluated at 0, where it has no derivative']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .engine import Node, Tensor, edge_of, topological_order

Check = Callable[[Node], str | None]


def _where(mask: np.ndarray) -> str:
    """'' for a scalar, else how many entries the mask marks."""
    mask = np.asarray(mask)
    return "" if mask.ndim == 0 else f" (at {int(mask.sum())} of {mask.size} entries)"


def _inputs(node: Node) -> list[np.ndarray]:
    return [t.data for t in node.saved]


def _at_zero(used: str, alternatives: str) -> Check:
    """The check of a function with a corner at 0 (abs, relu)."""
    def check(node: Node) -> str | None:
        at = _inputs(node)[0] == 0
        if not at.any():
            return None
        return (f"is evaluated at 0{_where(at)}, where it has no derivative: gradcli uses {used} (as "
                f"PyTorch); {alternatives}")
    return check


def _tie(node: Node) -> str | None:
    a, b = _inputs(node)
    at = np.broadcast_to(a == b, np.broadcast_shapes(a.shape, b.shape))
    if not at.any():
        return None
    return (f"has a tie between its arguments{_where(at)}: each side gets half the gradient (as PyTorch's "
            f"{node.op.name}); choosing one side would give it the whole gradient and the other 0")


def _reduction_tie(node: Node) -> str | None:
    x = _inputs(node)[0]
    axis = node.params["axis"]
    if x.size == 0 or not axis:
        return None
    best = np.max(x, axis=axis, keepdims=True) if node.op.name == "max" else np.min(x, axis=axis, keepdims=True)
    ties = np.sum(x == best, axis=axis) > 1
    if not ties.any():
        return None
    return (f"has a tie for the {node.op.name}imum{_where(ties)}: the tied entries share the gradient evenly "
            f"(as PyTorch's {node.op.name}()); an arg{node.op.name} rule (torch.{node.op.name}(x, dim)) would give "
            f"all of it to one entry")


def _clip(node: Node) -> str | None:
    x, lo, hi = _inputs(node)
    shape = np.broadcast_shapes(x.shape, lo.shape, hi.shape)
    at = np.broadcast_to((x == lo) | (x == hi), shape)
    if not at.any():
        return None
    return (f"has x exactly on a bound{_where(at)}: x gets the gradient 1 there and the bound 0 (as "
            f"torch.clamp); the one-sided derivative from outside the interval would give x 0 and the bound 1")


def _norm(node: Node) -> str | None:
    x = _inputs(node)[0]
    axis = node.params["axis"]
    if not axis:
        return None
    at = np.all(x == 0, axis=axis)
    if not at.any():
        return None
    return (f"is the norm of a zero vector{_where(at)}, where it has no derivative: gradcli uses the gradient 0 "
            f"(as PyTorch); any vector of length at most 1 is a subgradient there")


def _pow(node: Node) -> str | None:
    a, b = _inputs(node)
    at = np.broadcast_to((a == 0) & (b == 0), np.broadcast_shapes(a.shape, b.shape))
    if not node.needs[0] or not at.any():
        return None
    return (f"has base 0 and exponent 0{_where(at)}: gradcli uses d/dx x**0 = 0 (x**0 is 1 everywhere, as PyTorch); "
            f"the formula b*x**(b - 1) would give 0*0**-1 = 0*inf = nan")


CHECKS: dict[str, Check] = {
    "abs": _at_zero("sign(0) = 0", "the one-sided derivatives are -1 and +1, and any value in [-1, 1] is a "
                    "subgradient"),
    "relu": _at_zero("relu'(0) = 0", "the derivative from the right would give 1, and any value in [0, 1] is "
                     "a subgradient"), "maximum": _tie, "minimum": _tie, "max": _reduction_tie,
    "min": _reduction_tie, "clip": _clip, "norm": _norm, "pow": _pow,
}


def kink_note(node: Node, source: str) -> str | None:
    """One line if node was evaluated at a non-differentiable point, else None.

    node must still hold its saved inputs (before backward, or with retain_graph).
    """
    check = CHECKS.get(getattr(getattr(node, "op", None), "name", ""))
    if check is None or node.saved is None:
        return None
    message = check(node)
    if message is None:
        return None
    where = source[node.span[0]:node.span[1]] if node.span is not None and source else node.op.name
    return f"{where} {message}"


def kink_notes(output: Tensor, source: str) -> list[str]:
    """Notes for every node of output's graph evaluated at a kink, in evaluation order."""
    root = edge_of(output)
    if root is None:
        return []
    nodes = sorted(topological_order([root]), key=lambda n: n.seq)
    return [note for note in (kink_note(n, source) for n in nodes) if note is not None]
