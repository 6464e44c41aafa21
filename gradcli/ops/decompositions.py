"""Matrix decompositions and what is read from them: cholesky, eigvalsh, svdvals, pinv.

A symmetric input is read as its symmetric part (A + Aᵀ)/2: the same matrix when A is
symmetric, and a function whose true gradient is the symmetric one torch gives (torch
reads the lower triangle; docs/differences.md, symmetric-part). The gradients of
eigenvalues and singular values come from the eigenvectors, an internal operation whose
own rule makes second order work.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff import taylor_linalg as TL
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F
from gradcli.ops.linalg import _inverse, _square, _sympy_matrix_fn, all_finite
from gradcli.autodiff.op import Sample, Words, primitive
from gradcli.autodiff.trace import decide, untraced


def _symmetric_part(x):
    return (x + np.swapaxes(x, -1, -2)) / 2


def _sympy_symmetric(x):
    return (x + np.swapaxes(x, -1, -2)) / 2


def _column(v, size):
    """A trailing vector (..., n) as a row (..., 1, n) that broadcasts down the rows of a matrix."""
    return F.reshape(v, src=(size,), dst=(1, size))


# -- cholesky -----------------------------------------------------------------------------------
def _cholesky(x):
    try:
        return np.linalg.cholesky(_symmetric_part(x))
    except np.linalg.LinAlgError:
        raise GradcliError("cholesky: the matrix is not positive definite", kind="value") from None


def _cholesky_backward(n, g):
    # torch's cholesky_backward: Φ(Lᵀ g), its lower triangle with the diagonal halved and
    # mirrored, between inv(L)ᵀ and inv(L). The result is symmetric.
    size = n.out_shape[-1]
    lower = np.tril(np.ones((size, size), dtype=bool))
    strictly_lower = np.tril(lower, -1)
    product = F.where(lower, n.ans.mT @ g, 0.0)
    phi = 0.5 * (product + F.where(strictly_lower, product, 0.0).mT)
    inverse = F.inv(n.ans)
    return (inverse.mT @ phi @ inverse,)


def _sympy_cholesky(sp, x):
    def factor(rows):
        size = len(rows)
        lower = [[0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1):
                rest = rows[i][j] - sum(lower[i][k] * lower[j][k] for k in range(j))
                lower[i][j] = sp.sqrt(rest) if i == j else rest / lower[j][j]
        return lower
    return _sympy_matrix_fn(_sympy_symmetric(x), factor)


primitive(name="cholesky", batching="trailing", doc="the lower-triangular L with L Lᵀ = A, for A symmetric positive definite "
                               "(A read as (A + Aᵀ)/2)",
          signature="cholesky(A)", family="linalg", forward=_cholesky, backward=_cholesky_backward, shape=_square,
          sympy=_sympy_cholesky, saves="output", torch_name="LinalgCholeskyExBackward0",
          taylor=lambda n, x: TL.cholesky(_symmetric_part(x), n.ans),
          samples=(Sample(((2, 2),), "spd"), Sample(((3, 3),), "spd"), Sample(((2, 3, 3),), "spd")),
          words=Words(("A",), vjp=("inv(L)ᵀ Φ(Lᵀ g) inv(L), Φ: the lower triangle, its diagonal halved, mirrored",)))


# -- eigenvalues and eigenvectors of a symmetric matrix -------------------------------------------
def _eigvecsh(x):
    _, vectors = np.linalg.eigh(_symmetric_part(x))
    # NOTE: each eigenvector is signed so that its entry largest in magnitude (the first of
    # equals) is positive: a smooth function of A where the eigenvalues are distinct.
    largest = np.take_along_axis(vectors, np.argmax(np.abs(vectors), axis=-2)[..., None, :], axis=-2)
    return np.where(largest < 0, -vectors, vectors)


def _eigvecsh_backward(n, g):
    # torch's eigh backward: dV = V (F ∘ (Vᵀ dS V)), F_ij = 1/(λ_j - λ_i) off the diagonal,
    # with Vᵀ g taken to its skew part (the sign convention adds nothing to first order), so
    # the result is symmetric, as S = (A + Aᵀ)/2 wants. The gaps' diagonal is 1 (the skew
    # part is 0 there), so nothing divides by 0 that a mask would have to hide.
    size = n.out_shape[-1]
    values = F.eigvalsh(n.x)
    gaps = _column(values, size) - F.reshape(values, src=(size,), dst=(size, 1)) + np.eye(size)
    vectors = n.ans
    projected = vectors.mT @ g
    return (vectors @ ((0.5 * (projected - projected.mT)) / gaps) @ vectors.mT,)


def _eigenvalues_2x2(sp, rows):
    if len(rows) == 1:
        return [rows[0][0]]
    (a, b), (_, d) = rows
    half, radius = (a + d) / 2, sp.sqrt(((a - d) / 2) ** 2 + b ** 2)
    return [half - radius, half + radius]


def _eigenvectors_2x2(sp, rows):
    if len(rows) == 1:
        return [[1]]
    (a, b), _ = rows
    columns = []
    for value in _eigenvalues_2x2(sp, rows):
        v = (b, value - a)
        length = sp.sqrt(v[0] ** 2 + v[1] ** 2)
        sign = sp.Piecewise((sp.sign(v[0]), sp.Abs(v[0]) >= sp.Abs(v[1])), (sp.sign(v[1]), True))
        columns.append([sign * v[0] / length, sign * v[1] / length])
    return [list(row) for row in zip(*columns)]


def _sympy_spectral(fn, vector=False):
    """fn(sp, rows) on each matrix's symmetric part: a matrix, or a vector when vector."""
    def rule(sp, x):
        size = x.shape[-1]
        if size > 2:  # beyond 2-by-2 the eigenvalues take the cubic formula, and they must be sorted
            raise ValueError(f"symbolic eigenvalues go up to 2-by-2 here, not {size}-by-{size}")
        symmetric = _sympy_symmetric(x)
        if not vector:
            return _sympy_matrix_fn(symmetric, lambda rows: fn(sp, rows))
        out = np.empty(x.shape[:-1], dtype=object)
        for index in np.ndindex(x.shape[:-2]):
            out[index] = np.array(fn(sp, symmetric[index].tolist()), dtype=object)
        return out
    return rule


