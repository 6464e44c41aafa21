"""Linear algebra: matmul (@), dot, outer, trace, det, inv.

Rules use the swap of the last two axes (`.mT`), so batched cotangents pass through.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff import taylor_linalg as TL
from gradcli.errors import GradcliError
from gradcli.ops.common import F, broadcast_shapes, symmetric_jvp, zeros_like
from gradcli.errors import format_shape
from gradcli.ops.reductions import _prod_others
from gradcli.autodiff.fused import Total, vector_dot
from gradcli.autodiff.op import Kink, Sample, Words, primitive
from gradcli.autodiff.vmap import point_shape
from gradcli.autodiff.trace import computed, decide


def _matmul_shape(a, b):
    if not a or not b:
        raise GradcliError("@ needs arrays with at least one dimension, not scalars (use *)", kind="shape")
    a2 = a if len(a) > 1 else (1,) + a
    b2 = b if len(b) > 1 else b + (1,)
    if a2[-1] != b2[-2]:
        raise GradcliError(f"matrix product of shapes {format_shape(a)} and {format_shape(b)}: "
                           f"inner sizes {a2[-1]} and {b2[-2]} differ", kind="shape")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    return batch + (a2[-2:-1] if len(a) > 1 else ()) + (b2[-1:] if len(b) > 1 else ())


def _rows_times(g, m):
    """g @ m for a stack of cotangent rows g (2-D, one row per basis vector) and a matrix m.

    A Jacobian's basis rows often reach a matrix product through elementwise rules only:
    g is then diagonal, d on the diagonal at some column offset (a chunk of the basis), and
    the product is d[:, None] * m[offset:offset + rows], one pass over m instead of a
    matrix product. Only without a graph, and for a finite m, where the two agree entry
    for entry (0 * inf is nan in the product).
    """
    from gradcli.autodiff.engine import Tensor, is_grad_enabled

    gd, md = g.data, m.data
    if is_grad_enabled() or g.requires_grad or gd.ndim != 2 or md.ndim != 2 or len(gd) < 2:
        return g @ m
    offset = decide(_diagonal_offset, gd)
    if offset is None or not decide(_finite_sum, md):
        return g @ m
    rows = len(gd)
    return Tensor._result(computed(lambda gd, md: np.diagonal(gd, offset=offset)[:, None] * md[offset:offset + rows],
                                   gd, md), None)


def _finite_sum(a):
    return bool(np.isfinite(np.sum(a)))


def _diagonal_offset(gd):
    """The column offset k when every nonzero of gd sits at [i, i + k]; None otherwise."""
    rows, cols = gd.shape
    for i in range(min(rows, 8)):  # the first row with a nonzero gives the offset
        nonzero = np.flatnonzero(gd[i])
        if len(nonzero) > 1:
            return None
        if len(nonzero) == 1:
            offset = int(nonzero[0]) - i
            if offset < 0 or offset + rows > cols:
                return None
            diagonal = np.diagonal(gd, offset=offset)
            return offset if np.count_nonzero(gd) == np.count_nonzero(diagonal) else None
    return None


def _matmul_backward(n, g):
    a, b = n.x, n.y
    out = n.out_shape
    ga = gb = None
    if len(n.in_shapes[0]) == 1 and len(n.in_shapes[1]) == 1:
        g1 = F.reshape(g, src=(), dst=(1,))
        return (g1 * b if n.needs[0] else None, g1 * a if n.needs[1] else None)
    if len(n.in_shapes[0]) == 1:  # (n,) @ (..., n, p) -> (..., p)
        row = F.reshape(g, src=out, dst=out[:-1] + (1, out[-1]))
        if n.needs[0] and b.ndim == 2:
            # NOTE: g's leading (batch) axes stack as rows of one matrix product, not a
            # batch of vector-matrix products.
            ga = _rows_times(g, b.mT)
        elif n.needs[0]:
            ga = row @ b.mT
            ga = F.reshape(ga, src=out[:-1] + (1, a.shape[0]), dst=out[:-1] + (a.shape[0],))
        if n.needs[1]:
            gb = F.reshape(a, src=a.shape, dst=(a.shape[0], 1)) * row
        return ga, gb
    if len(n.in_shapes[1]) == 1:  # (..., n, m) @ (m,) -> (..., n)
        if n.needs[0]:
            ga = F.reshape(g, src=out, dst=out + (1,)) * b
        if n.needs[1] and a.ndim == 2:
            gb = _rows_times(g, a)  # one matrix product over the batch rows, as above
        elif n.needs[1]:
            row = F.reshape(g, src=out, dst=out[:-1] + (1, out[-1]))
            gb = F.reshape(row @ a, src=out[:-1] + (1, b.shape[0]), dst=out[:-1] + (b.shape[0],))
        return ga, gb
    return (g @ b.mT if n.needs[0] else None, a.mT @ g if n.needs[1] else None)


def _matmul_jvp(n, tangents):
    """The product rule, ta @ b + a @ tb, with the tangents' leading batch axes: a vector is a
    1-row (or 1-column) matrix for the product, and a tangent gets unit axes between its batch
    axes and its own, so that numpy lines up every operand's matrix-batch axes on the right."""
    a, b = n.x.data, n.y.data
    row, column = a.ndim == 1, b.ndim == 1
    stacked = len(n.out_shape) - (not row) - (not column)  # the result's matrix-batch axes

    def spread(t, own):
        lead = t.shape[:n.batch]
        return t.reshape(lead + (1,) * (stacked - max(0, own.ndim - 2)) + own.shape)

    def product(left, right):
        left = left[..., None, :] if row else left
        right = right[..., :, None] if column else right
        out = np.matmul(left, right)
        return out[..., 0, 0] if row and column else out[..., 0, :] if row else out[..., 0] if column else out

    ta, tb = tangents
    parts = [] if ta is None else [product(spread(ta.data, a), b)]
    if tb is not None:
        parts.append(product(a, spread(tb.data, b)))
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _matmul_batching(n, inputs, batched, /):
    """a @ b at n points: a point's vector becomes a one-column (or one-row) matrix, and the
    stacking axes of a batched input are padded after its point axis to the other's rank, so
    numpy's broadcast of stacks keeps the point axis in front."""
    a, b = inputs
    sa, sb = shapes = [point_shape(x, on) for x, on in zip(inputs, batched)]
    if len(sb) == 1:
        b, sb = F.reshape(b, src=sb, dst=sb + (1,)), sb + (1,)
    if len(sa) == 1:
        a, sa = F.reshape(a, src=sa, dst=(1,) + sa), (1,) + sa
    rank = max(len(sa), len(sb))
    a, b = (F.reshape(x, src=s, dst=(1,) * (rank - len(s)) + s) if on and len(s) < rank else x
            for x, s, on in ((a, sa, batched[0]), (b, sb, batched[1])))
    out = F.matmul(a, b)
    per_point = np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    kept = per_point[:-2] + per_point[-2:-1] * (len(shapes[0]) > 1) + per_point[-1:] * (len(shapes[1]) > 1)
    return out if kept == per_point else F.reshape(out, src=per_point, dst=kept)


