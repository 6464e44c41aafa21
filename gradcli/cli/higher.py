"""`gradcli derivative` and `gradcli taylor`: derivatives of higher order of one variable, by Taylor mode."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from gradcli.api.higher import DERIVATIVE_ORDER, MAX_ORDER, TAYLOR_ORDER
from gradcli.cli.base import (
    DebugOpt, DtypeOpt, ExprArg, Format, FormatOpt, OutputOpt, PrecisionOpt, SeedOpt, VarOpt, announce, chosen_dtype, emit,
    expression_command, guarded, read_values,
)
from gradcli.errors import GradcliError

OneWrtOpt = Annotated[Optional[str], typer.Option("--wrt", help="The variable, a number (default: the only variable that is a number; the others are constants).")]


def _order_option(default: int) -> object:
    return Annotated[int, typer.Option("--order", min=0, max=MAX_ORDER, help=f"Highest order K (default {default}).")]


@expression_command(help="""f, f', f'', ..., f^(K) at the point, with respect to one variable.

Taylor mode: truncated power series pushed through every operation, so the cost grows
as K² (nested backward passes would double at each order). The other variables are
constants and may be arrays. docs/higher.md lists the operations with a Taylor
rule.

Examples:

\b
  gradcli derivative "exp(sin(x))*cos(x)/(1 + x**2)" --x 0.5 --order 10
  gradcli derivative "sum(exp(x*v))" --x 0 --v 1,2,3 --order 4
""")
@guarded
def derivative(ctx: typer.Context, expr: ExprArg, order: _order_option(DERIVATIVE_ORDER) = DERIVATIVE_ORDER,
               wrt: OneWrtOpt = None, format: FormatOpt = None, output: OutputOpt = None, seed: SeedOpt = 0,
               precision: PrecisionOpt = 4, var: VarOpt = None, dtype: DtypeOpt = None,
               debug: DebugOpt = False) -> None:
    from gradcli.api import higher
    from gradcli.render.higher import series_view

    values = read_values(ctx, expr, var, seed)
    result = higher.derivative(expr, values, wrt=wrt, order=order, dtype=chosen_dtype(dtype))
    announce(result)
    emit(series_view(result, precision), format, output)


@expression_command(help="""Taylor coefficients f^(k)(x0)/k!, k = 0..K, about the variable's value x0.

With --symbolic, SymPy's series coefficients (exact) are shown beside them.

Examples:

\b
  gradcli taylor "exp(x)" --x 0 --order 5
  gradcli taylor "tan(x)" --x 0 --order 7 --symbolic
""")
@guarded
def taylor(ctx: typer.Context, expr: ExprArg, order: _order_option(TAYLOR_ORDER) = TAYLOR_ORDER,
           wrt: OneWrtOpt = None,
           symbolic: Annotated[bool, typer.Option("--symbolic", help="Also SymPy's series coefficients, exact, beside the numbers.")] = False,
           format: FormatOpt = None, output: OutputOpt = None, seed: SeedOpt = 0, precision: PrecisionOpt = 4,
           var: VarOpt = None, dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.api import higher
    from gradcli.render.higher import series_view

    values = read_values(ctx, expr, var, seed)
    result = higher.taylor(expr, values, wrt=wrt, order=order, dtype=chosen_dtype(dtype))
    exact = None
    if symbolic:
        from gradcli.analysis.check_order import series_coefficients

        exact = [str(c) for c in series_coefficients(result)]
    announce(result)
    emit(series_view(result, precision, exact), format, output)


def check_order(expr: str, values: dict, wrt: str | None, order: int, fmt: Format | None, output: str | None,
                precision: int, rtol: float, atol: float, dtype: str) -> None:
    """`gradcli check --order K`: the derivatives up to order K against SymPy and finite differences; exit 1
    when one disagrees."""
    from gradcli.analysis.check import verify_order
    from gradcli.api import higher
    from gradcli.render.higher import order_check_view

    result = higher.derivative(expr, values, wrt=wrt, order=order, dtype=dtype)
    report = verify_order(result, rtol=rtol, atol=atol)
    announce(result)
    emit(order_check_view(report, precision), fmt, output)
    if report.sympy_note:
        sys.stderr.write(f"check: SymPy not checked: {report.sympy_note}\n")
    bad = report.disagreeing()
    if bad:
        raise GradcliError(f"the check failed: {', '.join(bad)} disagree{'s' if len(bad) == 1 else ''} beyond the "
                           f"tolerance", kind="check")
