"""`gradcli check EXPR`, and the --check / --symbolic / --latex output of grad, jacobian and hessian.

The comparison is analysis/check.py's and the views render/check.py's. A disagreement is raised
after the output is written, as an error of kind "check": exit status 1.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any, Optional

import typer

from gradcli.cli.base import (
    AtolOpt,
    CheckSamplesOpt,
    DebugOpt,
    DtypeOpt,
    ExpectOpt,
    ExprArg,
    Format,
    LatexOpt,
    OutputOpt,
    PrecisionOpt,
    RtolOpt,
    SeedOpt,
    VarOpt,
    WrtOpt,
    announce,
    chosen_dtype,
    default_format,
    emit,
    expression_command,
    format_option,
    guarded,
    read_values,
)
from gradcli.cli.arguments import read_program_file
from gradcli.errors import GradcliError

CheckFormatOpt = format_option(
    "table: for people, the result and the check side by side. json: one object, the result's with a "
    "\"check\" object. csv: a header line, then the result's row. plain: numbers only, the result's "
    "derivatives one line each, in the syntax VALUE accepts. With csv and plain the verdict goes to "
    "standard error.")


# NAME=FORMULA or a,b=FORMULA; a bare formula (which may hold == or name=value keywords) has no such head.
EXPECT_HEAD = re.compile(r"\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)?)\s*=(?!=)(.*)$", re.S)


def expectations(items: list[str]) -> dict[str, str]:
    """--expect's formulas by the derivative they stand for ("" for a bare one); @FILE reads one (a program
    too: with steps, a formula names its derivative, as x=@dx.gc)."""
    formulas: dict[str, str] = {}
    for item in items:
        m = EXPECT_HEAD.match(item)
        key, text = (re.sub(r"\s", "", m.group(1)), m.group(2)) if m else ("", item)
        if key in formulas:
            raise GradcliError(f"--expect gives two formulas for {key or 'the derivative'}", kind="usage")
        formulas[key] = read_program_file(text.strip()[1:]) if text.strip().startswith("@") else text
    return formulas


def checked(result: Any, fmt: Format | None, output: str | None, precision: int, *, check: bool, symbolic: bool,
            latex: bool, rtol: float, atol: float, samples: int, expect: list[str] | None = None) -> None:
    """Write result with its check (--check) and the verdicts on a hand-derived formula (--expect), or its
    symbolic derivatives only (--symbolic, --latex)."""
    from gradcli.analysis import check as checking
    from gradcli.render.check import check_view, formulas_view
    from gradcli.render.result import result_view

    if symbolic or (latex and not check):
        if check or expect:
            raise GradcliError(f"--symbolic prints the formulas only, with no numbers to compare: drop "
                               f"{'--check' if check else '--expect'} or --symbolic", kind="usage")
        if output:
            raise GradcliError("--symbolic and --latex print the formulas; they do not write --output files "
                               "(use --check --output FILE.json for formulas with the numbers)", kind="usage")
        formulas = checking.formulas(result, samples)
        emit(formulas_view(formulas, latex), fmt, None)
        return _sampled_to_stderr(formulas)
    report = checking.verify(result, checking.Tolerance(rtol=rtol, atol=atol), samples) if check else None
    verdicts = _expected(result, expect) if expect else None
    announce(result)
    view = check_view(result, report, precision, latex) if report else result_view(result, precision)
    emit(view if verdicts is None else _with_expect(view, verdicts, precision), fmt, output)
    if output or (fmt or default_format()) in (Format.plain, Format.csv):
        # The verdicts go to standard error, so arrays in a file or parseable text stay as they were.
        if report:
            _summary_to_stderr(report)
        if verdicts:
            _expect_to_stderr(verdicts)
    bad = report.disagreeing() if report else []
    if bad:
        raise GradcliError(f"the check failed: {len(bad)} of {len(report.entries)} entries disagree beyond the "
                           f"tolerance: {', '.join(bad)}", kind="check")
    if verdicts and not verdicts.ok:
        from gradcli.render.expect import failure

        raise GradcliError(failure(verdicts), kind="check")


def _expected(result: Any, items: list[str]) -> Any:
    from gradcli.analysis.expect import expect

    return expect(result, expectations(items))


def _with_expect(view: Any, verdicts: Any, precision: int) -> Any:
    from gradcli.render.expect import with_expect

    return with_expect(view, verdicts, precision)


def _expect_to_stderr(verdicts: Any) -> None:
    from gradcli.render.expect import summary_lines

    sys.stderr.write("".join(f"expect: {line}\n" for line in summary_lines(verdicts)))


def _sampled_to_stderr(report: Any) -> None:
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


@expression_command("check", help="""Check a derivative three ways: autograd, SymPy, finite differences.

The gradient of a scalar expression (the Jacobian of any other) is computed by the
engine, by SymPy from the same expression, and by central finite differences, and shown
side by side. Exit status 0 when all agree, 1 when an entry disagrees beyond the
tolerance, 2 on bad input. Inputs with more than --check-samples coordinates are sampled.

Examples:

\b
  gradcli check "mean(2*x)" --x 1,2,3
  gradcli check "tanh(W @ x)" --W "randn(3,3)" --x 1,2,3 --wrt x
  gradcli check "sum(sin(x)*exp(-x**2))" --x "randn(100000)" --format json
  gradcli check "exp(sin(x))/(1 + x**2)" --x 0.5 --order 6
""")
@guarded
def check_command(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, format: CheckFormatOpt = None,
                  output: OutputOpt = None, seed: SeedOpt = 0, precision: PrecisionOpt = 4, var: VarOpt = None,
                  rtol: RtolOpt = 1e-3, atol: AtolOpt = 1e-5, check_samples: CheckSamplesOpt = 32,
                  latex: LatexOpt = False, expect: ExpectOpt = None, dtype: DtypeOpt = None,
                  order: Annotated[Optional[int], typer.Option("--order", min=0, help="Check f, f', ..., f^(K) of one variable (Taylor mode) against SymPy's diff and finite differences.")] = None,
                  debug: DebugOpt = False) -> None:
    from gradcli.analysis.check import derivative

    values = read_values(ctx, expr, var, seed)
    if order is not None:
        from gradcli.cli.higher import check_order

        return check_order(expr, values, wrt, order, format, output, precision, rtol, atol, chosen_dtype(dtype))
    checked(derivative(expr, values, wrt, chosen_dtype(dtype)), format, output, precision, check=True, symbolic=False, latex=latex,
            rtol=rtol, atol=atol, samples=check_samples, expect=expect)
