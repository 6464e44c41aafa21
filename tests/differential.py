"""Differential testing against PyTorch: random expressions built twice, as gradcli text and as torch code.

A case is an expression tree whose every node knows its gradcli spelling and its torch
twin, with values from one of several streams (random, small integers, kink points,
non-finite entries, large magnitudes). `compare` evaluates both sides in float64 and
returns the first disagreement in value, gradient, vector-Jacobian product, Jacobian or
Hessian, if any; `shrink` reduces a disagreeing case to a minimal form.

Where gradcli differs from PyTorch on purpose, the twin of that operation has a variant
written with gradcli's convention, named by the entry of the documented table
(docs/differences.md); a disagreement that vanishes when the variant replaces torch's
code is that documented difference, and nothing else is excused.
"""

from __future__ import annotations

import importlib
import itertools
import json
import sys
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gradcli.api import functional
from gradcli.api.diagnose import first_nonfinite_gradient, first_nonfinite_value
from gradcli.autodiff.engine import Tensor, creation_order, edge_of, run_backward
from gradcli.autodiff.op import FUNCTIONS, OPS

T = torch.float64
Shape = tuple[int, ...]
TF = torch.nn.functional
RTOL = 1e-9
ATOL = 1e-12  # an absolute floor, scaled by the largest reference entry


def _full_dims(x):
    return tuple(range(x.ndim))


def _transpose(x, dim0=None, dim1=None):
    """gradcli's transpose: every axis reversed (x.T), a tuple of axes (numpy's), or two swapped (torch's)."""
    if dim0 is None:
        return x.permute(*reversed(range(x.ndim)))
    if dim1 is None:
        return x.permute(*dim0)
    return torch.transpose(x, dim0, dim1)


def _reducer(fn: Callable) -> Callable:
    """A torch reduction over dim (None: every axis), as gradcli's axis= (an int or a tuple)."""
    def reduce(x, axis=None, keepdims=False, *extra, **named):
        dims = _full_dims(x) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        return fn(x, tuple(d % x.ndim for d in dims) if x.ndim else (), keepdims, *extra, **named)
    return reduce


def _prod(x, dims, keepdim):
    # torch.prod takes one dim at a time: reduce the highest first, so the others keep their index.
    if not dims:
        return x.clone() if x.ndim == 0 else x.prod()
    for d in sorted(dims, reverse=True):
        x = x.prod(d, keepdim=True)
    return x if keepdim else x.squeeze(dims) if x.ndim else x


def _extreme(whole: Callable, along: Callable) -> Callable:
    """max/min: torch's max() over the whole array, amax along dims (the even split of ties)."""
    def reduce(x, dims, keepdim):
        if len(dims) == x.ndim and not keepdim:
            return whole(x)
        return along(x, dim=dims, keepdim=keepdim) if x.ndim else x.clone()
    return reduce


def _row_by_row(whole: Callable) -> Callable:
    """A reduction along dims made of whole-array reductions, one per row."""
    def reduce(x, dims, keepdim):
        if not x.ndim:
            return x.clone()
        moved = torch.movedim(x, dims, tuple(range(-len(dims), 0)))
        lead = moved.shape[:moved.ndim - len(dims)]
        rows = moved.reshape(-1, int(np.prod(moved.shape[len(lead):], dtype=int)))
        out = torch.stack([whole(r) for r in rows]).reshape(lead)
        for d in sorted(dims) if keepdim else ():
            out = out.unsqueeze(d)
        return out
    return reduce


def _leibniz_det(a):
    """det as the polynomial of the entries, so its gradient is the adjugate even when det is 0."""
    n = a.shape[-1]
    if n == 1:
        return a[0, 0]
    return sum((-1) ** j * a[0, j] * _leibniz_det(torch.cat([a[1:, :j], a[1:, j + 1:]], dim=1)) for j in range(n))


def _spread_of(fn):
    """torch.var or torch.std over dims (every axis: None) with correction ddof."""
    return lambda x, dims, keepdim, ddof=0: fn(x, dims or None, correction=ddof, keepdim=keepdim)


def _hardsigmoid_sixth(x):
    """hardsigmoid with the slope 1/6 in the dtype (torch's kernel uses float32's 1/6 in float64 too)."""
    return torch.where((x > -3) & (x < 3), x / 6 + 0.5, (x >= 3).to(x.dtype))


def _var_flat(x, axis=None, keepdims=False, ddof=0):
    """var of a 0-d value as torch computes it for a 1-entry vector."""
    if x.ndim:
        return _reducer(_spread_of(torch.var))(x, axis, keepdims, ddof)
    return x.reshape(1).var(0, correction=ddof)


def _std_whole(x, axis=None, keepdims=False, ddof=0):
    """std as torch computes it along a dim, also over the whole array (exactly 0 for equal entries)."""
    if axis is not None or x.ndim == 0 or keepdims:
        return _reducer(_spread_of(torch.std))(x, axis, keepdims, ddof)
    return x.reshape(-1).std(0, correction=ddof)


def _with_rule(forward: Callable, rule: Callable) -> Callable:
    """A torch function computed by forward whose backward is rule(grad, *inputs, output),
    written in torch operations so that it is differentiable again (second order)."""
    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            out = forward(*inputs)
            ctx.save_for_backward(*inputs, out)
            return out

        @staticmethod
        def backward(ctx, grad):
            *inputs, out = ctx.saved_tensors
            return rule(grad, *inputs, out)
    return Op.apply


def _to_shape(t, like):
    """t summed over the axes it was broadcast along, back to like's shape."""
    return t.sum_to_size(like.shape) if like.ndim else t.sum()


def _clip_rule(grad, x, lo, hi, out):
    """gradcli's clip rule: with lo == hi and x below, lo takes the gradient (clip(x, c, c) = c)."""
    zero = torch.zeros((), dtype=T)
    return (_to_shape(torch.where((x >= lo) & (x <= hi), grad, zero), x),
            _to_shape(torch.where((x < lo) & (lo <= hi), grad, zero), lo),
            _to_shape(torch.where((x > hi) | (hi < lo), grad, zero), hi))


