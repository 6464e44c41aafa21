"""Evaluation at non-differentiable points: which rule gradcli used, what others would give.

abs and relu at 0, ties in maximum/minimum and in max/min, x on a clip bound, norm of
the zero vector, and x**0 at 0 have no derivative; gradcli follows PyTorch's choice
there. `kink_notes(output, source)` walks a graph that still holds its saved inputs
(call it before backward frees them) and returns one line per such node:

    >>> from gradcli.api.problem import problem
    >>> out, _ = problem("abs(x)", {"x": 0.0}).forward()
    >>> [note.split(":")[0] for note in kink_notes(out, "abs(x)")]
    ['abs(x) is evaluated at 0, where it has no derivative']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradcli.autodiff.engine import Node, Tensor, edge_of, topological_order


@dataclass(frozen=True)
class KinkCheck:
    """at(node) marks the entries at the kink (None: not applicable); says is the note, with
    {where} for how many entries and {op} for the operation's name."""

    at: Callable[[Node], np.ndarray | None]
    says: str


def _where(mask: np.ndarray) -> str:
    """'' for a scalar, else how many entries the mask marks."""
    return "" if mask.ndim == 0 else f" (at {int(mask.sum())} of {mask.size} entries)"


def _inputs(node: Node) -> list[np.ndarray]:
    return [t.data for t in node.saved]


def _broadcast(mask: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    return np.broadcast_to(mask, np.broadcast_shapes(*(a.shape for a in arrays)))


def _at_zero(node: Node) -> np.ndarray:
    return np.asarray(_inputs(node)[0] == 0)


def _equal_arguments(node: Node) -> np.ndarray:
    a, b = _inputs(node)
    return _broadcast(a == b, a, b)


def _tied_extremes(node: Node) -> np.ndarray | None:
    x, axis = _inputs(node)[0], node.params["axis"]
    if x.size == 0 or not axis:
        return None
    best = (np.max if node.op.name == "max" else np.min)(x, axis=axis, keepdims=True)
    return np.asarray(np.sum(x == best, axis=axis) > 1)


def _on_bound(node: Node) -> np.ndarray:
    x, lo, hi = _inputs(node)
    return _broadcast((x == lo) | (x == hi), x, lo, hi)


def _zero_vector(node: Node) -> np.ndarray | None:
    x, axis = _inputs(node)[0], node.params["axis"]
    return np.asarray(np.all(x == 0, axis=axis)) if axis else None


def _equal_entries(node: Node) -> np.ndarray | None:
    x, axis = _inputs(node)[0], node.params["axis"]
    return np.asarray(np.ptp(x, axis=axis) == 0) if axis and x.size else None


def _zero_to_the_zero(node: Node) -> np.ndarray | None:
    a, b = _inputs(node)
    # Most exponents are a nonzero constant: then no entry can be 0**0, and x need not be scanned.
    if not node.needs[0] or not np.any(b == 0):
        return None
    return _broadcast((a == 0) & (b == 0), a, b)


_TIE = KinkCheck(_equal_arguments, "has a tie between its arguments{where}: each side gets half the gradient (as "
                 "PyTorch's {op}); choosing one side would give it the whole gradient and the other 0")
_EXTREME = KinkCheck(_tied_extremes, "has a tie for the {op}imum{where}: the tied entries share the gradient "
                     "evenly (as PyTorch's {op}()); an arg{op} rule (torch.{op}(x, dim)) would give all of it "
                     "to one entry")

CHECKS: dict[str, KinkCheck] = {
    "abs": KinkCheck(_at_zero, "is evaluated at 0{where}, where it has no derivative: gradcli uses sign(0) = 0 "
                     "(as PyTorch); the one-sided derivatives are -1 and +1, and any value in [-1, 1] is a "
                     "subgradient"),
    "relu": KinkCheck(_at_zero, "is evaluated at 0{where}, where it has no derivative: gradcli uses relu'(0) = 0 "
                      "(as PyTorch); the derivative from the right would give 1, and any value in [0, 1] is a "
                      "subgradient"),
    "maximum": _TIE, "minimum": _TIE, "max": _EXTREME, "min": _EXTREME,
    "clip": KinkCheck(_on_bound, "has x exactly on a bound{where}: x gets the gradient 1 there and the bound 0 "
                      "(as torch.clamp); the one-sided derivative from outside the interval would give x 0 and "
                      "the bound 1"),
    "norm": KinkCheck(_zero_vector, "is the norm of a zero vector{where}, where it has no derivative: gradcli uses "
                      "the gradient 0 (as PyTorch); any vector of length at most 1 is a subgradient there"),
    "std": KinkCheck(_equal_entries, "is the standard deviation of equal entries{where}, where it has no "
                     "derivative: gradcli uses the gradient 0 (as PyTorch); the formula (x - mean)/(n*std) would "
                     "give 0/0 = nan"),
    "pow": KinkCheck(_zero_to_the_zero, "has base 0 and exponent 0{where}: gradcli uses d/dx x**0 = 0 (x**0 is 1 "
                     "everywhere, as PyTorch); the formula b*x**(b - 1) would give 0*0**-1 = 0*inf = nan"),
}


def kink_note(node: Node, source: str) -> str | None:
    """One line if node was evaluated at a non-differentiable point, else None.

    node must still hold its saved inputs (before backward, or with retain_graph).
    """
    check = CHECKS.get(getattr(getattr(node, "op", None), "name", ""))
    if check is None or node.saved is None:
        return None
    at = check.at(node)
    if at is None or not at.any():
        return None
    where = source[node.span[0]:node.span[1]] if node.span is not None and source else node.op.name
    return f"{where} {check.says.format(where=_where(at), op=node.op.name)}"


def kink_notes(output: Tensor, source: str) -> list[str]:
    """Notes for every node of output's graph evaluated at a kink, in evaluation order."""
    root = edge_of(output)
    if root is None:
        return []
    nodes = sorted(topological_order([root]), key=lambda n: n.seq)
    return [note for note in (kink_note(n, source) for n in nodes) if note is not None]
