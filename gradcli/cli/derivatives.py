"""`gradcli grad`, `jacobian`, `hessian` and `ops`: the derivative commands and the language reference."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from gradcli.api import functional
from gradcli.cli.base import (
    AtolOpt, CheckOpt, CheckSamplesOpt, ChunkOpt, DebugOpt, DtypeOpt, ExpectOpt, ExprArg, Format, FormatOpt, LatexOpt,
    Method, MethodOpt, Mode, ModeOpt, OnError, OnErrorOpt, OutputOpt, PointsOpt, PrecisionOpt, RtolOpt, SeedOpt, SymbolicOpt, VarOpt,
    WrtOpt, app, chosen_dtype, emit, emit_result, expression_command, format_option, guarded, named_values, read_values,
)
from gradcli.cli.check import checked
from gradcli.errors import GradcliError
from gradcli.lang.values import parse_value

OpsNameArg = Annotated[Optional[str], typer.Argument(
    metavar="NAME", show_default=False, help="A function, alias or operator (softmax, clamp, %) to show in full.")]
OpsFormatOpt = format_option("table: for people, a table per family. json: one array, an object per function. "
                             "csv: a header line (signature, family, doc), then a row per function. plain: "
                             "refused, as there are no numbers to give.")


def conclude(result: functional.Result, fmt: Format | None, output: str | None, precision: int, *,
             check: bool = False, symbolic: bool = False, latex: bool = False, rtol: float = 1e-3,
             atol: float = 1e-5, samples: int = 32, expect: list[str] | None = None) -> None:
    """emit the result; with --check, --symbolic, --latex or --expect, the cross-check's output (cli/check.py)."""
    if not (check or symbolic or latex or expect):
        return emit_result(result, fmt, output, precision)
    checked(result, fmt, output, precision, check=check, symbolic=symbolic, latex=latex, rtol=rtol, atol=atol,
            samples=samples, expect=expect)


def derive(kind: str, expr: str, values: dict, wrt: str | None, options: dict, points: str | None,
           on_error: OnError, format: Format | None, output: str | None, precision: int, seed: int, check: bool,
           symbolic: bool, latex: bool, rtol: float, atol: float, check_samples: int, dtype: Any,
           expect: list[str] | None = None) -> None:
    """grad, jacobian or hessian (kind) with its own options: at each point of --points, or at the point given."""
    chosen = chosen_dtype(dtype)
    if points is not None:
        from gradcli.cli.script import run_points

        show = options.pop("show", None)
        mode = options.pop("mode", "auto")
        if mode != "auto":
            raise GradcliError("--mode chooses how one point's derivatives are built; with --points each point "
                               "takes the cheaper (auto)", kind="usage")
        run_points(kind, expr, values, wrt, points, on_error, format, output, precision, seed, dtype=chosen,
                   single={"--check": check, "--symbolic": symbolic, "--latex": latex, "--expect": bool(expect),
                           "--show": bool(show)}, **options)
        return
    result = getattr(functional, kind)(expr, values, wrt=wrt, dtype=chosen, **options)
    conclude(result, format, output, precision, check=check, symbolic=symbolic, latex=latex, rtol=rtol, atol=atol,
             samples=check_samples, expect=expect)