def _matmul(a, b):
    # Two long vectors: numpy's pairwise sum of the products, which a fused pass computes block
    # by block with the steps that make a and b; a BLAS dot adds in an order no block split
    # reproduces.
    return vector_dot(a, b) if a.ndim == 1 == b.ndim else np.matmul(a, b)


def _matmul_name(shapes, params):
    # PyTorch's node follows the kernel its matmul picks: dot, mv, mm; a vector times a matrix squeezes mm's
    # result; a matrix times a stack clones its broadcast; other stacks are folded into one product and viewed.
    a, b = (len(s) for s in shapes)
    named = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0", (1, 2): "SqueezeBackward4"}
    return named.get((a, b), "CloneBackward0" if a == 2 else "UnsafeViewBackward0")


primitive(name="matmul", doc="matrix product a @ b (numpy's matmul; dot is the same for vectors and matrices)",
          signature="a @ b", family="linalg", forward=_matmul, backward=_matmul_backward, jvp=_matmul_jvp,
          taylor=T.multilinear,
          shape=_matmul_shape, sympy=lambda sp, a, b: np.asarray(np.matmul(a, b), dtype=object),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,))), Sample(((3,), (3, 2))),
                   Sample(((2, 3), (3, 4))), Sample(((2, 2, 3), (3, 2)))),
          torch_name=_matmul_name, arity=2, symbol="@", aliases=("matmul", "dot", "mm", "mv", "bmm"),
          batching=_matmul_batching, replay=lambda ans: Total(_matmul, ans, whole=True, mean=False) if ans.ndim == 0 else None,
          words=Words(("a", "b"), vjp=("g @ {b}ᵀ", "{a}ᵀ @ g")))