def _pow_numpy(a, b):
    """a**b as gradcli has it at a = -inf: numpy's (and IEEE 754's) 0 for a negative non-integer b,
    not nan; but nan for b = -0.5, which is 1/sqrt(a) (as for a positive non-integer b)."""
    fraction = torch.isneginf(a) & (b != torch.floor(b))
    out = torch.pow(torch.where(fraction & (b < 0), a.abs(), a), b)
    # NOTE: torch.pow with a tensor exponent gives inf there, with a number nan; numpy nan.
    return torch.where(fraction & ((b > 0) | (b == -0.5)), torch.full((), float("nan"), dtype=T), out)


def _pow_ieee(a, b):
    """a**b whose value and rules use gradcli's pow: the gradient of x**-0.5 at -inf is -0.5 * 0."""
    def rule(grad, a, b, out):
        zero = torch.zeros((), dtype=T)
        ga = grad * torch.where(b == 0, zero, b * _pow_numpy(a, b - 1.0))
        gb = grad * torch.where((a == 0) & (b >= 0), zero, _pow_numpy(a, b) * torch.log(a))
        return _to_shape(ga, a), _to_shape(gb, b)
    return _with_rule(_pow_numpy, rule)(a, torch.as_tensor(b, dtype=T))


def _pow_symmetric(a, b):
    """a**b whose d/da keeps b a**(b-1) at b = 0 (masking only its nan), so d2/da db = 1/a there."""
    if not isinstance(b, torch.Tensor):  # a constant exponent has no mixed derivative
        return torch.pow(a, b)

    def rule(grad, a, b, out):
        base = grad * (b * a ** (b - 1.0))
        ga = torch.where((b == 0) & torch.isnan(base), torch.zeros((), dtype=T), base)
        gb = grad * torch.where((a == 0) & (b >= 0), torch.zeros((), dtype=T), a ** b * torch.log(a))
        return _to_shape(ga, a), _to_shape(gb, b)
    return _with_rule(torch.pow, rule)(a, b)


def _sequential_prod(x, dims, keepdim):
    """prod as a chain of products, so d/dx_i is the product of the others even at inf or 0."""
    if not dims:
        return x.clone() if x.ndim == 0 else _sequential_prod(x, _full_dims(x), keepdim)
    moved = torch.movedim(x, dims, tuple(range(-len(dims), 0)))
    flat = moved.reshape(moved.shape[:moved.ndim - len(dims)] + (-1,))
    out = flat[..., 0]
    for i in range(1, flat.shape[-1]):
        out = out * flat[..., i]
    if keepdim:
        for d in sorted(dims):
            out = out.unsqueeze(d)
    return out


def _logsumexp_softmax(x, dims, keepdim):
    """logsumexp whose gradient is softmax(x) computed from x (no exp(x - result))."""
    if not x.ndim:
        return x.clone()
    peak = torch.amax(x, dims, keepdim=True).detach()
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros((), dtype=T))
    out = torch.log(torch.sum(torch.exp(x - peak), dims, keepdim=True)) + peak
    return out if keepdim else out.squeeze(dims)


def _nan_rule_if_nonfinite(fn: Callable, value: Callable) -> Callable:
    """fn whose value at a non-finite input is value(input), and whose derivatives are nan there."""
    def forward(a):
        return fn(a) if bool(torch.isfinite(a).all()) else value(a)

    def rule(grad, a, out):
        if bool(torch.isfinite(a).all()):
            return torch.func.vjp(fn, a)[1](grad)[0]
        return a * float("nan") * grad.sum()  # nan, and nan again when differentiated
    return _with_rule(forward, rule)


def _numpy_det(a):
    return torch.tensor(np.linalg.det(a.detach().numpy()), dtype=T)


@dataclass(frozen=True)
class Twin:
    """How torch computes a gradcli operation; variants: gradcli's conventions, by documented entry."""

    torch: Callable
    kind: str  # unary, binary, reduction, softmax, matmul, matrix, loss, mask, clip, where, constant, like, stack, array, index
    variants: dict[str, Callable] = field(default_factory=dict)


def _unary(fn, **variants):
    return Twin(fn, "unary", variants)


