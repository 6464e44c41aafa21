"""Each primitive's backward rule in words, for `gradcli explain`.

An elementwise rule is a local derivative written in the expression language over the
op's argument names and `out` (the forward value): explain prints it with the actual
sub-expressions put in, and evaluates it to the number the chain rule multiplies by
(upstream × local). Other rules (reductions, matrix products, structure) are described
as the vector-Jacobian product they compute, with g for the upstream gradient.
Operations without an entry fall back to a generic sentence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalRule:
    """args: the op's argument names; local: per argument, d out / d arg (elementwise) or
    None (no gradient flows there); vjp: per argument, words for what it receives."""

    args: tuple[str, ...]
    local: tuple[str | None, ...] = ()
    vjp: tuple[str, ...] = ()


def _unary(local: str) -> LocalRule:
    return LocalRule(("x",), (local,))


def _reduction(words: str) -> LocalRule:
    return LocalRule(("x",), vjp=(words,))


RULES: dict[str, LocalRule] = {
    "add": LocalRule(("a", "b"), ("1", "1")),
    "sub": LocalRule(("a", "b"), ("1", "-1")),
    "mul": LocalRule(("a", "b"), ("b", "a")),
    "div": LocalRule(("a", "b"), ("1/b", "-a/b**2")),
    "pow": LocalRule(("a", "b"), ("b*a**(b - 1)", "out*log(a)")),
    "maximum": LocalRule(("a", "b"), ("(a > b) + 0.5*(a == b)", "(b > a) + 0.5*(a == b)")),
    "minimum": LocalRule(("a", "b"), ("(a < b) + 0.5*(a == b)", "(b < a) + 0.5*(a == b)")),
    "where": LocalRule(("cond", "a", "b"), (None, "where(cond, 1, 0)", "where(cond, 0, 1)")),
    "clip": LocalRule(("x", "lo", "hi"), ("(x >= lo)*(x <= hi)", "x < lo", "x > hi")),
    "neg": _unary("-1"),
    "exp": _unary("out"),
    "log": _unary("1/x"),
    "log1p": _unary("1/(1 + x)"),
    "expm1": _unary("out + 1"),
    "sqrt": _unary("1/(2*out)"),
    "abs": _unary("sign(x)"),
    "sign": _unary("0"),
    "sin": _unary("cos(x)"),
    "cos": _unary("-sin(x)"),
    "tan": _unary("1 + out**2"),
    "asin": _unary("1/sqrt(1 - x**2)"),
    "acos": _unary("-1/sqrt(1 - x**2)"),
    "atan": _unary("1/(1 + x**2)"),
    "sinh": _unary("cosh(x)"),
    "cosh": _unary("sinh(x)"),
    "tanh": _unary("1 - out**2"),
    "sigmoid": _unary("out*(1 - out)"),
    "relu": _unary("x > 0"),
    "softplus": _unary("sigmoid(x)"),
    "bce_logits": LocalRule(("z", "y"), ("sigmoid(z) - y", "-z")),
    "matmul": LocalRule(("a", "b"), vjp=("g @ {b}ᵀ", "{a}ᵀ @ g")),
    "det": LocalRule(("x",), vjp=("g · det({x}) · inv({x})ᵀ",)),
    "inv": LocalRule(("x",), vjp=("-{out}ᵀ @ g @ {out}ᵀ",)),
    "sum": _reduction("g, copied to every summed entry (∂sum/∂xᵢ = 1)"),
    "mean": _reduction("g / n, copied to each of the n averaged entries (∂mean/∂xᵢ = 1/n)"),
    "prod": _reduction("g × the product of the other entries (∂prod/∂xᵢ = ∏ⱼ≠ᵢ xⱼ)"),
    "prod_others": _reduction("for each entry, g summed over the products that include it"),
    "max": _reduction("g, to the entries equal to the maximum (shared evenly at a tie)"),
    "min": _reduction("g, to the entries equal to the minimum (shared evenly at a tie)"),
    "norm": _reduction("g × {x} / {out} (0 at the zero vector)"),
    "logsumexp": _reduction("g × softmax({x}) = g × exp({x} - {out})"),
    "std": _reduction("g × ({x} - mean({x})) / (count × {out}) (0 where the entries are equal)"),
    "sum_to": _reduction("g, broadcast back over the axes that were summed"),
    "expand": _reduction("g, summed over the broadcast axes"),
    "reshape": _reduction("g, reshaped back to the shape of {x}"),
    "permute": _reduction("g, with the axes put back in their order"),
    "index": _reduction("g, placed at the indexed entries of zeros shaped like {x}"),
    "index_put": _reduction("g, read back at the index"),
}

GENERIC_WORDS = "the vector-Jacobian product of {op}"


def rule_for(op_name: str, arity: int) -> LocalRule:
    """The rule of op_name; stack (any number of items) and unknown ops get words only.

    In vjp words, {name} stands for an argument's (or {out} the node's) sub-expression.
    """
    if op_name in RULES:
        return RULES[op_name]
    args = tuple(f"x{i}" for i in range(arity))
    if op_name == "stack":
        return LocalRule(args, vjp=tuple(f"g[{i}]" for i in range(arity)))
    return LocalRule(args, vjp=(GENERIC_WORDS.format(op=op_name),) * arity)
