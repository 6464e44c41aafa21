"""norm with p (torch.norm, x.norm(p)), and torch.linalg's vector_norm and matrix_norm.

A vector norm takes any real p (0, inf and -inf too) along axis; a matrix norm ('fro',
'nuc', 1, -1, 2, -2, inf, -inf) takes a pair of axes, rows then columns (the last two by
default). Without p, norm is the 2-norm of all the entries. Each backward is PyTorch's,
written in the engine's operations (second order as PyTorch's).
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.errors import GradcliError
from gradcli.ops.common import F, normalize_axes, reduced_shape, zeros_like
from gradcli.autodiff import taylor as T
from gradcli.ops.decompositions import singular_value_series, svdvals_vjp
from gradcli.ops.kinkchecks import saved_inputs
from gradcli.ops.reductions import _spread, _sympy_add
from gradcli.autodiff.op import Kink, KinkCheck, Sample, Words, composite, primitive

MATRIX_ORDERS = ("fro", "nuc", 1.0, -1.0, 2.0, -2.0, math.inf, -math.inf)


def _prepare(shape, p=None, axis=None, keepdims=False, matrix=False):
    """p and the axes in stored form: matrix axes keep their order (rows, then columns).

    As torch.norm (and x.norm(p)): a number p is a vector norm of the entries along axis,
    'fro' the 2-norm, 'nuc' the matrix nuclear norm; matrix_norm asks for the matrix ones.
    torch.linalg.norm (matrix="linalg") reads a p given for a matrix, or over two axes, as a
    matrix norm: torch.linalg.norm(A, 2) is the spectral norm, where torch.norm(A, 2) is 'fro'.
    """
    if matrix == "linalg":
        pair = isinstance(axis, (tuple, list)) and len(axis) == 2
        matrix = p is not None and ((axis is None and len(shape) == 2) or pair)
    p = 2.0 if p is None else p if isinstance(p, str) else float(p)
    if matrix and axis is None:
        axis = (-2, -1)
    if p == "fro":
        p, matrix = 2.0, False
    if p == "nuc":
        matrix = True
        axis = (-2, -1) if axis is None else axis
    if not matrix:
        return {"p": p, "axis": normalize_axes(axis, len(shape)), "keepdims": bool(keepdims), "matrix": False}
    pair = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if len(pair) != 2 or len(set(normalize_axes(pair, len(shape)))) != 2:
        raise GradcliError(f"a matrix norm takes two axes (rows, columns), not {pair}", kind="value", param="axis")
    if p not in MATRIX_ORDERS:
        raise GradcliError(f"a matrix norm takes p='fro', 'nuc', 1, -1, 2, -2, inf or -inf, not {p!r}",
                           kind="value", param="p")
    rows, cols = (a - len(shape) if a >= 0 else a for a in pair)
    return {"p": p, "axis": (rows, cols), "keepdims": bool(keepdims), "matrix": True}


def _scaled_2norm(x, axis, keepdims):
    # NOTE: scaled by the largest entry, so squares of tiny (1e-162) or huge (1e200) entries
    # neither underflow nor overflow, as np.linalg.norm's hypot does.
    scale = np.max(np.abs(x), axis=axis, keepdims=True) if x.size else np.ones((), x.dtype)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    scaled = x / scale
    out = scale * np.sqrt(np.sum(scaled * scaled, axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _vector_norm(x, p, axis, keepdims):
    if p == 2:
        return _scaled_2norm(x, axis, keepdims)
    a = np.abs(x)
    with np.errstate(divide="ignore"):
        if p == math.inf:
            return np.max(a, axis=axis, keepdims=keepdims)
        if p == -math.inf:
            return np.min(a, axis=axis, keepdims=keepdims)
        if p == 0:
            return np.sum(a != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
        if p == 1:
            return np.sum(a, axis=axis, keepdims=keepdims)
        return np.sum(a ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _to_end(x, rows, cols):
    """x with its (rows, cols) axes moved last, in that order."""
    ndim = x.ndim
    rest = [i for i in range(ndim) if i not in (rows % ndim, cols % ndim)]
    return rest + [rows % ndim, cols % ndim]


def _matrix_norm(x, p, axis, keepdims):
    rows, cols = axis
    if p in ("nuc", 2.0, -2.0):
        values = np.linalg.svd(np.transpose(x, _to_end(x, rows, cols)), compute_uv=False)
        out = {"nuc": np.sum, 2.0: np.max, -2.0: np.min}[p](values, axis=-1)
    else:  # 1, -1: the largest (smallest) column sum of |x|; inf, -inf: row sum
        summed, over = (rows, cols) if abs(p) == 1 else (cols, rows)
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        out = (np.max if p > 0 else np.min)(sums, axis=over, keepdims=True)
        out = np.squeeze(out, axis=(rows, cols))
    return np.expand_dims(out, axis=tuple(sorted(a % x.ndim for a in axis))) if keepdims else out


def _norm(x, p, axis, keepdims, matrix):
    return (_matrix_norm if matrix else _vector_norm)(x, p, axis, keepdims)


def _shape(shape, p=2.0, axis=None, keepdims=False, matrix=False):
    return reduced_shape(shape, axis, keepdims)


def _kept(n, t):
    """t (the output's shape, maybe batched) with the reduced axes kept as 1s."""
    if n.params["keepdims"]:
        return t
    return F.reshape(t, src=n.out_shape, dst=reduced_shape(n.in_shapes[0], n.params["axis"], keepdims=True))


def _vector_backward(n, g):
    # PyTorch's norm_backward, branch by branch.
    x, p, axis = n.x, n.params["p"], n.params["axis"]
    ans, grad = _spread(n, n.ans), _spread(n, g)
    if p == 0:
        return (zeros_like(grad),)
    if p == 1:
        return (F.sign(x) * grad,)
    if p == 2:  # g x / norm, with the zero vector's 0/0 replaced by 0 (its second derivative is nan)
        return (grad * F.where(F.eq(ans, 0.0), 0.0, x / ans),)
    if math.isinf(p):  # the entries at the extreme (or nan) share g evenly
        size = F.abs(x)
        mask = F.eq(size, ans) + F.ne(size, size)
        # (sign a constant to a second derivative, as PyTorch's: a nan entry's 0 · nan does not spread)
        return (F.detach(F.sign(x)) * ((grad / F.sum(mask, axis=axis, keepdims=True)) * mask),)
    if p < 1:
        scaled = F.sign(x) * F.where(F.eq(x, 0.0), 0.0, F.abs(x) ** (p - 1))
        return (scaled * grad * ans ** (1 - p),)
    scaled = F.sign(x) * F.abs(x) ** (p - 1) if p < 2 else x * F.abs(x) ** (p - 2)
    return (scaled * F.where(F.eq(ans, 0.0), 0.0, grad / ans ** (p - 1)),)


def _matrix_backward(n, g):
    x, p, (rows, cols) = n.x, n.params["p"], n.params["axis"]
    if p in ("nuc", 2.0, -2.0):
        order = _to_end(x, rows, cols)
        moved = F.permute(x, perm=tuple(order))
        values = F.svdvals(moved)
        column = reduced_shape(n.in_shapes[0], (rows, cols)) + (1,)
        weights = F.reshape(g, src=n.out_shape, dst=column)
        if p == "nuc":
            weights = F.expand(weights, src=column, dst=values.shape)
        else:  # amax (amin) of the singular values: ties share g evenly
            mask = F.eq(values, F.reshape(n.ans, src=n.out_shape, dst=column))
            weights = (weights / F.sum(mask, axis=-1, keepdims=True)) * mask
        grad = svdvals_vjp(moved, values, weights)
        return (F.permute(grad, perm=tuple(np.argsort(order).tolist())),)
    # amax (amin) over one axis of the sums of |x| along the other: torch's composition's rule.
    summed, over = (rows, cols) if abs(p) == 1 else (cols, rows)
    sums = F.sum(F.abs(x), axis=(summed,), keepdims=True)
    ans = _kept(n, n.ans)
    mask = F.eq(sums, ans)
    share = (_kept(n, g) / F.sum(mask, axis=(over,), keepdims=True)) * mask
    return (F.sign(x) * share,)


def _backward(n, g):
    return (_matrix_backward if n.params["matrix"] else _vector_backward)(n, g)


def _vector_taylor(n, x, size):
    """The series of a vector norm, size the series of |x| (sign(x) x: 0 at 0, as PyTorch's gradient)."""
    p, axes = n.params["p"], T.series_axis(n.params["axis"], x.ndim - 1)
    if p == 0:
        return T.zero(n, x)
    if p == 1:
        return np.sum(size, axis=axes)
    if math.isinf(p):
        return T.extreme(size, axes, np.max if p > 0 else np.min)
    ans = n.ans.reshape(np.sum(x[0], axis=axes).shape)
    powers = T.cauchy(x, x) if p == 2 else T.power(size, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = T.power(np.sum(powers, axis=axes), 1.0 / p, ans)
    return T.select(ans == 0, T.constant(ans, len(x) - 1), out)  # the zero vector: gradient 0, as PyTorch


def _matrix_taylor(n, x, size):
    p, (rows, cols) = n.params["p"], n.params["axis"]
    if p in ("nuc", 2.0, -2.0):
        order = [0] + [a + 1 for a in _to_end(x[0], rows, cols)]
        moved = np.transpose(x, order)
        values = singular_value_series(moved, np.linalg.svd(moved[0], compute_uv=False))
        return np.sum(values, axis=-1) if p == "nuc" else T.extreme(values, (-1,), np.max if p > 0 else np.min)
    summed, over = (rows, cols) if abs(p) == 1 else (cols, rows)
    sums = np.sum(size, axis=summed, keepdims=True)
    return T.extreme(sums, (over,), np.max if p > 0 else np.min, keepdims=True)


def _norm_taylor(n, x):
    size = x * np.sign(x[0])
    out = (_matrix_taylor if n.params["matrix"] else _vector_taylor)(n, x, size)
    return out.reshape((len(x),) + n.ans.shape)


def _sympy_norm(sp, x, p, axis, keepdims, matrix):
    if matrix and p in ("nuc", 2.0, -2.0):
        from gradcli.ops.decompositions import _sympy_svdvals
        values = _sympy_svdvals(sp, np.transpose(x, _to_end(x, *axis)))
        combine = {"nuc": lambda vs: sp.Add(*vs), 2.0: lambda vs: sp.Max(*vs), -2.0: lambda vs: sp.Min(*vs)}[p]
        out = np.empty(values.shape[:-1], dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = combine(list(values[index]))
        return out.reshape(reduced_shape(x.shape, axis, keepdims)) if keepdims else out
    if matrix:
        summed, over = (axis[0], axis[1]) if abs(p) == 1 else (axis[1], axis[0])
        sums = _reduce(sp, np.frompyfunc(sp.Abs, 1, 1)(x), (summed,), True, lambda vs: _sympy_add(sp, vs))
        pick = sp.Max if p > 0 else sp.Min
        return _reduce(sp, sums, axis, keepdims, lambda vs: pick(*vs))
    return _reduce(sp, x, axis, keepdims, lambda vs: _sympy_vector(sp, vs, p))


def _sympy_vector(sp, xs, p):
    if p == 2:
        return sp.sqrt(_sympy_add(sp, [v ** 2 for v in xs]))
    sizes = [sp.Abs(v) for v in xs]
    if math.isinf(p):
        return (sp.Max if p > 0 else sp.Min)(*sizes)
    if p == 0:
        return sp.Add(*[sp.Piecewise((0, sp.Eq(v, 0)), (1, True)) for v in xs])
    return _sympy_add(sp, [v ** p for v in sizes]) ** (1.0 / p)


def _reduce(sp, x, axis, keepdims, combine):
    axes = tuple(sorted(a % x.ndim for a in axis))
    out = np.empty(reduced_shape(x.shape, axis, keepdims), dtype=object)
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0))).reshape(out.shape + (-1,)) if axes else x[..., None]
    for index in np.ndindex(out.shape):
        out[index] = combine(list(moved[index]))
    return out


