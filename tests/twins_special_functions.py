"""The special functions PyTorch has beside erf and sigmoid (gradcli/ops/gamma.py, normal.py, bessel.py,
entropy.py, nonfinite.py) in the differential suite: how torch computes each, and generator forms that
write them as PyTorch code does (torch.lgamma(x), x.digamma(), torch.special.ndtri(...),
torch.special.xlog1py(a, b), x.nan_to_num(posinf=2.0)).

Inputs come from any sub-expression, so poles (lgamma and digamma at 0 and the negative whole numbers),
erfinv beyond [-1, 1] and non-finite entries all meet torch's values there; ndtri and mvlgamma more
often take an input brought into their domain, as code that calls them usually does.
"""

from __future__ import annotations

import torch
import torch.special as S

T = torch.float64

# gradcli name -> how PyTorch spells a call of it on one argument (each a format of the argument's text)
_UNARY = {
    "lgamma": ("torch.lgamma({0})", "({0}).lgamma()", "torch.special.gammaln({0})"),
    "digamma": ("torch.digamma({0})", "({0}).digamma()", "torch.special.digamma({0})", "torch.special.psi({0})"),
    "erfinv": ("torch.erfinv({0})", "({0}).erfinv()", "torch.special.erfinv({0})"),
    "ndtr": ("torch.special.ndtr({0})",),
    "log_ndtr": ("torch.special.log_ndtr({0})",),
    "entr": ("torch.special.entr({0})",),
    "i0": ("torch.i0({0})", "({0}).i0()", "torch.special.i0({0})"),
    "i0e": ("torch.special.i0e({0})",),
    "i1": ("torch.special.i1({0})",),
    "i1e": ("torch.special.i1e({0})",),
}
_TORCH = {"lgamma": torch.lgamma, "digamma": torch.digamma, "erfinv": torch.erfinv, "ndtr": S.ndtr,
          "log_ndtr": S.log_ndtr, "entr": S.entr, "i0": torch.i0, "i0e": S.i0e, "i1": S.i1, "i1e": S.i1e}


def polygamma(x, n):
    return torch.polygamma(n, x)


def mvlgamma(x, p):
    return torch.mvlgamma(x, p)


def nan_to_num(x, **replacements):
    return torch.nan_to_num(x, **replacements)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator form in d.FORMS."""
    # (kind "special": the generator's own unary form picks among kind "unary", whose cases stay as they were)
    d.TWINS.update({name: d.Twin(fn, "special") for name, fn in _TORCH.items()})
    d.TWINS.update({"polygamma": d.Twin(polygamma, "special"), "mvlgamma": d.Twin(mvlgamma, "special"),
                    "ndtri": d.Twin(S.ndtri, "special"), "xlog1py": d.Twin(S.xlog1py, "binary"),
                    "nan_to_num": d.Twin(nan_to_num, "special")})
    # (not for vectors: the forms of a vector are many already, and each new one draws from their share)
    d.FORMS.append((lambda shape: len(shape) != 1, lambda b, shape, depth: _special(d, b, shape, depth)))


def _special(d, b, shape, depth):
    # ten functions of one argument, as often as the five other forms together
    return b.pick([_unary] * 5 + [_polygamma, _mvlgamma, _ndtri, _xlog1py, _nan_to_num])(d, b, shape, depth)


def _unary(d, b, shape, depth):
    name = b.pick(sorted(_UNARY))
    spelled = b.pick(_UNARY[name])
    inner = b.expr(shape, depth)
    return d._op_node(shape, [inner], lambda c: spelled.format(c[0]), name, lambda v, fn: fn(v[0]))


def _polygamma(d, b, shape, depth):
    n = b.pick([0, 1, 1, 2, 3])
    inner = b.expr(shape, depth)
    spelled = b.pick(["({0}).polygamma({1})", "({0}).polygamma(n={1})", "torch.polygamma({1}, {0})"])
    return d._op_node(shape, [inner], lambda c: spelled.format(c[0], n), "polygamma", lambda v, fn: fn(v[0], n))


def _mvlgamma(d, b, shape, depth):
    """torch.mvlgamma(x, p) of any value, or of y**2 + p (above (p - 1)/2, where no lgamma of it meets a pole)."""
    p = b.pick([1, 2, 3])
    inner = b.expr(shape, depth)
    if b.rng.random() < 0.7:
        inner = d.Node(shape, [inner], lambda c: f"({c[0]}) ** 2 + {p}", lambda v: v[0] ** 2 + p)
    spelled = b.pick(["torch.mvlgamma({0}, {1})", "torch.mvlgamma({0}, p={1})", "({0}).mvlgamma({1})",
                      "torch.special.multigammaln({0}, {1})"])
    return d._op_node(shape, [inner], lambda c: spelled.format(c[0], p), "mvlgamma", lambda v, fn: fn(v[0], p))


def _ndtri(d, b, shape, depth):
    """torch.special.ndtri(p) of a probability (a sigmoid), or of any value (nan outside [0, 1])."""
    inner = b.expr(shape, depth)
    if b.rng.random() < 0.7:
        inner = d.Node(shape, [inner], lambda c: f"torch.sigmoid({c[0]})", lambda v: torch.sigmoid(v[0]))
    return d._op_node(shape, [inner], lambda c: f"torch.special.ndtri({c[0]})", "ndtri", lambda v, fn: fn(v[0]))


def _xlog1py(d, b, shape, depth):
    x, y = b._broadcast_pair(shape, depth)
    return d._op_node(shape, [x, y], lambda c: f"torch.special.xlog1py({c[0]}, {c[1]})", "xlog1py",
                      lambda v, fn: fn(*v))


def _nan_to_num(d, b, shape, depth):
    inner = b.expr(shape, depth)
    written, given = b.pick([("", {}), ("nan=0.5", {"nan": 0.5}), ("posinf=2.0, neginf=-3.0", {"posinf": 2.0, "neginf": -3.0}),
                             ("1.0, 2.0, -2.0", {"nan": 1.0, "posinf": 2.0, "neginf": -2.0})])
    spelled = b.pick(["torch.nan_to_num({0}{1})", "({0}).nan_to_num({2})"])
    return d._op_node(shape, [inner], lambda c: spelled.format(c[0], f", {written}" if written else "", written),
                      "nan_to_num", lambda v, fn: fn(v[0], **given))