TWINS: dict[str, Twin] = {
    "add": Twin(torch.add, "binary"), "sub": Twin(torch.sub, "binary"), "mul": Twin(torch.mul, "binary"),
    "div": Twin(torch.div, "binary"), "pow": Twin(torch.pow, "binary", {"pow-zero-exponent": _pow_symmetric,
                                       "pow-negative-infinity": _pow_ieee}),
    "maximum": Twin(torch.maximum, "binary"), "minimum": Twin(torch.minimum, "binary"),
    **{name: Twin(lambda a, b, f=f: f(a, b).to(T), "mask") for name, f in
       (("lt", torch.lt), ("le", torch.le), ("gt", torch.gt), ("ge", torch.ge), ("eq", torch.eq), ("ne", torch.ne))},
    "where": Twin(lambda c, a, b: torch.where(c != 0, a, b), "where"),
    "clip": Twin(lambda x, lo, hi: torch.clamp(x, lo, hi), "clip",
                 {"clip-equal-bounds": lambda x, lo, hi: _with_rule(torch.clamp, _clip_rule)(x, lo, hi)}),
    "neg": _unary(torch.neg), "exp": _unary(torch.exp), "log": _unary(torch.log), "log1p": _unary(torch.log1p),
    "expm1": _unary(torch.expm1), "sqrt": _unary(torch.sqrt), "abs": _unary(torch.abs), "sign": _unary(torch.sign),
    "sin": _unary(torch.sin), "cos": _unary(torch.cos), "tan": _unary(torch.tan), "asin": _unary(torch.asin),
    "acos": _unary(torch.acos), "atan": _unary(torch.atan), "sinh": _unary(torch.sinh), "cosh": _unary(torch.cosh),
    "tanh": _unary(torch.tanh), "sigmoid": _unary(torch.sigmoid), "relu": _unary(torch.relu),
    "softplus": _unary(TF.softplus, **{"softplus-threshold": lambda x: torch.logaddexp(x, torch.zeros((), dtype=T))}),
    "square": _unary(torch.square),
    "rsqrt": _unary(torch.rsqrt), "reciprocal": _unary(torch.reciprocal), "log2": _unary(torch.log2),
    "log10": _unary(torch.log10), "exp2": _unary(torch.exp2), "erf": _unary(torch.erf), "erfc": _unary(torch.erfc),
    "gelu": _unary(TF.gelu), "silu": _unary(TF.silu), "mish": _unary(TF.mish), "logsigmoid": _unary(TF.logsigmoid),
    "softsign": _unary(TF.softsign), "selu": _unary(TF.selu), "celu": _unary(TF.celu),
    "hardswish": _unary(TF.hardswish), "hardsigmoid": _unary(TF.hardsigmoid, **{"hardsigmoid-sixth": _hardsigmoid_sixth}),
    "tanhshrink": _unary(TF.tanhshrink), "frac": _unary(torch.frac), "asinh": _unary(torch.asinh), "acosh": _unary(torch.acosh),
    "atanh": _unary(torch.atanh), "floor": _unary(torch.floor), "ceil": _unary(torch.ceil),
    "round": _unary(torch.round), "trunc": _unary(torch.trunc), "sinc": _unary(torch.sinc),
    # A parameter given as an array (gradcli takes one, with a gradient) is written out in torch.
    "relu6": _unary(TF.relu6),
    "elu": _unary(lambda x, alpha=None: TF.elu(x) if alpha is None else torch.where(x > 0, x, alpha * torch.expm1(x))),
    "leaky_relu": _unary(lambda x, slope=None: TF.leaky_relu(x) if slope is None else torch.where(x > 0, x, slope * x)),
    "hardtanh": _unary(lambda x, lo=None, hi=None: TF.hardtanh(x) if lo is None else torch.clamp(x, lo, hi)),
    "logit": _unary(lambda x, eps=None: torch.logit(x) if eps is None else
                    torch.log(torch.clamp(x, eps, 1 - eps) / (1 - torch.clamp(x, eps, 1 - eps)))),
    "xlogy": Twin(torch.xlogy, "binary"), "hypot": Twin(torch.hypot, "binary"), "atan2": Twin(torch.atan2, "binary"),
    "logaddexp": Twin(torch.logaddexp, "binary"), "fmod": Twin(torch.fmod, "binary"),
    "remainder": Twin(torch.remainder, "binary"), "clamp_min": Twin(torch.clamp_min, "binary"),
    "clamp_max": Twin(torch.clamp_max, "binary"),
    "detach": _unary(torch.Tensor.detach), "stop_gradient": _unary(torch.Tensor.detach),
    "tensor": _unary(lambda x: torch.tensor(x.tolist(), dtype=x.dtype)),
    "sum": Twin(_reducer(lambda x, d, k: x.sum(d, keepdim=k) if x.ndim else x.clone()), "reduction"),
    "mean": Twin(_reducer(lambda x, d, k: x.mean(d, keepdim=k) if x.ndim else x.clone()), "reduction"),
    "prod": Twin(_reducer(_prod), "reduction", {"prod-nonfinite": _reducer(_sequential_prod)}),
    "max": Twin(_reducer(_extreme(torch.max, torch.amax)), "reduction",
                {"extreme-nan": _reducer(_row_by_row(torch.max))}),
    "min": Twin(_reducer(_extreme(torch.min, torch.amin)), "reduction",
                {"extreme-nan": _reducer(_row_by_row(torch.min))}),
    "norm": Twin(_reducer(lambda x, d, k: torch.linalg.vector_norm(x, 2, d or None, k)), "reduction"),
    "logsumexp": Twin(_reducer(lambda x, d, k: torch.logsumexp(x, d or 0, k)), "reduction",
                      {"logsumexp-softmax": _reducer(_logsumexp_softmax)}),
    "var": Twin(_reducer(_spread_of(torch.var)), "reduction", {"var-no-dof": _var_flat}),
    "std": Twin(_reducer(_spread_of(torch.std)), "reduction",
                {"std-whole-array": _std_whole}),
    "matmul": Twin(torch.matmul, "matmul"),
    "outer": Twin(lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)), "outer"),
    "trace": Twin(torch.trace, "matrix"),
    "det": Twin(torch.linalg.det, "matrix", {"det-singular": _leibniz_det,
                                              "det-nonfinite": _nan_rule_if_nonfinite(torch.linalg.det, _numpy_det)}),
    "inv": Twin(torch.linalg.inv, "matrix"),
    "transpose": Twin(_transpose, "transpose"),
    "t": Twin(lambda x: x.t(), "transpose"),
    "softmax": Twin(lambda x, axis=-1: torch.softmax(x, axis) if x.ndim else torch.ones((), dtype=T), "softmax"),
    "log_softmax": Twin(lambda x, axis=-1: torch.log_softmax(x, axis) if x.ndim else torch.zeros((), dtype=T),
                        "softmax"),
    "mse_loss": Twin(TF.mse_loss, "loss"),
    "binary_cross_entropy_with_logits": Twin(TF.binary_cross_entropy_with_logits, "loss"),
    "zeros": Twin(lambda *s: torch.zeros(s, dtype=T), "constant"),
    "ones": Twin(lambda *s: torch.ones(s, dtype=T), "constant"),
    "eye": Twin(lambda n: torch.eye(n, dtype=T), "constant"),
    "zeros_like": Twin(torch.zeros_like, "like"), "ones_like": Twin(torch.ones_like, "like"),
}
# Generator forms of the families with a file of their own: (accepts(shape), build(builder, shape, depth)).
FORMS: list[tuple[Callable[[Shape], bool], Callable]] = []
# Forms of a scalar loss (with the losses' family: its functions of any shape, brought to a scalar), which
# the loss form picks among beside mse_loss and binary_cross_entropy_with_logits: more functions of this kind
# need no share of their own among the forms, so that the cases of the other forms stay as they were.
LOSS_FORMS: list[Callable] = []
# Those families' modules (tests/twins_*.py): add(differential) puts their twins in TWINS and forms in FORMS;
# a sub-expression is one of their forms with probability FAMILY_SHARE (where a form accepts its shape).
FAMILY_SHARE = 0.16
FAMILIES: tuple[str, ...] = ("twins_arrays", "twins_losses", "twins_linalg", "twins_torch_idioms", "twins_distances",
                             "twins_special_functions", "twins_normalization", "twins_sequences", "twins_convolution",
                             "twins_statistics", "twins_nn_extras", "twins_extras")
