"""Where a value or a gradient stopped being finite.

The fast path never checks intermediate values; only when a result holds nan or inf is
the computation run again, watched node by node, to point at the first sub-expression
whose value (forward) or gradient (backward) became non-finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff.engine import Tensor, run_backward
from gradcli.errors import GradcliError
from gradcli.api.evaluate import evaluate
from gradcli.api.problem import Result
from gradcli.lang.tree import Expr


def finite(a: Any) -> bool:
    """No nan or inf in a (None counts as finite)."""
    if a is None:
        return True
    a = np.asarray(a)
    # NOTE: a nan or inf entry makes the sum nan or inf, so a finite sum settles it in one
    # pass without a mask; only a sum that overflows needs the entry-by-entry test.
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.sum(a))) or bool(np.all(np.isfinite(a)))


def nonfinite_kind(a: Any) -> str:
    """'nan', 'inf' or '-inf': the worst non-finite value in a."""
    a = np.asarray(a)
    return "nan" if np.isnan(a).any() else ("inf" if (a == np.inf).any() else "-inf")


def first_nonfinite_value(tree: Expr, leaves: dict[str, Tensor], source: str) -> tuple[Expr, np.ndarray] | None:
    """The first sub-expression (in evaluation order) whose value holds nan or inf."""
    found: list[tuple[Expr, np.ndarray]] = []

    def watch(node: Expr, value: Any) -> None:
        if not found and isinstance(value, Tensor) and not finite(value.data):
            found.append((node, value.data))

    evaluate(tree, leaves, source=source, on_node=watch)
    return found[0] if found else None


def first_nonfinite_gradient(output: Tensor, seed: np.ndarray) -> Any:
    """The first graph node (in backward order) that passed on a nan or inf cotangent."""
    found: list = []

    def watch(node: Any, g: Tensor, cts: tuple) -> None:
        if found or not finite(g.data):
            return
        for ct in cts:
            if ct is not None and not finite(np.asarray(getattr(ct, "data", ct))):
                found.append((node, np.asarray(getattr(ct, "data", ct))))
                return

    with np.errstate(all="ignore"):
        run_backward([(output, Tensor(seed))], observer=watch)
    return found[0] if found else None


def with_warnings(result: Result) -> Result:
    """result, with a warning for each place its value or derivatives stopped being finite."""
    result.warnings = nonfinite_warnings(result)
    return result


def nonfinite_warnings(result: Result) -> list[GradcliError]:
    """Warnings (with spans) for a result whose value or derivatives are not all finite."""
    p = result.problem
    derivatives = [*(result.gradients or {}).values(), *(result.jacobian or {}).values(),
                   *(b for row in (result.hessian or {}).values() for b in row.values()),
                   result.jvp, *(result.hvp or {}).values()]
    if finite(result.value) and all(finite(d) for d in derivatives):
        return []
    if not finite(result.value):
        hit = first_nonfinite_value(p.tree, p.leaves(), p.source)
        if hit is not None:
            node, value = hit
            return [GradcliError(f"the value became {nonfinite_kind(value)} here", kind="value",
                                 span=node.span, source=p.source)]
        return [GradcliError("the value is not finite", kind="value")]
    out, _ = p.forward()
    seed = np.ones_like(out.data) if result.grad_output is None else result.grad_output
    hit = first_nonfinite_gradient(out, seed) if out.requires_grad and out.size == seed.size else None
    if hit is not None:
        node, ct = hit
        return [GradcliError(f"the gradient became {nonfinite_kind(ct)} here ({node.name})", kind="value",
                             span=node.span, source=p.source)]
    return [GradcliError("some derivatives are not finite", kind="value")]
