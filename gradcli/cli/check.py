"""`gradcli check EXPR`, and the --check / --symbolic / --latex output of grad, jacobian and hessian.

The comparison is check.py's and the drawing check_render.py's. A disagreement is raised
after the output is written, as an error of kind "check": exit status 1.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from gradcli.cli.base import (
    VARIABLES,
    AtolOpt,
    CheckSamplesOpt,
    DebugOpt,
    ExprArg,
    Format,
    FormatOpt,
    LatexOpt,
    OutputOpt,
    PrecisionOpt,
    RtolOpt,
    SeedOpt,
    VarOpt,
    WrtOpt,
    announce,
    app,
    default_format,
    emit,
    guarded,
    read_values,
)
from gradcli.errors import GradcliError


def checked(result: Any, fmt: Format | None, output: str | None, precision: int, *, check: bool, symbolic: bool,
            latex: bool, rtol: float, atol: float, samples: int) -> None:
    """Write result with its check (--check), or its symbolic derivatives only (--symbolic, --latex)."""
    from gradcli.analysis import check as checking

    fmt = fmt or default_format()
    if symbolic or not check:
        if check:
            raise GradcliError("--symbolic prints the formulas only, with no numbers to check: drop --check "
                               "or --symbolic", kind="usage")
        if output:
            raise GradcliError("--symbolic and --latex print the formulas; they do not write --output files "
                               "(use --check --output FILE.json for formulas with the numbers)", kind="usage")
        return _formulas(checking.formulas(result, samples), fmt, latex)
    report = checking.verify(result, checking.Tolerance(rtol=rtol, atol=atol), samples)
    json_file = bool(output) and output.lower().endswith(".json")
    if json_file or (fmt is Format.json and not output):
        from gradcli.render import output as render
        from gradcli.render.check import check_payload

        announce(result)
        text = render.dumps({**render.payload(result), "check": check_payload(report, latex)}) + "\n"
        if json_file:
            render.write_atomic(output, lambda fh: fh.write(text), binary=False)
            _summary_to_stderr(report)
        else:
            sys.stdout.write(text)
    elif output or fmt is not Format.table:
        # The check goes to standard error, so arrays in a file or parseable text stay as they were.
        emit(result, fmt, output, precision)
        _summary_to_stderr(report)
    else:
        from rich.console import Console

        from gradcli.render.check import render_check

        emit(result, fmt, output, precision)
        render_check(report, Console(), precision, latex)
    sys.stdout.flush()
    bad = report.disagreeing()
    if bad:
        raise GradcliError(f"the check failed: {len(bad)} of {len(report.entries)} entries disagree beyond the "
                           f"tolerance: {', '.join(bad)}", kind="check")


def _formulas(report: Any, fmt: Format, latex: bool) -> None:
    from gradcli.render.check import formula_lines, formula_strings

    if fmt is Format.json:
        from gradcli.render.output import dumps

        data = {"expression": report.result.expression, "wrt": report.result.wrt,
                "derivatives": formula_strings(report)}
        if latex:
            data["latex"] = formula_strings(report, latex=True)
        sys.stdout.write(dumps(data) + "\n")
    else:
        every = [f for fs in report.formulas.values() for f in fs]
        sys.stdout.write("\n".join(formula_lines(every, latex=latex, pretty=fmt is Format.table)) + "\n")
    sampled = {n: k for n, k in report.sampled.items() if k < report.result.problem.values[n].size}
    for name, k in sampled.items():
        sys.stderr.write(f"note: {k} of {report.result.problem.values[name].size:,} coordinates of {name} "
                         f"shown (--check-samples)\n")


def _summary_to_stderr(report: Any) -> None:
    from gradcli.render.check import verdict

    if report.ok:
        sys.stderr.write(f"check: {verdict(report)}\n")
    if report.sympy.note:
        sys.stderr.write(f"check: SymPy not checked: {report.sympy.note}\n")


@app.command("check", context_settings=VARIABLES, help="""Check a derivative three ways: autograd, SymPy, finite differences.

The gradient of a scalar expression (the Jacobian of any other) is computed by the
engine, by SymPy from the same expression, and by central finite differences, and shown
side by side. Exit status 0 when all agree, 1 when an entry disagrees beyond the
tolerance, 2 on bad input. Inputs with more than --check-samples coordinates are sampled.

Examples:

  gradcli check "mean(2*x)" --x 1,2,3

  gradcli check "tanh(W @ x)" --W "randn(3,3)" --x 1,2,3 --wrt x

  gradcli check "sum(sin(x)*exp(-x**2))" --x "randn(100000)" --format json
""")
@guarded
def check_command(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, format: FormatOpt = None,
                  output: OutputOpt = None, seed: SeedOpt = 0, precision: PrecisionOpt = 4, var: VarOpt = None,
                  rtol: RtolOpt = 1e-3, atol: AtolOpt = 1e-5, check_samples: CheckSamplesOpt = 32,
                  latex: LatexOpt = False, debug: DebugOpt = False) -> None:
    from gradcli.analysis.check import derivative

    values = read_values(ctx, var, seed)
    checked(derivative(expr, values, wrt), format, output, precision, check=True, symbolic=False, latex=latex,
            rtol=rtol, atol=atol, samples=check_samples)