def _zero_vector(node):
    x, axis = saved_inputs(node)[0], node.params["axis"]
    if not axis or node.params["p"] != 2.0 or node.params["matrix"]:
        return None
    return np.asarray(np.all(x == 0, axis=axis))


NORM_SAMPLES = (
    Sample(((3,),), "nonzero"), Sample(((2, 3),), "nonzero"), Sample(((2, 3),), "nonzero", {"axis": 0}),
    Sample(((2, 3),), "nonzero", {"axis": -1}), Sample(((2, 3, 2),), "nonzero", {"axis": (0, 2), "p": 2.0}),
    Sample(((2, 3),), "nonzero", {"axis": 1, "p": 1.0}), Sample(((4,),), "nonzero", {"p": 3.0}),
    Sample(((4,),), "nonzero", {"p": 0.5}), Sample(((4,),), "nonzero", {"p": 1.5}),
    Sample(((4,),), "nonzero", {"p": -1.0}),
    Sample(((2, 4),), "nonzero", {"p": math.inf, "axis": -1}), Sample(((4,),), "nonzero", {"p": -math.inf}),
    Sample(((2, 3),), "nonzero", {"p": "fro"}), Sample(((2, 3),), "nonzero", {"p": "nuc"}),
    Sample(((2, 2, 3),), "nonzero", {"p": "nuc", "axis": (2, 1), "keepdims": True}),
)
def _torch_name(shapes, params):
    """PyTorch 2's node: a vector norm (and 'fro') is linalg.vector_norm's; the nuclear norm sums
    the singular values; the other matrix norms take the largest or smallest of a few sums."""
    if not params["matrix"]:
        return "LinalgVectorNormBackward0"
    if params["p"] == "nuc":
        return "SumBackward1"
    return "AmaxBackward0" if params["p"] > 0 else "AminBackward0"


