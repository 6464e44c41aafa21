"""x[...] as numpy and PyTorch read it, built from the engine's index, reshape and take.

Basic keys (whole numbers, slices, `...`, None for a new axis) select a view; an array of
whole numbers (W[[0, 2]]) gathers entries along its axis, and a mask (x[x > 0]) the
entries where it is nonzero, as a vector. Both scatter their gradient back, adding it up
where an index repeats. An array index is a mask when it is written as one: a comparison,
`and`, `or`, `not`, `.bool()` or a list of True and False (a variable of 0.0 and 1.0 is an
array of indices, as a float array would be in numpy; write m != 0 to select with it).

The index's numbers are read through `decide`: computed from the variables (x[argmax(x)],
x[x > 0]), they are guards of a traced program, which records again where they change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff.engine import Tensor, call, normalize_key
from gradcli.autodiff.op import FUNCTIONS, OPS
from gradcli.autodiff.trace import decide
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import flat_entries
from gradcli.lang.grammar import BOOLEANS
from gradcli.lang.tree import Expr

_TWO_STEPS = "index in two steps, as W[0][:, [1, 2]]"


def is_mask(node: Expr) -> bool:
    """Whether an index item is written as a mask: a comparison, and/or, not, a .bool(), or a list of
    True and False (x[[True, False, True]] selects, as in PyTorch)."""
    if node.kind == "unary":
        return node.value == "not"
    if node.kind == "list":
        return bool(node.args) and all(_booleans(item) for item in node.args)
    if node.kind == "call" and node.value == "bool" and node.text == ".bool":
        return True
    op = OPS.get(node.value) if node.kind == "binary" else FUNCTIONS.get(node.value) if node.kind == "call" else None
    return op is not None and op.family == "comparison" and node.text != "if"


def _booleans(node: Expr) -> bool:
    """True, False, or a list of them."""
    if node.kind == "list":
        return bool(node.args) and all(_booleans(item) for item in node.args)
    return node.kind == "num" and node.text in BOOLEANS


def index(target: Any, items: list, masks: list[bool], spans: list | None = None) -> Any:
    """target[items]; masks: whether each item is written as a mask (is_mask of its expression, or a bool tensor
    under `gradcli run`); spans: where each item is written, which an error about it points at."""
    if isinstance(target, tuple):  # x.shape[0]
        if len(items) != 1 or not isinstance(items[0], (Tensor, slice)) or getattr(items[0], "ndim", 0):
            raise GradcliError("a shape takes one index, as in x.shape[0]", kind="index")
        if isinstance(items[0], slice):
            return target[items[0]]
        return target[normalize_key((_whole(items[0]),), (len(target),))[0]]
    if not isinstance(target, Tensor):
        raise GradcliError("only an array can be indexed", kind="syntax")
    kinds = [_kind(item, mask) for item, mask in zip(items, masks)]
    # An error about the array or the mask points at it.
    spans = dict(zip(kinds, spans or [None] * len(kinds)))
    items, kinds = _expand_ellipsis(target, items, kinds)
    if "mask" in kinds:
        return _masked(target, items, kinds, spans["mask"])
    if "array" in kinds:
        return _gathered(target, items, kinds, spans["array"])
    return _basic(target, items)


def _kind(item: Any, mask: bool) -> str:
    if item is None:
        return "new"
    if item is Ellipsis:
        return "ellipsis"
    if isinstance(item, slice):
        return "slice"
    if mask:
        return "mask"
    if isinstance(item, Tensor) and item.ndim == 0:
        return "whole"
    if isinstance(item, Tensor):
        return "array"
    raise GradcliError("an index must be a whole number, a slice, an array of indices or a mask", kind="index")


def _expand_ellipsis(target: Tensor, items: list, kinds: list[str]) -> tuple[list, list[str]]:
    """The items and their kinds with `...` replaced by the full slices it stands for."""
    if kinds.count("ellipsis") > 1:
        raise GradcliError("an index can have only one '...'", kind="index")
    used = sum(item.ndim if kind == "mask" else 1 for item, kind in zip(items, kinds)
               if kind not in ("new", "ellipsis"))
    if used > target.ndim:
        raise GradcliError(f"too many indices ({used}) for a value of shape {format_shape(target.shape)}",
                           kind="index")
    if "ellipsis" not in kinds:
        return items, kinds
    at, fill = kinds.index("ellipsis"), target.ndim - used
    return (items[:at] + [slice(None)] * fill + items[at + 1:],
            kinds[:at] + ["slice"] * fill + kinds[at + 1:])


def _nonzero(a: np.ndarray) -> tuple:
    return tuple(np.flatnonzero(a).tolist())


def _whole(item: Tensor) -> int:
    value = decide(float, item)
    if not (np.isfinite(value) and value.is_integer()):
        raise GradcliError(f"an index must be a whole number, not {value:g}", kind="index")
    return int(value)


def _basic(target: Tensor, items: list) -> Tensor:
    key = tuple(_whole(i) if isinstance(i, Tensor) else i for i in items if i is not None)
    out = call("index", target, key=normalize_key(key, target.shape)) if key else target
    if all(i is not None for i in items):
        return out
    # None adds an axis of 1 where it stands among the axes the other items leave.
    dims, axis = [], 0
    for item in items:
        if item is None:
            dims.append(1)
        elif isinstance(item, slice):
            dims.append(len(range(*item.indices(target.shape[axis]))))
            axis += 1
        else:
            axis += 1
    dims.extend(target.shape[axis:])
    return call("reshape", out, src=out.shape, dst=tuple(dims))


def _full(item: Any) -> bool:
    return isinstance(item, slice) and item == slice(None)


def _gathered(target: Tensor, items: list, kinds: list[str], span: tuple[int, int]) -> Tensor:
    if kinds.count("array") > 1 or not all(k == "array" or _full(i) for i, k in zip(items, kinds)):
        raise GradcliError(f"an array of indices combines only with ':' and '...': {_TWO_STEPS}", kind="index")
    axis = kinds.index("array")
    size = target.shape[axis]
    values = np.array(decide(flat_entries, items[axis]), dtype=float).reshape(items[axis].shape)
    if not np.all(np.isfinite(values) & (values == np.round(values))):
        raise GradcliError("an array of indices must hold whole numbers (a mask is written as one: x[x > 0])",
                           kind="index", span=span)
    if values.size and not np.all((-size <= values) & (values < size)):
        bad = values[(values < -size) | (values >= size)][0]
        raise GradcliError(f"index {bad:g} is out of range for axis {axis} of size {size}", kind="index", span=span)
    positions = values.astype(np.intp) % max(size, 1)
    return call("take", target, axis=axis, indices=tuple(positions.reshape(-1).tolist()),
                index_shape=values.shape, src=target.shape)


def _masked(target: Tensor, items: list, kinds: list[str], span: tuple[int, int]) -> Tensor:
    if kinds[0] != "mask" or not all(_full(i) for i in items[1:]):
        raise GradcliError(f"a mask must be the first index and the rest ':': {_TWO_STEPS}", kind="index")
    mask = items[0]
    covered = target.shape[:mask.ndim]
    if mask.shape != covered:
        raise GradcliError(f"a mask of shape {format_shape(mask.shape)} cannot select from a value of shape "
                           f"{format_shape(target.shape)}: its shape must be {format_shape(covered)}", kind="shape",
                           span=span)
    rest = target.shape[mask.ndim:]
    flat = call("reshape", target, src=target.shape, dst=(int(np.prod(covered)),) + rest)
    chosen = np.array(decide(_nonzero, mask), dtype=np.intp)
    return call("take", flat, axis=0, indices=tuple(chosen.tolist()), index_shape=chosen.shape, src=flat.shape)
