"""Entries picked, written and added by an index, and arrays joined, as PyTorch's: index_select, take, narrow,
scatter, scatter_add, index_add, index_fill, repeat_interleave; hstack, vstack, dstack, column_stack,
atleast_1d/2d/3d, ravel; numel and count_nonzero (constants).

Each is a composite of the engine's own operations (shape.py's take, take_put and index, gather.py's
entries_at, where, cat, reshape), so its derivatives are those of its parts, as derivatives.yaml has them:
what is read at an index gets its gradient added back there (a repeated index adds up), an entry a
scatter or index_fill overwrites sends none to x. An index is read through `decide`, as gather's is, and
gets no gradient.

NOTE: scatter with an index that names one entry twice writes the last of its sources in row-major order of
the index (PyTorch leaves which one undefined), and only that source gets the gradient there (PyTorch's
gather of the gradient gives it to each).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import Sample, composite, primitive
from gradcli.autodiff.trace import decide
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, flat_entries, normalize_axes, one_axis, reduced_shape
from gradcli.ops.gather import _index_values, entries_at

_INDEXED = ("real", "mask")  # (a sample's index: entries 0 and 1)


def _reshaped(x, shape):
    return x if tuple(shape) == x.shape else F.reshape(x, src=x.shape, dst=tuple(shape))


def _vector_index(index, size: int, name: str) -> np.ndarray:
    """An index of one axis (a number counts as one entry), its entries in [0, size)."""
    if index.ndim > 1:
        raise GradcliError(f"{name}() takes an index of one axis, not shape {format_shape(index.shape)}", kind="shape")
    return _index_values(index, size, name).reshape(-1)


def _along(x, values: np.ndarray, axis: int):
    """x's slices along axis at values (a repeated value reads its slice again; the gradient adds up)."""
    return F.take(x, axis=axis, indices=tuple(values.tolist()), index_shape=values.shape, src=x.shape)


def _added_along(x, values: np.ndarray, axis: int, source):
    """x with source's slices along axis added at values (zeros of x's shape where none lands)."""
    return F.take_put(source, axis=axis, indices=tuple(values.tolist()), index_shape=values.shape, src=x.shape)


def _axis_of(x, axis) -> int:
    return one_axis(axis, x.ndim)


# -- reading ---------------------------------------------------------------------------------------------
def _index_select(x, index, axis):
    if x.ndim == 0:
        return _reshaped(_along(_reshaped(x, (1,)), _vector_index(index, 1, "index_select"), 0), ())
    axis = _axis_of(x, axis)
    return _along(x, _vector_index(index, x.shape[axis], "index_select"), axis)


composite(name="index_select", family="array", signature="index_select(input, dim, index)", inputs=("input", "index"),
          arity=2, doc="x's slices along dim at index (whole numbers, one axis), as torch.index_select; the gradient "
                       "is added back at the index (adding up where it repeats); the index gets none",
          composite=_index_select, keywords=("axis",), leading=("axis",), batching="loop",
          torch_name="IndexSelectBackward0",
          samples=(Sample(((3, 2), (4,)), _INDEXED, params={"axis": 0}), Sample(((2, 3), (2,)), _INDEXED, params={"axis": 1}),
                   Sample(((3,), ()), _INDEXED, params={"axis": -1})))


def _take(x, index):
    """torch.take: entries of the flattened x at index (shaped as index is); a negative index counts from the end."""
    values = np.array(decide(flat_entries, index), dtype=float).reshape(index.shape)
    size = x.size
    if not np.all(np.isfinite(values) & (values == np.round(values))):
        raise GradcliError("take() takes an index of whole numbers", kind="index")
    bad = values[(values < -size) | (values >= size)]
    if bad.size:
        raise GradcliError(f"take(): index {bad[0]:g} is out of range for a value of {size} entries", kind="index")
    return entries_at(x, np.where(values < 0, values + size, values).astype(np.intp))


# NOTE: named apart from shape.py's internal take (numpy's take along one axis, x[[i, j]]).
composite(name="take_flat", aliases=("take",), family="array", signature="take(input, index)",
          inputs=("input", "index"), arity=2,
          doc="entries of the flattened x at index, shaped as index, as torch.take (a negative index counts from the "
              "end); the gradient is added back at the index",
          composite=_take, batching="loop", torch_name="TakeBackward0",
          samples=(Sample(((2, 3), (2, 2)), _INDEXED), Sample(((4,), (3,)), _INDEXED), Sample(((2,), ()), _INDEXED)))


def _narrow(x, axis, start, length):
    axis = _axis_of(x, axis)
    size = x.shape[axis] if x.ndim else 1
    if not -size <= start <= size or length < 0 or (start % size if start < 0 else start) + length > size:
        raise GradcliError(f"narrow(): start {start} and length {length} do not fit in an axis of size {size}",
                           kind="index")
    start = start + size if start < 0 else start
    key = (slice(None),) * axis + (slice(start, start + length),)
    return F.index(x, key=key, src=x.shape)


