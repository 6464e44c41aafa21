"""Reductions over the whole array or over `axis=`: sum, mean, prod, max, min, logsumexp, var, std.

Axes are stored negative (counted from the end), so a rule applied to a cotangent
with leading batch axes reduces and spreads the right ones.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.common import F, normalize_axes, reduced_shape, symmetric_jvp
from gradcli.ops.kinkchecks import saved_inputs
from gradcli.autodiff.op import Kink, KinkCheck, Sample, Words, primitive
from gradcli.autodiff.fused import total_replay
from gradcli.autodiff.trace import computed, decide

REDUCTION_SAMPLES = (
    Sample(((3,),)), Sample(((2, 3),)), Sample(((2, 3),), params={"axis": 0}),
    Sample(((2, 3),), params={"axis": -1}), Sample(((2, 3, 2),), params={"axis": (0, 2)}),
)


def _prepare(shape, axis=None, keepdims=False):
    return {"axis": normalize_axes(axis, len(shape)), "keepdims": bool(keepdims)}


def _prepare_ddof(shape, axis=None, keepdims=False, ddof=0):
    return {**_prepare(shape, axis, keepdims), "ddof": int(ddof)}


def _spread(n, g):
    """g (reduced shape, maybe batched) broadcast back over the reduced axes of the input."""
    shape = n.in_shapes[0]
    kept = reduced_shape(shape, n.params["axis"], keepdims=True)
    if not n.params["keepdims"]:
        g = F.reshape(g, src=n.out_shape, dst=kept)
    return F.expand(g, src=kept, dst=shape)


def _name(base, whole_array=0, along_axes=1):
    """PyTorch's node name: its overloads number them (sum() SumBackward0, sum(dim) SumBackward1; max()
    MaxBackward1, max(dim) MaxBackward0; logsumexp, which always takes dims, LogsumexpBackward0)."""
    def name(shapes, params):
        whole = len(params["axis"]) == len(shapes[0]) and not params["keepdims"]
        return f"{base}Backward{whole_array if whole else along_axes}"
    return name


def _sympy_reduce(combine):
    def rule(sp, x, axis, keepdims):
        axes = tuple(a + x.ndim for a in axis)
        out = np.empty(reduced_shape(x.shape, axis, keepdims), dtype=object)
        moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0))).reshape(out.shape + (-1,)) if axes else x[..., None]
        for index in np.ndindex(out.shape):
            out[index] = combine(sp, list(moved[index]))
        return out
    return rule


def _sympy_add(sp, xs):
    """sp.Add(*xs) with the plain numbers among xs summed first (math.fsum, exactly rounded).

    A translation leaves unsampled entries as floats; converting 10^5 of them to SymPy
    numbers one by one would take seconds, one fsum takes a millisecond.
    """
    numbers = [v for v in xs if isinstance(v, (int, float))]
    terms = [v for v in xs if not isinstance(v, (int, float))]
    return sp.Add(math.fsum(numbers), *terms) if numbers else sp.Add(*terms)


def reduction(name, forward, backward, sympy, doc, *, vjp, saves="inputs", kinks=(), kink_check=None,
              domain="real", aliases=(), numbers=(0, 1), **fields):
    """vjp: in words, what x receives from the upstream gradient g ({x}, {out}: sub-expressions); numbers:
    the Backward numbers of PyTorch's nodes over the whole array and along axes (see _name)."""
    primitive(name=name, doc=doc, signature=f"{name}(x, axis=None)", family="reduction",
              forward=lambda x, axis, keepdims: forward(x, axis, keepdims), backward=backward,
              shape=reduced_shape, sympy=_sympy_reduce(sympy), prepare=_prepare, keywords=("axis", "keepdims"),
              samples=tuple(Sample(s.shapes, domain, s.params) for s in REDUCTION_SAMPLES),
              words=Words(("x",), vjp=(vjp,)), saves=saves, kinks=kinks, kink_check=kink_check,
              torch_name=_name(name.capitalize(), *numbers), aliases=aliases, **fields)


def _size(shape, axis):
    """Entries reduced over: the mean's divisor (0 for an empty array, whose mean is nan)."""
    return float(np.prod([shape[a] for a in axis])) if shape else 1.0


def _count(n):
    return _size(n.in_shapes[0], n.params["axis"])


def _prod_others(x, axis):
    """For each entry, the product of the others along axis: exact when entries are 0."""
    if not axis or x.size == 0:
        return np.ones_like(x)
    axes = tuple(a + x.ndim for a in axis)
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis((left * right).reshape(moved.shape), tuple(range(-len(axes), 0)), axes)


