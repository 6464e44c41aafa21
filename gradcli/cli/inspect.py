"""`gradcli graph` and `gradcli explain`: the computation graph, and reverse mode step by step.

The maths is in analysis/graph.py and analysis/explain.py; this module reads options and emits
their views (render/graph.py: a rich tree, DOT, Mermaid or JSON; render/explain.py: text or JSON).
`show_jacobian_rows` serves `gradcli jacobian --explain`.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from gradcli.cli.base import (
    DebugOpt,
    DtypeOpt,
    ExprArg,
    Format,
    SeedOpt,
    VarOpt,
    WrtOpt,
    chosen_dtype,
    default_format,
    emit,
    expression_command,
    format_option,
    guarded,
    read_values,
)
from gradcli.lang.values import parse_value

GradOutputOpt = Annotated[Optional[str], typer.Option(
    "--grad-output", "-g", help="Cotangent V shaped like a non-scalar output: the backward pass of Vᵀ·J.")]


ExplainFormatOpt = format_option(
    "table: the steps as text for people. json: one object with every step. csv: refused. plain: refused. "
    "The steps are prose with numbers in it; gradcli grad and jacobian give the numbers alone.")


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


@expression_command(help="""The computation graph the engine builds for an expression.

Each node is shown with its PyTorch-style name (MulBackward0, ..., AccumulateGrad for a
variable), the sub-expression it came from and, with values given, its shape, its
forward value and the gradient that flowed through it. A variable used twice is one
node with two parents.

Examples:

\b
  gradcli graph "x*x + y" --x 3 --y 1
  gradcli graph "sin(x)*y"
  gradcli graph "(w*x - y)**2" --w 1 --x 2 --y 4 -f dot | dot -Tsvg > g.svg
  gradcli graph "sum(sin(x))" --x 1,2 --format mermaid
""")
@guarded
def graph(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, grad_output: GradOutputOpt = None,
          format: Annotated[Optional[GraphFormat], typer.Option(
              "--format", "-f", help="tree, dot, mermaid or json (default: tree, or json with GRADCLI_FORMAT=json).",
              show_default=False)] = None,
          seed: SeedOpt = 0, var: VarOpt = None, dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.analysis.graph import graph_of
    from gradcli.render import graph as draw

    cotangent = parse_value(grad_output, "grad-output", seed=seed) if grad_output is not None else None
    g = graph_of(expr, read_values(ctx, expr, var, seed), wrt, cotangent, chosen_dtype(dtype))
    fmt = format or (GraphFormat.json if default_format() is Format.json else GraphFormat.tree)
    emit(draw.graph_view(g), "table" if fmt is GraphFormat.tree else fmt.value, None)


@expression_command(help="""Reverse mode step by step: the forward pass, then the backward pass.

The forward pass lists every sub-expression in evaluation order with its value. The
backward pass follows the engine: for each node the upstream gradient, the local rule
in words and numbers, and the gradient passed to each input; a variable reached by
several paths shows the addition. It ends with the gradients `gradcli grad` gives, notes
on non-differentiable points, and the first nan or inf with where it came from.

Examples:

\b
  gradcli explain "(w*x - y)**2" --w 1 --x 2 --y 4 --wrt w
  gradcli explain "x*x + sin(x)" --x 2
  gradcli explain "[m[0]**2, m[1]**3]" --m 2,3 --grad-output 1,1
  gradcli explain "where(x > 0, sqrt(x), 0)" --x 0
""")
@guarded
def explain(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, grad_output: GradOutputOpt = None,
            format: ExplainFormatOpt = None, seed: SeedOpt = 0, var: VarOpt = None, dtype: DtypeOpt = None,
            debug: DebugOpt = False) -> None:
    from gradcli.analysis import explain as steps
    from gradcli.api.problem import problem
    from gradcli.render.explain import explain_view, explanation_lines

    cotangent = parse_value(grad_output, "grad-output", seed=seed) if grad_output is not None else None
    e = steps.explain(problem(expr, read_values(ctx, expr, var, seed), wrt, dtype=chosen_dtype(dtype)), cotangent)
    _write(explain_view(e, explanation_lines, "grad"), e, format)


def show_jacobian_rows(expr: str, values: dict[str, Any], wrt: str | None, fmt: Format | None,
                       dtype: str = "float64") -> None:
    """`gradcli jacobian --explain`: each row of the Jacobian as one basis VJP."""
    from gradcli.analysis import explain as steps
    from gradcli.api.problem import problem
    from gradcli.render.explain import explain_view, jacobian_lines

    e = steps.jacobian_rows(problem(expr, values, wrt, dtype=dtype))
    _write(explain_view(e, jacobian_lines, "jacobian"), e, fmt)


def _write(view: Any, e: Any, fmt: Format | None) -> None:
    emit(view, fmt, None)
    if e.notes and (fmt or default_format()) is Format.json:
        # the text has its notes; JSON has them as data, and they go to standard error for people too
        sys.stderr.write("".join(f"note: {n}\n" for n in e.notes))
