"""Hypothesis strategies: random well-shaped expressions of the whole language, with values.

`expressions(smooth=...)` draws an expression top-down from the shape it must have, so
every draw is well shaped: nested calls, broadcasting operands, reductions with axis=,
matrix products, indexing and slicing, list stacking, .T, aliases and both power
spellings. Variables are made on demand with the shape asked for, and their values are
drawn afterwards. With smooth=True only functions that are analytic on the values drawn
are used (arguments of log, sqrt, division, asin are kept in their domains), so
derivatives can be checked against finite differences; with smooth=False kinks, masks,
comparisons, detach and constants join in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradcli.api.evaluate import variables
from gradcli.lang.parser import parse

Shape = tuple[int, ...]
SIZES = st.integers(1, 3)
SMOOTH_UNARY = ("sin", "cos", "tanh", "atan", "arctan", "sigmoid", "softplus", "sinh", "exp", "expm1", "neg")
# Arguments kept inside a function's domain, written in the language itself.
DOMAIN_UNARY = ("log(1 + ({})**2)", "sqrt(1 + ({})^2)", "log1p(({})**2)", "asin(0.5*tanh({}))",
                "acos(0.5*tanh({}))", "arcsin(0.5*sin({}))", "tan(0.5*tanh({}))", "cosh(0.5*({}))")
KINKED_UNARY = ("abs", "relu", "sign", "detach", "stop_gradient")
SMOOTH_REDUCTIONS = ("sum", "mean", "logsumexp", "var")
KINKED_REDUCTIONS = ("max", "min", "prod", "norm")


@dataclass
class Drawn:
    """An expression, the shape of its value, and values for its variables."""

    text: str
    shape: Shape
    values: dict[str, np.ndarray]

    def cli_args(self) -> list[str]:
        """--NAME=VALUE arguments as JSON (full precision, and a 1-entry vector stays a vector)."""
        return [f"--{name}={json.dumps(v.tolist())}" for name, v in self.values.items()]


class _Builder:
    """Draws sub-expressions of a requested shape; remembers the variables it made."""

    def __init__(self, draw, smooth: bool):
        self.draw = draw
        self.smooth = smooth
        self.variables: dict[str, Shape] = {}

    def variable(self, shape: Shape) -> str:
        reuse = [n for n, s in self.variables.items() if s == shape]
        if reuse and self.draw(st.booleans()):
            return self.draw(st.sampled_from(reuse))
        name = f"v{len(self.variables)}"
        self.variables[name] = shape
        return name

    def leaf(self, shape: Shape) -> str:
        if shape == () and self.draw(st.integers(0, 3)) == 0:
            return self.draw(st.sampled_from(["2", "0.5", "pi", "e", "1.5e-1", "3."]))
        if shape and not self.smooth and self.draw(st.integers(0, 5)) == 0:
            return f"{self.draw(st.sampled_from(['ones', 'zeros']))}({', '.join(map(str, shape))})"
        return self.variable(shape)

    def expr(self, shape: Shape, depth: int) -> str:
        if depth <= 0:
            return self.leaf(shape)
        forms = [self.leaf, self.unary, self.unary, self.binary, self.binary, self.reduction, self.stacked]
        if shape:
            forms += [self.indexed, self.softmax]
        if len(shape) <= 1:
            forms.append(self.matmul)
        if len(shape) == 2:
            forms += [self.transposed, self.matrix]
        if shape == ():
            forms.append(self.scalar_of_matrix)
        if not self.smooth:
            forms += [self.masked, self.clipped]
        form = self.draw(st.sampled_from(forms))
        return self.leaf(shape) if form == self.leaf else form(shape, depth - 1)

    # -- the forms: each returns text whose value has `shape` --------------------------
    def unary(self, shape: Shape, depth: int) -> str:
        inner = self.expr(shape, depth)
        choices = SMOOTH_UNARY + DOMAIN_UNARY + (() if self.smooth else KINKED_UNARY)
        fn = self.draw(st.sampled_from(choices))
        if fn == "neg":
            return f"-({inner})"
        if fn == "exp":
            return f"exp(tanh({inner}))"  # bounded, so nesting never overflows
        return fn.format(inner) if "{}" in fn else f"{fn}({inner})"

    def binary(self, shape: Shape, depth: int) -> str:
        # Operands that broadcast to shape: one may drop leading axes, and on each shared axis
        # either may have size 1 ((2, 1) with (1, 3) gives (2, 3)).
        cut = self.draw(st.integers(0, len(shape)))
        full, other = list(shape), list(shape[cut:])
        for i in range(len(other)):
            side = self.draw(st.integers(0, 3))
            if side == 0:
                other[i] = 1
            elif side == 1:
                full[cut + i] = 1
        a, b = self.expr(tuple(full), depth), self.expr(tuple(other), depth)
        if self.draw(st.booleans()):
            a, b = b, a
        ops = ["+", "-", "*", "/", "pow"] + ([] if self.smooth else ["maximum", "minimum"])
        op = self.draw(st.sampled_from(ops))
        if op == "/":
            return f"({a}) / (2 + tanh({b}))"
        if op == "pow":
            spelled = self.draw(st.sampled_from(["({}) ** ({})", "({})^({})", "pow({}, {})"]))
            return spelled.format(f"1 + ({a})**2", f"tanh({b})")
        if op in ("maximum", "minimum"):
            return f"{op}({a}, {b})"
        return f"({a}) {op} ({b})"

    def reduction(self, shape: Shape, depth: int) -> str:
        fn = self.draw(st.sampled_from(SMOOTH_REDUCTIONS + (() if self.smooth else KINKED_REDUCTIONS + ("std",))))
        n = self.draw(SIZES)
        if shape == () and self.draw(st.booleans()):
            inner_shape = tuple(self.draw(st.lists(SIZES, min_size=1, max_size=2)))
            return f"{fn}({self.expr(inner_shape, depth)})"
        if len(shape) <= 1 and self.draw(st.booleans()):
            return f"{fn}({self.expr((n, *shape), depth)}, axis=0)"
        return f"{fn}({self.expr((*shape, n), depth)}, axis=-1)"

    def matmul(self, shape: Shape, depth: int) -> str:
        k = self.draw(SIZES)
        if shape == ():
            left, right = (k,), (k,)
        else:
            left, right = ((shape[0], k), (k,)) if self.draw(st.booleans()) else ((k,), (k, shape[0]))
        spelled = self.draw(st.sampled_from(["({}) @ ({})", "dot({}, {})", "matmul({}, {})"]))
        return spelled.format(self.expr(left, depth), self.expr(right, depth))

    def matrix(self, shape: Shape, depth: int) -> str:
        m, p = shape
        k = self.draw(SIZES)
        return f"({self.expr((m, k), depth)}) @ ({self.expr((k, p), depth)})"

    def scalar_of_matrix(self, shape: Shape, depth: int) -> str:
        n = self.draw(SIZES)
        a = self.expr((n, n), depth)
        b = self.expr((n, n), depth)
        fn = self.draw(st.sampled_from(["trace({0})", "det({0})", "sum(inv(eye({n}) * 3 + ({0}) @ ({0}).T))",
                                        "mse_loss({0}, {1})", "binary_cross_entropy_with_logits({0}, sigmoid({1}))"]))
        return fn.format(a, b, n=n)

    def indexed(self, shape: Shape, depth: int) -> str:
        n = self.draw(SIZES)
        if self.draw(st.booleans()):
            i = self.draw(st.integers(-n, n - 1))
            return f"({self.expr((n, *shape), depth)})[{i}]"
        # A slice that keeps shape[0] entries of a longer first axis.
        extra = self.draw(st.integers(0, 2))
        start = self.draw(st.integers(0, extra))
        inner = self.expr((shape[0] + extra, *shape[1:]), depth)
        if len(shape) == 2 and self.draw(st.booleans()):
            j = self.draw(st.integers(0, 1))
            inner = self.expr((shape[0] + extra, shape[1], 2), depth)
            return f"({inner})[{start}:{start + shape[0]}, :, {j}]"
        return f"({inner})[{start}:{start + shape[0]}]"

    def stacked(self, shape: Shape, depth: int) -> str:
        if not shape:
            return f"sum([{self.expr((), depth)}, {self.expr((), depth)}])"
        items = [self.expr(shape[1:], depth) for _ in range(shape[0])]
        return "[" + ", ".join(items) + "]"

    def transposed(self, shape: Shape, depth: int) -> str:
        inner = self.expr((shape[1], shape[0]), depth)
        return f"({inner}).T" if self.draw(st.booleans()) else f"transpose({inner})"

    def softmax(self, shape: Shape, depth: int) -> str:
        fn = self.draw(st.sampled_from(["softmax", "log_softmax"]))
        return f"{fn}({self.expr(shape, depth)}, axis=-1)"

    def masked(self, shape: Shape, depth: int) -> str:
        cmp = self.draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        cond = f"({self.expr(shape, depth)}) {cmp} ({self.expr(shape, depth)})"
        return f"where({cond}, {self.expr(shape, depth)}, {self.expr(shape, depth)})"

    def clipped(self, shape: Shape, depth: int) -> str:
        return f"clip({self.expr(shape, depth)}, -0.5, 0.5)"


def values(shape: Shape, *, wide: bool = False):
    """float64 arrays of shape: moderate values, or (wide) anything finite, overflow included."""
    bound = 1e308 if wide else 2.0
    return arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False, allow_subnormal=False))


@st.composite
def expressions(draw, *, smooth: bool = True, max_depth: int = 4, scalar: bool = False, wide: bool = False):
    """A Drawn expression; scalar=True asks for a value of shape ()."""
    shape: Shape = () if scalar else tuple(draw(st.lists(SIZES, max_size=2)))
    builder = _Builder(draw, smooth)
    text = builder.expr(shape, draw(st.integers(1, max_depth)))
    if not variables(parse(text)):  # every property differentiates something
        name = builder.variable(())
        text = f"({text}) + {name}"
    # A branch may have made a variable and then not used it.
    vals = {name: draw(values(builder.variables[name], wide=wide)) for name in variables(parse(text))}
    return Drawn(text, shape, vals)