primitive(name="norm", doc="the p-norm (default 2) of the entries or along axis, as torch.norm and x.norm(p): "
                           "p='fro' is the 2-norm, p='nuc' the nuclear norm of the last two axes (or two given)",
          signature="norm(x, p=2, axis=None)", family="reduction", forward=_norm, backward=_backward,
          shape=_shape, sympy=_sympy_norm, prepare=_prepare, keywords=("p", "axis", "keepdims"),
          kinds={"p": ("real", "fro", "nuc")}, samples=NORM_SAMPLES, saves="both", torch_name=_torch_name,
          linalg={"matrix": "linalg"},
          taylor=_norm_taylor,
          words=Words(("x",), vjp=("g × {x} / {out} for p = 2 (0 at the zero vector); PyTorch's norm_backward for "
                                   "the others",)),
          kinks=(Kink(([0.0, 0.0],), ([0.0, 0.0],), note="the zero vector gets gradient 0"),),
          kink_check=KinkCheck(_zero_vector, "is the norm of a zero vector{where}, where it has no derivative: "
                               "gradcli uses the gradient 0 (as PyTorch); any vector of length at most 1 is a "
                               "subgradient there"))
composite(name="vector_norm", doc="the p-norm of the entries or along axis, a matrix read as its entries "
                                  "(torch.linalg.vector_norm)",
          signature="vector_norm(x, p=2, axis=None)", family="reduction",
          composite=lambda x, p=2.0, axis=None, keepdims=False: F.norm(x, p=p, axis=axis, keepdims=keepdims,
                                                                       matrix=False),
          keywords=("p", "axis", "keepdims"), kinds={"p": ("real",)}, torch_name="LinalgVectorNormBackward0",
          samples=(Sample(((2, 3),), "nonzero", {"p": 1.0}), Sample(((2, 3),), "nonzero", {"axis": 0, "p": 3.0})))
composite(name="matrix_norm", doc="a matrix norm over the last two axes or axis=(rows, cols): 'fro' (default), "
                                  "'nuc', 1, -1, 2, -2, inf, -inf (torch.linalg.matrix_norm)",
          signature="matrix_norm(x, p='fro', axis=(-2, -1))", family="reduction",
          composite=lambda x, p="fro", axis=(-2, -1), keepdims=False: F.norm(x, p=p, axis=axis, keepdims=keepdims,
                                                                             matrix=True),
          keywords=("p", "axis", "keepdims"), kinds={"p": ("real", "fro", "nuc")},
          torch_name=lambda shapes, params: _torch_name(shapes, {"p": params.get("p", "fro"),
                                                                 "matrix": params.get("p", "fro") != "fro"}),
          samples=(Sample(((2, 3),), "nonzero"), *(Sample(((2, 3),), "nonzero", {"p": p}) for p in MATRIX_ORDERS[1:]),
                   Sample(((3, 2),), "nonzero", {"p": 2.0}), Sample(((2, 2, 3),), "nonzero", {"p": 2.0}),
                   Sample(((2, 3, 2),), "nonzero", {"p": -1.0, "axis": (2, 0)})))
