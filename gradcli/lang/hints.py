"""What to tell someone who calls a function gradcli does not have.

A name from PyTorch, numpy or calculus that gradcli lacks, but can write exactly, gets
that rewrite (`ln(x)` is `log(x)`); any other name gets the closest known
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
}


def function_hint(name: str, known: Iterable[str]) -> str:
    """The end of an 'unknown function' message: a rewrite, a closest name, or ''.

    >>> function_hint("ln", ["log", "log1p"])
    ': write ln(x) as log(x)'
    >>> function_hint("sinn", ["sin", "sinh"])
    ": did you mean 'sin'?"
    """
    if name in REWRITES:
        call, rewrite, *where = REWRITES[name]
        return f": write {call} as {rewrite}" + "".join(f"; equal {w}" for w in where)
    hint = closest(name, known)
    return f": did you mean {hint!r}?" if hint else ""