def _prod_others_backward(n, u):
    # d/dx_k sum_i u_i prod_{j != i} x_j = sum_{i != k} u_i prod_{j not in {i, k}} x_j
    x, axis = n.x, n.params["axis"]
    others = F.prod_others(x, axis=axis)
    if decide(_nonzero_finite, x):
        weighted = u * others
        total = F.sum(weighted, axis=axis, keepdims=True)
        return ((total - weighted) / x,)
    # NOTE: with zeros (or inf, nan) the quotient form divides by 0 (or makes inf - inf);
    # take the exact (slower) sum instead.
    return (computed(lambda u, data: _exact_prod_others_vjp(u, data, axis), u, x),)


def _nonzero_finite(a):
    return bool(np.all(a != 0) and np.all(np.isfinite(a)))


def _has_posinf(a):
    return bool(np.any(np.isposinf(a)))


def _exact_prod_others_vjp(u, data, axis):
    out = np.zeros(np.broadcast_shapes(u.shape, data.shape), np.result_type(u, data))
    axes = tuple(a + data.ndim for a in axis)
    for k in np.ndindex(tuple(data.shape[a] for a in axes)):
        spot = [slice(None)] * data.ndim
        for a, i in zip(axes, k):
            spot[a] = i
        replaced = data.copy()
        replaced[tuple(spot)] = 1.0
        term = u * _prod_others(replaced, axis)
        term[(Ellipsis, *spot)] = 0.0
        out[(Ellipsis, *spot)] = np.sum(term, axis=axis)
    return out


primitive(name="prod_others", batching="trailing", doc="product of the other entries along axis", signature="prod_others(x)",
          family="internal", public=False, forward=_prod_others, backward=_prod_others_backward,
          jvp=symmetric_jvp,  # the Jacobian of the products of the others is symmetric
          taylor=lambda n, x: T.product_of_others(x, T.series_axis(n.params["axis"], x.ndim - 1)),
          shape=lambda s, axis: s, sympy=lambda sp, x, axis: _prod_others(x, axis),
          words=Words(("x",), vjp=("for each entry, g summed over the products that include it",)),
          samples=(Sample(((4,),), params={"axis": (-1,)}), Sample(((2, 3),), params={"axis": (-2,)})))


def _extreme_backward(n, g):
    ans = _spread(n, n.ans)
    # A nan entry is the extreme (max of [nan, 1] is nan) and takes the gradient, as PyTorch's.
    mask = F.eq(n.x, ans) + F.ne(n.x, n.x) * F.ne(ans, ans)
    # NOTE: ties share the gradient evenly, as PyTorch's max/min reductions do; the others
    # get 0 selected, not g × 0, so an inf or nan g stays with the extremes (as PyTorch).
    count = F.sum(mask, axis=n.params["axis"], keepdims=True)
    return (F.where(mask, _spread(n, g) / count, 0.0),)


def _tied_extremes(extreme):
    """A kink check: the reduced entries where extreme (np.max, np.min) is reached more than once."""
    def at(node):
        x, axis = saved_inputs(node)[0], node.params["axis"]
        if x.size == 0 or not axis:
            return None
        best = extreme(x, axis=axis, keepdims=True)
        return np.asarray(np.sum(x == best, axis=axis) > 1)
    return at


def _extreme_note(at):
    return KinkCheck(at, "has a tie for the {op}imum{where}: the tied entries share the gradient evenly (as "
                     "PyTorch's {op}()); an arg{op} rule (torch.{op}(x, dim)) would give all of it to one entry")


def _equal_entries(node):
    x, axis = saved_inputs(node)[0], node.params["axis"]
    return np.asarray(np.ptp(x, axis=axis) == 0) if axis and x.size else None


def _logsumexp(x, axis, keepdims):
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def _keep(n, s):
    """A reduced series shaped as the output (the reduced axes kept where keepdims asks)."""
    return s.reshape((len(s),) + n.ans.shape)


def _extreme_taylor(n, x, pick):
    return T.extreme(x, T.series_axis(n.params["axis"], x.ndim - 1), pick, n.params["keepdims"])


def _logsumexp_taylor(n, x):
    axis, keep = T.series_axis(n.params["axis"], x.ndim - 1), n.params["keepdims"]
    peak = np.max(x[:1], axis=axis, keepdims=True)[0]
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return T.log(np.sum(T.exp(T.offset(x, -peak)), axis=axis, keepdims=keep))


