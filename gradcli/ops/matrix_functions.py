"""Functions of square matrices: solve, logdet, slogdet, matrix_power, expm.

Batched over leading axes as torch.linalg's are; rules use the swap of the last two axes
(`.mT`), so batched cotangents pass through.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff import taylor_linalg as TL
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, broadcast_shapes
from gradcli.ops.linalg import _inverse, _laplace_det, _square, _sympy_matrix_fn
from gradcli.autodiff.op import Kink, Sample, Words, composite, primitive
from gradcli.autodiff.trace import decide


# -- solve ----------------------------------------------------------------------------------
def _is_vector(a_shape, b_shape):
    """torch.linalg.solve's reading of b: a vector (batch) when it has one axis fewer than A and matches A's rows."""
    return len(b_shape) == 1 or (len(b_shape) == len(a_shape) - 1 and tuple(b_shape) == tuple(a_shape[:-1]))


def _solve_prepare(a_shape, b_shape, vector=None):
    return {"vector": _is_vector(a_shape, b_shape) if vector is None else bool(vector)}


def _solve_shape(a, b, vector):
    _square(a)
    n = a[-1]
    rows = b[-1] if vector else (b[-2] if len(b) > 1 else None)
    if rows != n:
        raise GradcliError(f"solve: A of shape {format_shape(a)} and b of shape {format_shape(b)}: b needs "
                           f"{n} rows", kind="shape")
    batch = broadcast_shapes(a[:-2], b[:-1] if vector else b[:-2])
    return batch + ((n,) if vector else (n, b[-1]))


def _solve(a, b, vector):
    column = b[..., None] if vector else b
    batch = np.broadcast_shapes(a.shape[:-2], column.shape[:-2])
    try:
        x = np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]),
                            np.broadcast_to(column, batch + column.shape[-2:]))
    except np.linalg.LinAlgError:
        raise GradcliError("solve: the matrix A is singular", kind="value") from None
    return x[..., 0] if vector else x


def _solve_backward(n, g):
    vector = n.params["vector"]
    gb = F.solve(n.x.mT, g, vector=vector)
    ga = None
    if n.needs[0]:
        x = n.ans
        if vector:
            rows, cols = n.out_shape[-1:], n.out_shape[-1:]
            ga = -(F.reshape(gb, src=rows, dst=rows + (1,)) * F.reshape(x, src=cols, dst=(1,) + cols))
        else:
            ga = -(gb @ x.mT)
    return ga, gb if n.needs[1] else None


def _solve_taylor(n, a, b):
    vector = n.params["vector"]
    x = TL.solve(a, b[..., None] if vector else b, n.ans[..., None] if vector else n.ans)
    return x[..., 0] if vector else x


def _sympy_solve(sp, a, b, vector):
    inverse = _sympy_matrix_fn(a, _inverse)
    return np.matmul(inverse, b[..., None])[..., 0] if vector else np.matmul(inverse, b)


primitive(name="solve", batching="loop", doc="the solution X of A X = b (b a vector or a matrix, batched as torch.linalg.solve)",
          signature="solve(A, b)", family="linalg", forward=_solve, backward=_solve_backward,
          shape=_solve_shape, prepare=_solve_prepare, sympy=_sympy_solve, saves="both", arity=2, taylor=_solve_taylor,
          torch_name="LinalgSolveExBackward0", inputs=("A", "B"),
          samples=(Sample(((3, 3), (3,)), ("spd", "real")), Sample(((2, 2), (2, 3)), ("spd", "real")),
                   Sample(((2, 3, 3), (2, 3)), ("spd", "real")), Sample(((2, 2, 2), (2, 1)), ("spd", "real"))),
          words=Words(("A", "b"), vjp=("-solve({A}ᵀ, g) @ {out}ᵀ", "solve({A}ᵀ, g)")))


# -- logdet, slogdet --------------------------------------------------------------------------
def _sign_and_log(x):
    """numpy's slogdet, with torch's sign 0 and log|det| nan for a matrix with a nan entry."""
    with np.errstate(invalid="ignore"):
        sign, logabs = np.linalg.slogdet(x)
    unknown = np.any(np.isnan(x), axis=(-2, -1))
    return np.where(unknown, 0.0, sign), np.where(unknown, np.nan, logabs)


def _logdet(x):
    sign, logabs = _sign_and_log(x)
    # torch.logdet: nan for a negative determinant, -inf for a singular matrix (logabs is -inf there).
    return np.where(sign < 0, np.nan, logabs)


def _nonfinite_or_singular(x):
    return bool(not np.all(np.isfinite(x)) or np.any(_sign_and_log(x)[0] == 0))


def _inverse_transpose_times(n, scale):
    """scale (batch shape, maybe with g's batch axes before it) times inv(x)ᵀ: d log|det x| / dx.

    NOTE: where x is singular the inverse does not exist and the gradient is nan (torch's LU
    solve gives inf or nan entries there): a constant, as a rule cannot invert it. So with an
    inf or nan entry (docs/differences.md, det-nonfinite): nan, and nan again when differentiated.
    """
    batch = n.in_shapes[0][:-2]
    scale = F.reshape(scale, src=batch, dst=batch + (1, 1))
    if decide(_nonfinite_or_singular, n.x):
        return scale * (n.x * np.nan)
    return scale * F.inv(n.x).mT


SQUARE_SAMPLES = (Sample(((2, 2),), "spd"), Sample(((3, 3),), "spd"), Sample(((2, 3, 3),), "spd"))
primitive(name="logdet", batching="trailing", doc="log of the determinant (nan where it is negative, -inf where the matrix is singular)",
          signature="logdet(A)", family="linalg", forward=_logdet, shape=lambda s: _square(s)[:-2],
          backward=lambda n, g: (_inverse_transpose_times(n, g),), taylor=lambda n, x: TL.log_abs_det(x, n.ans),
          sympy=lambda sp, x: np.frompyfunc(sp.log, 1, 1)(_sympy_matrix_fn(x, _laplace_det)),
          samples=SQUARE_SAMPLES, torch_name="WhereBackward0",
          words=Words(("A",), vjp=("g · inv({A})ᵀ",)),
          kinks=(Kink(([[1.0, 2.0], [2.0, 4.0]],), ([[np.nan, np.nan], [np.nan, np.nan]],),
                      note="singular: logdet is -inf and the gradient nan", noted=False),))


def _slogdet(x):
    sign, logabs = _sign_and_log(x)
    return np.stack([sign, logabs], axis=-1)


def _slogdet_backward(n, g):
    # The sign is piecewise constant: only the log|det| entry (index 1) carries a gradient.
    logabs = F.index(g, key=(slice(None),) * (len(n.out_shape) - 1) + (1,), src=n.out_shape)
    return (_inverse_transpose_times(n, logabs),)


def _sympy_slogdet(sp, x):
    det = _sympy_matrix_fn(x, _laplace_det)
    return np.stack([np.frompyfunc(sp.sign, 1, 1)(det), np.frompyfunc(lambda d: sp.log(sp.Abs(d)), 1, 1)(det)],
                    axis=-1)


primitive(name="slogdet", batching="trailing", doc="(sign, log|det|) stacked on a last axis of 2: slogdet(A)[1] is log|det| "
                              "(torch returns the pair; the sign has gradient 0)",
          signature="slogdet(A)", family="linalg", forward=_slogdet, shape=lambda s: _square(s)[:-2] + (2,),
          backward=_slogdet_backward, sympy=_sympy_slogdet, torch_name="LinalgSlogdetBackward0",
          pair_fields=("sign", "logabsdet"),
          # the sign is piecewise constant: its series is its value
          taylor=lambda n, x: np.stack([T.constant(n.ans[..., 0], len(x) - 1), TL.log_abs_det(x, n.ans[..., 1])],
                                       axis=-1),
          samples=(Sample(((2, 2),)), Sample(((3, 3),)), Sample(((2, 3, 3),))),
          words=Words(("A",), vjp=("g[..., 1] · inv({A})ᵀ (the sign has none)",)))


# -- matrix_power -------------------------------------------------------------------------------
def _matrix_power(a, n=1):
    _square(a.shape)
    if n == 0:  # the identity, as torch's: A's gradient is zeros (not none), so a nan upstream still shows
        return F.where(np.ones(a.shape, dtype=bool), np.broadcast_to(np.eye(a.shape[-1]), a.shape), a)
    if n < 0:
        a, n = F.inv(a), -n
    if n <= 3:
        result = a
        for _ in range(n - 1):
            result = result @ a
        return result
    # The binary decomposition of n from the lowest bit, in torch's order of products (the same roundings).
    power = result = None
    while n > 0:
        bit, n = n % 2, n // 2
        power = a if power is None else power @ power
        if bit:
            result = power if result is None else result @ power
    return result


def _matrix_power_name(shapes, params):
    n = params["n"]  # PyTorch's: a copy for n = 0, a clone for 1, an inverse for -1, else the last product
    if n in (0, 1, -1):
        return {0: "torch::autograd::CopyBackwards", 1: "CloneBackward0", -1: "LinalgInvExBackward0"}[n]
    return "MmBackward0" if len(shapes[0]) == 2 else "UnsafeViewBackward0"


composite(name="matrix_power", torch_name=_matrix_power_name,
          doc="A @ A @ ... (n times; n < 0: of inv(A); n = 0: the identity)",
          signature="matrix_power(A, n)", family="linalg", composite=_matrix_power, keywords=("n",),
          samples=(Sample(((3, 3),), params={"n": 3}), Sample(((2, 2),), params={"n": 5}),
                   Sample(((2, 2, 2),), "spd", params={"n": -2}), Sample(((2, 2),), params={"n": 1})))


# -- expm -------------------------------------------------------------------------------------
TAYLOR_DEGREE = 18  # with ||A/2^s||_1 <= 1/2 the truncated term is below 1e-22


def _expm(a):
    if not np.all(np.isfinite(a)):
        return np.full(a.shape, np.nan, a.dtype)
    norm = np.max(np.sum(np.abs(a), axis=-2), initial=0.0)
    squarings = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    x = a / 2.0 ** squarings
    identity = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    # Horner's scheme: I + x (I + x/2 (I + x/3 (...))).
    out = identity.copy()
    for k in range(TAYLOR_DEGREE, 0, -1):
        out = identity + (x @ out) / k
    for _ in range(squarings):
        out = out @ out
    return out


def _expm_backward(n, g):
    # NOTE: the block-triangular identity: expm([[Aᵀ, G], [0, Aᵀ]]) holds the VJP, the
    # Fréchet derivative of expm at Aᵀ in the direction G, in its upper-right block. The
    # blocks are placed by constant embeddings, so the rule is differentiable again.
    size = n.in_shapes[0][-1]
    upper = np.eye(2 * size, size)
    lower = np.eye(2 * size, size, -size)
    at = n.x.mT
    block = upper @ at @ upper.T + upper @ g @ lower.T + lower @ at @ lower.T
    return (upper.T @ F.expm(block) @ lower,)


def _exp_2x2(sp, rows):
    """exp of a 2-by-2 matrix in closed form: e^(t/2) (cosh(d) I + sinh(d)/d (A - t/2 I)), d² = ((a-e)/2)² + bc."""
    if len(rows) == 1:
        return [[sp.exp(rows[0][0])]]
    (a, b), (c, e) = rows
    half = (a + e) / 2
    d = sp.sqrt(((a - e) / 2) ** 2 + b * c)
    scale, shift = sp.exp(half), sp.sinh(d) / d
    return [[scale * (sp.cosh(d) + shift * (a - half)), scale * shift * b],
            [scale * shift * c, scale * (sp.cosh(d) + shift * (e - half))]]


def _sympy_expm(sp, x):
    if x.shape[-1] > 2:  # no closed form beyond: the eigenvalues of a 3-by-3 already take the cubic formula
        raise ValueError(f"a symbolic matrix exponential goes up to 2-by-2 here, not {x.shape[-1]}-by-{x.shape[-1]}")
    return _sympy_matrix_fn(x, lambda rows: _exp_2x2(sp, rows))


primitive(name="expm", batching="trailing", doc="the matrix exponential I + A + A²/2! + ... (torch.linalg.matrix_exp)",
          signature="expm(A)", family="linalg", forward=_expm, backward=_expm_backward, shape=_square,
          sympy=_sympy_expm, aliases=("matrix_exp",), torch_name="LinalgMatrixExpBackward0",
          taylor=lambda n, x: TL.block_toeplitz_function(x, _expm),
          samples=(Sample(((2, 2),)), Sample(((1, 1),)), Sample(((2, 2, 2),))),
          words=Words(("A",), vjp=("the upper-right block of expm([[{A}ᵀ, g], [0, {A}ᵀ]])",)))
