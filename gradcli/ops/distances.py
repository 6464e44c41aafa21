"""Distances, as PyTorch computes them: torch.dist, F.pairwise_distance, torch.cdist and F.pdist.

dist and pairwise_distance are norms of a difference (PyTorch's own definitions), so the norm's
rule and its conventions at a kink (gradient 0 at a zero distance, ties at p = inf sharing it)
come with them. cdist is a primitive whose rule is PyTorch's _cdist_backward, which differs
from a norm's at p = inf: every coordinate at the largest difference gets the whole gradient.
pdist is cdist of the rows with themselves, read above the diagonal.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import Kink, KinkCheck, Sample, Words, composite, primitive
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, broadcast_shapes
from gradcli.ops.kinkchecks import saved_inputs
from gradcli.ops.norms import _reduce, _sympy_vector

P_KIND = {"p": "real", "eps": "real"}


# -- dist and pairwise_distance: norms of a difference ---------------------------------------------
def _differences_of(a, b, p, eps=0.0):
    """a - b (+ eps), cut from the graph for p = 0: torch's norm_backward gives no gradient there, where a
    gradient of zeros would meet an inf upstream as nan."""
    diff = a - b + eps if eps else a - b
    return F.detach(diff) if p == 0 else diff


def _dist(a, b, p=2.0):
    # As torch.dist: norm(a - b, p) of every entry (its rule is norm_backward of a - b).
    return F.norm(_differences_of(a, b, p), p=p, matrix=False)


composite(name="dist", family="distance", signature="dist(a, b, p=2)", composite=_dist, arity=2, inputs=("a", "b"),
          doc="the p-norm of a - b over every entry, a and b broadcast (torch.dist)", keywords=("p",),
          positional=1, kinds={"p": "real"}, torch_name="DistBackward0",
          samples=(Sample(((2, 3), (2, 3))), Sample(((2, 3), (3,)), params={"p": 1.0}),
                   Sample(((4,), (4,)), params={"p": 3.0}), Sample(((2, 2), (2, 2)), params={"p": math.inf}),
                   Sample(((3,), (3,)), params={"p": 0.5})))


def _pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdims=False):
    # As torch.nn.functional.pairwise_distance: norm(x1 - x2 + eps, p) along the last axis of the broadcast.
    diff = _differences_of(x1, x2, p, eps)
    return F.norm(diff, p=p, axis=-1 if diff.ndim else None, keepdims=keepdims, matrix=False)


def _sympy_pairwise_distance(sp, x1, x2, p=2.0, eps=1e-6, keepdims=False):
    diff = np.asarray(x1 - x2 + eps, dtype=object)
    return _reduce(sp, diff, (-1,) if diff.ndim else (), keepdims, lambda vs: _sympy_vector(sp, vs, p))


composite(name="pairwise_distance", family="distance", signature="pairwise_distance(x1, x2, p=2, eps=1e-6, keepdim=False)",
          doc="the p-norm of x1 - x2 + eps along the last axis, x1 and x2 broadcast "
              "(torch.nn.functional.pairwise_distance; eps keeps the distance of equal rows off the kink)",
          composite=_pairwise_distance, sympy=_sympy_pairwise_distance, arity=2, inputs=("x1", "x2"), keywords=("p", "eps", "keepdims"),
          positional=3, kinds=P_KIND, method=False, torch_name="NormBackward1",
          samples=(Sample(((2, 3), (2, 3))), Sample(((3,), (2, 3)), params={"p": 1.0}),
                   Sample(((2, 3), (3,)), params={"p": 3.0, "keepdims": True}),
                   Sample(((4,), (4,)), params={"p": math.inf, "eps": 0.0}),
                   Sample(((2, 2), (2, 2)), params={"p": 0.5, "eps": 0.25})))


# -- cdist: the distance of every row of x1 to every row of x2 ---------------------------------------
def _cdist_shape(s1, s2, p=2.0, skips_nan=True):
    if len(s1) < 2 or len(s2) < 2 or s1[-1] != s2[-1]:
        raise GradcliError(f"cdist takes rows (..., P, M) and (..., R, M) of one length M, not "
                           f"{format_shape(s1)} and {format_shape(s2)}", kind="shape")
    return broadcast_shapes(s1[:-2], s2[:-2]) + (s1[-2], s2[-2])


COMPUTE_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _prepare(s1, s2, p=2.0, compute_mode=None, skips_nan=True):
    # NOTE: every compute_mode is the direct form: PyTorch's matrix-product form of p = 2 (its default above
    # 25 rows) differs in rounding, and gives equal rows a distance of about 1e-8 instead of 0.
    p = float(p)
    if p < 0 or math.isnan(p):
        raise GradcliError(f"cdist only supports non-negative p values, not {p:g}", kind="value", param="p")
    return {"p": p, "skips_nan": bool(skips_nan)}


def _differences(x1, x2):
    """Every row of x1 less every row of x2: (..., P, R, M)."""
    return x1[..., :, None, :] - x2[..., None, :, :]


def _cdist(x1, x2, p=2.0, skips_nan=True):
    # PyTorch's kernels: p = 0 counts min(ceil(|d|), 1), so a nan difference is nan; p = 2 is sqrt(sum d**2);
    # p = inf is cdist's running max from 0, which passes over a nan difference (pdist's keeps it: skips_nan).
    size = np.abs(_differences(x1, x2))
    with np.errstate(over="ignore"):
        if p == 0:
            return np.sum(np.minimum(np.ceil(size), 1.0), axis=-1)
        if p == 1:
            return np.sum(size, axis=-1)
        if p == 2:
            return np.sqrt(np.sum(size * size, axis=-1))
        if math.isinf(p):
            return np.max(np.where(np.isnan(size), 0.0, size) if skips_nan else size, axis=-1, initial=0.0)
        return np.sum(size ** p, axis=-1) ** (1.0 / p)


def _cdist_terms(grad, diff, dist, p):
    """Each coordinate's share of a distance's gradient, as PyTorch's _cdist_backward computes it.

    At a zero distance the share is 0 (a safe divisor keeps the untaken branch free of 0/0, so
    second order has no nan there); at p = inf every coordinate at the largest |difference| gets
    the whole gradient, its sign's.
    """
    # (the kernels' sign is nan at a nan difference; their p = inf mask is nan where |diff| - dist is:
    # an inf difference, or a nan distance; both are constants, as the kernels' own have no derivative)
    sign = F.detach(F.where(F.ne(diff, diff), diff, F.sign(diff)))
    if p == 1:
        return grad * sign
    if math.isinf(p):
        return grad * sign * F.detach(1.0 - F.minimum(F.ceil(F.abs(F.abs(diff) - dist)), 1.0))
    at_zero = F.eq(dist, 0.0)
    safe = F.where(at_zero, 1.0, dist)
    if p == 2:
        return F.where(at_zero, 0.0, grad * diff / safe)
    size = F.abs(diff)
    if p < 1:  # a zero coordinate's infinite slope is taken as 0 (and 0 ** (p - 1) kept out of the product)
        flat = F.eq(diff, 0.0)
        share = sign * F.where(flat, 1.0, size) ** (p - 1.0) * grad / safe ** (p - 1.0)
        return F.where(at_zero, 0.0, F.where(flat, 0.0, share))
    if p < 2:
        return F.where(at_zero, 0.0, sign * size ** (p - 1.0) * grad / safe ** (p - 1.0))
    return F.where(at_zero, 0.0, diff * size ** (p - 2.0) * grad / safe ** (p - 1.0))


def _cdist_backward(n, g):
    p = n.params["p"]
    length, cols = n.in_shapes[0][-1], n.in_shapes[1][-2]
    out = n.out_shape
    if p == 0:
        lead = g.shape[:g.ndim - len(out)]
        return tuple(Tensor(np.zeros(lead + s, g.data.dtype)) if need else None
                     for s, need in zip(n.in_shapes, n.needs))
    x1 = F.reshape(n.x, src=n.in_shapes[0], dst=n.in_shapes[0][:-1] + (1, length))
    x2 = F.reshape(n.y, src=n.in_shapes[1], dst=n.in_shapes[1][:-2] + (1, cols, length))
    grad, dist = F.reshape(g, src=out, dst=out + (1,)), F.reshape(n.ans, src=out, dst=out + (1,))
    # (x2's shares from x2 - x1, as PyTorch's, not the negated x1's: a zero share is +0 there too)
    return (F.sum(_cdist_terms(grad, x1 - x2, dist, p), axis=-2) if n.needs[0] else None,
            F.sum(_cdist_terms(grad, x2 - x1, dist, p), axis=-3) if n.needs[1] else None)


def _cdist_taylor(n, x1, x2):
    rank = max(x1.ndim, x2.ndim)  # (the leading batch axes aligned behind the series axis)
    x1, x2 = (x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in (x1, x2))
    diff = _differences(x1, x2)
    p, size = n.params["p"], diff * np.sign(diff[0])
    if p == 0:
        return T.zero(n, x1, x2)
    if p == 1:
        return np.sum(size, axis=-1)
    if math.isinf(p):
        return T.extreme(size, (-1,), np.max)
    powers = T.cauchy(diff, diff) if p == 2 else T.power(size, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = T.power(np.sum(powers, axis=-1), 1.0 / p, n.ans)
    return T.select(n.ans == 0, T.constant(n.ans, len(x1) - 1), out)  # a zero distance: gradient 0


def _sympy_cdist(sp, x1, x2, p=2.0, skips_nan=True):
    return _reduce(sp, _differences(x1, x2), (-1,), False, lambda vs: _sympy_vector(sp, vs, p))


def _zero_distance(node):
    x1, x2 = saved_inputs(node)
    if node.params["p"] == 0:
        return None
    return np.all(_differences(x1, x2) == 0, axis=-1)


primitive(name="cdist", family="distance", signature="cdist(x1, x2, p=2, compute_mode=None)",
          doc="the p-norm distance of every row of x1 (..., P, M) to every row of x2 (..., R, M): (..., P, R), "
              "the leading axes broadcast (torch.cdist; p = 0, 1, 2, inf or any p >= 0; every compute_mode computes "
              "the differences directly)",
          forward=_cdist, backward=_cdist_backward, shape=_cdist_shape, prepare=_prepare, sympy=_sympy_cdist,
          taylor=_cdist_taylor, arity=2, inputs=("x1", "x2"), keywords=("p", "compute_mode"),
          kinds={"p": "real", "compute_mode": COMPUTE_MODES}, positional=2,
          method=False, saves="both", batching="loop",
          words=Words(("x1", "x2"), vjp=("sum over the rows of x2 of g × (x1 - x2) / distance for p = 2 "
                                         "(PyTorch's _cdist_backward for the others; 0 at a zero distance)",
                                         "minus the same shares, summed over the rows of x1")),
          samples=(Sample(((3, 2), (4, 2))), Sample(((2, 3, 2), (4, 2)), params={"p": 1.0}),
                   Sample(((3, 2), (2, 4, 2)), params={"p": 3.0}), Sample(((2, 3), (2, 3)), params={"p": math.inf}),
                   Sample(((2, 3), (3, 3)), params={"p": 0.5}), Sample(((2, 3), (2, 3)), params={"p": 1.5}),
                   Sample(((1, 2), (2, 2)), params={"p": 0.0})),
          kinks=(Kink(([[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]),
                      ([[-1.0, 0.0], [1.0, 0.0]], [[-1.0, 0.0], [1.0, 0.0]]), note="a zero distance gets gradient 0"),
                 Kink(([[1.0, -1.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]),
                      ([[1.0, -2.0], [2.0, 0.0]], [[-2.0, 1.0], [-1.0, 1.0]]), params={"p": math.inf},
                      note="coordinates tied at the largest difference each get the whole gradient, as PyTorch",
                      noted=False)),
          kink_check=KinkCheck(_zero_distance, "is a zero distance{where}, where it has no derivative: gradcli "
                               "uses the gradient 0 (as PyTorch)"))


# -- pdist: the distances between the rows of one matrix ---------------------------------------------
def _pdist(x, p=2.0):
    if x.ndim != 2:
        raise GradcliError(f"pdist takes a matrix of rows (N, M), not a value of shape {format_shape(x.shape)}",
                           kind="shape")
    length, (first, second) = x.shape[1], np.triu_indices(x.shape[0], 1)  # row-major, as torch's
    pairs = len(first)

    def picked(which):  # the rows at which, one (1, M) matrix each
        taken = F.take(x, axis=0, indices=tuple(which.tolist()), index_shape=(pairs,), src=x.shape)
        return F.reshape(taken, src=(pairs, length), dst=(pairs, 1, length))

    # (a batch of one-row cdists: each pair's rule is cdist's, and no distance of a row to itself is made)
    distances = F.cdist(picked(first), picked(second), p=p, skips_nan=False)
    return F.reshape(distances, src=(pairs, 1, 1), dst=(pairs,))


composite(name="pdist", family="distance", signature="pdist(x, p=2)", composite=_pdist, keywords=("p",),
          kinds={"p": "real"}, method=False, torch_name="PdistBackward0", batching="loop",
          doc="the p-norm distance between every two rows of x (N, M), i < j in row-major order: N(N-1)/2 "
              "entries (torch.nn.functional.pdist)",
          samples=(Sample(((3, 2),)), Sample(((4, 3),), params={"p": 1.0}), Sample(((3, 2),), params={"p": math.inf}),
                   Sample(((3, 2),), params={"p": 3.0})))