# Special functions of one argument, and of two (written name(a, b)).
SPECIAL_UNARY = ("rsqrt", "reciprocal", "log2", "log10", "exp2", "erf", "erfc", "gelu", "silu", "mish", "logsigmoid",
                 "selu", "celu", "hardswish", "hardsigmoid", "tanhshrink", "frac",
                 "softsign", "asinh", "acosh", "atanh", "floor", "ceil", "round", "trunc", "sinc", "relu6", "elu",
                 "leaky_relu", "hardtanh", "logit")
SPECIAL_BINARY = ("xlogy", "hypot", "atan2", "logaddexp", "fmod", "remainder", "clamp_min", "clamp_max")
# Operations the generator reaches through syntax rather than by name.
SYNTAX = {"stack": "[a, b, ...]", "index": "x[i], x[a:b], m[:, j]", "transpose": "x.T"}


def spellings(name: str) -> list[str]:
    """Every name an expression may call the operation by (its aliases too)."""
    return [n for n, op in FUNCTIONS.items() if op is OPS[name]]


# -- the expression tree ----------------------------------------------------------------
@dataclass
class Node:
    """A sub-expression: its shape, its gradcli text and its torch value, from its children's."""

    shape: Shape
    children: list[Node]
    text: Callable[[list[str]], str]
    value: Callable[[list], object]
    ops: tuple[str, ...] = ()  # the registry operations this node applies
    leaf: str | None = None  # a variable's name

    def render(self) -> str:
        return self.text([c.render() for c in self.children])

    def torch(self, env: dict, variants: dict[str, Callable]) -> object:
        args = [c.torch(env, variants) for c in self.children]
        if self.leaf is not None:
            return env[self.leaf]
        return self.value(args, variants) if self.ops else self.value(args)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


def _op_node(shape, children, text, name, call):
    """A node applying registry operation `name`; call(args, fn) computes it with torch function fn."""
    twin = TWINS[name]

    def value(args, variants):
        fn = variants.get(name, twin.torch)
        return call(args, fn)
    return Node(shape, children, text, value, ops=(name,))


