"""`gradcli graph` and `gradcli explain`: the computation graph, and reverse mode step by step.

The maths is in analysis/graph.py and analysis/explain.py; this module reads options and renders:
a rich tree, DOT, Mermaid or JSON for the graph, and lines of text or JSON for the steps.
`show_jacobian_rows` serves `gradcli jacobian --explain`.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any, Optional

import numpy as np
import typer

from gradcli.cli.base import (
    VARIABLES,
    DebugOpt,
    ExprArg,
    Format,
    FormatOpt,
    SeedOpt,
    VarOpt,
    WrtOpt,
    app,
    default_format,
    guarded,
    read_values,
)
from gradcli.errors import GradcliError
from gradcli.lang.values import parse_value

GradOutputOpt = Annotated[Optional[str], typer.Option(
    "--grad-output", "-g", help="Cotangent V shaped like a non-scalar output: the backward pass of Vᵀ·J.")]


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


@app.command(context_settings=VARIABLES, help="""The computation graph the engine builds for an expression.

Each node is shown with its PyTorch-style name (MulBackward0, ..., AccumulateGrad for a
variable), the sub-expression it came from and, with values given, its shape, its
forward value and the gradient that flowed through it. A variable used twice is one
node with two parents.

Examples:

  gradcli graph "x*x + y" --x 3 --y 1

  gradcli graph "sin(x)*y"

  gradcli graph "(w*x - y)**2" --w 1 --x 2 --y 4 --format dot | dot -Tsvg > graph.svg

  gradcli graph "sum(sin(x))" --x 1,2 --format mermaid
""")
@guarded
def graph(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, grad_output: GradOutputOpt = None,
          format: Annotated[Optional[GraphFormat], typer.Option(
              "--format", "-f", help="tree, dot, mermaid or json (default: tree, or json with GRADCLI_FORMAT=json).",
              show_default=False)] = None,
          seed: SeedOpt = 0, var: VarOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.analysis.graph import graph_of
    from gradcli.render import graph as draw

    cotangent = parse_value(grad_output, "grad-output", seed=seed) if grad_output is not None else None
    g = graph_of(expr, read_values(ctx, var, seed), wrt, cotangent)
    fmt = format or (GraphFormat.json if default_format() is Format.json else GraphFormat.tree)
    if fmt is GraphFormat.tree:
        from rich.console import Console

        Console().print(draw.rich_tree(g))
        return
    if fmt is GraphFormat.json:
        from gradcli.render.output import dumps

        text = dumps(draw.graph_payload(g))
    else:
        text = draw.dot(g) if fmt is GraphFormat.dot else draw.mermaid(g)
    sys.stdout.write(text + "\n")


@app.command(context_settings=VARIABLES, help="""Reverse mode step by step: the forward pass, then the backward pass.

The forward pass lists every sub-expression in evaluation order with its value. The
backward pass follows the engine: for each node the upstream gradient, the local rule
in words and numbers, and the gradient passed to each input; a variable reached by
several paths shows the addition. It ends with the gradients `gradcli grad` gives, notes
on non-differentiable points, and the first nan or inf with where it came from.

Examples:

  gradcli explain "(w*x - y)**2" --w 1 --x 2 --y 4 --wrt w

  gradcli explain "x*x + sin(x)" --x 2

  gradcli explain "[m[0]**2, m[1]**3]" --m 2,3 --grad-output 1,1

  gradcli explain "where(x > 0, sqrt(x), 0)" --x 0
""")
@guarded
def explain(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, grad_output: GradOutputOpt = None,
            format: FormatOpt = None, seed: SeedOpt = 0, var: VarOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.analysis import explain as steps
    from gradcli.api.problem import problem

    cotangent = parse_value(grad_output, "grad-output", seed=seed) if grad_output is not None else None
    e = steps.explain(problem(expr, read_values(ctx, var, seed), wrt), cotangent)
    _write(e, format, explanation_lines(e))


def show_jacobian_rows(expr: str, values: dict[str, Any], wrt: str | None, fmt: Format | None) -> None:
    """`gradcli jacobian --explain`: each row of the Jacobian as one basis VJP."""
    from gradcli.analysis import explain as steps
    from gradcli.api.problem import problem

    e = steps.jacobian_rows(problem(expr, values, wrt))
    _write(e, fmt, jacobian_lines(e))


def _write(e: Any, fmt: Format | None, lines: list[str]) -> None:
    from gradcli.render.output import dumps

    fmt = fmt or default_format()
    if fmt is Format.csv:
        raise GradcliError("explain writes text (table or plain) or JSON, not CSV", kind="usage")
    text = dumps(explanation_payload(e)) if fmt is Format.json else "\n".join(lines)
    sys.stdout.write(text + "\n")
    if e.notes and fmt is Format.json:
        sys.stderr.write("".join(f"note: {n}\n" for n in e.notes))


# -- text --------------------------------------------------------------------------------
def _v(a: Any) -> str:
    from gradcli.lang.numbers import array_text

    return array_text(a)


def _d(of: str, by: str) -> str:
    from gradcli.analysis.explain import wrap

    return f"∂{wrap(of)}/∂{wrap(by)}"


def forward_lines(e: Any) -> list[str]:
    """One line per forward step: `text = operands = value    node name`."""
    lines = ["Forward pass, in evaluation order"]
    width = min(40, max((len(s["expression"]) for s in e.forward), default=0))
    for s in e.forward:
        if s["op"] in ("variable", "constant"):
            body = _v(s["value"])
            tag = s["op"] + (" (requires grad)" if s.get("requires_grad") else "")
        else:
            value = _v(s["value"])
            body = value if s["computed"] == value else f"{s['computed']} = {value}"
            tag = s["node"] or "no gradient"
        lines.append(f"  {s['expression']:<{width}} = {body}    {tag}")
    return lines


def backward_lines(steps: list[dict[str, Any]], root: str, output: str = "L") -> list[str]:
    """The backward steps; the root's upstream is named output (L, or out for a VJP)."""
    lines = []
    for s in steps:
        if s["phase"] == "accumulate":
            total = " + ".join(_v(t) for t in s["terms"])
            if len(s["terms"]) > 1:
                total += f" = {_v(s['gradient'])}   (one term per path: {', '.join(s['from'])})"
            lines += [f"  AccumulateGrad  {s['expression']}", f"    {_d('L', s['expression'])} = {total}"]
            continue
        up = " + ".join(_v(t) for t in s["upstream_terms"])
        if len(s["upstream_terms"]) > 1:
            up += f" = {_v(s['upstream'])}"
        at_root = s["expression"] == root
        lines += [f"  {s['node']}  {s['expression']}",
                  f"    upstream  {_d('L', output if at_root else s['expression'])} = {up}"
                  + (" (the seed)" if at_root else "")]
        for x in s["inputs"]:
            rule = x["rule"]
            if x["local"] is not None and rule.rsplit(" = ", 1)[-1] != _v(x["local"]).removesuffix(".0"):
                rule += f" = {_v(x['local'])}"
            passed = _v(x["gradient"])
            if x["local"] is not None:
                passed = f"{_v(s['upstream'])} × {_v(x['local'])} = {passed}"
            if x["summed"]:
                passed += "   (summed over the broadcast axes)"
            lines += [f"    rule      {rule}", f"    passes    {_d('L', x['expression'])} = {passed}"]
        if "note" in s:
            lines.append(f"    note      {s['note']}")
    return lines


