"""Matrix products added to a value, as PyTorch's addmm, addmv, addr, baddbmm and addbmm
(beta * input + alpha * product), and the vector products inner and vdot.

Each affine product is a primitive, as in PyTorch (its node is AddmmBackward0 and so on), whose
rule is derivatives.yaml's: input gets beta g, the factors alpha times the product's own
cotangents (maybe_multiply: no product where a scalar is 1). As PyTorch's kernels, beta = 0
ignores input (a nan there does not pass); alpha = 0 ignores the product in addmm, addmv and
addbmm only (addr and baddbmm multiply it by 0, so an inf there gives nan).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from gradcli.autodiff.op import Sample, Words, composite, primitive
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, broadcast_shapes

SCALARS = {"beta": "real", "alpha": "real"}


def _scaled(t, s):
    # derivatives.yaml's maybe_multiply: t itself where the scalar is 1
    return t if s == 1 else t * s


@dataclass(frozen=True)
class Product:
    """One affine product's factor shapes, forward, cotangents and SymPy form.

    shape(s1, s2) -> the product's shape (raises on a misfit); of(a, b) -> the product (numpy, also
    of SymPy object arrays); first(g, a, b), second(g, a, b) -> the factors' cotangents (rules on
    trailing axes); zero_alpha_skips: whether PyTorch's kernel leaves the product out at alpha = 0.
    """

    shape: Callable
    of: Callable
    first: Callable
    second: Callable
    zero_alpha_skips: bool


def _fits(name, s1, s2, ranks, inner):
    if (len(s1), len(s2)) != ranks or not inner:
        raise GradcliError(f"{name}: factors of shapes {format_shape(s1)} and {format_shape(s2)} do not fit",
                           kind="shape")


def _mm_shape(s1, s2):
    _fits("addmm", s1, s2, (2, 2), s1[-1] == s2[0])
    return (s1[0], s2[1])


def _mv_shape(s1, s2):
    _fits("addmv", s1, s2, (2, 1), s1[-1] == s2[0])
    return (s1[0],)


def _r_shape(s1, s2):
    _fits("addr", s1, s2, (1, 1), True)
    return (s1[0], s2[0])


def _bmm_shape(name):
    def shape(s1, s2):
        _fits(name, s1, s2, (3, 3), s1[0] == s2[0] and s1[2] == s2[1])
        return (s1[0], s1[1], s2[2]) if name == "baddbmm" else (s1[1], s2[2])
    return shape


def _row(g, out):
    """g with a unit axis before its last two (a batch of one, for addbmm's factors)."""
    return F.reshape(g, src=out, dst=(1,) + out)


PRODUCTS = {
    "addmm": Product(_mm_shape, lambda a, b: np.matmul(a, b), lambda g, a, b: g @ b.mT, lambda g, a, b: a.mT @ g,
                     zero_alpha_skips=True),
    "addmv": Product(_mv_shape, lambda a, b: np.matmul(a, b),
                     lambda g, a, b: F.reshape(g, src=a.shape[:1], dst=a.shape[:1] + (1,)) * b,
                     lambda g, a, b: g @ a, zero_alpha_skips=True),
    "addr": Product(_r_shape, lambda a, b: np.multiply.outer(a, b), lambda g, a, b: g @ b, lambda g, a, b: a @ g,
                    zero_alpha_skips=False),
    "baddbmm": Product(_bmm_shape("baddbmm"), lambda a, b: np.matmul(a, b), lambda g, a, b: g @ b.mT,
                       lambda g, a, b: a.mT @ g, zero_alpha_skips=False),
    "addbmm": Product(_bmm_shape("addbmm"), lambda a, b: sum(np.matmul(a, b)),
                      lambda g, a, b: _row(g, (a.shape[1], b.shape[2])) @ b.mT,
                      lambda g, a, b: a.mT @ _row(g, (a.shape[1], b.shape[2])), zero_alpha_skips=True),
}


def _affine_forward(name):
    product = PRODUCTS[name]

    def forward(c, a, b, beta=1.0, alpha=1.0):
        out_shape = product.shape(a.shape, b.shape)
        if alpha == 0 and product.zero_alpha_skips:
            made = np.zeros(out_shape, np.result_type(a, b))
        else:
            made = product.of(a, b)
            made = made if alpha == 1 else alpha * made
        return made if beta == 0 else made + (c if beta == 1 else beta * c)

    def one_by_one(c, a, b, beta=1.0, alpha=1.0):
        # As PyTorch's addbmm: input scaled first, then each matrix product added in turn.
        out = np.zeros(product.shape(a.shape, b.shape), np.result_type(c, a, b))
        out = out if beta == 0 else out + (c if beta == 1 else beta * c)
        if alpha == 0:
            return out
        for a_i, b_i in zip(a, b):
            made = np.matmul(a_i, b_i)
            out = out + (made if alpha == 1 else alpha * made)
        return out
    return one_by_one if name == "addbmm" else forward


def _affine_shape(name):
    def shape(c, s1, s2, beta=1.0, alpha=1.0):
        out = PRODUCTS[name].shape(s1, s2)
        if broadcast_shapes(c, out) != out:
            raise GradcliError(f"{name}: input of shape {format_shape(c)} does not broadcast to the product's "
                               f"{format_shape(out)}", kind="shape")
        return out
    return shape


def _affine_backward(name):
    product = PRODUCTS[name]

    def backward(n, g):
        beta, alpha = n.params.get("beta", 1.0), n.params.get("alpha", 1.0)
        _, a, b = n.inputs
        return (_scaled(g, beta) if n.needs[0] else None,
                _scaled(product.first(g, a, b), alpha) if n.needs[1] else None,
                _scaled(product.second(g, a, b), alpha) if n.needs[2] else None)
    return backward


def _affine_taylor(n, c, a, b):
    # beta c + alpha (a b): the product's Cauchy series, term by term
    product, beta, alpha = PRODUCTS[n.op.name], n.params.get("beta", 1.0), n.params.get("alpha", 1.0)
    out = np.zeros((len(c),) + n.ans.shape, n.ans.dtype)
    if not (alpha == 0 and product.zero_alpha_skips):
        for k in range(len(out)):
            out[k] = alpha * sum(product.of(a[j], b[k - j]) for j in range(k + 1))
    if beta == 0:
        return out
    c = c.reshape(c.shape[:1] + (1,) * (out.ndim - c.ndim) + c.shape[1:])  # (input's axes under the output's)
    return out + beta * c


def _affine_sympy(name):
    def sympy(sp, c, a, b, beta=1.0, alpha=1.0):
        made = np.asarray(PRODUCTS[name].of(a, b), dtype=object)
        made = made if alpha == 1 else made * alpha
        return made if beta == 0 else np.asarray(made + (c if beta == 1 else c * beta), dtype=object)
    return sympy


def _affine(name, signature, doc, factors, samples, vjp):
    primitive(name=name, family="linalg", signature=signature, doc=doc, forward=_affine_forward(name),
              backward=_affine_backward(name), shape=_affine_shape(name), sympy=_affine_sympy(name),
              taylor=_affine_taylor, arity=3, inputs=("input", *factors), keywords=("beta", "alpha"), positional=0,
              kinds=SCALARS, batching="loop",
              words=Words(("input", *factors), vjp=("beta × g", *vjp)),
              samples=(*samples, Sample(samples[0].shapes, params={"beta": 0.5, "alpha": -2.0}),
                       Sample(samples[0].shapes, params={"beta": 0.0})))


_affine("addmm", "addmm(input, mat1, mat2, *, beta=1, alpha=1)", "beta × input + alpha × (mat1 @ mat2), "
        "matrices (n, m) and (m, p), input broadcast to (n, p) (torch.addmm; beta = 0 ignores input)",
        ("mat1", "mat2"), (Sample(((2, 4), (2, 3), (3, 4))), Sample(((4,), (2, 3), (3, 4)))),
        ("alpha × g @ {mat2}ᵀ", "alpha × {mat1}ᵀ @ g"))
_affine("addmv", "addmv(input, mat, vec, *, beta=1, alpha=1)", "beta × input + alpha × (mat @ vec), mat (n, m), "
        "vec (m,), input broadcast to (n,) (torch.addmv; beta = 0 ignores input)",
        ("mat", "vec"), (Sample(((2,), (2, 3), (3,))), Sample(((), (2, 3), (3,)))),
        ("alpha × outer(g, {vec})", "alpha × {mat}ᵀ @ g"))
_affine("addr", "addr(input, vec1, vec2, *, beta=1, alpha=1)", "beta × input + alpha × outer(vec1, vec2), input "
        "broadcast to (n, m) (torch.addr; beta = 0 ignores input)",
        ("vec1", "vec2"), (Sample(((2, 3), (2,), (3,))), Sample(((3,), (2,), (3,)))),
        ("alpha × g @ {vec2}", "alpha × {vec1} @ g"))
_affine("baddbmm", "baddbmm(input, batch1, batch2, *, beta=1, alpha=1)", "beta × input + alpha × (batch1 @ batch2) "
        "for each of b matrices (b, n, m) and (b, m, p), input broadcast to (b, n, p) (torch.baddbmm)",
        ("batch1", "batch2"), (Sample(((2, 2, 4), (2, 2, 3), (2, 3, 4))), Sample(((2, 4), (2, 2, 3), (2, 3, 4)))),
        ("alpha × g @ {batch2}ᵀ", "alpha × {batch1}ᵀ @ g"))
_affine("addbmm", "addbmm(input, batch1, batch2, *, beta=1, alpha=1)", "beta × input + alpha × the sum over b of "
        "batch1[b] @ batch2[b], (b, n, m) and (b, m, p), input broadcast to (n, p) (torch.addbmm)",
        ("batch1", "batch2"), (Sample(((2, 4), (2, 2, 3), (2, 3, 4))), Sample(((4,), (3, 2, 3), (3, 3, 4)))),
        ("alpha × g @ {batch2}ᵀ for each b", "alpha × {batch1}ᵀ @ g for each b"))


# -- inner and vdot ----------------------------------------------------------------------------------
def _inner(a, b):
    # As torch.inner: a number times the other; else the sum over both last axes (a's leading axes first).
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim == 1 and b.ndim == 1:
        return F.matmul(a, b)
    return F.tensordot(a, b, dims=([-1], [-1]))


def _inner_name(shapes, params):
    return "MulBackward0" if () in shapes else "ViewBackward0"


composite(name="inner", family="linalg", signature="inner(a, b)", composite=_inner, arity=2, torch_name=_inner_name,
          doc="the sum of products over the last axes of a and b: a (..., n), b (..., n) to a's leading axes then "
              "b's (torch.inner; a number times the other)",
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (4, 3))), Sample(((2, 2, 3), (3,))), Sample(((), (2, 3)))))


def _vdot(a, b):
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise GradcliError(f"vdot takes two vectors of one length, not {format_shape(a.shape)} and "
                           f"{format_shape(b.shape)}", kind="shape")
    return F.matmul(a, b)  # (real numbers: conjugating a changes nothing)


composite(name="vdot", family="linalg", signature="vdot(a, b)", composite=_vdot, arity=2, torch_name="VdotBackward0",
          doc="the dot product of two vectors (torch.vdot, which conjugates a: the same for real numbers)",
          samples=(Sample(((3,), (3,))),))