def _eigvecsh_taylor(n, x):
    vectors = TL.symmetric_eigen(_symmetric_part(x))[1]
    # each column signed as the forward signs it (its largest entry positive): a constant sign
    return vectors * np.sign(np.sum(n.ans * vectors[0], axis=-2, keepdims=True))


def singular_value_series(x, values):
    """The series of the singular values (descending, values their own) of a matrix series, for distinct
    nonzero ones: their squares are the eigenvalues of the smaller Gram matrix (ascending)."""
    xt = TL.transpose(x)
    gram = TL.matmul(xt, x) if x.shape[-2] >= x.shape[-1] else TL.matmul(x, xt)
    return T.power(TL.symmetric_eigen(gram)[0][..., ::-1], 0.5, values)


def _pinv_taylor(n, x):
    # Of full rank: (AᵀA)⁻¹Aᵀ for a tall A, Aᵀ(AAᵀ)⁻¹ for a wide one.
    xt = TL.transpose(x)
    if x.shape[-2] >= x.shape[-1]:
        gram = TL.matmul(xt, x)
        return TL.matmul(TL.inverse(gram, np.linalg.inv(gram[0])), xt)
    gram = TL.matmul(x, xt)
    return TL.matmul(xt, TL.inverse(gram, np.linalg.inv(gram[0])))


SYMMETRIC_SAMPLES = (Sample(((2, 2),), "spd"), Sample(((1, 1),), "spd"), Sample(((3, 2, 2),), "spd"))
primitive(name="eigvecsh", batching="trailing", doc="the eigenvectors of (A + Aᵀ)/2, columns in the order of eigvalsh, each signed "
                               "so that its largest entry is positive",
          signature="eigvecsh(A)", family="internal", public=False, forward=_eigvecsh, backward=_eigvecsh_backward,
          shape=_square, sympy=_sympy_spectral(_eigenvectors_2x2), saves="both", samples=SYMMETRIC_SAMPLES,
          taylor=_eigvecsh_taylor,
          words=Words(("A",), vjp=("V (F ∘ Vᵀ g) Vᵀ, F_ij = 1/(λⱼ - λᵢ), symmetrized",)))


def _eigvalsh_backward(n, g):
    vectors = F.eigvecsh(n.x)
    return ((vectors * _column(g, n.out_shape[-1])) @ vectors.mT,)


primitive(name="eigvalsh", batching="trailing", doc="the eigenvalues of a symmetric matrix, ascending (A read as (A + Aᵀ)/2)",
          signature="eigvalsh(A)", family="linalg", forward=lambda x: np.linalg.eigvalsh(_symmetric_part(x)),
          backward=_eigvalsh_backward, shape=lambda s: _square(s)[:-1],
          taylor=lambda n, x: TL.symmetric_eigen(_symmetric_part(x))[0],
          sympy=_sympy_spectral(_eigenvalues_2x2, vector=True),
          torch_name="LinalgEighBackward0", samples=SYMMETRIC_SAMPLES,
          words=Words(("A",), vjp=("V diag(g) Vᵀ, V: the eigenvectors",)))


# -- singular values -------------------------------------------------------------------------------
def _svdvals_shape(shape):
    if len(shape) < 2:
        raise GradcliError(f"svdvals needs a matrix, not a value of shape {format_shape(shape)}", kind="shape")
    return shape[:-2] + (min(shape[-2:]),)


def svd_vectors(a):
    """numpy's reduced SVD of a (tall matrices through their transpose): the U, s, Vᵀ the rank-deficient rule uses."""
    if a.shape[-2] <= a.shape[-1]:
        return np.linalg.svd(a, full_matrices=False)
    u, s, vh = np.linalg.svd(np.swapaxes(a, -1, -2), full_matrices=False)
    return np.swapaxes(vh, -1, -2), s, np.swapaxes(u, -1, -2)


