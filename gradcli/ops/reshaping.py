"""Array functions that change a shape, not the entries: reshape/view, flatten, squeeze,
unsqueeze, permute, transpose/t/swapaxes, movedim, expand, repeat/tile, and stack of a list of arrays.

Each is built from the engine's internal operations (shape.py: reshape, permute, expand,
stack, which act on trailing axes), whose rules undo one another, so these inherit
their derivatives. Those internal names are taken: the public records are named
array_reshape, array_permute, array_expand and array_stack and are called by PyTorch's
and numpy's names, their aliases.
"""

from __future__ import annotations

import math

from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, one_axis
from gradcli.autodiff.op import Sample, composite


def _sizes(value) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _resolved(x, shape) -> tuple[int, ...]:
    """shape with its one -1 worked out from x's size; an error when the sizes do not fit."""
    shape = _sizes(shape)
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) > 1 or any(n < -1 for n in shape):
        raise GradcliError(f"a new shape takes sizes of 0 or more and at most one -1, not {shape}", kind="value")
    if -1 in shape and known and x.size % known == 0:
        shape = tuple(x.size // known if n == -1 else n for n in shape)
    if -1 in shape or math.prod(shape) != x.size:
        raise GradcliError(f"cannot reshape an array of shape {format_shape(x.shape)} ({x.size} entries) into "
                           f"{format_shape(shape)}", kind="shape")
    return shape


def _reshaped(x, shape):
    return x if tuple(shape) == x.shape else F.reshape(x, src=x.shape, dst=tuple(shape))


composite(name="array_reshape", doc="the same entries in a new shape (one size may be -1: the rest)",
          signature="reshape(x, *shape)", family="array", aliases=("reshape", "view"), keywords=("shape",),
          rest="shape", kinds={"shape": "axis"}, composite=lambda x, shape: _reshaped(x, _resolved(x, shape)),
          samples=(Sample(((2, 3),), params={"shape": (3, 2)}), Sample(((2, 3),), params={"shape": (-1,)}),
                   Sample(((6,),), params={"shape": (2, -1, 3)})))


def _flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return _reshaped(x, (1,))
    start, end = one_axis(start_dim, x.ndim, "start_dim"), one_axis(end_dim, x.ndim, "end_dim")
    if start > end:
        raise GradcliError("flatten() takes start_dim at or before end_dim", kind="value")
    return _reshaped(x, x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])


composite(name="flatten", torch_name="ViewBackward0",
          doc="the axes from start_dim to end_dim made one (all of them by default)",
          signature="flatten(x, start_dim=0, end_dim=-1)", family="array", keywords=("start_dim", "end_dim"),
          positional=2, composite=_flatten,
          samples=(Sample(((2, 3),)), Sample(((2, 3, 2),), params={"start_dim": 1}),
                   Sample(((2, 3, 2),), params={"end_dim": -2})))


