"""Statistics that ignore NaN or read the order of the entries, as PyTorch's: nansum, nanmean, nanmedian,
quantile, nanquantile and mode.

nansum is a reduction whose rule is PyTorch's nansum_backward (g times "not NaN", so a NaN entry gets 0);
nanmean is PyTorch's composite, nansum over the count of entries that are not NaN. The others pick x's entries
at indices worked out from x's numbers (read through `decide`, a traced program's guard), as sorting.py's
median does, so the gradient goes back to the chosen entries only:
- nanmedian: torch.nanmedian(x) shares the gradient among the entries equal to the lower median of the
  numbers (among all entries, NaN, where every one is), as PyTorch's evenly_distribute_backward; along a dim,
  to the entry PyTorch's std::nth_element picks (the middle of the stable order; in a row of NaNs only, the
  one libstdc++'s introselect leaves first).
- quantile and nanquantile: PyTorch's composite, the entries at the ranks below and above q (n - 1) in the
  stable sort (a NaN largest) joined by torch.lerp (ops/arithmetic.py), whose rule gives the weight's gradient
  to q.
- mode: the smallest of the most frequent values, at the index PyTorch's std::sort leaves last among its
  equal entries (libstdc++'s introsort, emulated where a row is longer than its insertion sort's 16).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Kink, Sample, composite, primitive
from gradcli.autodiff.trace import decide
from gradcli.errors import GradcliError
from gradcli.ops.common import F, flat_entries, one_axis
from gradcli.ops.gather import entries_at
from gradcli.ops.reductions import _spread, reduction
from gradcli.ops.sorting import _at, _from_rows, _reduced, _rows, _whole_numbers


# -- nansum and nanmean -----------------------------------------------------------------------------------
def _nansum_taylor(n, x):
    numbers = np.where(np.isnan(x[:1]), 0.0, x)  # (a NaN entry's series is 0 throughout, as its gradient)
    return np.sum(numbers, axis=T.series_axis(n.params["axis"], x.ndim - 1), keepdims=n.params["keepdims"])


def _sympy_nansum(sp, xs):
    return sp.Add(*[v for v in xs if not (isinstance(v, float) and np.isnan(v))])


reduction("nansum", lambda x, axis, keepdims: np.nansum(x, axis=axis, keepdims=keepdims),
          # PyTorch's nansum_backward: g times the mask, so an inf g gives nan at a NaN entry, as there
          lambda n, g: (_spread(n, g) * F.eq(n.x, n.x),), _sympy_nansum,
          "sum of the entries that are not NaN, as torch.nansum (a NaN entry gets gradient 0)",
          vjp="g, copied to every summed entry that is not NaN (0 at a NaN)", taylor=_nansum_taylor,
          numbers=(0, 0),
          kinks=(Kink(([1.0, float("nan"), 2.0],), ([1.0, 0.0, 1.0],), note="a NaN entry gets 0", noted=False),))


def _nanmean(x, axis=None, keepdims=False):
    """PyTorch's nanmean: nansum over the count of entries that are not NaN (0/0 = nan where none is)."""
    return F.nansum(x, axis=axis, keepdims=keepdims) / F.sum(F.eq(x, x), axis=axis, keepdims=keepdims)


composite(name="nanmean", family="array", signature="nanmean(x, dim=None, keepdim=False)",
          doc="mean of the entries that are not NaN, as torch.nanmean (a NaN entry gets gradient 0)",
          composite=_nanmean, keywords=("axis", "keepdims"), positional=2, torch_name="DivBackward0",
          samples=(Sample(((3,),)), Sample(((2, 3),), params={"axis": 1}),
                   Sample(((2, 3),), params={"axis": 0, "keepdims": 1})),
          kinks=(Kink(([1.0, float("nan"), 2.0],), ([0.5, 0.0, 0.5],), note="a NaN entry gets 0", noted=False),))