class Builder:
    """Draws sub-expressions of a requested shape from a seeded generator."""

    def __init__(self, rng: random.Random, *, second_order: bool = False):
        self.rng = rng
        self.second_order = second_order
        self.variables: dict[str, Shape] = {}
        # NOTE: the families' forms are drawn from a stream of their own: adding a family leaves
        # every case that does not pick one of its forms as it was.
        self.families = random.Random(str(rng.getstate()[1][:8]))  # (a str seed is hashed the same in every run)

    def pick(self, seq):
        return self.rng.choice(list(seq))

    def spelled(self, name: str) -> str:
        return self.pick(spellings(name))

    def variable(self, shape: Shape) -> Node:
        reuse = [n for n, s in self.variables.items() if s == shape]
        name = self.pick(reuse) if reuse and self.rng.random() < 0.5 else f"v{len(self.variables)}"
        self.variables[name] = shape
        return Node(shape, [], lambda _, n=name: n, None, leaf=name)

    def leaf(self, shape: Shape) -> Node:
        r = self.rng.random()
        if shape == () and r < 0.2:
            number = self.pick(["2", "0.5", "0", "1", "3.", "1.5e-1"])
            return Node(shape, [], lambda _: number, lambda _: torch.tensor(float(number), dtype=T))
        if shape == () and r < 0.25:
            name, val = self.pick([("pi", np.pi), ("e", np.e)])
            return Node(shape, [], lambda _: name, lambda _: torch.tensor(val, dtype=T))
        if shape and r < 0.1:
            kind = self.pick(["zeros", "ones"])
            return _op_node(shape, [], lambda _: f"{kind}({', '.join(map(str, shape))})", kind,
                            lambda args, fn: fn(*shape))
        if shape and r < 0.13:
            kind = self.pick(["zeros_like", "ones_like"])
            inner = self.variable(shape)
            return _op_node(shape, [inner], lambda c: f"{kind}({c[0]})", kind, lambda args, fn: fn(args[0]))
        if len(shape) == 2 and shape[0] == shape[1] and r < 0.18:
            return _op_node(shape, [], lambda _: f"eye({shape[0]})", "eye", lambda args, fn: fn(shape[0]))
        return self.variable(shape)

    def expr(self, shape: Shape, depth: int) -> Node:
        if depth <= 0:
            return self.leaf(shape)
        forms = [self.leaf, self.unary, self.unary, self.unary, self.binary, self.binary, self.binary,
                 self.reduction, self.reduction, self.stacked, self.masked, self.clipped]
        if shape:
            forms += [self.indexed, self.softmax]
        if len(shape) <= 1:
            forms.append(self.matmul)
        if len(shape) == 2:
            forms += [self.transposed, self.matrix_product, self.inverse, self.outer_product]
        if shape == ():
            forms += [self.matrix_scalar, self.loss]
        family = [build for accepts, build in FORMS if accepts(shape)]
        if family and self.families.random() < FAMILY_SHARE:
            return self.families.choice(family)(self, shape, depth - 1)
        form = self.pick(forms)
        return self.leaf(shape) if form == self.leaf else form(shape, depth - 1)

    def unary(self, shape, depth):
        # The special functions as one pick of four, so that each elementary function stays as frequent.
        elementary = sorted(n for n, t in TWINS.items() if t.kind == "unary" and n not in SPECIAL_UNARY)
        name = self.pick(SPECIAL_UNARY if self.rng.random() < 0.25 else elementary)
        inner = self.expr(shape, depth)
        if name == "neg":
            return _op_node(shape, [inner], lambda c: f"-({c[0]})", name, lambda a, fn: fn(a[0]))
        style = self.pick(["plain", "plain", "method", "torch"]) if OPS[name].method else "plain"
        spelled = {"plain": self.spelled(name), "torch": "torch." + name}.get(style)
        text = (lambda c: f"({c[0]}).{name}()") if style == "method" else (lambda c: f"{spelled}({c[0]})")
        return _op_node(shape, [inner], text, name, lambda a, fn: fn(a[0]))

    def _broadcast_pair(self, shape, depth):
        cut = self.rng.randint(0, len(shape))
        full, other = list(shape), list(shape[cut:])
        for i in range(len(other)):
            side = self.rng.randint(0, 3)
            if side == 0:
                other[i] = 1
            elif side == 1:
                full[cut + i] = 1
        a, b = self.expr(tuple(full), depth), self.expr(tuple(other), depth)
        return (b, a) if self.rng.random() < 0.5 else (a, b)

    def binary(self, shape, depth):
        name = self.pick(["add", "sub", "mul", "div", "pow", "pow", "maximum", "minimum", *SPECIAL_BINARY])
        if name == "pow" and self.rng.random() < 0.5:  # a constant exponent, the common case
            a, k = self.expr(shape, depth), self.pick(["2", "3", "0", "1", "0.5", "-1", "1.5"])
            form = self.pick(["({0}) ** {1}", "({0})^{1}", "pow({0}, {1})"])
            return _op_node(shape, [a], lambda c: form.format(c[0], k), name, lambda v, fn: fn(v[0], float(k)))
        a, b = self._broadcast_pair(shape, depth)
        if name in ("maximum", "minimum", *SPECIAL_BINARY):
            return _op_node(shape, [a, b], lambda c: f"{name}({c[0]}, {c[1]})", name, lambda v, fn: fn(*v))
        if name == "pow":
            form = self.pick(["({0}) ** ({1})", "({0})^({1})", "pow({0}, {1})"])
            return _op_node(shape, [a, b], lambda c: form.format(c[0], c[1]), name, lambda v, fn: fn(*v))
        symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[name]
        return _op_node(shape, [a, b], lambda c: f"({c[0]}) {symbol} ({c[1]})", name, lambda v, fn: fn(*v))

    def _reduced(self, shape, name):
        """(inner shape, axis, keepdims) of a reduction whose value has `shape`."""
        if shape == () and self.rng.random() < 0.5:
            return tuple(self.rng.randint(1, 3) for _ in range(self.rng.randint(0, 2))), None, False
        keep_at = [i for i, s in enumerate(shape) if s == 1] if "keepdims" in OPS[name].keywords else []
        if keep_at and self.rng.random() < 0.5:  # kept with keepdims=True where a 1 stands in shape
            at = self.pick(keep_at)
            inner = tuple(self.rng.randint(1, 3) if i == at else s for i, s in enumerate(shape))
            return inner, at - len(shape) if self.rng.random() < 0.5 else at, True
        n, m = self.rng.randint(1, 3), self.rng.randint(1, 3)
        if len(shape) <= 1 and self.rng.random() < 0.3:
            return (n, *shape, m), (0, -1) if self.rng.random() < 0.5 else (0, len(shape) + 1), False
        if len(shape) <= 1 and self.rng.random() < 0.5:
            return (n, *shape), 0, False
        return (*shape, n), -1, False

    def reduction(self, shape, depth):
        name = self.pick(sorted(n for n, t in TWINS.items() if t.kind == "reduction"))
        op = OPS[name]
        inner_shape, axis, keepdims = self._reduced(shape, name)
        inner = self.expr(inner_shape, depth)
        # Spelled as numpy (axis=, keepdims=, ddof=) or PyTorch (x.std(dim=...), torch.std), whose
        # defaults may differ: std and var divide by n - 1 when PyTorch spells them.
        style = self.pick(["plain", "plain", "method", "torch"]) if op.method else "plain"
        args = [f"{self.pick(['axis', 'dim'])}={axis}"] if axis is not None else []
        args += [f"{self.pick(['keepdims', 'keepdim'])}=True"] if keepdims else []
        extra = ()
        if "ddof" in op.keywords:
            ddof = self.pick([None, None, 0, 1])
            if ddof is not None:
                args.append(self.pick([f"ddof={ddof}", f"correction={ddof}"]))
            extra = (ddof if ddof is not None else op.torch_defaults.get("ddof", 0) if style != "plain" else 0,)
        spelled = self.spelled(name)
        listed = ", ".join(args)
        if style == "method":
            text = lambda c: f"({c[0]}).{name}({listed})"  # noqa: E731
        else:
            prefix = "torch." + name if style == "torch" else spelled
            text = lambda c: f"{prefix}({', '.join([c[0], *args])})"  # noqa: E731
        return _op_node(shape, [inner], text, name, lambda v, fn: fn(v[0], axis, keepdims, *extra))

    def matmul(self, shape, depth):
        k = self.rng.randint(1, 3)
        if shape == ():
            left, right = (k,), (k,)
        elif self.rng.random() < 0.5:
            left, right = (shape[0], k), (k,)
        else:
            left, right = (k,), (k, shape[0])
        a, b = self.expr(left, depth), self.expr(right, depth)
        spelled = self.spelled("matmul")
        text = (lambda c: f"({c[0]}) @ ({c[1]})") if spelled == "@" else (lambda c: f"{spelled}({c[0]}, {c[1]})")
        return _op_node(shape, [a, b], text, "matmul", lambda v, fn: fn(*v))

    def matrix_product(self, shape, depth):
        k = self.rng.randint(1, 3)
        a, b = self.expr((shape[0], k), depth), self.expr((k, shape[1]), depth)
        return _op_node(shape, [a, b], lambda c: f"({c[0]}) @ ({c[1]})", "matmul", lambda v, fn: fn(*v))

    def outer_product(self, shape, depth):
        a, b = self.expr((shape[0],), depth), self.expr((shape[1],), depth)
        return _op_node(shape, [a, b], lambda c: f"outer({c[0]}, {c[1]})", "outer", lambda v, fn: fn(*v))

    def matrix_scalar(self, shape, depth):
        n = self.rng.randint(1, 3)
        name = self.pick(["trace", "det", "det"])
        inner = self.expr((n, n), depth)
        return _op_node(shape, [inner], lambda c: f"{name}({c[0]})", name, lambda v, fn: fn(v[0]))

    def inverse(self, shape, depth):
        if shape[0] != shape[1]:
            return self.matrix_product(shape, depth)
        inner = self.expr(shape, depth)
        return _op_node(shape, [inner], lambda c: f"inv({c[0]})", "inv", lambda v, fn: fn(v[0]))

    def loss(self, shape, depth):
        if LOSS_FORMS and self.rng.random() < 0.8:
            return self.pick(LOSS_FORMS)(self, shape, depth)
        name = self.pick(["mse_loss", "binary_cross_entropy_with_logits"])
        inner = tuple(self.rng.randint(1, 3) for _ in range(self.rng.randint(0, 2)))
        a, b = self.expr(inner, depth), self.expr(inner, depth)
        return _op_node(shape, [a, b], lambda c: f"{name}({c[0]}, {c[1]})", name, lambda v, fn: fn(*v))

    def indexed(self, shape, depth):
        n = self.rng.randint(1, 3)
        if self.rng.random() < 0.4:
            i = self.rng.randint(-n, n - 1)
            inner = self.expr((n, *shape), depth)
            return Node(shape, [inner], lambda c: f"({c[0]})[{i}]", lambda v: v[0][i])
        extra = self.rng.randint(0, 2)
        start = self.rng.randint(0, extra)
        stop = start + shape[0]
        if len(shape) == 2 and self.rng.random() < 0.5:
            j = self.rng.randint(0, 1)
            inner = self.expr((shape[0] + extra, shape[1], 2), depth)
            return Node(shape, [inner], lambda c: f"({c[0]})[{start}:{stop}, :, {j}]", lambda v: v[0][start:stop, :, j])
        if extra == 0 and shape[0] > 1 and self.rng.random() < 0.3:
            inner = self.expr((2 * shape[0] - 1, *shape[1:]), depth)
            return Node(shape, [inner], lambda c: f"({c[0]})[::2]", lambda v: v[0][::2])
        inner = self.expr((shape[0] + extra, *shape[1:]), depth)
        return Node(shape, [inner], lambda c: f"({c[0]})[{start}:{stop}]", lambda v: v[0][start:stop])

    def stacked(self, shape, depth):
        if not shape:
            parts = [self.expr((), depth), self.expr((), depth)]
            return _op_node(shape, parts, lambda c: f"sum([{c[0]}, {c[1]}])", "sum",
                            lambda v, fn: fn(torch.stack(v)))
        parts = [self.expr(shape[1:], depth) for _ in range(shape[0])]
        return Node(shape, parts, lambda c: "[" + ", ".join(c) + "]", lambda v: torch.stack(v))

    def transposed(self, shape, depth):
        inner = self.expr((shape[1], shape[0]), depth)
        if self.rng.random() < 0.5:
            attribute = self.pick(["T", "mT"])
            return Node(shape, [inner], lambda c: f"({c[0]}).{attribute}", lambda v: getattr(v[0], attribute))
        name = self.pick(["transpose", "t"])
        return _op_node(shape, [inner], lambda c: f"{name}({c[0]})", name, lambda v, fn: fn(v[0]))

    def softmax(self, shape, depth):
        name = self.pick(["softmax", "log_softmax"])
        axis = self.rng.randint(-len(shape), len(shape) - 1)
        inner = self.expr(shape, depth)
        return _op_node(shape, [inner], lambda c: f"{name}({c[0]}, axis={axis})", name, lambda v, fn: fn(v[0], axis))

    def masked(self, shape, depth):
        cmp = self.pick(["lt", "le", "gt", "ge", "eq", "ne"])
        symbol = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}[cmp]
        left, right = self.expr(shape, depth), self.expr(shape, depth)
        cond = _op_node(shape, [left, right], lambda c: f"({c[0]}) {symbol} ({c[1]})", cmp, lambda v, fn: fn(*v))
        a, b = self.expr(shape, depth), self.expr(shape, depth)
        return _op_node(shape, [cond, a, b], lambda c: f"where({c[0]}, {c[1]}, {c[2]})", "where",
                        lambda v, fn: fn(*v))

    def clipped(self, shape, depth):
        inner = self.expr(shape, depth)
        if self.rng.random() < 0.6:
            lo, hi = self.pick([("-0.5", "0.5"), ("0", "1"), ("-1", "0"), ("0.5", "0.5"), ("1", "-1")])
            return _op_node(shape, [inner], lambda c: f"clip({c[0]}, {lo}, {hi})", "clip",
                            lambda v, fn: fn(v[0], torch.tensor(float(lo), dtype=T), torch.tensor(float(hi), dtype=T)))
        lo, hi = self.expr((), depth), self.expr((), depth)
        return _op_node(shape, [inner, lo, hi], lambda c: f"clip({c[0]}, {c[1]}, {c[2]})", "clip",
                        lambda v, fn: fn(*v))