def _outer(a, b):
    return F.reshape(a, src=a.shape, dst=(a.size, 1)) * F.reshape(b, src=b.shape, dst=(1, b.size))


def _trace(x):
    if x.ndim != 2:
        raise GradcliError(f"trace needs a matrix, not a value of shape {format_shape(x.shape)}", kind="shape")
    # The diagonal is every (m+1)-th entry of the flattened matrix: a slice, whose rule puts
    # g on the diagonal and zeros elsewhere (x * eye would turn an inf off the diagonal into nan).
    rows, cols = x.shape
    flat = F.reshape(x, src=x.shape, dst=(rows * cols,))
    return F.sum(flat[0:min(rows, cols) * (cols + 1):cols + 1])


primitive(name="outer", torch_name="MulBackward0",
          batching="loop", doc="outer product of two vectors (inputs are flattened, as numpy)",
          signature="outer(a, b)", family="linalg", composite=_outer, arity=2,
          samples=(Sample(((3,), (2,))), Sample(((), (2,)))))
primitive(name="trace", batching="loop", doc="sum of the diagonal of a matrix", signature="trace(x)", family="linalg",
          composite=_trace, samples=(Sample(((3, 3),)), Sample(((2, 3),))))


def _square(shape, **_):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise GradcliError(f"needs a square matrix, not a value of shape {format_shape(shape)}", kind="shape")
    return shape


def _inv(x):
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:
        raise GradcliError("inv: the matrix is singular", kind="value") from None


def all_finite(a):
    return bool(np.all(np.isfinite(a)))


def _cofactor(x):
    # NOTE: from the SVD x = U S Vᵀ, cof(x) = det(U) det(V) U diag(prod of the other s) Vᵀ,
    # which needs no inverse, so it is exact for singular matrices too (cof = det · inv(x)ᵀ).
    if not np.all(np.isfinite(x)):
        return np.full(x.shape, np.nan, x.dtype)  # the SVD does not converge on nan or inf entries
    u, s, vh = np.linalg.svd(x)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * (u * _prod_others(s, (-1,))[..., None, :]) @ vh


def _cofactor_vjp_singular(x, g):
    # NOTE: the VJP of cof is the derivative of cof(x + t g) at t = 0 (cof is the gradient of
    # det, so its Jacobian is symmetric), and cof(x + t g) is a polynomial of degree n - 1 in t:
    # its linear coefficient, from 2m + 1 >= n values, is exact where x is singular too.
    if not np.any(g):
        return np.zeros(np.broadcast_shapes(x.shape, g.shape), np.result_type(x, g))
    m = max(1, x.shape[-1] // 2)
    ts = np.arange(-m, m + 1, dtype=np.float64)
    weights = np.linalg.inv(np.vander(ts, increasing=True))[1]
    step = (np.max(np.abs(x)) + 1.0) / np.max(np.abs(g))
    return sum(w * _cofactor(x + (t * step) * g) for w, t in zip(weights, ts)) / step


def _nearly_singular(x):
    # The inverse formula loses about cond(x) * eps of relative accuracy: past a condition number
    # of 1e6 (errors past about 1e-10) the polynomial form, exact at any rank, is used. (At 1e8 the
    # Hessian of det(v2 @ v3) with a condition number of 3e7 was asymmetric by 1e-9.)
    s = np.linalg.svd(x, compute_uv=False)
    return bool(np.any(s[..., -1] <= 1e-6 * s[..., 0]))


def _cofactor_backward(n, g):
    if not decide(all_finite, n.x):  # (the det-nonfinite convention, a 1-by-1 matrix too)
        return (np.full(np.broadcast_shapes(g.shape, n.x.shape), np.nan, g.dtype),)
    if n.x.shape[-1] == 1:  # the cofactor of a 1-by-1 matrix is 1, a constant
        return (zeros_like(g),)
    if decide(_nearly_singular, n.x):  # the inverse below is not usable
        return (computed(_cofactor_vjp_singular, n.x, g),)
    # d cof = det tr(inv dx) inv^T - det (inv dx inv)^T where x is invertible.
    inv_t = F.inv(n.x).mT
    batch = n.in_shapes[0][:-2]
    det = F.reshape(F.det(n.x), src=batch, dst=batch + (1, 1))
    inner = F.sum(g * inv_t, axis=(-2, -1), keepdims=True)
    return (det * (inner * inv_t - inv_t @ g.mT @ inv_t),)


primitive(name="cofactor", batching="trailing", doc="the cofactor matrix, det(x) inv(x)^T, also where x is singular",
          signature="cofactor(x)", family="internal", public=False, forward=_cofactor,
          backward=_cofactor_backward, jvp=symmetric_jvp, shape=_square,
          taylor=lambda n, x: TL.transpose(TL.characteristic(x)[1]),
          sympy=lambda sp, x: _sympy_matrix_fn(x, _cofactors),
          samples=(Sample(((2, 2),)), Sample(((3, 3),)), Sample(((2, 3, 3),))))


def _det_backward(n, g):
    scale = F.reshape(g, src=n.out_shape, dst=n.out_shape + (1, 1))
    return (scale * F.cofactor(n.x),)


primitive(name="det", torch_name="LinalgDetBackward0",
          batching="trailing", doc="determinant of a square matrix", signature="det(x)", family="linalg",
          forward=np.linalg.det, backward=_det_backward, shape=lambda s: _square(s)[:-2],
          taylor=lambda n, x: TL.characteristic(x)[0],
          sympy=lambda sp, x: _sympy_matrix_fn(x, _laplace_det),
          samples=(Sample(((2, 2),)), Sample(((3, 3),))), words=Words(("x",), vjp=("g · det({x}) · inv({x})ᵀ",)),
          # det is differentiable where x is singular too: documented values, not kinks.
          kinks=(Kink(([[0.0]],), ([[1.0]],), note="singular: the gradient is the cofactor matrix", noted=False),
                 Kink(([[1.0, 2.0], [2.0, 4.0]],), ([[4.0, -2.0], [-2.0, 1.0]],), note="singular 2x2",
                      noted=False),
                 Kink(([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]],),
                      ([[-2.0, -2.0, 2.0], [1.0, 1.0, -1.0], [0.0, 0.0, 0.0]],), note="rank 2", noted=False)))
