"""Arrays built from others, as PyTorch builds them: rot90, block_diag, cartesian_prod, combinations,
diag_embed, diagflat and vander; and the solves of a triangular system: solve_triangular, triangular_solve (the
pair (solution, cloned_coefficient)) and cholesky_solve.

Each is a composite of the engine's operations (flip and transpose, pad and cat, expand and stack, take,
diagonal_put, cumprod, tril/triu and solve), so its gradient is the one PyTorch's rules give: entries read
from x send their cotangent back (added up where read twice), and a triangular solve's gradient with
respect to A is the triangle the solve reads.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from gradcli.autodiff.op import Sample, composite
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, one_axis


def _reshaped(x, shape):
    return x if tuple(shape) == x.shape else F.reshape(x, src=x.shape, dst=tuple(shape))


def _pair(dims, ndim: int, name: str) -> tuple[int, int]:
    dims = dims if isinstance(dims, tuple) else (dims,)
    if len(dims) != 2 or ndim < 2:
        raise GradcliError(f"{name}() takes two dims of a value of 2 or more axes, not {dims} of {ndim}", kind="value")
    a, b = (one_axis(d, ndim, "dims") for d in dims)
    if a == b:
        raise GradcliError(f"{name}() takes two different dims, not {dims}", kind="value")
    return a, b


# -- rot90 ------------------------------------------------------------------------------------------

def _rot90(x, k=1, dims=(0, 1)):
    """As torch.rot90: k quarter turns from dims[0] towards dims[1] (Python's k % 4, so k < 0 turns back)."""
    a, b = _pair(dims, x.ndim, "rot90")
    turns = k % 4
    if turns == 0:
        return F.clone(x)
    if turns == 2:
        return F.flip(x, dims=(a, b))
    return F.transpose(F.flip(x, dims=(b if turns == 1 else a,)), dim0=a, dim1=b)


composite(name="rot90", family="array", signature="rot90(x, k=1, dims=(0, 1))",
          doc="x turned by k quarter turns in the plane of dims, from the first towards the second, as torch.rot90",
          composite=_rot90, keywords=("k", "dims"), positional=2, kinds={"dims": "axis"},
          torch_name="Rot90Backward0",
          samples=(Sample(((2, 3),)), Sample(((2, 3),), params={"k": -1}), Sample(((2, 3, 2),), params={"k": 2}),
                   Sample(((2, 3, 2),), params={"k": 3, "dims": (2, 0)}), Sample(((2, 2),), params={"k": 4})))


# -- block_diag, cartesian_prod, combinations ---------------------------------------------------------

def _block_diag(*xs):
    """As torch.block_diag: each value (a number, a vector as one row, a matrix) a block on the diagonal."""
    blocks = []
    for x in xs:
        if x.ndim > 2:
            raise GradcliError(f"block_diag() takes values of at most 2 axes, not {format_shape(x.shape)}",
                               kind="shape")
        blocks.append(_reshaped(x, (1,) * (2 - x.ndim) + x.shape))
    width = sum(b.shape[1] for b in blocks)
    rows, before = [], 0
    for b in blocks:
        after = width - before - b.shape[1]
        rows.append(F.pad(b, pad=(before, after)) if before or after else b)
        before += b.shape[1]
    return rows[0] if len(rows) == 1 else F.cat(*rows, axis=0)


def _sympy_block_diag(sp, *xs):
    blocks = [np.reshape(x, (1,) * (2 - x.ndim) + x.shape) for x in xs]
    out = np.full((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)), sp.S.Zero, dtype=object)
    row = column = 0
    for b in blocks:
        out[row:row + b.shape[0], column:column + b.shape[1]] = b
        row, column = row + b.shape[0], column + b.shape[1]
    return out


composite(name="block_diag", family="array", signature="block_diag(*tensors)", arity=None, method=False,
          sympy=_sympy_block_diag,
          doc="the values as blocks on the diagonal of a matrix of zeros, as torch.block_diag (a number is a "
              "1 x 1 block, a vector a row)",
          composite=_block_diag, torch_name="BlockDiagBackward0",
          samples=(Sample(((2, 2), (1, 3))), Sample(((), (2,), (2, 1)))))


def _column_grid(xs):
    """Each vector spread over the grid of all of them (meshgrid's ij order), flattened: one column each."""
    sizes = tuple(x.shape[0] for x in xs)
    total = math.prod(sizes)
    columns = []
    for i, x in enumerate(xs):
        spot = tuple(n if j == i else 1 for j, n in enumerate(sizes))
        spread = _reshaped(x, spot)
        columns.append(_reshaped(F.expand(spread, src=spot, dst=sizes) if spot != sizes else spread, (total,)))
    return columns