composite(name="narrow", torch_name="SliceBackward0", family="array", signature="narrow(input, dim, start, length)",
          doc="length entries of x along dim from start (negative: from the end), as torch.narrow",
          composite=_narrow, keywords=("axis", "start", "length"), positional=3,
          samples=(Sample(((4, 3),), params={"axis": 0, "start": 1, "length": 2}),
                   Sample(((2, 5),), params={"axis": -1, "start": -3, "length": 3})))


# -- writing and adding ------------------------------------------------------------------------------------
def _targets(x, index, axis, name):
    """The flat positions in x that index's entries name along axis (each entry's other coordinates its own), and
    the entries' coordinates, after the checks PyTorch makes (as many axes; no longer than x off axis)."""
    if index.ndim != x.ndim:
        raise GradcliError(f"{name}() takes an index with as many axes as x ({x.ndim}), not {index.ndim}",
                           kind="shape")
    if x.ndim == 0:
        return _index_values(index, 1, name).reshape(-1) * 0, ()
    axis = _axis_of(x, axis)
    if any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise GradcliError(f"{name}(): an index of shape {format_shape(index.shape)} is longer than x "
                           f"{format_shape(x.shape)} on an axis other than dim={axis}", kind="shape")
    coords = list(np.indices(index.shape, dtype=np.intp))
    at = list(coords)
    at[axis] = _index_values(index, x.shape[axis], name)
    return np.ravel_multi_index(tuple(at), x.shape).reshape(-1), tuple(coords)


def _sources(src, index, coords, name):
    """The flat positions in src of the entries index's entries take (src at least as long as index)."""
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise GradcliError(f"{name}() takes src with as many axes as index and at least as long on each, not "
                           f"{format_shape(src.shape)} for an index of {format_shape(index.shape)}", kind="shape")
    return np.ravel_multi_index(coords, src.shape).reshape(-1) if src.ndim else np.zeros(1, np.intp)


def _hit(x, positions: np.ndarray) -> Tensor:
    mask = np.zeros(x.size, dtype=x.dtype)
    mask[positions] = 1.0
    return Tensor(mask.reshape(x.shape))


def _scatter(x, index, src, axis, value=None):
    positions, coords = _targets(x, index, axis, "scatter")
    if value is not None or src.ndim == 0 and index.ndim:
        fill = value if value is not None else src
        return F.where(_hit(x, positions), fill, x)
    reading = _sources(src, index, coords, "scatter")
    # (the last source of a repeated position: np.unique of the reversed positions finds it first)
    last, first_reversed = np.unique(positions[::-1], return_index=True)
    pick = np.zeros(x.size, np.intp)
    pick[last] = reading[::-1][first_reversed]
    return F.where(_hit(x, positions), entries_at(src, pick.reshape(x.shape)), x)


composite(name="scatter", family="array", signature="scatter(input, dim, index, src)", arity=3,
          inputs=("input", "index", "src"), optional={"src": 0.0},
          doc="x with src's entries written at index along dim, as torch.scatter: out[index[i][j]][j] = src[i][j] "
              "for dim=0 (value= or a number writes that number); the overwritten entries send x no gradient, "
              "src's entries get it from where they land; the index gets none",
          composite=_scatter, keywords=("axis", "value"), leading=("axis",), kinds={"value": "real"},
          batching="loop", torch_name="ScatterBackward0",
          samples=(Sample(((3, 2), (1, 2), (1, 2)), ("real", "mask", "real"), params={"axis": 0}),
                   Sample(((2, 3), (2, 1), (2, 1)), ("real", "mask", "real"), params={"axis": 1}),
                   Sample(((2, 3), (2, 1), ()), ("real", "mask", "real"), params={"axis": -1})))


def _scatter_add(x, index, src, axis):
    positions, coords = _targets(x, index, axis, "scatter_add")
    reading = _sources(src, index, coords, "scatter_add")
    added = F.take_put(entries_at(src, reading), axis=0, indices=tuple(positions.tolist()),
                       index_shape=positions.shape, src=(x.size,))
    return x + _reshaped(added, x.shape)


composite(name="scatter_add", family="array", signature="scatter_add(input, dim, index, src)", arity=3,
          inputs=("input", "index", "src"),
          doc="x with src's entries added at index along dim, as torch.scatter_add (a repeated index adds each); "
              "x's gradient is g, src's g read where its entries land; the index gets none",
          composite=_scatter_add, keywords=("axis",), leading=("axis",), batching="loop",
          torch_name="ScatterAddBackward0",
          samples=(Sample(((3, 2), (2, 2), (2, 2)), ("real", "mask", "real"), params={"axis": 0}),
                   Sample(((2, 3), (2, 2), (2, 3)), ("real", "mask", "real"), params={"axis": -1})))


