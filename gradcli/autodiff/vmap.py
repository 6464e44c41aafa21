"""Many points at once: operations on values with a leading point axis (a vmap).

Inside `at_points(points)`, a Tensor the Points hold is *batched*: its first axis runs over
n independent points and the rest is one point's value. An operation applied to at least
one batched input runs its batching rule, which rewrites it as ordinary operations on the
whole arrays; the result is batched in turn. The graph recorded is an ordinary graph over
the big arrays, so the backward pass needs nothing new: as the points are independent,
one pass from the sum over points gives every point's gradient.

The rule of an operation is, first, its record's `batching`: a function
`rule(n, inputs, batched, /, **params) -> Tensor` (n points; batched[i]: whether
inputs[i] carries the point axis), "trailing" or "loop" (below). Otherwise it is derived:

- elementwise: batched inputs get 1-axes after the point axis, so that numpy's
  broadcasting, which aligns trailing axes, keeps the point axis in front;
- "trailing", and an operation whose `prepare` puts its parameters in trailing-axis form
  (negative axes, shapes of the trailing axes): unbatched inputs are broadcast along the
  point axis, the parameters are prepared for one point's shapes, and the operation runs
  on the whole arrays, as backward rules already do with leading batch axes. A record
  says "trailing" when its forward acts on trailing axes (det, inv, the internal shape
  operations); nothing else in a record shows that (sum(abs(x)) has no keywords either);
- "loop", and any other operation: once per point on that point's slices, the results
  stacked. Correct for any operation, and slower.

tests/test_vmap.py checks every rule on every operation's samples against the operation
applied point by point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

from gradcli.autodiff.call import call
from gradcli.autodiff.mode import setting
from gradcli.autodiff.op import Op
from gradcli.autodiff.tensor import Tensor


class Points:
    """n points: the Tensors that carry the point axis (held, so that their ids stay theirs)."""

    def __init__(self, n: int):
        self.n = n
        self.batched: dict[int, Tensor] = {}

    def mark(self, t: Tensor) -> Tensor:
        """t, from now on read as n points (its first axis of length n)."""
        self.batched[id(t)] = t
        return t

    def holds(self, inputs: Sequence[Any]) -> bool:
        batched = self.batched
        return any(id(x) in batched for x in inputs)

    def apply(self, op: Op, inputs: Sequence[Any], params: dict) -> Tensor:
        """op on inputs of which at least one is batched: its rule's result, batched."""
        flags = [id(x) in self.batched for x in inputs]
        with setting("vmap", None):
            out = rule_of(op)(self.n, list(inputs), flags, **params)
        return self.mark(out)


@contextmanager
def at_points(points: Points) -> Iterator[Points]:
    """Context manager: operations in this thread read the Tensors points holds as batched."""
    with setting("vmap", points):
        yield points


def rule_of(op: Op) -> Callable[..., Tensor]:
    """The batching rule of op, rule(n, inputs, batched, **params): its record's, else derived."""
    if callable(op.batching):
        return op.batching
    if op.batching == "trailing" or (op.batching is None and not op.elementwise and op.prepare is not None):
        return partial(trailing, op)
    if op.batching is None and op.elementwise:
        return partial(aligned, op)
    return partial(loop, op)


def point_shape(x: Any, batched: bool) -> tuple[int, ...]:
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))[1 if batched else 0:]


def aligned(op: Op, n: int, inputs: list, batched: list[bool], /, **params: Any) -> Tensor:
    """An elementwise operation: each batched input padded to the others' rank after its point axis."""
    shapes = [point_shape(x, b) for x, b in zip(inputs, batched)]
    rank = max(len(s) for s in shapes)
    padded = [call("reshape", x, src=s, dst=(1,) * (rank - len(s)) + s) if b and len(s) < rank else x
              for x, b, s in zip(inputs, batched, shapes)]
    return call(op, *padded, **params)


def trailing(op: Op, n: int, inputs: list, batched: list[bool], /, **params: Any) -> Tensor:
    """An operation on trailing axes: every input batched, the parameters prepared for one point."""
    shapes = [point_shape(x, b) for x, b in zip(inputs, batched)]
    if op.prepare is not None:
        params = op.prepare(*shapes, **params)
    spread = [x if b else call("expand", x, src=s, dst=(n,) + s) for x, b, s in zip(inputs, batched, shapes)]
    return call(op, *spread, **params)


def loop(op: Op, n: int, inputs: list, batched: list[bool], /, **params: Any) -> Tensor:
    """Any operation: applied at each point to that point's slices, the n results stacked."""
    results = [call(op, *(call("index", x, key=(i,)) if b else x for x, b in zip(inputs, batched)), **params)
               for i in range(n)]
    return call("stack", *results, item_ndim=results[0].ndim)