def _cartesian_prod(*xs):
    """As torch.cartesian_prod: the rows of every choice of one entry from each vector (the last varies fastest);
    one vector is itself."""
    if any(x.ndim != 1 for x in xs):
        raise GradcliError("cartesian_prod() takes vectors", kind="shape")
    if len(xs) == 1:
        return xs[0]
    return F.permute(F.stack(*_column_grid(xs), item_ndim=1), perm=(1, 0))


composite(name="cartesian_prod", torch_name="StackBackward0",
          family="array", signature="cartesian_prod(*tensors)", arity=None, method=False,
          doc="the Cartesian product of vectors, one row per choice of an entry from each (the last varies "
              "fastest), as torch.cartesian_prod",
          composite=_cartesian_prod, samples=(Sample(((2,), (3,))), Sample(((2,), (1,), (2,))), Sample(((3,),))))


def _combinations(x, r=2, with_replacement=False):
    """As torch.combinations: rows of r entries of a vector at increasing positions (non-decreasing with
    with_replacement), in lexicographic order of the positions."""
    if x.ndim != 1:
        raise GradcliError(f"combinations() takes a vector, not {format_shape(x.shape)}", kind="shape")
    if r < 0:
        raise GradcliError(f"combinations() takes r >= 0, not {r}", kind="value")
    if r == 0:
        return F.take(x, axis=0, indices=(), index_shape=(0,), src=x.shape)
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    positions = np.array(list(choose(range(x.shape[0]), r)), dtype=np.intp).reshape(-1, r)
    return F.take(x, axis=0, indices=tuple(positions.reshape(-1).tolist()), index_shape=positions.shape, src=x.shape)


composite(name="combinations", family="array", signature="combinations(x, r=2, with_replacement=False)",
          doc="every choice of r entries of a vector, one row each, as torch.combinations (itertools' order)",
          composite=_combinations, keywords=("r", "with_replacement"), positional=2, torch_name="StackBackward0",
          samples=(Sample(((4,),)), Sample(((3,),), params={"r": 3}),
                   Sample(((3,),), params={"with_replacement": True})))


# -- diagonals ----------------------------------------------------------------------------------------

def _diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """As torch.diag_embed: x's last axis on the offset diagonal of dims dim1, dim2 of a new array of zeros
    (its other axes x's leading ones): diagonal(out, offset, dim1, dim2) is x."""
    if x.ndim == 0:
        raise GradcliError("diag_embed() takes a value of one or more axes", kind="shape")
    ndim = x.ndim + 1
    a, b = one_axis(dim1, ndim, "dim1"), one_axis(dim2, ndim, "dim2")
    if a == b:
        raise GradcliError(f"diag_embed() takes two different dims, not {dim1} and {dim2}", kind="value")
    n = x.shape[-1] + abs(offset)
    lead = iter(x.shape[:-1])
    shape = tuple(n if i in (a, b) else next(lead) for i in range(ndim))
    return F.diagonal_put(x, offset=offset, dim1=a - ndim, dim2=b - ndim, src=shape)


composite(name="diag_embed", family="array", signature="diag_embed(x, offset=0, dim1=-2, dim2=-1)",
          doc="x's last axis on the offset diagonal (of dims dim1, dim2) of zeros, as torch.diag_embed: a batch of "
              "vectors makes a batch of diagonal matrices",
          composite=_diag_embed, keywords=("offset", "dim1", "dim2"), positional=3, torch_name="DiagEmbedBackward0",
          samples=(Sample(((3,),)), Sample(((2, 3),), params={"offset": 1}),
                   Sample(((2, 3),), params={"offset": -1, "dim1": 0, "dim2": 2}),
                   Sample(((2, 2),), params={"dim1": -1, "dim2": 0})))
composite(name="diagflat", family="array", signature="diagflat(x, offset=0)",
          doc="x's entries, flattened, on the offset diagonal of a square matrix of zeros, as torch.diagflat",
          composite=lambda x, offset=0: _diag_embed(_reshaped(x, (x.size,)), offset), keywords=("offset",),
          torch_name="DiagEmbedBackward0",
          samples=(Sample(((2, 2),)), Sample(((3,),), params={"offset": -2}), Sample(((),), params={"offset": 1})))


# -- vander -------------------------------------------------------------------------------------------

