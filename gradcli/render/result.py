"""The View of a derivative result (grad, vjp, jacobian, hessian, jvp, hvp): its JSON object,
its CSV row, its plain lines, its rich tables and its .npy/.npz files.

    json   {"expression", "value", "shape", "wrt", ["dtype": "float32"], ["grad_output"], ["mode"],
            "gradients" | "jacobian" | "gradients" and "hessian" | "tangents" and "jvp" |
            "gradients", "vector" and "hvp", ["steps"], ["warnings"]}; float32 numbers with the
            shortest digits that read back as them in float32
    csv    a header line and one row: inputs, value, derivative entries (render/rows.py)
    plain  one line per variable in wrt order (Hessian: one line per block a,b; jvp: the one
           J·t), each an array in the syntax VALUE accepts, at full precision
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.api.problem import Result
from gradcli.errors import GradcliError
from gradcli.lang.numbers import plain_array, to_json
from gradcli.render.output import write_atomic
from gradcli.render.rows import columns, entry_labels
from gradcli.render.view import View, once


def payload(result: Result) -> dict[str, Any]:
    """The JSON object of a result: expression, value, shape, wrt and the derivatives."""
    out: dict[str, Any] = {
        "expression": result.expression,
        "value": to_json(result.value),
        "shape": list(result.shape),
        "wrt": list(result.wrt),
    }
    if result.problem.dtype == np.float32:  # (float64, the default, goes unsaid)
        out["dtype"] = "float32"
    if result.grad_output is not None:
        out["grad_output"] = to_json(result.grad_output)
    if result.mode is not None:
        out["mode"] = result.mode
    if result.kind == "jvp":
        out["tangents"] = {k: to_json(v) for k, v in result.tangents.items()}
        out["jvp"] = to_json(result.jvp)
    elif result.kind == "hvp":
        out["gradients"] = {k: to_json(v) for k, v in result.gradients.items()}
        out["vector"] = {k: to_json(v) for k, v in result.tangents.items()}
        out["hvp"] = {k: to_json(v) for k, v in result.hvp.items()}
    elif result.kind in ("grad", "vjp"):
        out["gradients"] = {k: to_json(v) for k, v in result.gradients.items()}
    elif result.kind == "jacobian":
        out["jacobian"] = {k: to_json(v) for k, v in result.jacobian.items()}
    else:
        out["gradients"] = {k: to_json(v) for k, v in result.gradients.items()}
        out["hessian"] = {a: {b: to_json(v) for b, v in row.items()} for a, row in result.hessian.items()}
    if result.steps:
        out["steps"] = {name: {k: to_json(v) for k, v in step.items()} for name, step in result.steps.items()}
    if result.warnings:
        out["warnings"] = [w.message for w in result.warnings]
    return out


def plain_lines(result: Result) -> list[str]:
    """One line per variable in wrt order (Hessian: one line per block a,b); then, per shown step of a
    program, a line of its value and a line of the gradient with respect to it."""
    if result.kind == "hessian":
        return [plain_array(result.hessian[a][b]) for a in result.wrt for b in result.wrt]
    if result.kind == "jvp":
        return [plain_array(result.jvp)]
    if result.kind == "hvp":
        return [plain_array(result.hvp[name]) for name in result.wrt]
    table = result.jacobian if result.kind == "jacobian" else result.gradients
    steps = [plain_array(step[k]) for step in (result.steps or {}).values() for k in ("value", "gradient")]
    return [plain_array(table[name]) for name in result.wrt] + steps


def csv_rows(result: Result) -> list[Any]:
    """The header row, then the result's one row of numbers."""
    groups = columns(result.problem.values, result.value, gradients=result.gradients, jacobian=result.jacobian,
                     hessian=result.hessian)
    if result.kind == "jvp":
        groups += [(entry_labels("jvp", result.shape), np.asarray(result.jvp).reshape(1, -1))]
    elif result.kind == "hvp":
        groups += [(entry_labels(f"hvp/d{name}", np.shape(a)), np.asarray(a).reshape(1, -1))
                   for name, a in result.hvp.items()]
    return [[[name for names, _ in groups for name in names]], np.concatenate([a for _, a in groups], axis=1)]


def arrays(result: Result) -> dict[str, np.ndarray]:
    """Named arrays for .npz output: value, then grad_x / jacobian_x / hessian_x_y."""
    out = {"value": np.asarray(result.value)}
    if result.kind == "hessian":
        out.update({f"hessian_{a}_{b}": result.hessian[a][b] for a in result.wrt for b in result.wrt})
    elif result.kind == "jvp":
        out["jvp"] = result.jvp
    elif result.kind == "hvp":
        out.update({f"hvp_{k}": v for k, v in result.hvp.items()})
    elif result.kind == "jacobian":
        out.update({f"jacobian_{k}": v for k, v in result.jacobian.items()})
    else:
        out.update({f"grad_{k}": v for k, v in result.gradients.items()})
    return out


def write_npz(result: Result, path: str) -> None:
    named = arrays(result)
    write_atomic(path, lambda fh: np.savez(fh, **named), binary=True)


def write_npy(result: Result, path: str) -> None:
    """The one derivative array; a result with several is refused (.npz holds them all)."""
    named = arrays(result)
    named.pop("value")
    if len(named) != 1:
        raise GradcliError(f"a .npy file holds one array and this result has {len(named)} "
                           f"({', '.join(named)}): use .npz", kind="usage")
    (only,) = named.values()
    write_atomic(path, lambda fh: np.save(fh, only, allow_pickle=False), binary=True)


def draw(result: Result, precision: int, console: Any) -> None:
    from gradcli.render.tables import render_table

    render_table(result, console, precision)


def result_view(result: Result, precision: int) -> View:
    """Every format of one derivative result."""
    return View(json=once(lambda: [payload(result)]),
                csv=lambda: csv_rows(result),
                plain=once(lambda: plain_lines(result)),
                table=lambda console: draw(result, precision, console),
                files={".npy": lambda path: write_npy(result, path), ".npz": lambda path: write_npz(result, path)})
