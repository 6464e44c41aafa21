"""Sorting and order statistics, as PyTorch's: sort, argsort, msort, topk, kthvalue, median, cummax and
cummin.

Each value is x's entry at an index worked out from x's numbers (read through `decide`, so a traced
program's guard), picked as gather picks (ops/gather.py): the gradient goes back to the chosen entry
only, as PyTorch's value_selecting_reduction_backward, and a running extreme's repeated index adds up,
as cummaxmin_backward. The indices are PyTorch's, ties included: sort is stable (torch's CPU sort is,
stable= or not), a NaN is the largest entry; kthvalue's index is its quickselect's, median's along a
dim the entry stably sorted to the middle (its first NaN if any); topk's is the stable order, where
torch's own at a tie depends on its std::partial_sort (docs/differences.md). torch.median(x) over the
whole array shares the gradient evenly among the entries equal to it, as PyTorch's.

Where PyTorch gives a pair (values, indices), a call is its values; the indices are the operations
named <op>_indices (argsort for sort), whole numbers with no gradient, which an expression reaches by
taking the pair apart (torch.sort(x)[1], .indices: api/evaluate.py).
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff.op import Kink, Sample, composite, primitive
from gradcli.autodiff.trace import decide
from gradcli.errors import GradcliError
from gradcli.ops.common import F, one_axis
from gradcli.ops.gather import entries_along, entries_at


def _rows(x: np.ndarray, axis: int) -> np.ndarray:
    """x with axis last (a 0-d x as one entry)."""
    return np.moveaxis(x.reshape(x.shape or (1,)), axis, -1)


def _from_rows(index: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(index, -1, axis)


# -- the indices, as PyTorch chooses them ----------------------------------------------------------
def _sort_order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable order along axis, a NaN the largest entry (first when descending), -0.0 equal to 0.0."""
    rows = _rows(x, axis)
    nan = np.isnan(rows)
    key = np.where(nan, 0.0, rows)
    order = np.lexsort((-key, ~nan) if descending else (key, nan), axis=-1)
    return _from_rows(order, axis)


def _topk_order(x, k, axis, largest):
    return np.take(_sort_order(x, axis, largest), np.arange(k), axis=axis)


def _greater_or_nan(a: float, b: float) -> bool:
    return (math.isnan(a) and not math.isnan(b)) or a > b