def _vander(x, N=None, increasing=False):
    """As torch.vander (and numpy's): columns x**(N-1), ..., x, 1 (reversed with increasing), the powers a
    running product of x, as PyTorch computes them (cumprod, with its rule at zeros)."""
    if x.ndim != 1:
        raise GradcliError(f"vander() takes a vector, not {format_shape(x.shape)}", kind="shape")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise GradcliError(f"vander() takes N >= 0, not {n}", kind="value")
    if n == 0:
        return F.take(_reshaped(x, (x.shape[0], 1)), axis=1, indices=(), index_shape=(0,), src=(x.shape[0], 1))
    ones = F.ones_like(_reshaped(x, (x.shape[0], 1)))
    if n == 1:
        return ones
    column = _reshaped(x, (x.shape[0], 1))
    powers = F.cumprod(F.expand(column, src=column.shape, dst=(x.shape[0], n - 1)), axis=1)
    out = F.cat(ones, powers, axis=1)
    return out if increasing else F.flip(out, dims=(1,))


def _sympy_vander(sp, x, N=None, increasing=False):
    powers = range(x.shape[0] if N is None else N)
    out = np.array([[v ** p for p in powers] for v in x], dtype=object).reshape(x.shape[0], len(powers))
    return out if increasing else out[:, ::-1]


composite(name="vander", torch_name=lambda shapes, params: "torch::autograd::CopySlices" if params.get("increasing")
          else "FlipBackward0", family="array", signature="vander(x, N=None, increasing=False)", sympy=_sympy_vander,
          doc="the Vandermonde matrix of a vector: columns x**(N-1), ..., x, 1 (N = len(x) by default; increasing "
              "reverses them), as torch.vander and numpy's vander",
          composite=_vander, keywords=("N", "increasing"), positional=2, method=False, linalg={"increasing": True},
          samples=(Sample(((3,),)), Sample(((2,),), params={"N": 4}),
                   Sample(((3,),), params={"N": 2, "increasing": True})))


# -- triangular solves ----------------------------------------------------------------------------------

def _system(a, b, name: str) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or b.ndim < 2:
        raise GradcliError(f"{name}() takes a square matrix (..., n, n) and a right-hand side (..., n, k) of two or "
                           f"more axes, not {format_shape(a.shape)} and {format_shape(b.shape)}", kind="shape")


def _last_two_swapped(x):
    return F.transpose(x, dim0=-2, dim1=-1)


def _triangle(A, upper, unitriangular):
    """A's upper or lower triangle, with ones on the diagonal when unitriangular (its entries alone are read)."""
    if unitriangular:
        strict = F.triu(A, diagonal=1) if upper else F.tril(A, diagonal=-1)
        return strict + np.eye(A.shape[-1], dtype=A.dtype)
    return F.triu(A) if upper else F.tril(A)


def _solve_triangular(A, B, upper, left=True, unitriangular=False):
    """As torch.linalg.solve_triangular: X with A X = B (X A = B when left=False), A read as its upper or lower
    triangle (with ones on the diagonal when unitriangular), so A's gradient is that triangle's."""
    _system(A, B, "solve_triangular")
    triangle = _triangle(A, upper, unitriangular)
    if left:
        return F.solve(triangle, B, vector=False)
    return _last_two_swapped(F.solve(_last_two_swapped(triangle), _last_two_swapped(B), vector=False))


def _sympy_triangle(sp, a, upper, unitriangular):
    triangle = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        triangle = np.array(triangle, dtype=object)
        index = np.arange(a.shape[-1])
        triangle[..., index, index] = sp.S.One
    return triangle