# -- values -------------------------------------------------------------------------------
STREAMS = ("random", "integer", "kink", "nonfinite", "large")


def draw_values(rng: np.random.Generator, shape: Shape, stream: str) -> np.ndarray:
    """Values for one variable: the stream decides how often they sit on kinks and ties."""
    if stream == "integer":
        return rng.integers(-3, 4, size=shape).astype(np.float64)
    if stream == "kink":
        return rng.choice([0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0], size=shape)
    if stream == "large":
        return rng.standard_normal(shape) * 10.0 ** rng.integers(1, 3)
    out = rng.standard_normal(shape)
    if stream == "nonfinite":
        holes = rng.random(shape) < 0.3
        out = np.where(holes, rng.choice([np.nan, np.inf, -np.inf], size=shape), out)
    return np.asarray(out, dtype=np.float64)


@dataclass
class Case:
    tree: Node
    values: dict[str, np.ndarray]
    stream: str
    second_order: bool = False

    @property
    def text(self) -> str:
        return self.tree.render()

    def ops(self) -> set[str]:
        return {name for node in self.tree.walk() for name in node.ops}

    def minimal_form(self) -> str:
        vals = " ".join(f"--{n} '{json.dumps(v.tolist())}'" for n, v in self.values.items())
        return f"gradcli {'hessian' if self.second_order else 'jacobian'} \"{self.text}\" {vals}   [{self.stream}]"


def make_case(seed: int, stream: str, *, second_order: bool = False, max_depth: int = 4) -> Case:
    rng = random.Random(seed)
    builder = Builder(rng, second_order=second_order)
    shape = () if second_order else tuple(rng.randint(1, 3) for _ in range(rng.randint(0, 2)))
    tree = builder.expr(shape, rng.randint(1, max_depth))
    used = {n.leaf for n in tree.walk() if n.leaf}
    if not used:
        var = builder.variable(shape)
        tree = _op_node(shape, [tree, var], lambda c: f"({c[0]}) + {c[1]}", "add", lambda v, fn: fn(*v))
        used = {var.leaf}
    values_rng = np.random.default_rng(seed)
    return Case(tree, {n: draw_values(values_rng, builder.variables[n], stream) for n in sorted(used)}, stream,
                second_order)