def _squeeze(x, axis=None):
    if axis is None:
        axes = range(x.ndim)
    else:
        axes = {one_axis(a, x.ndim) for a in _sizes(axis)} if x.ndim else set()
    # As torch's: an axis whose size is not 1 stays (numpy refuses it).
    return _reshaped(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def _squeeze_name(shapes, params):
    axis = params.get("axis")  # (PyTorch's overloads: none, one dim, several)
    return "SqueezeBackward0" if axis is None else "SqueezeBackward2" if isinstance(axis, tuple) else "SqueezeBackward1"


composite(name="squeeze", torch_name=_squeeze_name,
          doc="drop axes of size 1 (those of dim=, or all)", signature="squeeze(x, dim=None)",
          family="array", keywords=("axis",), composite=_squeeze,
          samples=(Sample(((2, 1, 3),)), Sample(((1, 3, 1),), params={"axis": 0}),
                   Sample(((1, 3, 1),), params={"axis": (0, 2)})))


def _unsqueeze(x, axis):
    at = one_axis(axis, x.ndim + 1)
    return _reshaped(x, x.shape[:at] + (1,) + x.shape[at:])


composite(name="unsqueeze", doc="a new axis of size 1 at dim", signature="unsqueeze(x, dim)", family="array",
          aliases=("expand_dims",), keywords=("axis",), composite=_unsqueeze,
          samples=(Sample(((3,),), params={"axis": 0}), Sample(((2, 3),), params={"axis": -1}),
                   Sample(((), ), params={"axis": 0})))


def _permuted(x, order):
    # (the order that changes nothing makes its node too, as in PyTorch's graph)
    return F.permute(x, perm=tuple(order))


def _permute(x, dims):
    order = [one_axis(a, x.ndim, "dims") for a in _sizes(dims)] if x.ndim else list(_sizes(dims))
    if sorted(order) != list(range(x.ndim)):
        raise GradcliError(f"permute() takes each of the {x.ndim} axes once, not {_sizes(dims)}", kind="value")
    return _permuted(x, order)


composite(name="array_permute", doc="the axes in the order dims gives", signature="permute(x, *dims)",
          family="array", aliases=("permute", "permute_dims"), keywords=("dims",), rest="dims", kinds={"dims": "axis"},
          composite=_permute, torch_name="PermuteBackward0",
          samples=(Sample(((2, 3),), params={"dims": (1, 0)}), Sample(((2, 3, 4),), params={"dims": (2, 0, 1)})))


def _transposed(x, ndim: int, dim0=None, dim1=None, written: str = ""):
    """The last ndim axes of x (one point's, under many points) transposed: all of them
    reversed (x.T, numpy's transpose(x)), dim0 and dim1 swapped (torch.transpose(x, 0, 1)),
    or put in the order a tuple dim0 gives (numpy's transpose(x, axes)). The node is named
    after written (t), else after the PyTorch function the arguments call: permute, for
    every axis reversed or a tuple (x.T is a permute in PyTorch), transpose for two dims."""
    if dim0 is None and dim1 is None:
        order = list(reversed(range(ndim)))
    elif isinstance(dim0, tuple) and dim1 is None:
        order = [one_axis(a, ndim, "axes") for a in dim0] if ndim else list(dim0)
        if sorted(order) != list(range(ndim)):
            raise GradcliError(f"transpose() takes each of the {ndim} axes once, not {dim0}", kind="value")
    elif dim0 is None or dim1 is None or isinstance(dim0, tuple) or isinstance(dim1, tuple):
        raise GradcliError("transpose() takes two dims to swap, as transpose(x, 0, 1), a tuple of every axis, "
                           "or none (every axis reversed)", kind="value")
    else:
        a, b = one_axis(dim0, ndim, "dim0"), one_axis(dim1, ndim, "dim1")
        order = list(range(ndim))
        if ndim:
            order[a], order[b] = order[b], order[a]
        written = written or "transpose"
    # (a vector's or a number's transpose, transpose(x, 1, 1): a node that changes nothing, as PyTorch makes)
    return F.permute(x, perm=tuple(order), written=written or "permute")


def _transpose_name(shapes, params) -> str:
    """PyTorch's node for transpose(x, dim0, dim1); x.T and a tuple of axes are a permute there."""
    return "TransposeBackward0" if params.get("dim1") is not None else "PermuteBackward0"


composite(name="transpose", doc="axes reversed (x.T); with dim0, dim1 those two swapped, as torch.transpose",
          signature="transpose(x, dim0=None, dim1=None)", family="linalg", keywords=("dim0", "dim1"),
          positional=2, kinds={"dim0": "axis", "dim1": "axis"}, spelled={"axes": "dim0"},
          composite=lambda x, **dims: _transposed(x, x.ndim, **dims), torch_name=_transpose_name,
          batching=lambda n, inputs, batched, /, **dims: _transposed(inputs[0], inputs[0].ndim - 1, **dims),
          samples=(Sample(((2, 3),)), Sample(((3,),)), Sample(((2, 3, 4),)),
                   Sample(((2, 3, 4),), params={"dim0": 0, "dim1": -1}),
                   Sample(((2, 3, 4),), params={"dim0": (1, 2, 0)})))


def _matrix_transposed(x, ndim):
    if ndim > 2:  # (as torch.t: x.T or x.mT say which axes are meant)
        raise GradcliError(f"t() takes a tensor of at most 2 dimensions, as torch.t, not {ndim}: x.mT swaps the "
                           f"last two axes, x.T reverses them all", kind="shape")
    return _transposed(x, ndim, written="t")


composite(name="t", doc="a matrix transposed, as torch.t (a vector or a number as it is; 3 or more axes: an error)",
          signature="t(x)", family="linalg", torch_name="TBackward0",
          composite=lambda x: _matrix_transposed(x, x.ndim),
          batching=lambda n, inputs, batched, /: _matrix_transposed(inputs[0], inputs[0].ndim - 1),
          samples=(Sample(((2, 3),)), Sample(((3,),))))


composite(name="swapaxes", doc="dim0 and dim1 swapped (torch's swapaxes and swapdims, numpy's swapaxes)",
          signature="swapaxes(x, dim0, dim1)", family="array", aliases=("swapdims",), keywords=("dim0", "dim1"),
          positional=2, composite=lambda x, dim0, dim1: _transposed(x, x.ndim, dim0, dim1),
          torch_name="TransposeBackward0",
          batching=lambda n, inputs, batched, /, dim0, dim1: _transposed(inputs[0], inputs[0].ndim - 1, dim0, dim1),
          samples=(Sample(((2, 3),), params={"dim0": 0, "dim1": 1}),
                   Sample(((2, 3, 4),), params={"dim0": -1, "dim1": 0})))


def _movedim(x, source, destination):
    src = [one_axis(a, x.ndim, "source") for a in _sizes(source)]
    dst = [one_axis(a, x.ndim, "destination") for a in _sizes(destination)]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise GradcliError("movedim() takes as many distinct destinations as distinct sources", kind="value")
    rest = iter(a for a in range(x.ndim) if a not in src)
    at = dict(zip(dst, src))
    return _permuted(x, [at[i] if i in at else next(rest) for i in range(x.ndim)])


composite(name="movedim", doc="axes moved from source to destination, the others in their order",
          signature="movedim(x, source, destination)", family="array", aliases=("moveaxis",),
          keywords=("source", "destination"), positional=2, kinds={"source": "axis", "destination": "axis"},
          composite=_movedim, torch_name="PermuteBackward0",
          samples=(Sample(((2, 3, 4),), params={"source": 0, "destination": -1}),
                   Sample(((2, 3, 4),), params={"source": (0, 1), "destination": (2, 0)})))


def _expand(x, size):
    size = _sizes(size)
    lead = len(size) - x.ndim
    if lead < 0 or any(n == -1 for n in size[:lead]):
        raise GradcliError(f"cannot expand shape {format_shape(x.shape)} to {size}", kind="shape")
    target = size[:lead] + tuple(n if n != -1 else s for n, s in zip(size[lead:], x.shape))
    if any(s not in (1, n) for s, n in zip(x.shape, target[lead:])):
        raise GradcliError(f"cannot expand shape {format_shape(x.shape)} to {format_shape(target)}: "
                           f"only axes of size 1 grow", kind="shape")
    return x if target == x.shape else F.expand(x, src=x.shape, dst=target)


composite(name="array_expand", doc="broadcast to a larger shape (-1 keeps a size); the gradient sums back",
          signature="expand(x, *size)", family="array", aliases=("expand", "broadcast_to"), keywords=("size",),
          rest="size", kinds={"size": "axis"}, composite=_expand,
          samples=(Sample(((3,),), params={"size": (2, 3)}), Sample(((2, 1),), params={"size": (-1, 3)})))


def _tile(x, dims):
    reps = _sizes(dims)
    if any(r < 0 for r in reps):
        raise GradcliError(f"repeat() takes counts of 0 or more, not {reps}", kind="value")
    ndim = max(len(reps), x.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - x.ndim) + x.shape
    # Each axis of size s becomes (r, s), broadcast r times, then merged: r copies one after another.
    spread = tuple(n for s in shape for n in (1, s))
    copies = tuple(n for r, s in zip(reps, shape) for n in (r, s))
    out = F.expand(_reshaped(x, spread), src=spread, dst=copies) if copies != spread else _reshaped(x, spread)
    return _reshaped(out, tuple(r * s for r, s in zip(reps, shape)))


composite(name="tile", torch_name="RepeatBackward0",
          doc="copies of x one after another along each axis (torch's x.repeat(2, 1), numpy's tile)",
          signature="tile(x, *dims)", family="array", aliases=("repeat",), torch_only=("repeat",),
          keywords=("dims",), rest="dims",
          kinds={"dims": "axis"}, composite=_tile,
          samples=(Sample(((3,),), params={"dims": (2,)}), Sample(((2, 3),), params={"dims": (2, 1)}),
                   Sample(((2,),), params={"dims": (2, 2)})))


def _stack(*xs, axis=0):
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        listed = ", ".join(format_shape(x.shape) for x in xs)
        raise GradcliError(f"stack() takes arrays of one shape, not {listed} (cat() joins along an axis)",
                           kind="shape")
    ndim = xs[0].ndim
    at = one_axis(axis, ndim + 1)
    order = list(range(1, ndim + 1))
    order.insert(at, 0)
    return _permuted(F.stack(*xs, item_ndim=ndim), order)


composite(name="array_stack", doc="arrays of one shape stacked along a new dim (default 0): stack([x, y], 1)",
          signature="stack(tensors, dim=0)", family="array", aliases=("stack",), keywords=("axis",), sequence=True,
          arity=None, method=False, composite=_stack, torch_name="StackBackward0",
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (2, 3)), params={"axis": 1}),
                   Sample(((2,), (2,), (2,)), params={"axis": -1})))