def _spread_taylor(n, x, root):
    axis, keep = T.series_axis(n.params["axis"], x.ndim - 1), n.params["keepdims"]
    count = x[0].size // max(1, np.size(n.ans))
    centred = x - np.mean(x, axis=axis, keepdims=True)
    var = np.sum(T.cauchy(centred, centred), axis=axis, keepdims=keep) / (count - n.params["ddof"])
    if not root:
        return var
    with np.errstate(divide="ignore", invalid="ignore"):
        std = T.power(var, 0.5, n.ans)
    # Equal entries (std 0, a kink): gradient 0 as PyTorch's, so a constant, as the zero vector's norm.
    return T.select(n.ans == 0, T.constant(n.ans, len(x) - 1), std)


def _sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def _mean(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims) / _size(x.shape, axis)


reduction("sum", _sum, lambda n, g: (_spread(n, g),), _sympy_add, "sum of the entries", saves="none",
          vjp="g, copied to every summed entry (∂sum/∂xᵢ = 1)", taylor=T.linear,
          replay=total_replay(_sum, mean=False))
reduction("mean", _mean,
          # NOTE: divide the reduced cotangent, then spread it: one small division, not one per entry.
          lambda n, g: (_spread(n, g / _count(n)),), lambda sp, xs: _sympy_add(sp, xs) / len(xs),
          "mean of the entries", saves="none",
          vjp="g / n, copied to each of the n averaged entries (∂mean/∂xᵢ = 1/n)", taylor=T.linear,
          replay=total_replay(_mean, mean=True))
reduction("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
          lambda n, g: (_spread(n, g) * F.prod_others(n.x, axis=n.params["axis"]),),
          lambda sp, xs: sp.Mul(*xs), "product of the entries (exact gradient with zero entries)",
          vjp="g × the product of the other entries (∂prod/∂xᵢ = ∏ⱼ≠ᵢ xⱼ)",
          taylor=lambda n, x: _keep(n, T.product(x, T.series_axis(n.params["axis"], x.ndim - 1))),
          kinks=(Kink(([0.0, 2.0, 3.0],), ([6.0, 0.0, 0.0],), note="one zero entry", noted=False),))
reduction("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), _extreme_backward,
          lambda sp, xs: sp.Max(*xs), "largest entry (ties share the gradient evenly)", saves="both",
          numbers=(1, 0), pair="argmax", pair_along=True,
          vjp="g, to the entries equal to the maximum (shared evenly at a tie)",
          taylor=lambda n, x: _extreme_taylor(n, x, np.max),
          kinks=(Kink(([1.0, 3.0, 3.0],), ([0.0, 0.5, 0.5],), note="a tie shares the gradient"),),
          kink_check=_extreme_note(_tied_extremes(np.max)))
reduction("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), _extreme_backward,
          lambda sp, xs: sp.Min(*xs), "smallest entry (ties share the gradient evenly)", saves="both",
          numbers=(1, 0), pair="argmin", pair_along=True,
          vjp="g, to the entries equal to the minimum (shared evenly at a tie)",
          taylor=lambda n, x: _extreme_taylor(n, x, np.min),
          kinks=(Kink(([2.0, 2.0, 3.0],), ([0.5, 0.5, 0.0],), note="a tie shares the gradient"),),
          kink_check=_extreme_note(_tied_extremes(np.min)))
def _logsumexp_backward(n, g):
    # NOTE: softmax(x), computed from x itself: PyTorch's exp(x - ans) loses digits once
    # |ans| is so large that ans - max(x) rounds away (|x| ~ 1e16 and beyond).
    weights = F.softmax(n.x, axis=n.params["axis"])
    if decide(_has_posinf, n.ans):
        # With an entry +inf, softmax is nan throughout; exp(x - inf) gives finite entries 0
        # and the infinite ones nan, as PyTorch's rule.
        ans = _spread(n, n.ans)
        weights = F.where(F.eq(ans, np.inf), F.exp(n.x - ans), weights)
    return (_spread(n, g) * weights,)


reduction("logsumexp", _logsumexp, _logsumexp_backward,
          lambda sp, xs: sp.log(sp.Add(*[sp.exp(v) for v in xs])),
          "log(sum(exp(x))), computed without overflow", saves="both",
          vjp="g × softmax({x}) = g × exp({x} - {out})", taylor=_logsumexp_taylor, numbers=(0, 0))


def _centred(x, axis):
    """x minus its mean along axis, exactly 0 where the entries are equal.

    NOTE: sum/n rounds (three 0.1s have the mean 0.1 + 1 ulp); subtracting the mean of
    the residuals corrects it, so equal entries give exactly 0, as PyTorch's reductions
    along a dim do, and their std is exactly 0.
    """
    size = _size(x.shape, axis)
    residual = x - np.sum(x, axis=axis, keepdims=True) / size
    return residual - np.sum(residual, axis=axis, keepdims=True) / size


