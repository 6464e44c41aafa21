"""Array functions that move or combine entries: flip, roll, tril, triu, diagonal, diag,
cumsum, cumprod, cat, and argmax/argmin (indices, without a gradient).

PyTorch's names and keywords come first (dim=, dims=, diagonal=), numpy's beside them.
Axes are stored negative (counted from the end), so a rule applied to a cotangent with
leading batch axes acts on the right ones; each rule is written in the engine's
operations (F.*), so second order works.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, normalize_axes, reduced_shape, same_shape
from gradcli.autodiff.op import Sample, Words, primitive
from gradcli.autodiff.trace import decide


def _g_words(words: str) -> Words:
    return Words(("x",), vjp=(words,))


def _one_axis(axis, ndim: int, what: str = "dim") -> int:
    """axis as one negative axis of an ndim array (a 0-d value acts as one of one entry)."""
    if isinstance(axis, tuple):
        raise GradcliError(f"{what}= takes one axis here, not a tuple", kind="index")
    return normalize_axes(axis, max(ndim, 1))[0]


# -- flip and roll ------------------------------------------------------------------------------
def _prepare_flip(shape, dims=None):
    # numpy's flip(x) without axes reverses every axis; torch asks for dims.
    return {"dims": normalize_axes(dims, len(shape))}


primitive(name="flip", taylor=T.linear, doc="reverse the order of entries along dims (every axis when none is given)",
          signature="flip(x, dims=None)", family="array", forward=lambda x, dims: np.flip(x, dims),
          backward=lambda n, g: (F.flip(g, dims=n.params["dims"]),), shape=same_shape, prepare=_prepare_flip,
          sympy=lambda sp, x, dims: np.flip(x, dims), keywords=("dims",), kinds={"dims": "axis"}, spelled={"axis": "dims"},
          saves="none",
          words=_g_words("g, flipped back along the same axes"),
          samples=(Sample(((4,),)), Sample(((2, 3),), params={"dims": 1}),
                   Sample(((2, 3, 2),), params={"dims": (0, 2)})))


def _prepare_roll(shape, shifts, dims=None, src=None):
    shifts = shifts if isinstance(shifts, tuple) else (shifts,)
    if dims is None:  # roll the flattened array (numpy and torch alike)
        if len(shifts) != 1:
            raise GradcliError("roll() without dims takes one shift", kind="value")
        return {"shifts": shifts, "dims": None, "src": tuple(shape) if src is None else tuple(src)}
    axes = dims if isinstance(dims, tuple) else (dims,)
    if len(axes) != len(shifts):
        raise GradcliError(f"roll() takes one shift per axis: {len(shifts)} shifts, {len(axes)} axes", kind="value")
    return {"shifts": shifts, "dims": tuple(_one_axis(a, len(shape)) for a in axes), "src": None}


def _roll(x, shifts, dims, src):
    if dims is None:
        lead = x.shape[:x.ndim - len(src)]
        return np.roll(x.reshape(lead + (-1,)), shifts[0], axis=-1).reshape(x.shape)
    return np.roll(x, shifts, dims)


primitive(name="roll", doc="shift entries along dims, wrapping around (the flattened array when no dims)",
          taylor=T.linear,
          signature="roll(x, shifts, dims=None)", family="array", forward=_roll, shape=lambda s, **_: s,
          backward=lambda n, g: (F.roll(g, shifts=tuple(-s for s in n.params["shifts"]), dims=n.params["dims"],
                                        src=n.params["src"]),),
          prepare=_prepare_roll, sympy=lambda sp, x, **p: _roll(x, **p), keywords=("shifts", "dims"), positional=2,
          kinds={"shifts": "axis", "dims": "axis"}, saves="none", torch_name="RollBackward0",
          words=_g_words("g, rolled back by the opposite shifts"),
          samples=(Sample(((5,),), params={"shifts": 2}), Sample(((2, 3),), params={"shifts": 1}),
                   Sample(((2, 3),), params={"shifts": (1, -1), "dims": (0, 1)})))


# -- triangles ------------------------------------------------------------------------------------
def _matrix_shape(shape, **_):
    if len(shape) < 2:
        raise GradcliError(f"this function takes a matrix (or a stack of them), not shape {format_shape(shape)}",
                           kind="shape")
    return shape


for _name, _keep, _where in (("tril", np.tril, "on and below"), ("triu", np.triu, "on and above")):
    primitive(name=_name, doc=f"the entries {_where} the diagonal (diagonal=k: the k-th above it), zeros elsewhere",
              taylor=T.linear,
              signature=f"{_name}(x, diagonal=0)", family="array",
              forward=lambda x, diagonal=0, f=_keep: f(x, diagonal),
              backward=lambda n, g, name=_name: (getattr(F, name)(g, diagonal=n.params.get("diagonal", 0)),),
              shape=_matrix_shape, sympy=lambda sp, x, diagonal=0, f=_keep: f(x, diagonal), keywords=("diagonal",),
              spelled={"k": "diagonal"},
              saves="none", words=_g_words(f"g, with the same entries kept ({_where} the diagonal)"),
              samples=(Sample(((3, 3),)), Sample(((3, 4),), params={"diagonal": 1}),
                       Sample(((2, 3, 3),), params={"diagonal": -1})))


# -- diagonals ------------------------------------------------------------------------------------
def _prepare_diagonal(shape, offset=0, dim1=0, dim2=1):
    a, b = _one_axis(dim1, len(shape), "dim1"), _one_axis(dim2, len(shape), "dim2")
    if len(shape) < 2 or a == b:
        raise GradcliError("diagonal() takes two different axes of an array of two or more", kind="shape")
    return {"offset": int(offset), "dim1": a, "dim2": b}


def _diagonal_shape(s, offset, dim1, dim2):
    n, m = s[dim1], s[dim2]
    length = max(0, min(n + min(offset, 0), m - max(offset, 0)))
    return tuple(k for i, k in enumerate(s) if i - len(s) not in (dim1, dim2)) + (length,)


def _diagonal_positions(length, offset):
    steps = np.arange(length)
    return steps + max(-offset, 0), steps + max(offset, 0)


def _diagonal_put(g, offset, dim1, dim2, src, zero=0.0):
    """zeros shaped src (after g's batch axes), with g's last axis on the diagonal (undoes diagonal)."""
    lead = g.shape[:g.ndim - len(_diagonal_shape(src, offset, dim1, dim2))]
    out = np.full(lead + tuple(src), zero, dtype=g.dtype)
    rows, cols = _diagonal_positions(g.shape[-1], offset)
    np.moveaxis(out, (dim1, dim2), (-2, -1))[..., rows, cols] = g
    return out


primitive(name="diagonal", doc="the diagonal of x over dim1, dim2 (offset=k: the k-th above it), as a last axis",
          taylor=T.linear,
          signature="diagonal(x, offset=0, dim1=0, dim2=1)", family="array",
          forward=lambda x, offset, dim1, dim2: np.diagonal(x, offset, dim1, dim2).copy(),
          backward=lambda n, g: (F.diagonal_put(g, src=n.in_shapes[0], **n.params),), shape=_diagonal_shape,
          prepare=_prepare_diagonal, sympy=lambda sp, x, offset, dim1, dim2: np.diagonal(x, offset, dim1, dim2),
          keywords=("offset", "dim1", "dim2"), positional=3, saves="none", torch_name="DiagonalBackward0",
          linalg={"dim1": -2, "dim2": -1},
          words=_g_words("g, placed on the same diagonal of zeros shaped like {x}"),
          samples=(Sample(((3, 3),)), Sample(((3, 4),), params={"offset": 1}),
                   Sample(((2, 3, 3),), params={"dim1": 1, "dim2": 2}),
                   Sample(((2, 3, 4),), params={"offset": -1, "dim1": 0, "dim2": 2})))
primitive(name="diagonal_put", batching="trailing", doc="place the last axis on a diagonal of zeros (undoes diagonal)",
          taylor=T.linear,
          signature="diagonal_put(g)", family="internal", public=False, forward=_diagonal_put, saves="none",
          backward=lambda n, g: (F.diagonal(g, offset=n.params["offset"], dim1=n.params["dim1"],
                                            dim2=n.params["dim2"]),),
          shape=lambda s, src, **_: tuple(src), torch_name="DiagEmbedBackward0",
          sympy=lambda sp, g, **p: _diagonal_put(g, **p, zero=sp.S.Zero), words=_g_words("g's diagonal"),
          samples=(Sample(((3,),), params={"offset": 0, "dim1": -2, "dim2": -1, "src": (3, 3)}),
                   Sample(((2,),), params={"offset": 1, "dim1": -2, "dim2": -1, "src": (2, 3)})))


def _diag(x, diagonal=0):
    """torch.diag, numpy's diag: a vector onto the diagonal of a square matrix, or a matrix's diagonal."""
    if x.ndim == 1:
        n = x.shape[0] + abs(diagonal)
        return F.diagonal_put(x, offset=diagonal, dim1=-2, dim2=-1, src=(n, n))
    if x.ndim == 2:
        return F.diagonal(x, offset=diagonal)
    raise GradcliError(f"diag() takes a vector or a matrix, not shape {format_shape(x.shape)}: "
                       f"diagonal(x, dim1=, dim2=) takes any", kind="shape")


def _diag_name(shapes, params):
    return "DiagEmbedBackward0" if len(shapes[0]) == 1 else "DiagonalBackward0_copy"  # (PyTorch 2.13's own names)


primitive(name="diag", torch_name=_diag_name,
          doc="a vector onto the diagonal of a square matrix (diagonal=k: the k-th above), or a "
          "matrix's diagonal as a vector", signature="diag(x, diagonal=0)", family="array", composite=_diag,
          keywords=("diagonal",), samples=(Sample(((3,),)), Sample(((3, 3),)), Sample(((2,),), params={"diagonal": -1}),
                                           Sample(((3, 4),), params={"diagonal": 1})))


# -- running sums and products --------------------------------------------------------------------
def _prepare_running(shape, axis=None, src=None):
    # numpy's cumsum(x) without an axis runs over the flattened array; torch asks for dim.
    if axis is None:
        return {"axis": None, "src": tuple(shape) if src is None else tuple(src)}
    return {"axis": _one_axis(axis, len(shape)), "src": None}


def _running(fn):
    def forward(x, axis, src):
        if axis is None:
            return fn(x.reshape(x.shape[:x.ndim - len(src)] + (-1,)), axis=-1)
        return fn(x, axis=axis) if x.ndim else x.copy()
    return forward


def _running_shape(s, axis, src):
    return (int(np.prod(s)),) if axis is None else s


def _sympy_running(combine):
    def rule(sp, x, axis, src):
        flat = x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1) if x.ndim else x.reshape(1)
        out = np.empty(flat.shape, dtype=object)
        for index in np.ndindex(flat.shape[:-1]):
            total = None
            for k, v in enumerate(flat[index]):
                total = v if total is None else combine(total, v)
                out[index + (k,)] = total
        return out if axis is None or x.ndim == 0 else np.moveaxis(out, -1, axis)
    return rule


def _along(n):
    """The axis a running operation ran along: the last one of the flattened array when it flattened x."""
    return -1 if n.params["axis"] is None else n.params["axis"]


def _flat(n, x):
    """x (shaped like the input) as the running operation saw it: flattened when it had no axis."""
    return F.reshape(x, src=n.params["src"], dst=n.out_shape) if n.params["axis"] is None else x


def _unflat(n, grad):
    """A cotangent shaped as the running operation saw its input, back in the input's shape."""
    return F.reshape(grad, src=n.out_shape, dst=n.params["src"]) if n.params["axis"] is None else grad


def _reversed_cumsum(g, axis):
    return F.flip(F.cumsum(F.flip(g, dims=axis), axis=axis), dims=axis)


def _cumsum_backward(n, g):
    if not n.out_shape:
        return (g,)
    return (_unflat(n, _reversed_cumsum(g, _along(n))),)


def _has_zero(a):
    return bool(np.any(a == 0))


def _cumprod_backward(n, g):
    x, axis = _flat(n, n.x), _along(n)
    if x.ndim == 0 or x.shape[axis] <= 1:
        return (_unflat(n, g),)
    if not decide(_has_zero, x):
        # NOTE: PyTorch's rule where no entry is 0: the reversed running sum of out * g, over x
        # (an inf entry then gives nan, as in torch).
        return (_unflat(n, _reversed_cumsum(F.cumprod(x, axis=axis) * g, axis) / x),)
    # With zeros, the exact sum: entry k gets sum over i >= k of g_i times the product of x_j,
    # j <= i, j != k (PyTorch's rule for this case, with no division).
    length = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = length
    position = np.arange(length).reshape(shape)
    grad = np.zeros(())
    for k in range(length):
        others = F.cumprod(F.where(position == k, 1.0, x), axis=axis)
        term = F.sum(F.where(position >= k, g * others, 0.0), axis=axis, keepdims=True)
        grad = F.where(position == k, term, grad)
    return (_unflat(n, grad),)


primitive(name="cumsum", batching="loop", doc="running sum along dim (over the flattened array when no dim is given)",
          taylor=T.linear,
          signature="cumsum(x, dim=None)", family="array", forward=_running(np.cumsum), backward=_cumsum_backward,
          shape=_running_shape, prepare=_prepare_running, sympy=_sympy_running(lambda a, b: a + b),
          keywords=("axis",), saves="none", words=_g_words("the running sum of g taken from the end"),
          samples=(Sample(((4,),), params={"axis": 0}), Sample(((2, 3),), params={"axis": 1}),
                   Sample(((2, 3),), params={"axis": 0}), Sample(((2, 2),))))
def _cumprod_taylor(n, x):
    axis, src = n.params["axis"], n.params["src"]
    if axis is None:
        return T.running_product(x.reshape(x.shape[:x.ndim - len(src)] + (-1,)), -1)
    return T.running_product(x, axis + 1 if axis >= 0 else axis) if x.ndim > 1 else x


primitive(name="cumprod", batching="loop", doc="running product along dim (over the flattened array when no dim is given)",
          taylor=_cumprod_taylor,
          signature="cumprod(x, dim=None)", family="array", forward=_running(np.cumprod), backward=_cumprod_backward,
          shape=_running_shape, prepare=_prepare_running, sympy=_sympy_running(lambda a, b: a * b),
          keywords=("axis",), words=_g_words("for each entry, g_i times the product of the other entries up to i, "
                                             "summed over the i from that entry on"),
          samples=(Sample(((4,),), params={"axis": 0}), Sample(((2, 3),), params={"axis": 1}),
                   Sample(((3, 2),), params={"axis": 0}), Sample(((2, 2),))))


# -- joining ----------------------------------------------------------------------------------------
def _prepare_cat(*shapes, axis=0):
    ndim = len(shapes[0])
    if ndim == 0:
        raise GradcliError("cat() joins arrays along an axis: a number has none (stack() makes one)", kind="shape")
    axis = _one_axis(axis, ndim)
    for s in shapes:
        if len(s) != ndim or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i - ndim != axis):
            listed = ", ".join(format_shape(t) for t in shapes)
            raise GradcliError(f"cat() takes arrays of one shape but along dim {axis + ndim}, not {listed}",
                               kind="shape")
    return {"axis": axis}