def _index_add(x, index, source, axis, alpha=1.0):
    if x.ndim == 0 or source.ndim != x.ndim:
        raise GradcliError(f"index_add() takes a source with as many axes as x ({x.ndim}, at least one), not "
                           f"{source.ndim}", kind="shape")
    axis = _axis_of(x, axis)
    values = _vector_index(index, x.shape[axis], "index_add")
    want = x.shape[:axis] + (values.size,) + x.shape[axis + 1:]
    if source.shape != want:
        raise GradcliError(f"index_add() takes a source of shape {format_shape(want)} here, not "
                           f"{format_shape(source.shape)}", kind="shape")
    return x + _added_along(x, values, axis, source if alpha == 1.0 else source * alpha)


composite(name="index_add", family="array", signature="index_add(input, dim, index, source, alpha=1)", arity=3,
          inputs=("input", "index", "source"),
          doc="x with alpha times source's slices added along dim at index, as torch.index_add (a repeated index "
              "adds each); source's gradient is alpha g read at the index; the index gets none",
          composite=_index_add, keywords=("axis", "alpha"), leading=("axis",), kinds={"alpha": "real"},
          batching="loop", torch_name="IndexAddBackward0",
          samples=(Sample(((3, 2), (2,), (2, 2)), ("real", "mask", "real"), params={"axis": 0}),
                   Sample(((2, 3), (3,), (2, 3)), ("real", "mask", "real"), params={"axis": 1, "alpha": -2.0})))


def _index_fill(x, index, value, axis):
    if value.ndim:
        raise GradcliError(f"index_fill() takes a value of one entry, not shape {format_shape(value.shape)}",
                           kind="shape")
    if x.ndim == 0:
        values, axis = _vector_index(index, 1, "index_fill"), 0
        hit = np.ones((), x.dtype) if values.size else np.zeros((), x.dtype)
        return F.where(Tensor(hit), value, x)
    axis = _axis_of(x, axis)
    hit = np.zeros(x.shape[axis], x.dtype)
    hit[_vector_index(index, x.shape[axis], "index_fill")] = 1.0
    return F.where(Tensor(hit.reshape((-1,) + (1,) * (x.ndim - axis - 1))), value, x)


composite(name="index_fill", family="array", signature="index_fill(input, dim, index, value)", arity=3,
          inputs=("input", "index", "value"),
          doc="x with value along dim at index, as torch.index_fill; the filled entries send x no gradient, "
              "value gets the sum of theirs; the index gets none",
          composite=_index_fill, keywords=("axis",), leading=("axis",), batching="loop", torch_name="IndexFillBackward0",
          samples=(Sample(((3, 2), (2,), ()), ("real", "mask", "real"), params={"axis": 0}),
                   Sample(((2, 3), (1,), ()), ("real", "mask", "real"), params={"axis": -1})))


def _repeat_interleave(x, repeats, axis=None):
    counts = np.array(decide(flat_entries, repeats), dtype=float)
    if repeats.ndim > 1 or not np.all(np.isfinite(counts) & (counts == np.round(counts)) & (counts >= 0)):
        raise GradcliError("repeat_interleave() takes repeats of whole numbers 0 or more, one or one per entry",
                           kind="value")
    if axis is None:
        x = _reshaped(x, (x.size,))
        axis = 0
    elif x.ndim == 0:
        x = _reshaped(x, (1,))
    axis = _axis_of(x, axis)
    n = x.shape[axis]
    if counts.size not in (1, n):
        raise GradcliError(f"repeat_interleave() takes one count or {n}, not {counts.size}", kind="value")
    return _along(x, np.repeat(np.arange(n), np.broadcast_to(counts.astype(np.intp), (n,))), axis)


composite(name="repeat_interleave", family="array", signature="repeat_interleave(input, repeats, dim=None)", arity=2,
          inputs=("input", "repeats"),
          doc="each entry (each slice along dim) repeated, one after another, as torch.repeat_interleave "
              "(repeats: a whole number, or one per entry; without dim, of the flattened x); the gradient adds up "
              "over the copies",
          composite=_repeat_interleave, keywords=("axis",), batching="loop", torch_name="IndexSelectBackward0",
          samples=(Sample(((3,), ()), _INDEXED), Sample(((2, 3), (3,)), _INDEXED, params={"axis": 1}),
                   Sample(((2, 2), ()), _INDEXED, params={"axis": 0})))