def _var(x, axis, keepdims, ddof):
    centred = _centred(x, axis)
    return np.sum(centred * centred, axis=axis, keepdims=keepdims) / (_size(x.shape, axis) - ddof)


def _var_backward(n, g):
    """PyTorch's var_backward: g × 2 (x - mean) / (count - ddof), g spread over the reduced axes."""
    x, axis = n.x, n.params["axis"]
    divisor = _count(n) - n.params["ddof"]  # 0 for one entry with ddof=1: 2/0 = inf, and nan below
    return (g * (x - F.mean(x, axis=axis, keepdims=True)) * (2.0 / divisor if divisor else math.inf),)


def _std_backward(n, g):
    # PyTorch's std_backward: the variance's rule with g / (2 std), replaced by 0 where std is
    # 0 (equal entries: no derivative there; PyTorch and gradcli use 0). Its own derivative
    # there is 0 along x and nan along g (0/0), as PyTorch's.
    ans = _spread(n, n.ans)
    return _var_backward(n, F.where(F.eq(ans, 0.0), 0.0, _spread(n, g) / (2.0 * ans)))


def _std_jvp(n, tangents):
    """d std = d var / (2 std), with d var = sum(2 (x - mean) t) / (count - ddof); 0 where std is 0, as
    the backward rule (a rule that masks a 0/0 does not transpose into one that does)."""
    x, axis = n.x, n.params["axis"]
    divisor = _count(n) - n.params["ddof"]
    centred = x - F.mean(x, axis=axis, keepdims=True)
    dvar = F.sum(tangents[0] * centred, axis=axis, keepdims=n.params["keepdims"]) * \
        (2.0 / divisor if divisor else math.inf)
    return F.where(F.eq(n.ans, 0.0), 0.0, dvar / (2.0 * n.ans))


def _sympy_spread(root):
    def rule(sp, x, axis, keepdims, ddof):
        def combine(sp, xs):
            mean = _sympy_add(sp, xs) / len(xs)
            var = _sympy_add(sp, [(v - mean) ** 2 for v in xs]) / (len(xs) - ddof)
            return sp.sqrt(var) if root else var
        return _sympy_reduce(combine)(sp, x, axis, keepdims)
    return rule


def _divisor_doc(name):
    return (f"divided by n - ddof: ddof=0 as numpy for {name}(x) and np.{name}, 1 as PyTorch for x.{name}() and "
            f"torch.{name} (ddof=, correction=, unbiased= choose)")


SPREAD_SAMPLES = REDUCTION_SAMPLES + (Sample(((2, 3),), params={"axis": 1, "ddof": 1}),)
primitive(name="var", doc="variance, " + _divisor_doc("var"), signature="var(x, axis=None)", family="reduction",
          forward=_var, backward=lambda n, g: _var_backward(n, _spread(n, g)), shape=reduced_shape,
          sympy=_sympy_spread(root=False), prepare=_prepare_ddof, taylor=lambda n, x: _spread_taylor(n, x, False),
          keywords=("axis", "keepdims", "ddof"),
          torch_defaults={"ddof": 1}, torch_name="VarBackward0", samples=SPREAD_SAMPLES,
          words=Words(("x",), vjp=("g × 2 ({x} - mean({x})) / (count - ddof)",)))
primitive(name="std", doc="standard deviation, " + _divisor_doc("std") + "; gradient 0 where all entries are equal",
          signature="std(x, axis=None)", family="reduction",
          forward=lambda x, axis, keepdims, ddof: np.sqrt(_var(x, axis, keepdims, ddof)), backward=_std_backward,
          jvp=_std_jvp,
          shape=reduced_shape, sympy=_sympy_spread(root=True), prepare=_prepare_ddof,
          taylor=lambda n, x: _spread_taylor(n, x, True),
          keywords=("axis", "keepdims", "ddof"), torch_defaults={"ddof": 1}, torch_name="StdBackward0",
          samples=SPREAD_SAMPLES, saves="both",
          words=Words(("x",), vjp=("g × ({x} - mean({x})) / ((count - ddof) × {out}) (0 where the entries are "
                                   "equal)",)),
          kinks=(Kink(([1.0, 1.0, 1.0],), ([0.0, 0.0, 0.0],), note="equal entries get gradient 0"),
                 Kink(([0.1, 0.1, 0.1],), ([0.0, 0.0, 0.0],), note="equal entries whose sum rounds")),
          kink_check=KinkCheck(_equal_entries, "is the standard deviation of equal entries{where}, where it has "
                               "no derivative: gradcli uses the gradient 0 (as PyTorch); the formula "
                               "(x - mean)/(n*std) would give 0/0 = nan"))
