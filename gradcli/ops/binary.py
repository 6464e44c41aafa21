"""Arithmetic operators and elementwise functions of several arguments, with broadcasting.

Rules return cotangents shaped like the broadcast output; the engine sums them back to
each input's shape, once. The product's rule may return a scalar factor's cotangent
already summed (a dot product, see factor_cotangent).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, broadcast_shapes, factor_cotangent, sympy_elementwise, zeros_like
from gradcli.ops.kinkchecks import broadcast_mask, equal_arguments, saved_inputs
from gradcli.autodiff.op import Kink, KinkCheck, Sample, Words, primitive
from gradcli.autodiff.power import power
from gradcli.autodiff.trace import decide

PAIR_SAMPLES = ((3,), (3,)), ((2, 3), (3,)), ((), (2, 3)), ((2, 1), (1, 3))


def pair_samples(domain: str | tuple[str, ...] = "real") -> tuple[Sample, ...]:
    return tuple(Sample(shapes, domain) for shapes in PAIR_SAMPLES)


def binary(name: str, symbol: str, forward, backward, sympy, doc: str, *, local: tuple[str, str],
           domain="real", saves="inputs", torch_name="", kinks=(), kink_check=None, aliases=(), taylor=None) -> None:
    """local: d out / da and d out / db in the expression language, over a, b and out; taylor: the rule on
    series (autodiff/taylor.py)."""
    primitive(
        name=name, doc=doc, signature=f"a {symbol} b" if symbol else f"{name}(a, b)",
        family="operator" if symbol else "binary", forward=forward, backward=backward,
        shape=broadcast_shapes, sympy=sympy_elementwise(sympy), samples=pair_samples(domain),
        words=Words(("a", "b"), local), saves=saves, torch_name=torch_name, kinks=kinks,
        kink_check=kink_check, arity=2, symbol=symbol, aliases=aliases, elementwise=True, taylor=taylor,
    )


def _zero_to_the_zero(node):
    a, b = saved_inputs(node)
    # Most exponents are a nonzero constant: then no entry can be 0**0, and x need not be scanned.
    if not node.needs[0] or not np.any(b == 0):
        return None
    return broadcast_mask((a == 0) & (b == 0), a, b)


TIE = KinkCheck(equal_arguments, "has a tie between its arguments{where}: each side gets half the gradient (as "
                "PyTorch's {op}); choosing one side would give it the whole gradient and the other 0")


def _pow_backward(n, g):
    # NOTE: each path reads g once, so the backward pass may give g up to the product.
    a, b = n.x, n.y
    if n.needs[1]:
        return _pow_cotangents(n, g, a, b)
    if b.requires_grad or b.ndim:
        return _pow_base_cotangent(g, a, b), None
    # A constant exponent (x**2): no mask needed unless it is 0, and 2 is common.
    c = decide(float, b)
    if c == 0.0:
        return zeros_like(g), None  # as torch: x**0 is 1 everywhere, whatever g holds
    if c == 1.0:
        return g, None
    if c != 2.0:  # torch's grad * (c * a.pow(c - 1)): a**2 is a*a, a**-0.5 1/sqrt(a) (autodiff/power.py)
        return g * (a ** (c - 1.0) * c), None
    if n.uniform is not None:  # a sum's cotangent: one pass over a, none over g (2v is exact)
        return a * (2.0 * n.uniform), None
    if n.batch:  # batch axes: 2a is the small factor, one pass over g
        return g * (a * 2.0), None
    return g * a * 2.0, None  # g * 2a as (g a) 2: doubling is exact, and no array is made for 2a


def _pow_base_cotangent(g, a, b):
    # d/da a**b = b a**(b-1), 0 where b == 0 whatever a and g are (as torch). At b == 0 the
    # product is 0 or nan (a = 0 or nan, g inf or nan), so masking only its nan entries
    # keeps d/db of this rule (1/a at b = 0): the Hessian of a**b stays symmetric there.
    base = g * (b * a ** (b - 1.0))
    return F.where(F.eq(b, 0.0) * F.ne(base, base), 0.0, base)


def _pow_cotangents(n, g, a, b):
    # d/db a**b = a**b log(a), taken as 0 where a == 0 and b >= 0 (torch's pow_backward_exponent).
    mask = F.eq(a, 0.0) * F.ge(b, 0.0)
    return (_pow_base_cotangent(g, a, b) if n.needs[0] else None,
            g * F.where(mask, 0.0, a ** b * F.log(a)))


def _pow_taylor(n, a, b):
    # A constant exponent: the power recurrence (repeated products for a whole one); else exp(b log a).
    if T.is_constant(b):
        return T.power(a, b[0], n.ans)
    return T.exp(T.cauchy(b, T.log(a)), n.ans)


def _extreme_taylor(a, b, a_wins):
    """maximum's and minimum's series: the winner's, and at a tie the mean of both (each gets half, as
    the gradient)."""
    return np.where(a_wins, a, np.where(a[0] == b[0], (a + b) * 0.5, b))


def _maximum_backward(n, g, larger=True):
    # As torch: where(a == b, g/2, g), then 0 for the side that loses. Selections, not products
    # with a mask, so an inf g does not become nan; at a nan neither side loses: both get g.
    a, b = n.x, n.y
    tie = F.eq(a, b)
    shared = F.where(tie, g * 0.5, g) if decide(np.any, tie) else g  # (most evaluations have no tie)
    a_loses, b_loses = (F.lt(a, b), F.gt(a, b)) if larger else (F.gt(a, b), F.lt(a, b))
    return (F.where(a_loses, 0.0, shared) if n.needs[0] else None,
            F.where(b_loses, 0.0, shared) if n.needs[1] else None)


binary("add", "+", np.add, lambda n, g: (g, g), lambda sp, a, b: a + b, "sum", saves="none", local=("1", "1"),
       aliases=("add",), taylor=T.linear)
binary("sub", "-", np.subtract, lambda n, g: (g, -g if n.needs[1] else None), lambda sp, a, b: a - b,
       "difference", saves="none", local=("1", "-1"), aliases=("sub", "subtract"), taylor=T.linear)
binary("mul", "*", np.multiply,
       lambda n, g: (factor_cotangent(n, g, 0, n.y) if n.needs[0] else None,
                     factor_cotangent(n, g, 1, n.x) if n.needs[1] else None),
       lambda sp, a, b: a * b, "product", local=("b", "a"), aliases=("mul", "multiply"),
       taylor=lambda n, a, b: T.cauchy(a, b))
binary("div", "/", np.divide,
       # NOTE: b's cotangent in torch's form, -g * ((a / b) / b), so that overflow, 0 and inf
       # give its numbers (a / b**2 overflows where (a / b) / b need not).
       lambda n, g: (g / n.y if n.needs[0] else None, -(g * (n.x / n.y / n.y)) if n.needs[1] else None),
       lambda sp, a, b: a / b, "quotient", domain=("real", "nonzero"), local=("1/b", "-a/b**2"),
       aliases=("div", "divide", "true_divide"), taylor=lambda n, a, b: T.divide(a, b))
binary("pow", "**", power, _pow_backward, lambda sp, a, b: a ** b,
       "power a**b (also a^b and pow(a, b)); a numeric exponent gets no gradient",
       domain=("positive", "real"), aliases=("pow", "power"), local=("b*a**(b - 1)", "out*log(a)"), taylor=_pow_taylor,
       kinks=(Kink((0.0, 0.0), (0.0, 0.0), note="d/dx x**0 = 0 at x = 0"),),
       kink_check=KinkCheck(_zero_to_the_zero, "has base 0 and exponent 0{where}: gradcli uses d/dx x**0 = 0 "
                            "(x**0 is 1 everywhere, as PyTorch); the formula b*x**(b - 1) would give "
                            "0*0**-1 = 0*inf = nan"))
binary("maximum", "", np.maximum, _maximum_backward,
       lambda sp, a, b: sp.Piecewise((a, a > b), ((a + b) / 2, sp.Eq(a, b)), (b, True)),
       "elementwise larger of a and b (a tie gives each side half the gradient; nan gives both all of it)",
       local=("where(a < b, 0, where(a == b, 0.5, 1))", "where(a > b, 0, where(a == b, 0.5, 1))"),
       kinks=(Kink((1.0, 1.0), (0.5, 0.5), note="a tie gives each side half"),), kink_check=TIE,
       taylor=lambda n, a, b: _extreme_taylor(a, b, a[0] > b[0]))
binary("minimum", "", np.minimum, lambda n, g: _maximum_backward(n, g, larger=False),
       lambda sp, a, b: sp.Piecewise((a, a < b), ((a + b) / 2, sp.Eq(a, b)), (b, True)),
       "elementwise smaller of a and b (a tie gives each side half the gradient; nan gives both all of it)",
       local=("where(a > b, 0, where(a == b, 0.5, 1))", "where(a < b, 0, where(a == b, 0.5, 1))"),
       kinks=(Kink((1.0, 1.0), (0.5, 0.5), note="a tie gives each side half"),), kink_check=TIE,
       taylor=lambda n, a, b: _extreme_taylor(a, b, a[0] < b[0]))

for _name, _symbol, _fn, _rel in (
    ("lt", "<", np.less, "Lt"), ("le", "<=", np.less_equal, "Le"), ("gt", ">", np.greater, "Gt"),
    ("ge", ">=", np.greater_equal, "Ge"), ("eq", "==", np.equal, "Eq"), ("ne", "!=", np.not_equal, "Ne"),
):
    _numpy_name = _fn.__name__  # less, greater_equal, ...
    primitive(
        name=_name, doc=f"1.0 where a {_symbol} b else 0.0 (a mask for where; no gradient)",
        signature=f"a {_symbol} b", family="comparison",
        forward=lambda a, b, _fn=_fn: _fn(a, b).astype(np.result_type(a, b)), shape=broadcast_shapes,
        sympy=sympy_elementwise(lambda sp, a, b, _rel=_rel: sp.Piecewise((1, getattr(sp, _rel)(a, b)), (0, True))),
        samples=pair_samples(), differentiable=False, arity=2, symbol=_symbol, elementwise=True,
        aliases=(_name, _numpy_name),
    )


def _select(c, a, b):
    """np.where(c != 0, a, b) as bits: b ^ ((a ^ b) & mask), so inf and nan pass as they are.

    NOTE: np.where branches on every entry, slow on masks that change often (relu's, a
    tie's); this form runs at the speed of arithmetic. Where one side is 0 (a rule's mask),
    the selection is `other & mask`, made in the mask's own buffer.
    """
    dtype = np.result_type(a, b)  # float32 when an array is (a python number follows it)
    bits = np.int32 if dtype == np.float32 else np.int64
    a_bits, b_bits = (np.asarray(v, dtype).view(bits) for v in (a, b))
    shape = np.broadcast_shapes(np.shape(c), a_bits.shape, b_bits.shape)
    zero_a = a_bits.ndim == 0 and a_bits == 0
    if zero_a or (b_bits.ndim == 0 and b_bits == 0):
        kept, keep = (b_bits, c == 0) if zero_a else (a_bits, c != 0)
        # The other side's bits times 1 or 0: one pass, and +0.0 where it is not taken.
        out = np.multiply(kept, np.broadcast_to(keep, shape), dtype=bits)
        return out.view(dtype)
    mask = np.asarray(c != 0).astype(bits)
    np.negative(mask, out=mask)
    out = np.bitwise_xor(a_bits, b_bits, out=np.empty(shape, bits))
    np.bitwise_and(out, mask, out=out)
    return np.bitwise_xor(out, b_bits, out=out).view(dtype)


def _where_shape(c, a, b, **_):
    return broadcast_shapes(c, a, b)


primitive(
    name="where", doc="a where cond is nonzero, else b (cond gets no gradient)",
    signature="where(cond, a, b)", family="binary",
    forward=_select,
    backward=lambda n, g: (None, F.where(n.x, g, 0.0) if n.needs[1] else None,
                           F.where(n.x, 0.0, g) if n.needs[2] else None),
    shape=_where_shape,
    sympy=sympy_elementwise(lambda sp, c, a, b: sp.Piecewise((a, sp.Ne(c, 0)), (b, True))),
    samples=(Sample(((3,), (3,), (3,)), ("mask", "real", "real")),
             Sample(((2, 3), (3,), ()), ("mask", "real", "real"))),
    words=Words(("cond", "a", "b"), (None, "where(cond, 1, 0)", "where(cond, 0, 1)")),
    # NOTE: torch's x.where(cond, y) is where(cond, x, y): a method taking x as the condition would mislead.
    arity=3, elementwise=True, selector=True, method=False,
    taylor=lambda n, c, a, b: T.select(c[0] != 0, a, b),
)


def _masked_fill_shape(x, mask, value):
    if value != ():
        raise GradcliError(f"masked_fill takes a number or a value of one entry (shape ()), not shape "
                           f"{format_shape(value)}, as PyTorch's", kind="shape")
    if broadcast_shapes(x, mask) != x:
        raise GradcliError(f"masked_fill's mask of shape {format_shape(mask)} must broadcast to x's shape "
                           f"{format_shape(x)}", kind="shape")
    return x


primitive(
    name="masked_fill", doc="x with value where mask is nonzero, as x.masked_fill(mask, value) (mask gets no "
    "gradient; value gets g summed where mask is nonzero)", signature="masked_fill(x, mask, value)",
    family="binary", forward=lambda x, mask, value: np.where(mask != 0, value, x),
    backward=lambda n, g: (F.where(n.y, 0.0, g) if n.needs[0] else None, None,
                           F.where(n.y, g, 0.0) if n.needs[2] else None),
    shape=_masked_fill_shape, torch_name="MaskedFillBackward0", inputs=("x", "mask", "value"),
    sympy=sympy_elementwise(lambda sp, x, mask, value: sp.Piecewise((value, sp.Ne(mask, 0)), (x, True))),
    samples=(Sample(((3,), (3,), ()), ("real", "mask", "real")), Sample(((2, 3), (3,), ()), ("real", "mask", "real"))),
    words=Words(("x", "mask", "value"), ("where(mask, 0, 1)", None, "where(mask, 1, 0)")),
    arity=3, elementwise=True, taylor=lambda n, x, mask, value: T.select(mask[0] != 0, value, x),
)


def _clip_backward(n, g):
    # As torch.clamp: selections of g. lo takes the gradient below it, hi above it and
    # wherever hi < lo (then every entry is hi, as the forward min(max(x, lo), hi) gives).
    # NOTE: with lo == hi and x below, lo takes it (torch gives neither bound any gradient).
    x, lo, hi = n.inputs
    return (F.where(F.ge(x, lo) * F.le(x, hi), g, 0.0) if n.needs[0] else None,
            F.where(F.lt(x, lo) * F.le(lo, hi), g, 0.0) if n.needs[1] else None,
            F.where(F.gt(x, hi) + F.lt(hi, lo), g, 0.0) if n.needs[2] else None)


def _clip_taylor(n, x, lo, hi):
    # Whichever of x and the bounds gets the gradient (_clip_backward's masks) gives its series.
    x0, lo0, hi0 = x[0], lo[0], hi[0]
    return np.where((x0 >= lo0) & (x0 <= hi0), x, np.where((x0 < lo0) & (lo0 <= hi0), lo, hi))


def _on_bound(node):
    x, lo, hi = saved_inputs(node)
    return broadcast_mask((x == lo) | (x == hi), x, lo, hi)


primitive(
    name="clip", doc="x limited to [min, max], either bound may be left out (gradient 1 on the bounds, as "
    "torch.clamp)", signature="clip(x, min, max)", family="binary", aliases=("clamp",),
    inputs=("x", "min", "max"), optional={"min": -np.inf, "max": np.inf}, needs_one=("min", "max"),
    forward=lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), backward=_clip_backward,
    shape=_where_shape, torch_name="ClampBackward1",
    # NOTE: hi wins when lo > hi, as numpy's minimum(maximum(x, lo), hi) and torch.clamp do.
    sympy=sympy_elementwise(lambda sp, x, lo, hi: sp.Piecewise((hi, (x > hi) | (lo > hi)), (lo, x < lo), (x, True))),
    samples=(Sample(((3,), (), ()), ("real", "real", "above_one")),
             Sample(((2, 3), (3,), ()), ("real", "real", "above_one"))),
    words=Words(("x", "lo", "hi"), ("(x >= lo)*(x <= hi)", "(x < lo)*(lo <= hi)", "(x > hi) + (hi < lo) > 0")),
    kinks=(Kink((1.0, 1.0, 2.0), (1.0, 0.0, 0.0), note="on a bound x passes the gradient"),),
    taylor=_clip_taylor,
    kink_check=KinkCheck(_on_bound, "has x exactly on a bound{where}: x gets the gradient 1 there and the bound 0 "
                         "(as torch.clamp); the one-sided derivative from outside the interval would give x 0 "
                         "and the bound 1"),
    arity=3, elementwise=True,
)
