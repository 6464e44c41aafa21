"""Entries picked by an array of indices along one axis, as PyTorch picks them: gather and
take_along_dim (x.gather(1, target[:, None]) takes each row's entry at its target class).

Both are composites of the flattened array and `take` (ops/shape.py): the entries are read
at flat positions worked out once from the index, and the gradient is added back into zeros
at them (a repeated index adds up, as torch's scatter_add). The index's numbers are read
through `decide`, so an index computed from the variables is a guard of a traced program;
it gets no gradient, as PyTorch's integer index has none.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.op import Sample, composite
from gradcli.autodiff.trace import decide
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, flat_entries, normalize_axes


def _index_values(index, size: int, name: str) -> np.ndarray:
    """The index's entries as whole numbers in [0, size), PyTorch's range (no negative index)."""
    values = np.array(decide(flat_entries, index), dtype=float).reshape(index.shape)
    if not np.all(np.isfinite(values) & (values == np.round(values))):
        raise GradcliError(f"{name}() takes an index of whole numbers", kind="index")
    bad = values[(values < 0) | (values >= size)]
    if bad.size:
        raise GradcliError(f"{name}(): index {bad[0]:g} is out of bounds for an axis of size {size}", kind="index")
    return values.astype(np.intp)


def entries_at(x, positions: np.ndarray):
    """x's entries at flat positions, shaped as positions is (a gradient added back into zeros at them)."""
    flat = F.reshape(x, src=x.shape, dst=(x.size,))
    return F.take(flat, axis=0, indices=tuple(positions.reshape(-1).tolist()), index_shape=positions.shape,
                  src=(x.size,))


def entries_along(x, values: np.ndarray, axis: int):
    """x's entries at values along axis, each entry's other coordinates its own (out[i][j] = x[values[i][j]][j])."""
    coords = list(np.indices(values.shape, dtype=np.intp))
    coords[axis] = values
    return entries_at(x, np.ravel_multi_index(tuple(coords), x.shape))


def _gather(x, index, axis):
    """torch.gather: out[i][j] = x[index[i][j]][j] along axis 0 (so on for any axis): the index has as
    many axes as x, and on the others it is at most as long as x (it reads the leading part)."""
    if index.ndim != x.ndim:
        raise GradcliError(f"gather() takes an index with as many axes as x ({x.ndim}), not {index.ndim}",
                           kind="shape")
    if x.ndim == 0:
        _index_values(index, 1, "gather")
        return entries_at(x, np.zeros((), np.intp))
    axis = normalize_axes(axis, x.ndim)[0] + x.ndim
    if any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise GradcliError(f"gather(): an index of shape {format_shape(index.shape)} is longer than x "
                           f"{format_shape(x.shape)} on an axis other than dim={axis}", kind="shape")
    return entries_along(x, _index_values(index, x.shape[axis], "gather"), axis)


def _take_along_dim(x, indices, axis=None):
    """torch.take_along_dim: numpy's take_along_axis (the index broadcast against x on the other axes);
    without dim, entries of the flattened x."""
    if axis is None:
        return entries_at(x, _index_values(indices, x.size, "take_along_dim"))
    if indices.ndim != x.ndim:
        raise GradcliError(f"take_along_dim() takes indices with as many axes as x ({x.ndim}), not "
                           f"{indices.ndim}", kind="shape")
    axis = normalize_axes(axis, x.ndim)[0] + x.ndim
    others = [1 if d == axis else s for d, s in enumerate(x.shape)]
    try:
        shape = np.broadcast_shapes(tuple(others), tuple(1 if d == axis else s for d, s in enumerate(indices.shape)))
    except ValueError:
        raise GradcliError(f"take_along_dim(): indices of shape {format_shape(indices.shape)} do not broadcast "
                           f"against x {format_shape(x.shape)} on the axes other than dim={axis}",
                           kind="shape") from None
    shape = tuple(indices.shape[d] if d == axis else shape[d] for d in range(x.ndim))
    if shape[:axis] + shape[axis + 1:] != x.shape[:axis] + x.shape[axis + 1:]:
        x = F.expand(x, src=x.shape, dst=tuple(x.shape[axis] if d == axis else shape[d] for d in range(x.ndim)))
    return entries_along(x, np.broadcast_to(_index_values(indices, x.shape[axis], "take_along_dim"), shape), axis)


composite(name="gather", family="array", signature="gather(x, dim, index)", inputs=("x", "index"), arity=2,
          doc="x's entries at index along dim, as torch.gather: out[i][j] = x[index[i][j]][j] for dim=0 (the "
              "index, whole numbers, has as many axes as x and gets no gradient; x's gradient is added back "
              "at the index, adding up where it repeats)",
          composite=_gather, keywords=("axis",), leading=("axis",), batching="loop", torch_name="GatherBackward0",
          samples=(Sample(((2, 3), (2, 3)), ("real", "mask"), params={"axis": 1}),
                   Sample(((3, 2), (2, 2)), ("real", "mask"), params={"axis": 0}),
                   Sample(((2, 3), (2, 1)), ("real", "mask"), params={"axis": -1}),
                   Sample(((3,), (4,)), ("real", "mask"), params={"axis": 0})))
composite(name="take_along_dim", family="array", signature="take_along_dim(x, indices, dim=None)",
          inputs=("x", "indices"), arity=2,
          doc="x's entries at indices along dim, as torch.take_along_dim and numpy's take_along_axis (indices "
              "broadcast against x on the other axes; without dim, of the flattened x); the indices get no "
              "gradient",
          composite=_take_along_dim, keywords=("axis",), batching="loop", torch_name="TakeAlongDimBackward0",
          samples=(Sample(((2, 3), (2, 1)), ("real", "mask"), params={"axis": 1}),
                   Sample(((2, 3), (1, 3)), ("real", "mask"), params={"axis": 0}),
                   Sample(((2, 3), (4,)), ("real", "mask"))))