def _quickselect(row: np.ndarray, k: int) -> int:
    """The index PyTorch's kthvalue picks: its quickselect (Sedgewick's partition, median of three),
    which decides among equal entries."""
    values, index = row.tolist(), list(range(len(row)))

    def swap(i, j):
        values[i], values[j] = values[j], values[i]
        index[i], index[j] = index[j], index[i]
    low, high = 0, len(values) - 1
    while high > low:
        if high == low + 1:
            if _greater_or_nan(values[low], values[high]):
                swap(low, high)
            break
        swap((low + high) >> 1, low + 1)
        if _greater_or_nan(values[low + 1], values[high]):
            swap(low + 1, high)
        if _greater_or_nan(values[low], values[high]):
            swap(low, high)
        if _greater_or_nan(values[low + 1], values[low]):
            swap(low + 1, low)
        i, j, pivot = low + 1, high, values[low]
        while True:
            i += 1
            while _greater_or_nan(pivot, values[i]):
                i += 1
            j -= 1
            while _greater_or_nan(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(low, j)
        if j <= k:
            low = i
        if j >= k:
            high = j - 1
    return index[k]


def _kth_index(x, k, axis):
    """kthvalue's index along axis (kept as an axis of one): the one entry equal to the k-th smallest, or
    where several are (or a NaN is in the row), the quickselect's choice."""
    rows = _rows(x, axis)
    flat = rows.reshape(-1, rows.shape[-1])
    kth = np.sort(flat, axis=-1)[:, k - 1:k]
    equal = flat == kth
    plain = (equal.sum(axis=-1) == 1) & ~np.isnan(flat).any(axis=-1)
    index = np.where(plain, np.argmax(equal, axis=-1), 0)
    for r in np.flatnonzero(~plain):
        index[r] = _quickselect(flat[r], k - 1)
    return _from_rows(index.reshape(rows.shape[:-1] + (1,)), axis)


def _median_index(x, axis):
    """median's index along axis (kept as an axis of one): the lower middle of the stable order, or the
    first NaN of a row that has one (as PyTorch's median_with_indices)."""
    order = _rows(_sort_order(x, axis, False), axis)
    middle = order[..., (order.shape[-1] - 1) // 2:][..., :1]
    nan = np.isnan(_rows(x, axis))
    return _from_rows(np.where(nan.any(axis=-1, keepdims=True), np.argmax(nan, axis=-1)[..., None], middle), axis)


def _running_index(x, axis, largest):
    """cummax's (cummin's) indices: the latest entry at least as large (small) as the running extreme, a
    NaN taking over and staying (PyTorch's cummax_cummin_helper)."""
    rows = _rows(x, axis)
    index = np.zeros(rows.shape, np.intp)
    best, at = rows[..., 0], np.zeros(rows.shape[:-1], np.intp)
    for i in range(rows.shape[-1]):
        value = rows[..., i]
        ahead = (value >= best) if largest else (value <= best)
        take = np.isnan(value) | (~np.isnan(best) & ahead)
        best, at = np.where(take, value, best), np.where(take, i, at)
        index[..., i] = at
    return _from_rows(index, axis)


def _lower_median_positions(x):
    """The flat positions of the entries equal to x's lower median (its NaNs where it has one)."""
    flat = x.reshape(-1)
    if np.isnan(flat).any():
        return np.flatnonzero(np.isnan(flat))
    median = np.sort(flat)[(flat.size - 1) // 2]
    return np.flatnonzero(flat == median)


# -- values: x at the indices ------------------------------------------------------------------------
def _check_k(k, size, name):
    if not 0 <= k <= size:
        raise GradcliError(f"{name}(): k={k} is out of range for a dim of size {size}", kind="index")


def _at(x, index, axis, shape=None):
    """x's entries at index along axis, in shape (x's when none; a 0-d x gives a 0-d value)."""
    picked = entries_along(x if x.ndim else F.reshape(x, src=(), dst=(1,)), index, axis)
    shape = x.shape if shape is None else shape
    return picked if picked.shape == shape else F.reshape(picked, src=picked.shape, dst=shape)


def _reduced(shape, axis, keepdims):
    if not shape:
        return ()
    return tuple(1 if d == axis else n for d, n in enumerate(shape) if keepdims or d != axis)


def _sort(x, axis=-1, descending=False, stable=False):
    axis = one_axis(axis, x.ndim)
    return _at(x, decide(_sort_order, x, axis, bool(descending)), axis)


def _msort(x):
    if x.ndim == 0:
        raise GradcliError("msort() sorts along dim 0: a number has none", kind="shape")
    return _sort(x, 0)


def _topk(x, k, axis=-1, largest=True, sorted=True):
    axis = one_axis(axis, x.ndim)
    _check_k(k, x.shape[axis] if x.ndim else 1, "topk")
    index = decide(_topk_order, x, k, axis, bool(largest))
    return _at(x, index, axis, tuple(k if d == axis else n for d, n in enumerate(x.shape)))


def _kthvalue(x, k, axis=-1, keepdims=False):
    axis = one_axis(axis, x.ndim)
    size = x.shape[axis] if x.ndim else 1
    if not 1 <= k <= size:
        raise GradcliError(f"kthvalue(): k={k} is out of range for a dim of size {size}", kind="index")
    return _at(x, decide(_kth_index, x, k, axis), axis, _reduced(x.shape, axis, keepdims))


def _median(x, axis=None, keepdims=False):
    if axis is None:  # the whole array's: the gradient shared among the entries equal to it
        if x.size == 0:
            raise GradcliError("median() of an empty array has no value", kind="value")
        positions = decide(_lower_median_positions, x)
        return F.max(entries_at(x, positions))
    axis = one_axis(axis, x.ndim)
    return _at(x, decide(_median_index, x, axis), axis, _reduced(x.shape, axis, keepdims))


def _cummax(x, axis):
    axis = one_axis(axis, x.ndim)
    return _at(x, decide(_running_index, x, axis, True), axis)


def _cummin(x, axis):
    axis = one_axis(axis, x.ndim)
    return _at(x, decide(_running_index, x, axis, False), axis)


def _median_name(shapes, params):
    return "MedianBackward0" if params.get("axis") is None else "MedianBackward1"


_ALONG = (Sample(((4,),)), Sample(((2, 3),), params={"axis": 0}), Sample(((2, 3),)))
composite(name="sort", family="array", signature="sort(x, dim=-1, descending=False, stable=False)",
          doc="x's entries in order along dim, as torch.sort (a NaN largest; equal entries keep their order); "
              "the gradient goes back to each entry's place. torch.sort(x)[1], .indices: where each came from",
          composite=_sort, keywords=("axis", "descending", "stable"), positional=2, batching="loop", pair="argsort",
          torch_name="SortBackward0",
          samples=(*_ALONG, Sample(((3, 2),), params={"axis": 0, "descending": 1})),
          kinks=(Kink(([2.0, 1.0, 2.0],), ([1.0, 1.0, 1.0],), note="equal entries keep their order", noted=False),))
composite(name="msort", family="array", signature="msort(x)", doc="x sorted along dim 0, as torch.msort",
          composite=_msort, batching="loop", torch_name="SortBackward0",
          samples=(Sample(((4,),)), Sample(((3, 2),))))
composite(name="topk", family="array", signature="topk(x, k, dim=-1, largest=True, sorted=True)",
          doc="the k largest entries along dim (largest=False: smallest), in order, as torch.topk; the "
              "gradient goes back to them. torch.topk(x, k)[1], .indices: where they are",
          composite=_topk, keywords=("k", "axis", "largest", "sorted"), positional=4, batching="loop",
          pair="topk_indices",
          torch_name="TopkBackward0",
          samples=(Sample(((4,),), params={"k": 2}), Sample(((2, 3),), params={"k": 1, "axis": 0}),
                   Sample(((2, 3),), params={"k": 2, "largest": 0})))
composite(name="kthvalue", family="array", signature="kthvalue(x, k, dim=-1, keepdim=False)",
          doc="the k-th smallest entry along dim, as torch.kthvalue; the gradient goes to it (among equal "
              "entries, to the one PyTorch's quickselect picks). [1], .indices: its index",
          composite=_kthvalue, keywords=("k", "axis", "keepdims"), positional=3, batching="loop",
          pair="kthvalue_indices",
          torch_name="KthvalueBackward0",
          samples=(Sample(((4,),), params={"k": 2}), Sample(((2, 3),), params={"k": 3}),
                   Sample(((3, 2),), params={"k": 1, "axis": 0, "keepdims": 1})),
          kinks=(Kink(([3.0, 1.0, 3.0, 2.0, 1.0],), ([0.0, 0.0, 0.0, 0.0, 1.0],), params={"k": 1},
                      note="the entry PyTorch's quickselect picks takes the gradient", noted=False),))
composite(name="median", family="array", signature="median(x, dim=None, keepdim=False)",
          doc="the lower median (the smaller middle entry of an even count; NaN if x has one), as torch.median: "
              "over the whole array the gradient is shared among the entries equal to it, along dim it goes "
              "to the one PyTorch picks ([1], .indices: its index)",
          composite=_median, keywords=("axis", "keepdims"), positional=2, batching="loop",
          torch_only=("median",), torch_name=_median_name, pair="median_indices", pair_along=True,
          samples=(Sample(((4,),)), Sample(((2, 3),)), Sample(((2, 3),), params={"axis": 1}),
                   Sample(((3, 2),), params={"axis": 0, "keepdims": 1})),
          kinks=(Kink(([1.0, 2.0, 2.0, 3.0],), ([0.0, 0.5, 0.5, 0.0],), note="equal entries share the gradient",
                      noted=False),))
for _name, _fn, _what, _tie in (("cummax", _cummax, "largest", [1.0, 1.0, 0.0]),
                                 ("cummin", _cummin, "smallest", [1.0, 1.0, 2.0])):
    composite(name=_name, family="array", signature=f"{_name}(x, dim)",
              doc=f"the running {_what} entry along dim, as torch.{_name}; the gradient goes to the entry each "
                  f"is (the latest of equal ones), adding up. [1], .indices: their indices",
              composite=_fn, keywords=("axis",), batching="loop", torch_name=f"{_name.capitalize()}Backward0",
              pair=f"{_name}_indices",
              samples=(Sample(((4,),), params={"axis": 0}), Sample(((2, 3),), params={"axis": 1}),
                       Sample(((3, 2),), params={"axis": 0})),
              kinks=(Kink((_tie,), ([1.0, 2.0, 0.0],), params={"axis": 0}, note="the latest equal entry takes it",
                          noted=False),))


# -- the indices: whole numbers with no gradient ---------------------------------------------------------
def _whole_numbers(index, x):
    return np.asarray(index).astype(x.dtype)  # (exact in float32 too, as argmax's)


def _argsort(x, axis=-1, descending=False, stable=False):
    return _whole_numbers(_sort_order(x, one_axis(axis, x.ndim), bool(descending)).reshape(x.shape), x)


def _topk_indices(x, k, axis=-1, largest=True, sorted=True):
    axis = one_axis(axis, x.ndim)
    return _whole_numbers(_topk_order(x, k, axis, bool(largest)).reshape(_topk_shape(x.shape, k, axis)), x)


def _topk_shape(shape, k, axis=-1, **_):
    return tuple(k if d == one_axis(axis, len(shape)) else n for d, n in enumerate(shape))


def _kth_indices(x, k, axis=-1, keepdims=False):
    axis = one_axis(axis, x.ndim)
    return _whole_numbers(_kth_index(x, k, axis).reshape(_reduced(x.shape, axis, keepdims)), x)


def _median_indices(x, axis=None, keepdims=False):
    axis = one_axis(-1 if axis is None else axis, x.ndim)
    return _whole_numbers(_median_index(x, axis).reshape(_reduced(x.shape, axis, keepdims)), x)


def _reduced_shape(shape, k=None, axis=-1, keepdims=False, **_):
    return _reduced(shape, one_axis(-1 if axis is None else axis, len(shape)), keepdims)


def _same(shape, **_):
    return shape


def _indices(name, forward, shape, keywords, positional, doc, samples, public=False, signature=""):
    primitive(name=name, family="array", signature=signature or f"{name}(x)", public=public, doc=doc,
              forward=forward, shape=shape, keywords=keywords, positional=positional, differentiable=False,
              batching="loop", samples=samples)


_indices("argsort", _argsort, _same, ("axis", "descending", "stable"), 2,
         "the indices that sort x along dim, as torch.argsort (stable; a NaN largest), with no gradient",
         _ALONG, public=True, signature="argsort(x, dim=-1, descending=False, stable=False)")
_indices("topk_indices", _topk_indices, _topk_shape, ("k", "axis", "largest", "sorted"), 4,
         "where topk's entries are", (Sample(((4,),), params={"k": 2}),))
_indices("kthvalue_indices", _kth_indices, _reduced_shape, ("k", "axis", "keepdims"), 3,
         "where kthvalue's entry is", (Sample(((4,),), params={"k": 2}),))
_indices("median_indices", _median_indices, _reduced_shape, ("axis", "keepdims"), 2,
         "where median's entries along a dim are", (Sample(((2, 3),), params={"axis": 1}),))
for _name, _largest in (("cummax", True), ("cummin", False)):
    _indices(f"{_name}_indices", lambda x, axis, largest=_largest: _whole_numbers(
        _running_index(x, one_axis(axis, x.ndim), largest).reshape(x.shape), x), _same, ("axis",), 1,
        f"where {_name}'s entries are", (Sample(((4,),), params={"axis": 0}),))