# -- comparing ----------------------------------------------------------------------------
@dataclass
class Outcome:
    """What comparing one case found: agreement, a disagreement, or a stated reason to drop it."""

    kind: str  # agree, disagree, documented, dropped
    detail: str = ""
    case: Case | None = None


def close(got: np.ndarray, want: np.ndarray) -> bool:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return False
    finite = np.isfinite(want)
    if not np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)]):
        return False
    if not np.array_equal(np.isfinite(got), finite):
        return False
    scale = max(1.0, float(np.max(np.abs(want[finite]), initial=0.0)))
    return bool(np.all(np.abs(got[finite] - want[finite]) <= RTOL * np.abs(want[finite]) + ATOL * scale))


def torch_answers(case: Case, variants: dict[str, Callable], names: list[str], u: np.ndarray | None):
    """value, Jacobian blocks (or Hessian blocks) and the VJP with u, by torch."""
    inputs = tuple(torch.tensor(case.values[n], dtype=T) for n in names)

    def fn(*ts):
        return case.tree.torch(dict(zip(names, ts)), variants)

    value = fn(*inputs).detach().numpy()
    if case.second_order:
        blocks = torch.autograd.functional.hessian(fn, inputs)
        return value, [[b.numpy() for b in row] for row in blocks], None
    jac = torch.autograd.functional.jacobian(fn, inputs)
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    seed = torch.tensor(u if u is not None else 1.0, dtype=T)
    vjp = torch.autograd.grad(out, leaves, seed.expand_as(out) if u is None else seed, allow_unused=True)
    vjp = [np.zeros(case.values[n].shape) if g is None else g.numpy() for n, g in zip(names, vjp)]
    return value, [j.numpy() for j in jac], vjp


def gradcli_answers(case: Case, names: list[str], u: np.ndarray | None):
    """value, blocks and VJP as torch_answers gives them (reverse mode, as torch.autograd.functional),
    and the blocks again by forward mode (the Jacobian by columns, the Hessian forward over reverse)
    where every sub-expression's value and every cotangent of a backward pass is finite, and, for a
    Hessian, every entry of the reverse one too and every value its first pass computes is within
    HEADROOM (else None):
    where a nan or an inf meets a 0, forward and reverse mode put the nan in different places, as
    torch.func.jacfwd and jacrev do. Forward mode is compared where torch's answer is finite."""
    text = case.text
    p = functional.problem(text, case.values)
    finite = first_nonfinite_value(p.tree, p.leaves(), p.source) is None
    if finite:
        out, _ = p.forward()
        finite = not out.requires_grad or first_nonfinite_gradient(out, np.ones(out.shape)) is None
    if case.second_order:
        r = functional.hessian(p, None, mode="reverse")
        # (a nan in the Hessian is an inf of the second pass that met a 0: forward mode may put it elsewhere)
        finite = finite and all(np.all(np.isfinite(block)) for row in r.hessian.values() for block in row.values()) \
            and _rules_finite(p)
        f = functional.hessian(p, None, mode="forward") if finite else None
        return (r.value, [[r.hessian[a][b] for b in names] for a in names], None,
                f and [[f.hessian[a][b] for b in names] for a in names])
    j = functional.jacobian(p, None, mode="reverse")
    f = functional.jacobian(p, None, mode="forward") if finite else None
    g = functional.grad(text, case.values, grad_output=u if j.value.ndim else None)
    return (j.value, [j.jacobian[n] for n in names], [g.gradients[n] for n in names],
            f and [f.jacobian[n] for n in names])


# Forward over reverse multiplies the values a backward pass computes by tangents: one beyond this may overflow
# there where reverse over reverse stays finite (logaddexp's exp(b - a) of 5e305, times a tangent of 698).
HEADROOM = 1e150


def _rules_finite(p) -> bool:
    """Whether every value the rules of a first backward pass compute (their intermediates too: an
    exp(b - a) inside logaddexp's) is finite and within HEADROOM: forward over reverse differentiates them."""
    out, _ = p.forward()
    if not out.requires_grad:
        return True
    grads = run_backward([(out, Tensor(np.ones(out.shape)))], create_graph=True)
    kept = [edge_of(g) for g in grads.values() if edge_of(g) is not None]
    for node in creation_order(kept) if kept else ():
        held = [t.data for t in getattr(node, "saved", None) or () if isinstance(t, Tensor)]
        if getattr(node, "_ans", None) is not None:
            held.append(node._ans)
        if not all(np.all(np.abs(a) < HEADROOM) for a in held):
            return False
    return all(np.all(np.abs(g.data) < HEADROOM) for g in grads.values())


def _first_difference(case: Case, ours, theirs, names) -> str | None:
    """The first entry where gradcli and torch differ (forward mode too, where it was computed)."""
    value, blocks, vjp, forward = ours
    t_value, t_blocks, t_vjp = theirs
    if not close(value, t_value):
        return f"value: gradcli {value!r}, torch {t_value!r}"
    label = "hessian" if case.second_order else "jacobian"
    for i, a in enumerate(names):
        rows = blocks[i] if case.second_order else [blocks[i]]
        t_rows = t_blocks[i] if case.second_order else [t_blocks[i]]
        f_rows = rows if forward is None else forward[i] if case.second_order else [forward[i]]
        for j, (got, want, pushed) in enumerate(zip(rows, t_rows, f_rows)):
            pair = f"[{a}][{names[j]}]" if case.second_order else f"[{a}]"
            if not close(got, want):
                return f"{label}{pair}: gradcli {np.asarray(got).tolist()}, torch {np.asarray(want).tolist()}"
            if np.all(np.isfinite(want)) and not close(pushed, want):
                return (f"{label}{pair} by forward mode: gradcli {np.asarray(pushed).tolist()}, torch "
                        f"{np.asarray(want).tolist()}")
        if vjp is not None and not close(vjp[i], t_vjp[i]):
            return f"vjp[{a}]: gradcli {np.asarray(vjp[i]).tolist()}, torch {np.asarray(t_vjp[i]).tolist()}"
    return None