def _sympy_solved(sp, a, b):
    """a⁻¹ b for each matrix of a batch, by SymPy's LU solve."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a, b = np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + b.shape[-2:], dtype=object)
    for index in np.ndindex(*batch):
        out[index] = np.array(sp.Matrix(a[index]).LUsolve(sp.Matrix(b[index])), dtype=object)
    return out


def _sympy_solve_triangular(sp, A, B, upper, left=True, unitriangular=False):
    triangle = _sympy_triangle(sp, A, upper, unitriangular)
    if left:
        return _sympy_solved(sp, triangle, B)
    return np.swapaxes(_sympy_solved(sp, np.swapaxes(triangle, -1, -2), np.swapaxes(B, -1, -2)), -1, -2)


composite(name="solve_triangular", family="linalg", signature="solve_triangular(A, B, *, upper, left=True, "
          "unitriangular=False)",
          doc="X with A X = B (X A = B with left=False) for A triangular, as torch.linalg.solve_triangular: A read "
              "as its upper or lower triangle (ones on the diagonal with unitriangular), whose entries get the "
              "gradient",
          inputs=("A", "B"), arity=2, method=False, composite=_solve_triangular, sympy=_sympy_solve_triangular,
          keywords=("upper", "left", "unitriangular"), positional=0, torch_name="LinalgSolveTriangularBackward0",
          samples=(Sample(((3, 3), (3, 2)), ("spd", "real"), params={"upper": False}),
                   Sample(((2, 2, 2), (2, 2, 1)), ("spd", "real"), params={"upper": True}),
                   Sample(((2, 2), (3, 2)), ("spd", "real"), params={"upper": True, "left": False}),
                   Sample(((3, 3), (3, 1)), ("real", "real"), params={"upper": False, "unitriangular": True})))


def _triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """torch.triangular_solve's solution: X with op(A) X = b, op(A) A's triangle (transposed with transpose)."""
    _system(A, b, "triangular_solve")
    triangle = _triangle(A, upper, unitriangular)
    return F.solve(_last_two_swapped(triangle) if transpose else triangle, b, vector=False)


def _coefficient(b, A, upper=True, transpose=False, unitriangular=False):
    _system(A, b, "triangular_solve")
    return F.clone(A)


def _sympy_triangular_solve(sp, b, A, upper=True, transpose=False, unitriangular=False):
    triangle = _sympy_triangle(sp, A, upper, unitriangular)
    return _sympy_solved(sp, np.swapaxes(triangle, -1, -2) if transpose else triangle, b)


_TRIANGULAR_SAMPLES = (Sample(((3, 2), (3, 3)), ("real", "spd")),
                       Sample(((2, 2, 1), (2, 2, 2)), ("real", "spd"), params={"upper": False, "transpose": True}),
                       Sample(((3, 1), (3, 3)), params={"unitriangular": True}))
composite(name="triangular_solve", family="linalg",
          signature="triangular_solve(b, A, upper=True, transpose=False, unitriangular=False)",
          doc="the pair (solution, cloned_coefficient) of torch.triangular_solve: X with A X = b (Aᵀ X = b with "
              "transpose) for A's upper (or lower) triangle, and a copy of A; used whole, the solution",
          inputs=("b", "A"), arity=2, composite=_triangular_solve, sympy=_sympy_triangular_solve,
          keywords=("upper", "transpose", "unitriangular"), positional=3, torch_name="TriangularSolveBackward0",
          pair="triangular_solve_coefficient", pair_fields=("solution", "cloned_coefficient"),
          samples=_TRIANGULAR_SAMPLES)
composite(name="triangular_solve_coefficient", family="internal", public=False,
          signature="triangular_solve_coefficient(b, A)", doc="the copy of A in triangular_solve's pair",
          inputs=("b", "A"), arity=2, composite=_coefficient, keywords=("upper", "transpose", "unitriangular"),
          samples=_TRIANGULAR_SAMPLES)


def _cholesky_solve(B, L, upper=False):
    """As torch.cholesky_solve: X with L Lᵀ X = B (Uᵀ U X = B with upper), by two solves with the factor. Its
    gradient is PyTorch's, -(C + Cᵀ) L for C = (L Lᵀ)⁻¹ g Xᵀ: the derivative in the whole of L, so L is read
    whole (torch's LAPACK solve reads its triangle: the same where L is the triangular factor it takes)."""
    _system(L, B, "cholesky_solve")
    first, second = (_last_two_swapped(L), L) if upper else (L, _last_two_swapped(L))
    return F.solve(second, F.solve(first, B, vector=False), vector=False)


def _sympy_cholesky_solve(sp, B, L, upper=False):
    first, second = (np.swapaxes(L, -1, -2), L) if upper else (L, np.swapaxes(L, -1, -2))
    return _sympy_solved(sp, second, _sympy_solved(sp, first, B))


composite(name="cholesky_solve", family="linalg", signature="cholesky_solve(B, L, upper=False)",
          doc="X with L Lᵀ X = B for L a Cholesky factor (Uᵀ U X = B with upper=True), as torch.cholesky_solve",
          inputs=("B", "L"), arity=2, composite=_cholesky_solve, sympy=_sympy_cholesky_solve, keywords=("upper",),
          torch_name="CholeskySolveBackward0",
          samples=(Sample(((3, 2), (3, 3)), ("real", "spd")), Sample(((2, 2, 1), (2, 2, 2)), ("real", "spd")),
                   Sample(((2, 3), (2, 2)), ("real", "spd"), params={"upper": True})))