@expression_command(help="""Value and gradient of a scalar expression.

With --grad-output V (shaped like the output) a non-scalar expression gives the
vector-Jacobian product, as y.backward(V) does in PyTorch.

Examples:

\b
  gradcli grad "mean(2*x)" --x 1,2,3
  gradcli grad "(w*x - y)**2" --w 1 --x 2 --y 4 --wrt w
  gradcli grad "[m[0]**2, m[1]**3]" --m 2,3 --grad-output 2,3
""")
@guarded
def grad(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None,
         grad_output: Annotated[Optional[str], typer.Option("--grad-output", "-g", help="Cotangent V shaped like the output: gives Vᵀ·J.")] = None,
         format: FormatOpt = None, output: OutputOpt = None, seed: SeedOpt = 0, precision: PrecisionOpt = 4,
         var: VarOpt = None, points: PointsOpt = None, on_error: OnErrorOpt = OnError.stop,
         check: CheckOpt = False, symbolic: SymbolicOpt = False, latex: LatexOpt = False,
         rtol: RtolOpt = 1e-3, atol: AtolOpt = 1e-5, check_samples: CheckSamplesOpt = 32,
         expect: ExpectOpt = None,
         show: Annotated[Optional[str], typer.Option("--show", metavar="STEPS", help="Steps of a program to show (h,z or all): each one's value and the gradient with respect to it, as retain_grad() gives in PyTorch.")] = None,
         dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    values = read_values(ctx, expr, var, seed)
    cotangent = parse_value(grad_output, "grad-output", seed=seed) if grad_output is not None else None
    derive("grad", expr, values, wrt, {"grad_output": cotangent, "show": show}, points, on_error, format, output, precision, seed,
           check, symbolic, latex, rtol, atol, check_samples, dtype, expect)


@expression_command(help="""Value and full Jacobian (output.shape + variable.shape).

J[i, j] = d out[i] / d x[j]: by rows, from vector-Jacobian products with the standard
basis of the output (reverse mode), or by columns, from Jacobian-vector products with the
standard basis of the inputs (forward mode). --mode auto takes the fewer passes.

Examples:

\b
  gradcli jacobian "[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]" --m 2,3
  gradcli jacobian "tanh(W @ x)" --W "randn(3,3)" --x 1,2,3 --wrt x
  gradcli jacobian "sin(a*t + b)" --a 2 --b 0.5 --t "linspace(0,1,5)" --wrt a
""")
@guarded
def jacobian(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None, mode: ModeOpt = Mode.auto,
             method: MethodOpt = Method.batched, chunk: ChunkOpt = None, format: FormatOpt = None, output: OutputOpt = None, seed: SeedOpt = 0,
             precision: PrecisionOpt = 4, var: VarOpt = None, points: PointsOpt = None,
             on_error: OnErrorOpt = OnError.stop,
             explain: Annotated[bool, typer.Option("--explain", help="Show each row as one backward pass with a basis cotangent.")] = False,
             check: CheckOpt = False, symbolic: SymbolicOpt = False, latex: LatexOpt = False,
             rtol: RtolOpt = 1e-3, atol: AtolOpt = 1e-5, check_samples: CheckSamplesOpt = 32,
             expect: ExpectOpt = None, dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    values = read_values(ctx, expr, var, seed)
    if explain:
        if points is not None or check or symbolic or latex or expect:
            raise GradcliError("--explain shows the rows of one point; it cannot be combined with --points, "
                               "--check, --symbolic, --latex or --expect", kind="usage")
        from gradcli.cli.inspect import show_jacobian_rows

        return show_jacobian_rows(expr, values, wrt, format, chosen_dtype(dtype))
    derive("jacobian", expr, values, wrt, {"method": method.value, "chunk": chunk, "mode": mode.value}, points, on_error, format, output,
           precision, seed, check, symbolic, latex, rtol, atol, check_samples, dtype, expect)


@expression_command(help="""Value, gradient and Hessian blocks of a scalar expression.

H[a][b] = d²f / da db, shaped a.shape + b.shape. With --vector V, the Hessian-vector
product H·V only (forward over reverse, as torch.func.jvp over grad), without forming H.

Examples:

\b
  gradcli hessian "x @ A @ x" --x 1,2 --A "1,2;3,4" --wrt x
  gradcli hessian "sum(sin(x)) * y**2" --x 0.5,1 --y 3
  gradcli hessian "sum(x**3)" --x 1,2,3 --vector 1,0,0
""")
@guarded
def hessian(ctx: typer.Context, expr: ExprArg, wrt: WrtOpt = None,
            vector: Annotated[Optional[list[str]], typer.Option("--vector", metavar="[NAME=]V", show_default=False, help="Give H·V instead of H: V shaped like the variable (NAME=V per variable; left out: 0).")] = None,
            mode: Annotated[Mode, typer.Option("--mode", help="How the blocks are built: reverse (reverse over reverse, a pass per variable), forward (forward over reverse, one pass for all) or auto (forward when there are several variables).")] = Mode.auto,
            method: MethodOpt = Method.batched, chunk: ChunkOpt = None, format: FormatOpt = None, output: OutputOpt = None, seed: SeedOpt = 0,
            precision: PrecisionOpt = 4, var: VarOpt = None, points: PointsOpt = None,
            on_error: OnErrorOpt = OnError.stop,
            check: CheckOpt = False, symbolic: SymbolicOpt = False, latex: LatexOpt = False,
            rtol: RtolOpt = 1e-3, atol: AtolOpt = 1e-5, check_samples: CheckSamplesOpt = 32,
            expect: ExpectOpt = None, dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    values = read_values(ctx, expr, var, seed)
    options: dict[str, Any] = {"method": method.value, "chunk": chunk, "mode": mode.value}
    if vector:
        if points is not None:
            raise GradcliError("--vector works on one point, not with --points", kind="usage")
        names = [w.strip() for w in wrt.split(",")] if wrt else list(values)
        options["vector"] = named_values(vector, "--vector", names, seed)
    derive("hessian", expr, values, wrt, options, points, on_error, format, output,
           precision, seed, check, symbolic, latex, rtol, atol, check_samples, dtype, expect)


@expression_command(help="""Value and Jacobian-vector product J·T (forward mode), as torch.func.jvp.

Each --tangent gives a variable's tangent, shaped like it; variables without one are
constants. J·T is shaped like the output: the directional derivative along T.

Examples:

\b
  gradcli jvp "sin(x) * y" --x 0,1 --y 2 --tangent x=1,0
  gradcli jvp "tanh(W @ x)" --W "randn(3,3)" --x 1,2,3 --tangent x=1,0,0
""")
@guarded
def jvp(ctx: typer.Context, expr: ExprArg,
        tangent: Annotated[Optional[list[str]], typer.Option("--tangent", "-t", metavar="[NAME=]T", show_default=False, help="A variable's tangent, shaped like it: NAME=T, once per variable (a bare T when there is one variable).")] = None,
        format: FormatOpt = None, output: OutputOpt = None, seed: SeedOpt = 0, precision: PrecisionOpt = 4,
        var: VarOpt = None, check: CheckOpt = False, rtol: RtolOpt = 1e-3, atol: AtolOpt = 1e-5,
        check_samples: CheckSamplesOpt = 32, dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.api.forward import jvp as forward_jvp

    values = read_values(ctx, expr, var, seed)
    if not tangent:
        raise GradcliError("give a tangent: --tangent NAME=T for a variable (T shaped like it)", kind="usage")
    tangents = named_values(tangent, "--tangent", list(values), seed)
    result = forward_jvp(expr, values, tangents, dtype=chosen_dtype(dtype))
    conclude(result, format, output, precision, check=check, rtol=rtol, atol=atol, samples=check_samples)


@app.command(help="""Every function of the expression language, with a one-line description; with a NAME,
that function in full: its derivative in words, its kinks and an example that runs.

Examples:

\b
  gradcli ops
  gradcli ops --format json
  gradcli ops softmax
  gradcli ops %
""")
@guarded
def ops(name: OpsNameArg = None, format: OpsFormatOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.render.catalog import catalog_view, description_view

    emit(catalog_view() if name is None else description_view(name), format, None)