# -- nanmedian ----------------------------------------------------------------------------------------------
def _introselect_first(n: int) -> int:
    """Where libstdc++'s std::nth_element(first, first, last) leaves entry 0 of n equivalent entries (a row of
    NaNs, which compare false both ways): median of three moves the middle to the front, and the unguarded
    partition reverses the rest pairwise, until at most 3 are left (insertion sort keeps them)."""
    order = np.arange(n)
    first, last = 0, n
    while last - first > 3:
        middle = first + (last - first) // 2
        order[[first, middle]] = order[[middle, first]]
        swaps = (last - first - 1) // 2
        inner = order[first + 1:last]
        inner[:swaps], inner[len(inner) - swaps:] = inner[len(inner) - swaps:][::-1].copy(), inner[:swaps][::-1].copy()
        last = first + 1 + swaps
    return int(order[0])


def _nanmedian_index(x, axis):
    """nanmedian's index along axis (kept as an axis of one): the entry at (count - 1) // 2 of the stable order
    of the numbers (NaNs last), count the numbers in the row; a row of NaNs, the introselect's choice."""
    rows = _rows(x, axis)
    nan = np.isnan(rows)
    order = np.argsort(np.where(nan, np.inf, rows), axis=-1, kind="stable")
    order = np.take_along_axis(order, np.argsort(np.take_along_axis(nan, order, -1), axis=-1, kind="stable"), -1)
    count = (~nan).sum(axis=-1, keepdims=True)
    middle = np.take_along_axis(order, np.maximum(count - 1, 0) // 2, -1)
    return _from_rows(np.where(count == 0, _introselect_first(rows.shape[-1]), middle), axis)


def _nanmedian_positions(x):
    """The flat positions sharing torch.nanmedian(x)'s gradient: the entries equal to the lower median of the
    numbers, or every entry where all are NaN."""
    flat = x.reshape(-1)
    numbers = flat[~np.isnan(flat)]
    if numbers.size == 0:
        return np.arange(flat.size)
    return np.flatnonzero(flat == np.sort(numbers)[(numbers.size - 1) // 2])


def _nanmedian(x, axis=None, keepdims=False):
    if axis is None:
        if x.size == 0:
            raise GradcliError("nanmedian() of an empty array has no value", kind="value")
        return F.max(entries_at(x, decide(_nanmedian_positions, x)))
    axis = one_axis(axis, x.ndim)
    if x.ndim and x.shape[axis] == 0:
        raise GradcliError("nanmedian() has no value along a dim of size 0", kind="value")
    return _at(x, decide(_nanmedian_index, x, axis), axis, _reduced(x.shape, axis, keepdims))


def _nanmedian_name(shapes, params):
    return "NanmedianBackward0" if params.get("axis") is None else "NanmedianBackward1"


def _nanmedian_indices(x, axis=None, keepdims=False):
    axis = one_axis(-1 if axis is None else axis, x.ndim)
    return _whole_numbers(_nanmedian_index(x, axis).reshape(_reduced(x.shape, axis, keepdims)), x)


def _reduced_shape(shape, axis=-1, keepdims=False, **_):
    return _reduced(shape, one_axis(-1 if axis is None else axis, len(shape)), keepdims)


composite(name="nanmedian", family="array", signature="nanmedian(x, dim=None, keepdim=False)",
          doc="the lower median of the entries that are not NaN (NaN where all are), as torch.nanmedian: over the "
              "whole array the gradient is shared among the entries equal to it, along dim it goes to the one "
              "PyTorch picks ([1], .indices: its index)",
          composite=_nanmedian, keywords=("axis", "keepdims"), positional=2, batching="loop",
          torch_name=_nanmedian_name, pair="nanmedian_indices", pair_along=True,
          samples=(Sample(((4,),)), Sample(((2, 3),)), Sample(((2, 3),), params={"axis": 1}),
                   Sample(((3, 2),), params={"axis": 0, "keepdims": 1})),
          kinks=(Kink(([1.0, float("nan"), 2.0, 2.0],), ([0.0, 0.0, 0.5, 0.5],),
                      note="NaN left out; equal entries share the gradient", noted=False),))
primitive(name="nanmedian_indices", family="array", signature="nanmedian_indices(x)", public=False,
          doc="where nanmedian's entries along a dim are", forward=_nanmedian_indices, shape=_reduced_shape,
          keywords=("axis", "keepdims"), positional=2, differentiable=False, batching="loop",
          samples=(Sample(((2, 3),), params={"axis": 1}),))


# -- quantile and nanquantile ------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _ranks(x, axis):
    """The sorted rows of x (a flat position per entry: (rows, n), axis last; one row without an axis), and per
    row the count of numbers less one (nanquantile's ranks) and whether it has a NaN (quantile's)."""
    rows = np.arange(x.size).reshape(x.shape)
    rows = rows.reshape(1, -1) if axis is None else _rows(rows, axis).reshape(-1, x.shape[axis] if x.ndim else 1)
    values = x.reshape(-1)[rows]
    nan = np.isnan(values)
    order = np.argsort(values, axis=-1, kind="stable")  # (numpy's sort puts NaN last, as torch's)
    return np.take_along_axis(rows, order, -1), (~nan).sum(axis=-1) - 1, nan.any(axis=-1)


def _quantile(x, q, axis=None, keepdims=False, interpolation="linear", ignore_nan=False):
    """PyTorch's quantile_impl: ranks q (n - 1) (nanquantile: q (count - 1), 0 where no number is; quantile: the
    last where a NaN is), moved as interpolation says, and the sorted entries below and above joined by lerp."""
    name = "nanquantile" if ignore_nan else "quantile"
    if q.ndim > 1:
        raise GradcliError(f"{name}() takes q as a number or a 1-d tensor", kind="shape")
    if x.size == 0:
        raise GradcliError(f"{name}() of an empty array has no value", kind="value")
    if not all(0.0 <= v <= 1.0 for v in decide(flat_entries, q)):
        raise GradcliError(f"{name}() q values must be in the range [0, 1]", kind="value")
    if axis is not None:
        axis = one_axis(axis, x.ndim)
    shape = (1,) * x.ndim if axis is None and keepdims else () if axis is None else _reduced(x.shape, axis, keepdims)
    sorted_rows, last, has_nan = decide(_ranks, x, axis)
    count = q.size if q.ndim else 1
    column = F.reshape(q, src=q.shape, dst=(count, 1))
    if ignore_nan:
        ranks = column * last.astype(x.dtype)
        ranks = F.where(decide(lambda r: r < 0, ranks), 0.0, ranks)
    else:
        end = float(sorted_rows.shape[-1] - 1)
        ranks = F.where(np.broadcast_to(has_nan, (count, len(last))), end, column * end)
    moved = {"lower": F.floor, "higher": F.ceil, "nearest": F.round}.get(interpolation)
    ranks = ranks if moved is None else moved(ranks)
    rank_values = decide(np.array, ranks)
    below = np.trunc(rank_values).astype(np.intp)
    out = (count,) + shape if q.ndim else shape

    def entries(at):
        return entries_at(x, np.take_along_axis(sorted_rows, at.T, -1).T.reshape(out))
    values = entries(below)
    if interpolation in ("linear", "midpoint"):
        if interpolation == "linear":  # (the weight's gradient goes to q, as PyTorch's ranks - ranks_below)
            weights = F.reshape(F.frac(ranks), src=ranks.shape, dst=out)  # ranks - ranks_below: ranks are >= 0
        else:
            weights = np.full(out, 0.5, x.dtype)
        values = F.linear_interpolation(values, entries(np.ceil(rank_values).astype(np.intp)), weights)
    return values


def _quantile_samples():
    return (Sample(((5,), ()), params={}, domain=("real", "mask")),
            Sample(((2, 4), (3,)), ("real", "mask"), params={"axis": 1}),
            Sample(((3, 2), ()), ("real", "mask"), params={"axis": 0, "keepdims": 1, "interpolation": "midpoint"}),
            Sample(((2, 3), (2,)), ("real", "mask"), params={"interpolation": "nearest"}),
            Sample(((4,), ()), ("real", "mask"), params={"interpolation": "lower"}),
            Sample(((4,), ()), ("real", "mask"), params={"interpolation": "higher"}))


for _name, _nan in (("quantile", False), ("nanquantile", True)):
    composite(name=_name, family="array", inputs=("x", "q"), arity=2,
              signature=f"{_name}(x, q, dim=None, keepdim=False, interpolation='linear')",
              doc=("the q-th quantiles " + ("of the entries that are not NaN " if _nan else "") +
                   f"along dim (of the flattened x without one), as torch.{_name}: the sorted entries at the ranks "
                   "below and above q (n - 1) joined as interpolation says (linear, lower, higher, midpoint, "
                   "nearest); the gradient goes to those entries (q: a number or a 1-d tensor, its quantiles first)"),
              composite=lambda x, q, axis=None, keepdims=False, interpolation="linear", _nan=_nan:
                  _quantile(x, q, axis, keepdims, interpolation, _nan),
              keywords=("axis", "keepdims", "interpolation"), positional=2, batching="loop",
              kinds={"interpolation": _INTERPOLATIONS}, torch_name="SqueezeBackward4",
              samples=_quantile_samples(),
              kinks=(Kink(([1.0, 2.0, 2.0, 5.0], 0.5), ([0.0, 0.5, 0.5, 0.0], 0.0),
                          note="equal entries: each of the two ranks takes its own", noted=False),))


# -- mode ----------------------------------------------------------------------------------------------------
class _IntroSort:
    """libstdc++'s std::sort of a row's (value, index) pairs by value alone, as PyTorch's mode calls it: introsort
    (median-of-three quicksort, heapsort past 2 log2 n levels) down to runs of 16, then insertion sort. Among
    equal values (and around a NaN, which compares false both ways) the order is its own, not a stable one."""

    def __init__(self, row: np.ndarray):
        self.values, self.index = row.tolist(), list(range(len(row)))
        n = len(self.values)
        if n > 1:
            self._introsort(0, n, 2 * (n.bit_length() - 1))
            self._insertion(0, min(n, 16))
            for i in range(16, n):
                self._linear_insert(i, self._at(i))

    def _at(self, i):
        return self.values[i], self.index[i]

    def _put(self, i, pair):
        self.values[i], self.index[i] = pair

    def _less(self, i, j):
        return self.values[i] < self.values[j]

    def _swap(self, i, j):
        a, b = self._at(i), self._at(j)
        self._put(i, b)
        self._put(j, a)

    def _introsort(self, first, last, depth):
        while last - first > 16:
            if depth == 0:
                self._heapsort(first, last)
                return
            depth -= 1
            a, b, c = first + 1, first + (last - first) // 2, last - 1
            if self._less(a, b):
                self._swap(first, b if self._less(b, c) else c if self._less(a, c) else a)
            else:
                self._swap(first, a if self._less(a, c) else c if self._less(b, c) else b)
            low, high = first + 1, last
            while True:  # the unguarded partition around the pivot at first
                while self._less(low, first):
                    low += 1
                high -= 1
                while self._less(first, high):
                    high -= 1
                if low >= high:
                    break
                self._swap(low, high)
                low += 1
            self._introsort(low, last, depth)
            last = low

    def _insertion(self, first, last):
        for i in range(first + 1, last):
            pair = self._at(i)
            if pair[0] < self.values[first]:
                self.values[first + 1:i + 1], self.index[first + 1:i + 1] = \
                    self.values[first:i], self.index[first:i]
                self._put(first, pair)
            else:
                self._linear_insert(i, pair)

    def _linear_insert(self, i, pair):
        while pair[0] < self.values[i - 1]:
            self._put(i, self._at(i - 1))
            i -= 1
        self._put(i, pair)

    def _heapsort(self, first, last):
        length = last - first
        for parent in range((length - 2) // 2, -1, -1):
            self._adjust(first, parent, length, self._at(first + parent))
        while last - first > 1:
            last -= 1
            pair = self._at(last)
            self._put(last, self._at(first))
            self._adjust(first, 0, last - first, pair)

    def _adjust(self, first, hole, length, pair):
        top = second = hole
        while second < (length - 1) // 2:
            second = 2 * (second + 1)
            if self._less(first + second, first + second - 1):
                second -= 1
            self._put(first + hole, self._at(first + second))
            hole = second
        if length % 2 == 0 and second == (length - 2) // 2:
            second = 2 * (second + 1)
            self._put(first + hole, self._at(first + second - 1))
            hole = second - 1
        parent = (hole - 1) // 2
        while hole > top and self.values[first + parent] < pair[0]:
            self._put(first + hole, self._at(first + parent))
            hole, parent = parent, (parent - 1) // 2
        self._put(first + hole, pair)


def _mode_index(x, axis):
    """mode's index along axis (kept as an axis of one), as PyTorch's mode_kernel: in std::sort's order, the last
    entry of the first longest run of equal values (NaN equal to none). std::sort is an insertion sort, stable,
    for a row of up to 16 numbers; longer rows and rows with a NaN take the emulation."""
    rows = _rows(x, axis)
    flat = rows.reshape(-1, rows.shape[-1])
    order = np.argsort(flat, axis=-1, kind="stable")
    for r in np.flatnonzero((flat.shape[-1] > 16) | np.isnan(flat).any(axis=-1)):
        order[r] = _IntroSort(flat[r]).index
    ordered = np.take_along_axis(flat, order, -1)
    position = np.arange(flat.shape[-1])
    ends = np.ones(flat.shape, bool)
    ends[:, :-1] = ~(ordered[:, :-1] == ordered[:, 1:])
    previous = np.maximum.accumulate(np.where(ends, position, -1), axis=-1)
    previous = np.concatenate([np.full((len(flat), 1), -1), previous[:, :-1]], axis=-1)
    best = np.argmax(np.where(ends, position - previous, 0), axis=-1)  # (the first of the longest: strict >)
    index = order[np.arange(len(flat)), best]
    return _from_rows(index.reshape(rows.shape[:-1] + (1,)), axis)


def _mode(x, axis=-1, keepdims=False):
    axis = one_axis(axis, x.ndim)
    if x.ndim and x.shape[axis] == 0:
        raise GradcliError("mode() has no value along a dim of size 0", kind="value")
    return _at(x, decide(_mode_index, x, axis), axis, _reduced(x.shape, axis, keepdims))


def _mode_indices(x, axis=-1, keepdims=False):
    axis = one_axis(axis, x.ndim)
    return _whole_numbers(_mode_index(x, axis).reshape(_reduced(x.shape, axis, keepdims)), x)


_MODE_SAMPLES = (Sample(((4,),)), Sample(((2, 3),), params={"axis": 0}), Sample(((3, 2),), params={"keepdims": 1}))
composite(name="mode", family="array", signature="mode(x, dim=-1, keepdim=False)",
          doc="the most frequent value along dim (the smallest of those as frequent), as torch.mode; the gradient "
              "goes to the entry PyTorch's index names (among equal entries, the last in its std::sort's order: "
              "the last of a row of up to 16). [1], .indices: that index",
          composite=_mode, keywords=("axis", "keepdims"), positional=2, batching="loop", pair="mode_indices",
          torch_name="ModeBackward0", samples=_MODE_SAMPLES,
          kinks=(Kink(([2.0, 1.0, 2.0, 1.0],), ([0.0, 0.0, 0.0, 1.0],),
                      note="the smallest of the most frequent values, at its last entry", noted=False),))
primitive(name="mode_indices", family="array", signature="mode_indices(x)", public=False,
          doc="where mode's entries are", forward=_mode_indices, shape=_reduced_shape, keywords=("axis", "keepdims"),
          positional=2, differentiable=False, batching="loop", samples=_MODE_SAMPLES[:1])


# -- cov and corrcoef -----------------------------------------------------------------------------------------
def _weights(w, n, name):
    """A weight vector a call gave (None where it left it out: the NaN standing for it), checked as torch's."""
    if w is None:
        return None
    entries = decide(flat_entries, w)
    if w.ndim == 0 and len(entries) == 1 and np.isnan(entries[0]):
        return None
    if w.ndim > 1 or w.size != n:
        raise GradcliError(f"cov(): expected {name} to have one entry per observation ({n}), not shape "
                           f"{tuple(w.shape)}", kind="shape")
    if name == "fweights" and not all(float(v).is_integer() for v in entries):
        raise GradcliError("cov(): fweights are whole numbers (PyTorch's integer dtype)", kind="value")
    if not all(v >= 0 for v in entries):
        raise GradcliError(f"cov(): {name} cannot be negative", kind="value")
    return w


def _cov(x, fweights=None, aweights=None, ddof=1):
    """PyTorch's cov: rows of variables, columns of observations; the weighted mean taken out, then
    (x - mean) (w (x - mean))ᵀ / (Σw - ddof Σ(w aweights) / Σw with aweights, else Σw - ddof), 0 where that is at
    most 0; axes of one dropped (squeeze)."""
    if x.ndim > 2:
        raise GradcliError(f"cov() takes a value of at most 2 dims, not {x.ndim}", kind="shape")
    rows = x if x.ndim == 2 else F.reshape(x, src=x.shape, dst=(1, x.size))
    n = rows.shape[1]
    frequencies = _weights(fweights, n, "fweights")
    weights = analytic = _weights(aweights, n, "aweights")
    if frequencies is not None:
        frequencies = F.detach(frequencies)  # (integers in PyTorch: no gradient)
        weights = frequencies if weights is None else frequencies * weights
    total = float(n) if weights is None else F.sum(weights)
    if weights is not None and decide(lambda t: bool(t == 0), total):
        raise GradcliError("cov(): weights sum to zero, can't be normalized", kind="value")
    mean = F.sum(rows if weights is None else rows * weights, axis=1) / total
    if analytic is not None and ddof != 0:
        norm = total - ddof * F.sum(weights * analytic) / total
    else:
        norm = total - ddof
    if decide(lambda t: bool(np.asarray(t) <= 0), norm):
        norm = 0.0  # (PyTorch warns and divides by 0)
    centred = rows - F.reshape(mean, src=mean.shape, dst=(rows.shape[0], 1))
    return F.squeeze(F.matmul(centred, F.t(centred if weights is None else centred * weights)) / norm)


def _corrcoef(x):
    """PyTorch's corrcoef: cov divided by the standard deviations on either side, clipped to [-1, 1]; c / c for
    one variable (1, or nan where c is 0, inf or nan)."""
    c = _cov(x)
    if c.ndim == 0:
        return c / c
    deviation = F.sqrt(F.diagonal(c, offset=0, dim1=0, dim2=1))
    c = c / F.reshape(deviation, src=deviation.shape, dst=(deviation.size, 1))
    return F.clip(c / F.reshape(deviation, src=deviation.shape, dst=(1, deviation.size)), -1.0, 1.0)


composite(name="cov", family="array", signature="cov(x, *, correction=1, fweights=None, aweights=None)",
          doc="the covariance matrix of x's rows (variables) over its columns (observations), as torch.cov: "
              "divided by n - correction, or weighted by fweights (whole numbers, no gradient) and aweights",
          composite=_cov, inputs=("x", "fweights", "aweights"), arity=3,
          optional={"fweights": np.nan, "aweights": np.nan}, keywords=("ddof",), positional=0,
          torch_name="SqueezeBackward0",
          samples=(Sample(((3, 5),)), Sample(((4,),)), Sample(((2, 4),), params={"ddof": 0})))
composite(name="corrcoef", family="array", signature="corrcoef(x)",
          doc="the correlation matrix of x's rows, as torch.corrcoef: cov over the standard deviations, clipped "
              "to [-1, 1]", composite=_corrcoef, torch_name="ClampBackward1",
          samples=(Sample(((3, 5),)), Sample(((2, 4),))))
