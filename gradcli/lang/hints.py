"""What to tell someone who calls a function gradcli does not have.

A name from PyTorch, numpy or calculus that gradcli lacks, but can write exactly, gets
that rewrite (`log10(x)` is `log(x) / log(10)`); any other name gets the closest known
name if it looks like a typo of one (errors.closest), and nothing otherwise: a far-off
guess misleads more than it helps. A function gradcli has under another name is an alias
on its operation record, not an entry here.
"""

from __future__ import annotations

from collections.abc import Iterable

from gradcli.errors import closest

# name -> (how it is called, the same in gradcli's language[, where the two differ])
REWRITES: dict[str, tuple[str, ...]] = {
    "ln": ("ln(x)", "log(x)"),
    "log10": ("log10(x)", "log(x) / log(10)"),
    "log2": ("log2(x)", "log(x) / log(2)"),
    "exp2": ("exp2(x)", "2**x"),
    "rsqrt": ("rsqrt(x)", "1 / sqrt(x)"),
    "reciprocal": ("reciprocal(x)", "1 / x"),
    "hardtanh": ("hardtanh(x)", "clip(x, -1, 1)"),
    "relu6": ("relu6(x)", "clip(x, 0, 6)"),
    "silu": ("silu(x)", "x * sigmoid(x)"),
    "logsigmoid": ("logsigmoid(x)", "-softplus(-x)"),
    "softsign": ("softsign(x)", "x / (1 + abs(x))"),
    "hypot": ("hypot(x, y)", "sqrt(x**2 + y**2)"),
    # NOTE: the half-angle form is atan2 everywhere but on the negative x axis (y = 0, x <= 0).
    "atan2": ("atan2(y, x)", "2*atan(y / (sqrt(x**2 + y**2) + x))", "except on the negative x axis"),
    "arctan2": ("arctan2(y, x)", "2*atan(y / (sqrt(x**2 + y**2) + x))", "except on the negative x axis"),
    "stack": ("stack([a, b])", "[a, b]"),
}


def function_hint(name: str, known: Iterable[str]) -> str:
    """The end of an 'unknown function' message: a rewrite, a closest name, or ''.

    >>> function_hint("log10", ["log", "log1p"])
    ': write log10(x) as log(x) / log(10)'
    >>> function_hint("sinn", ["sin", "sinh"])
    ": did you mean 'sin'?"
    """
    if name in REWRITES:
        call, rewrite, *where = REWRITES[name]
        return f": write {call} as {rewrite}" + "".join(f"; equal {w}" for w in where)
    hint = closest(name, known)
    return f": did you mean {hint!r}?" if hint else ""