primitive(name="inv", batching="trailing", doc="inverse of a square matrix", signature="inv(x)", family="linalg",
          forward=_inv, backward=lambda n, g: (-(n.ans.mT @ g @ n.ans.mT),), shape=_square,
          taylor=lambda n, x: TL.inverse(x, n.ans),
          sympy=lambda sp, x: _sympy_matrix_fn(x, _inverse), saves="output",
          samples=(Sample(((2, 2),), "spd"), Sample(((3, 3),), "spd")), torch_name="LinalgInvExBackward0",
          aliases=("inverse",),
          words=Words(("x",), vjp=("-{out}ᵀ @ g @ {out}ᵀ",)))


SYMPY_MATRIX_LIMIT = 4  # a symbolic n-by-n determinant has n! terms


def _minor(rows, i, j):
    return [r[:j] + r[j + 1:] for k, r in enumerate(rows) if k != i]


def _laplace_det(rows):
    # NOTE: Laplace expansion in plain arithmetic keeps the entries as they are; SymPy's
    # Matrix.det expands every product (20 s for a 3-by-3 of long entries).
    if len(rows) == 1:
        return rows[0][0]
    return sum((-1) ** j * rows[0][j] * _laplace_det(_minor(rows, 0, j)) for j in range(len(rows)))


def _cofactors(rows):
    n = len(rows)
    return [[(-1) ** (i + j) * _laplace_det(_minor(rows, i, j)) if n > 1 else 1 for j in range(n)]
            for i in range(n)]


def _inverse(rows):
    det = _laplace_det(rows)
    return [[c / det for c in column] for column in zip(*_cofactors(rows))]


def _sympy_matrix_fn(x, fn):
    """fn (nested lists of entries -> an entry or nested lists) on each matrix of x's last two axes."""
    n = x.shape[-1]
    if n > SYMPY_MATRIX_LIMIT:
        raise ValueError(f"symbolic matrices go up to {SYMPY_MATRIX_LIMIT}-by-{SYMPY_MATRIX_LIMIT} here, "
                         f"not {n}-by-{n}")
    batch = list(np.ndindex(x.shape[:-2]))
    results = [fn(x[index].tolist()) for index in batch]
    matrices = bool(results) and isinstance(results[0], list)
    out = np.empty(x.shape[:-2] + ((n, n) if matrices else ()), dtype=object)
    for index, result in zip(batch, results):
        out[index] = np.array(result, dtype=object) if matrices else result
    return out
