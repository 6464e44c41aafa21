"""A problem (an expression with its values) and a Result (what a command computed).

Every command starts from `problem(expr, values, wrt)`: the expression parsed, its
functions and variables checked, its values as arrays of its dtype (float64, or float32 as
PyTorch's default: the values rounded to float32 once, here, as torch.tensor does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.api.evaluate import check_functions, evaluate, variables
from gradcli.autodiff.engine import LeafNode, Tensor, as_array, dtype_of
from gradcli.autodiff.op import FUNCTIONS
from gradcli.errors import GradcliError, closest, param, value_hint
from gradcli.lang.grammar import CONSTANTS
from gradcli.lang.parser import parse
from gradcli.lang.printer import unparse
from gradcli.lang.tree import Expr, postorder


@dataclass
class Problem:
    """A parsed expression with its values: what every command starts from."""

    source: str
    tree: Expr
    names: list[str]
    wrt: list[str]
    values: dict[str, np.ndarray]
    dtype: np.dtype = np.dtype(np.float64)  # of the values and of every computed array

    @property
    def expression(self) -> str:
        return unparse(self.tree)

    def leaves(self) -> dict[str, Tensor]:
        """Fresh tensors for the values; those in wrt require grad."""
        return {n: Tensor(v, requires_grad=n in self.wrt) for n, v in self.values.items()}

    def forward(self, leaves: Mapping[str, Tensor] | None = None,
                on_node: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        leaves = dict(leaves) if leaves is not None else self.leaves()
        return evaluate(self.tree, leaves, source=self.source, on_node=on_node), leaves

    @property
    def steps(self) -> list[str]:
        """The names of a program's steps (NAME = EXPR), in order; none for an expression."""
        return [s.value for s in self.tree.args if s.kind == "let"] if self.tree.kind == "program" else []


@dataclass
class Result:
    """What a command computed. Unused derivative fields stay None."""

    kind: str  # grad, vjp, jacobian, hessian, jvp or hvp
    problem: Problem
    value: np.ndarray
    gradients: dict[str, np.ndarray] | None = None
    jacobian: dict[str, np.ndarray] | None = None
    hessian: dict[str, dict[str, np.ndarray]] | None = None
    grad_output: np.ndarray | None = None
    jvp: np.ndarray | None = None  # J·t, shaped like the output
    hvp: dict[str, np.ndarray] | None = None  # (H·v)[a], shaped like a
    tangents: dict[str, np.ndarray] | None = None  # the t of a jvp, the v of an hvp, per variable
    mode: str | None = None  # how derivatives were built: reverse, forward or forward-over-reverse
    warnings: list[GradcliError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # non-differentiable points met (api/kinks.py)
    # A program's steps shown (show=): name -> {"value": array, "gradient": d out / d step}, as retain_grad()
    steps: dict[str, dict[str, np.ndarray]] | None = None

    @property
    def expression(self) -> str:
        return self.problem.expression

    @property
    def wrt(self) -> list[str]:
        return self.problem.wrt

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape


def problem(expr: str | Expr, values: Mapping[str, Any], wrt: Iterable[str] | str | None = None,
            *, source: str | None = None, dtype: Any = None) -> Problem:
    """Parse expr and check values and wrt against its variables; dtype: "float64" (default) or "float32"."""
    dtype = dtype_of(dtype)
    tree = parse(expr) if isinstance(expr, str) else expr
    text = expr if isinstance(expr, str) else (source or unparse(tree))
    check_functions(tree, text)
    names = variables(tree)
    missing = [n for n in names if n not in values]
    extra = [n for n in values if n not in names]
    if missing:
        raise _missing_value(tree, text, missing, extra)
    if extra:
        raise GradcliError(f"{', '.join(extra)} {'is not a variable' if len(extra) == 1 else 'are not variables'} "
                           f"of the expression (its variables: {', '.join(names) or 'none'})", kind="name")
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()]
    chosen = list(names if wrt is None else wrt)
    for w in chosen:
        if w not in names:
            raise GradcliError(f"{param('wrt')} names {w!r}, which is not a variable of the expression "
                               f"(its variables: {', '.join(names) or 'none'})", kind="name")
    if len(set(chosen)) != len(chosen):
        raise GradcliError(f"{param('wrt')} names a variable twice", kind="name")
    if not chosen:
        raise GradcliError("the expression has no variables to differentiate", kind="name")
    return Problem(text, tree, names, chosen, {n: as_array(values[n], dtype) for n in names}, dtype)


def variable_names(expr: str) -> list[str]:
    """The variables of expr, in reading order: the names a caller gives values for.

    >>> variable_names("w*x + sin(w) + pi")
    ['w', 'x']
    """
    tree = parse(expr)
    check_functions(tree, expr)
    return variables(tree)


def _missing_value(tree: Expr, source: str, missing: list[str], given: list[str]) -> GradcliError:
    """The error for variables without a value, pointing at the first one's first use."""
    first = next(node for node in postorder(tree) if node.kind == "name" and node.value == missing[0])
    message = f"no value for {', '.join(missing)}: give " + " ".join(value_hint(n) for n in missing)
    hint = closest(missing[0], given)
    constant = {**{c.upper(): c for c in CONSTANTS}, "INFINITY": "inf"}.get(missing[0].upper())
    if missing[0] in FUNCTIONS:
        message += f" ({missing[0]} is a function: call it as {missing[0]}(...))"
    elif hint:
        message += f" (did you mean {hint}, which has a value?)"
    elif constant:
        message += f" (did you mean the constant {constant}?)"
    return GradcliError(message, kind="name", span=first.span, source=source)


def leaf_cotangents(leaves: Mapping[str, Tensor], wrt: Iterable[str],
                    found: Mapping[LeafNode, Tensor]) -> dict[str, Tensor | None]:
    """The cotangent a backward pass left at each variable of wrt; None where none flowed."""
    by_tensor = {id(node.tensor): ct for node, ct in found.items()}
    return {name: by_tensor.get(id(leaves[name])) for name in wrt}


def leaf_arrays(leaves: Mapping[str, Tensor], wrt: list[str], found: Mapping[LeafNode, Tensor],
                     batch: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """As leaf_cotangents, as arrays shaped batch + the variable's shape (zeros where none flowed)."""
    return {name: np.zeros(batch + leaves[name].shape, leaves[name].dtype) if ct is None else owned(ct.data)
            for name, ct in leaf_cotangents(leaves, wrt, found).items()}


def owned(a: np.ndarray) -> np.ndarray:
    return a if a.flags.writeable and a.flags.c_contiguous else np.array(a)


@contextmanager
def differentiating(p: Problem) -> Iterator[None]:
    """Around a backward pass: numpy's warnings off, and errors point into p's expression."""
    try:
        with np.errstate(all="ignore"):
            yield
    except GradcliError as err:
        raise err.with_source(p.source) from None