def _degenerate(singular, size):
    """Whether some matrix's singular values (descending) have a zero or a repeated one."""
    tol = size * np.finfo(singular.dtype).eps * singular[..., :1]
    return bool(np.any(singular[..., -1:] <= tol) or np.any(-np.diff(singular, axis=-1) <= tol))


def svdvals_vjp(a, values, g):
    """U diag(g) Vᵀ: the cotangent of a matrix a (..., m, n) whose singular values values (a
    tensor, descending) receive g, written in differentiable operations.

    V (or U, for a wide matrix) are the eigenvectors of AᵀA (of AAᵀ), in the descending order
    of the singular values, and the other factor A V / s (Aᵀ U / s).
    """
    rows, cols = a.shape[-2:]
    size = min(rows, cols)
    singular = values.data
    if singular.size == 0:
        return np.zeros(g.shape[:g.ndim - 1] + (rows, cols))
    if not decide(all_finite, a):  # no SVD: nan, and nan again when differentiated
        return (a * np.nan) * F.reshape(F.sum(g, axis=-1, keepdims=True), src=(1,), dst=(1, 1))
    if decide(lambda s: _degenerate(s, max(rows, cols)), values):
        # NOTE: where the rank drops or a singular value repeats, the singular vectors are the
        # SVD's choice (and A V / s is 0/0 at a zero one): U diag(g) Vᵀ from numpy's SVD, with
        # U and V constants there (docs/differences.md, svdvals-rank-deficient).
        untraced()
        u, _, vh = svd_vectors(a.data)
        return (u * _column(g, size)) @ vh
    reverse = np.eye(size)[::-1]
    weights = _column(g / values, size)
    if rows >= cols:
        right = F.eigvecsh(a.mT @ a) @ reverse
        return a @ (right * weights) @ right.mT
    left = F.eigvecsh(a @ a.mT) @ reverse
    return (left * weights) @ left.mT @ a


def _svdvals_backward(n, g):
    return (svdvals_vjp(n.x, n.ans, g),)


def _sympy_svdvals(sp, x):
    gram = x.swapaxes(-1, -2) @ x if x.shape[-2] >= x.shape[-1] else x @ x.swapaxes(-1, -2)
    values = _sympy_spectral(_eigenvalues_2x2, vector=True)(sp, gram)
    return np.frompyfunc(sp.sqrt, 1, 1)(values[..., ::-1])


primitive(name="svdvals", batching="trailing", doc="the singular values, descending (gradient U diag(g) Vᵀ)",
          signature="svdvals(A)", family="linalg", forward=lambda x: np.linalg.svd(x, compute_uv=False),
          backward=_svdvals_backward, shape=_svdvals_shape, sympy=_sympy_svdvals, saves="both",
          taylor=lambda n, x: singular_value_series(x, n.ans),
          torch_name="LinalgSvdBackward0",
          samples=(Sample(((2, 2),)), Sample(((2, 3),)), Sample(((3, 2),)), Sample(((2, 3, 2),))),
          words=Words(("A",), vjp=("U diag(g) Vᵀ, U and V: the singular vectors",)))


# -- pseudo-inverse --------------------------------------------------------------------------------
def _pinv(x):
    # torch's default cut-off: singular values below max(m, n) eps times the largest count as 0.
    return np.linalg.pinv(x, rtol=max(x.shape[-2:]) * np.finfo(x.dtype).eps)


def _pinv_backward(n, g):
    # The derivative of P = pinv(A) where the rank stays put (Golub and Pereyra):
    # dP = -P dA P + P Pᵀ dAᵀ (I - A P) + (I - P A) dAᵀ Pᵀ P, transposed term by term.
    a, p = n.x, n.ans
    rows, cols = n.in_shapes[0][-2:]
    left_rest = np.eye(rows) - a @ p
    right_rest = np.eye(cols) - p @ a
    return (-(p.mT @ g @ p.mT) + left_rest @ g.mT @ (p @ p.mT) + (p.mT @ p) @ g.mT @ right_rest,)


def _sympy_pinv(sp, x):
    tall = x.shape[-2] >= x.shape[-1]
    gram = x.swapaxes(-1, -2) @ x if tall else x @ x.swapaxes(-1, -2)
    inverse = _sympy_matrix_fn(gram, _inverse)
    return inverse @ x.swapaxes(-1, -2) if tall else x.swapaxes(-1, -2) @ inverse


primitive(name="pinv", batching="trailing", doc="the Moore-Penrose pseudo-inverse (singular values below max(m, n) eps count as 0)",
          signature="pinv(A)", family="linalg", forward=_pinv, backward=_pinv_backward,
          shape=lambda s: _svdvals_shape(s)[:-1] + (s[-1], s[-2]), sympy=_sympy_pinv, saves="both", taylor=_pinv_taylor,
          torch_name="LinalgPinvBackward0", aliases=("pinverse",),
          samples=(Sample(((2, 2),), "spd"), Sample(((2, 3),)), Sample(((3, 2),)), Sample(((2, 3, 2),))),
          words=Words(("A",), vjp=("-Pᵀ g Pᵀ + (I - A P) gᵀ P Pᵀ + Pᵀ P gᵀ (I - P A), P = pinv({A})",)))