def compare(case: Case) -> Outcome:
    names = list(case.values)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's, e.g. std with fewer entries than its correction
        try:
            probe = case.tree.torch({n: torch.tensor(v, dtype=T) for n, v in case.values.items()}, {})
            u = None if probe.ndim == 0 else np.random.default_rng(7).standard_normal(tuple(probe.shape))
            theirs = torch_answers(case, {}, names, u)
        except (RuntimeError, torch.linalg.LinAlgError) as err:  # e.g. torch.linalg.inv of a singular matrix
            return Outcome("dropped", f"torch raises: {str(err).splitlines()[0]}", case)
        ours = gradcli_answers(case, names, u)
        found = _first_difference(case, ours, theirs, names)
        if found is None:
            return Outcome("agree", case=case)
        for entry, fn in _variants_for(case):
            try:
                again = torch_answers(case, fn, names, u)
            except (RuntimeError, torch.linalg.LinAlgError):
                continue
            if _first_difference(case, ours, again, names) is None:
                return Outcome("documented", entry, case)
            if case.stream in ("random", "large") and _ill_conditioned(case, again, names, u, fn):
                # (as below, for the reference written with gradcli's documented convention)
                return Outcome("dropped", f"ill-conditioned: a few-ulp nudge of the inputs moves the {entry} "
                               f"reference more than the tolerance", case)
        if case.stream in ("random", "large") and _ill_conditioned(case, theirs, names, u):
            return Outcome("dropped", "ill-conditioned: a few-ulp nudge of the inputs moves torch's answer "
                           "more than the tolerance", case)
    return Outcome("disagree", found, case)


def _variants_for(case: Case):
    """Each documented variant of the case's operations alone, then every combination of one per operation."""
    by_op = {name: list(TWINS[name].variants.items()) for name in sorted(case.ops()) if TWINS[name].variants}
    for name, variants in by_op.items():
        for entry, fn in variants:
            yield entry, {name: fn}
    if len(by_op) > 1:
        for chosen in itertools.product(*[[None, *variants] for variants in by_op.values()]):
            picked = {name: v for name, v in zip(by_op, chosen) if v is not None}
            if len(picked) > 1:
                yield " + ".join(sorted(entry for entry, _ in picked.values())), \
                    {name: fn for name, (_, fn) in picked.items()}


def _ill_conditioned(case: Case, theirs, names, u, variants: dict[str, Callable] | None = None) -> bool:
    rng = np.random.default_rng(3)
    nudged_values = {n: v * (1 + rng.integers(-4, 5, v.shape) * np.finfo(float).eps) for n, v in case.values.items()}
    nudged = Case(case.tree, nudged_values, case.stream, case.second_order)
    try:
        again = torch_answers(nudged, variants or {}, names, u)
    except (RuntimeError, torch.linalg.LinAlgError):
        return True
    return _first_difference(case, (*again, None), theirs, names) is not None


# -- shrinking ----------------------------------------------------------------------------
def shrink(case: Case, still_fails: Callable[[Case], bool], *, rounds: int = 200) -> Case:
    """A smaller case that still fails: sub-expressions replaced by a same-shaped child or a variable."""
    for _ in range(rounds):
        smaller = next((c for c in _simpler(case) if still_fails(c)), None)
        if smaller is None:
            return case
        case = smaller
    return case


def _simpler(case: Case):
    nodes = list(case.tree.walk())
    for target in nodes:
        if not target.children:
            continue
        replacements = [c for c in target.children if c.shape == target.shape]
        existing = [n for n in nodes if n.leaf and n.shape == target.shape]
        replacements += existing[:1]
        for replacement in replacements:
            tree = _replace(case.tree, target, replacement)
            used = {n.leaf for n in tree.walk() if n.leaf}
            if used:
                yield Case(tree, {n: v for n, v in case.values.items() if n in used}, case.stream, case.second_order)


def _replace(node: Node, target: Node, replacement: Node) -> Node:
    if node is target:
        return replacement
    if not node.children:
        return node
    return Node(node.shape, [_replace(c, target, replacement) for c in node.children], node.text, node.value,
                node.ops, node.leaf)


for _family in FAMILIES:
    importlib.import_module(_family).add(sys.modules[__name__])


# -- a command for exploring: python tests/differential.py [--cases N] [--stream S] [--op NAME] ----
def run(cases: int, streams: tuple[str, ...], *, start: int = 0, second_order: tuple[bool, ...] = (False, True),
        op: str | None = None):
    """Every outcome of the cases, shrunk to a minimal form where gradcli and torch disagree."""
    for stream in streams:
        for second in second_order:
            for seed in range(start, start + cases):
                case = make_case(seed, stream, second_order=second)
                if op and op not in case.ops():
                    continue
                outcome = compare(case)
                if outcome.kind == "disagree":
                    small = shrink(case, lambda c: compare(c).kind == "disagree")
                    outcome = Outcome("disagree", compare(small).detail, small)
                yield outcome


def main(argv: list[str] | None = None) -> int:
    import argparse
    import collections

    parser = argparse.ArgumentParser(description="gradcli against PyTorch on random expressions")
    parser.add_argument("--cases", type=int, default=200, help="cases per stream and order")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--stream", action="append", choices=STREAMS, help="value streams (default: all)")
    parser.add_argument("--order", choices=("1", "2", "both"), default="both", help="first or second order")
    parser.add_argument("--op", help="only cases that use this registry operation")
    args = parser.parse_args(argv)
    orders = {"1": (False,), "2": (True,), "both": (False, True)}[args.order]
    counts: collections.Counter = collections.Counter()
    seen: set[str] = set()
    for outcome in run(args.cases, tuple(args.stream or STREAMS), start=args.start, second_order=orders, op=args.op):
        counts[outcome.kind] += 1
        key = outcome.detail.split(":")[0] + outcome.case.text[:40] if outcome.kind == "disagree" else outcome.detail
        if outcome.kind in ("disagree", "documented", "dropped") and key not in seen:
            seen.add(key)
            print(f"{outcome.kind}: {outcome.case.minimal_form()}\n    {outcome.detail[:400]}")
    print(dict(counts))
    return 1 if counts["disagree"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