# -- joining -------------------------------------------------------------------------------------------------
def _at_least(x, ndim: int):
    """x with axes of size 1 added as torch.atleast_1d/2d/3d adds them: (n,) is (1, n) and (1, n, 1), (m, n) is
    (m, n, 1)."""
    shape = x.shape
    if len(shape) >= ndim:
        return x
    if ndim == 3 and len(shape) == 2:
        return _reshaped(x, shape + (1,))
    if ndim == 3 and len(shape) == 1:
        return _reshaped(x, (1,) + shape + (1,))
    return _reshaped(x, (1,) * (ndim - len(shape)) + shape)


for _n in (1, 2, 3):
    composite(name=f"atleast_{_n}d", family="array", signature=f"atleast_{_n}d(input)",
              torch_name=lambda shapes, params: "ViewBackward0" if not shapes[0] else "UnsqueezeBackward0",
              doc=f"x with at least {_n} axes (size 1 ones added as torch.atleast_{_n}d adds them)",
              composite=lambda x, _n=_n: _at_least(x, _n),
              samples=(Sample(((),)), Sample(((3,),)), Sample(((2, 3),)), Sample(((2, 1, 3),))))


def _joined(name, xs, ndim, axis):
    items = [_at_least(x, ndim) for x in xs]
    shapes = {x.shape[:axis] + x.shape[axis + 1:] for x in items}
    if len(shapes) > 1 or len({x.ndim for x in items}) > 1:
        listed = ", ".join(format_shape(x.shape) for x in xs)
        raise GradcliError(f"{name}() takes arrays of one shape but along dim {axis}, not {listed}", kind="shape")
    return items[0] if len(items) == 1 else F.cat(*items, axis=axis)


def _hstack(*xs):
    return _joined("hstack", xs, 1, 0 if all(x.ndim <= 1 for x in xs) else 1)


def _column(x):
    return _reshaped(x, (max(x.size, 1) if x.ndim else 1, 1)) if x.ndim <= 1 else x


composite(name="hstack", torch_name="CatBackward0",
          family="array", signature="hstack(tensors)", sequence=True, arity=None, method=False,
          doc="arrays joined along their second axis (their first, for vectors and numbers), as torch.hstack",
          composite=_hstack, samples=(Sample(((2,), (3,))), Sample(((2, 1), (2, 3))), Sample(((), (2,)))))
composite(name="vstack", torch_name="CatBackward0",
          family="array", signature="vstack(tensors)", sequence=True, arity=None, method=False,
          aliases=("row_stack",), doc="arrays joined along their first axis, vectors as rows, as torch.vstack",
          composite=lambda *xs: _joined("vstack", xs, 2, 0),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (1, 3))), Sample(((), ()))))
composite(name="dstack", torch_name="CatBackward0",
          family="array", signature="dstack(tensors)", sequence=True, arity=None, method=False,
          doc="arrays joined along their third axis (made as torch.atleast_3d makes it), as torch.dstack",
          composite=lambda *xs: _joined("dstack", xs, 3, 2),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (2, 3))), Sample(((2, 1, 2), (2, 1, 1)))))
composite(name="column_stack", torch_name="CatBackward0",
          family="array", signature="column_stack(tensors)", sequence=True, arity=None,
          method=False, doc="vectors as columns (and matrices as they are) joined side by side, as torch.column_stack",
          composite=lambda *xs: _joined("column_stack", [_column(x) for x in xs], 2, 1),
          samples=(Sample(((3,), (3,))), Sample(((2, 2), (2,))), Sample(((), ()))))
composite(name="ravel", torch_name="ViewBackward0",
          family="array", signature="ravel(input)", doc="x's entries in one axis, as torch.ravel",
          composite=lambda x: _reshaped(x, (x.size,)), samples=(Sample(((2, 3),)), Sample(((),)), Sample(((3,),))))


# -- constants -------------------------------------------------------------------------------------------------
primitive(name="numel", family="array", signature="numel(input)", doc="the number of entries of x, a constant",
          forward=lambda x: np.array(x.size, dtype=x.dtype), shape=lambda s: (), differentiable=False,
          batching="loop", samples=(Sample(((2, 3),)), Sample(((),))))


def _count_shape(shape, axis=None):
    return reduced_shape(shape, axis)


def _count_nonzero(x, axis=None):
    axes = None if axis is None else tuple(a + x.ndim for a in normalize_axes(axis, x.ndim))
    return np.asarray(np.count_nonzero(x, axis=axes), dtype=x.dtype)


primitive(name="count_nonzero", family="reduction", signature="count_nonzero(input, dim=None)",
          doc="how many entries are not 0 (nan counts), over dim (a number or a tuple) or all, as "
              "torch.count_nonzero; a constant", keywords=("axis",), kinds={"axis": "axis"},
          forward=_count_nonzero,
          shape=_count_shape, differentiable=False, batching="loop",
          samples=(Sample(((2, 3),), "mask"), Sample(((2, 3),), "mask", params={"axis": 1}),
                   Sample(((2, 3, 2),), "mask", params={"axis": (0, 2)})))