def _cat_shape(*shapes, axis):
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


def _cat_backward(n, g):
    axis = n.params["axis"]
    ends = np.cumsum([s[axis] for s in n.in_shapes]).tolist()
    before = (slice(None),) * (len(n.out_shape) + axis)
    return tuple(F.index(g, key=before + (slice(end - s[axis], end),), src=n.out_shape) if need else None
                 for s, end, need in zip(n.in_shapes, ends, n.needs))


primitive(name="cat", taylor=T.linear, doc="join arrays along an existing dim (default 0): cat([x, y], 0)",
          signature="cat(tensors, dim=0)", family="array", aliases=("concatenate", "concat"), sequence=True,
          forward=lambda *xs, axis: np.concatenate(xs, axis=axis), backward=_cat_backward, shape=_cat_shape,
          prepare=_prepare_cat, sympy=lambda sp, *xs, axis: np.concatenate(xs, axis=axis), keywords=("axis",),
          arity=None, saves="none", method=False,
          words=Words(("x{i}",), vjp=("g's entries at {x{i}}'s place in the joined array",)),
          samples=(Sample(((2,), (3,))), Sample(((2, 3), (1, 3))),
                   Sample(((2, 1), (2, 2), (2, 1)), params={"axis": 1})))


# -- indices of extremes ----------------------------------------------------------------------------
def _prepare_arg(shape, axis=None, keepdims=False):
    return {"axis": None if axis is None else _one_axis(axis, len(shape)), "keepdims": bool(keepdims)}


def _arg_shape(s, axis, keepdims):
    if axis is None:
        return (1,) * len(s) if keepdims else ()
    return reduced_shape(s, axis, keepdims) if s else ()


def _arg(fn):
    def forward(x, axis, keepdims):
        if x.ndim == 0:
            return np.zeros((), x.dtype)
        return fn(x, axis=axis, keepdims=keepdims).astype(x.dtype)  # (whole numbers, exact in float32 too)
    return forward


for _name, _fn, _what in (("argmax", np.argmax, "largest"), ("argmin", np.argmin, "smallest")):
    primitive(name=_name, doc=f"the index of the {_what} entry (of the flattened array, or along dim), a constant "
              f"with no gradient (the first one where several tie; a nan counts as {_what})",
              signature=f"{_name}(x, dim=None, keepdim=False)", family="array", forward=_arg(_fn), shape=_arg_shape,
              prepare=_prepare_arg, keywords=("axis", "keepdims"), differentiable=False,
              batching="loop",  # a flat index when no dim is given: no form on trailing axes
              samples=(Sample(((4,),)), Sample(((2, 3),), params={"axis": 1}),
                       Sample(((2, 3),), params={"axis": 0, "keepdims": True})))
