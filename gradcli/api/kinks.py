"""Evaluation at non-differentiable points: which rule gradcli used, what others would give.

abs and relu at 0, ties in maximum/minimum and in max/min, x on a clip bound, norm of
the zero vector, and x**0 at 0 have no derivative; gradcli follows PyTorch's choice
there. Each operation's `kink_check` (in its definition) marks such entries and says
what gradcli did. `kink_notes(output, source)` walks a graph that still holds its saved
inputs (call it before backward frees them) and returns one line per such node:

    >>> from gradcli.api.problem import problem
    >>> out, _ = problem("abs(x)", {"x": 0.0}).forward()
    >>> [note.split(":")[0] for note in kink_notes(out, "abs(x)")]
    ['abs(x) is evaluated at 0, where it has no derivative']
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.engine import Node, Tensor, creation_order, edge_of


def _where(mask: np.ndarray) -> str:
    """'' for a scalar, else how many entries the mask marks."""
    return "" if mask.ndim == 0 else f" (at {int(mask.sum())} of {mask.size} entries)"


def kink_note(node: Node, source: str) -> str | None:
    """One line if node was evaluated at a non-differentiable point, else None.

    node must still hold its saved inputs (before backward, or with retain_graph).
    """
    check = getattr(getattr(node, "op", None), "kink_check", None)
    if check is None or node.saved is None:
        return None
    at = check.at(node)
    if at is None or not at.any():
        return None
    where = source[node.span[0]:node.span[1]] if node.span is not None and source else node.op.name
    return f"{where} {check.says.format(where=_where(at), op=node.op.name)}"


def kink_notes(output: Tensor, source: str, order: list | None = None) -> list[str]:
    """Notes for every node of output's graph evaluated at a kink, in evaluation order; order:
    the graph's nodes latest-made first (creation_order), when the caller has it already."""
    root = edge_of(output)
    if root is None:
        return []
    nodes = creation_order([root]) if order is None else order
    # (only the nodes of operations that have kinks are looked at: most have none)
    kinked = [n for n in nodes if type(n) is Node and n.op.kink_check is not None]
    kinked.reverse()
    return [note for note in (kink_note(n, source) for n in kinked) if note is not None]