def _gradient_lines(gradients: dict[str, Any], of: str = "L") -> list[str]:
    return [f"  {_d(of, name)} = {_v(g)}" for name, g in gradients.items()]


def explanation_lines(e: Any) -> list[str]:
    """The whole explanation as text: header, forward, backward, gradients, rows, trailer."""
    root = e.forward[-1]["expression"] if e.forward else e.source
    wrt = f"differentiated with respect to {', '.join(e.wrt)}"
    if e.grad_output is None:
        lines = [f"L = {e.source} = {_v(e.value)}, {wrt}", ""]
        output = "L"
    else:
        lines = [f"out = {e.source} = {_v(e.value)}", f"L = sum(v * out) with v = {_v(e.grad_output)} "
                 f"(the vector-Jacobian product vᵀJ), {wrt}", ""]
        output = "out"
    lines += forward_lines(e) + [""]
    lines.append("Backward pass, in the order the engine runs it")
    lines += backward_lines(e.backward, root, output) or [
        "  nothing to do: no variable with a gradient reaches the output"]
    lines += ["", "Gradients (as gradcli grad gives them)", *_gradient_lines(e.gradients)]
    if e.rows:
        lines += ["", "The same result from the rows of the Jacobian, one backward pass per basis vector:"]
        for r in e.rows:
            lines += [f"  backward({_v(r['seed'])}) gives row {r['row']}:",
                      *("  " + line for line in _gradient_lines(r["gradients"], f"out{r['index']}"))]
        for name in e.wrt:
            terms = " + ".join(f"{_v(c)} × row {r['row']}" for c, r in zip(np.ravel(e.grad_output), e.rows))
            lines.append(f"  vᵀJ for {name} = {terms} = {_v(e.gradients[name])}")
    return lines + _trailer(e)


def jacobian_lines(e: Any) -> list[str]:
    """`jacobian --explain` as text: the forward pass, one backward pass per row, the rows stacked."""
    lines = [f"out = {e.source} = {_v(e.value)}", "", *forward_lines(e), "",
             "Each row of the Jacobian is one backward pass, seeded with a basis vector:"]
    root = e.forward[-1]["expression"] if e.forward else e.source
    for r in e.rows:
        lines += ["", f"Row {r['row']}: backward({_v(r['seed'])}), so L = out{r['index']}"]
        lines += backward_lines(r["steps"], root, "out")
        lines += [f"  row {r['row']}:", *("  " + line for line in _gradient_lines(r["gradients"], f"out{r['index']}"))]
    lines += ["", "Jacobian (the rows stacked; as gradcli jacobian gives it)"]
    for name in e.wrt:
        lines.append(f"  {_d('out', name)} = {_v(e.jacobian[name])}")
    return lines + _trailer(e)


def _trailer(e: Any) -> list[str]:
    from gradcli.errors import caret_lines

    lines = []
    if e.notes:
        lines += ["", "Non-differentiable points", *(f"  note: {n}" for n in e.notes)]
    if e.nonfinite:
        bad = e.nonfinite
        lines += ["", f"Not finite: {bad['message']}"]
        if bad["span"] is not None:
            lines += caret_lines(e.source, tuple(bad["span"]))
        if "where_trap" in bad:
            lines.append(f"  {bad['where_trap']}")
    return lines


# -- JSON --------------------------------------------------------------------------------
def _plain(x: Any) -> Any:
    from gradcli.render.output import to_json

    if isinstance(x, np.ndarray):
        return to_json(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def explanation_payload(e: Any) -> dict[str, Any]:
    """The JSON object: expression, wrt, value, steps (forward, backward, accumulate), result."""
    out = {"expression": e.source, "wrt": e.wrt, "value": e.value,
           "steps": [*e.forward, *e.backward], "gradients": e.gradients, "notes": e.notes,
           "nonfinite": e.nonfinite}
    if e.grad_output is not None:
        out["grad_output"] = e.grad_output
    if e.rows:
        out["rows"] = e.rows
    return _plain(out)
