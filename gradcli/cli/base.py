"""The command line: parse options, make one library call, render. No maths here.

Variables are given as --NAME VALUE (or --NAME=VALUE, or -v NAME=VALUE for a name that
clashes with an option); cli/arguments.py reads them and the expression. Errors are
rendered here, once: a message and a caret under the expression on standard error, exit
status 2 (1 for a failed check), with --debug too. The library's messages name parameters
and variables (`chunk`, `x`); while a command runs, they name the options (`--chunk`, `--x`).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from gradcli.api import functional
from gradcli.cli.arguments import (
    ExpressionCommand,
    read_expression,
    stdin_readers,
    variable_texts,
)
from gradcli.errors import GradcliError, spelling
from gradcli.lang.values import parse_value
from gradcli.render.view import Format, View

app = typer.Typer(
    name="gradcli",
    help="A gradient calculator: type an expression and values, get the value and its derivatives.",
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

VARIABLES = {"allow_extra_args": True, "ignore_unknown_options": True}
VALUES_HELP = """\b
Values: each variable as --NAME VALUE or --NAME=VALUE, or as -v NAME=VALUE
when its name is also an option. A VALUE is one of:
  2, -1.5, 1e-3           a number
  1,2,3                   a vector
  1,2;3,4                 a matrix, rows split by ;
  [[2,3]], [[1,2],[3,4]]  JSON nested lists, any shape
  [[1., 2.], [3., .5]], (1, 2,)
                          lists and tuples as Python writes them
  zeros(2,3), ones(3), eye(3), full(2,2,7)
                          constant arrays
  linspace(0,1,5), arange(5)
                          ranges, as numpy
  rand(2,3), randn(5,3)   random draws from --seed N, so results repeat
  @data.npy, @data.csv, @data.json
                          a file
  @-                      standard input (JSON or comma-separated rows)
  nan, inf,-inf, "-inf"   non-finite numbers, in any form above; in JSON
                          as strings: ["nan", "inf", "-inf"]

The expression is the first word that does not start with -- and is not the
value of a --NAME before it, even when it starts with a minus sign, as -log(x)
does. Options before it are spelled --long. -h is help, unless h is given a
value (--h 2): then it is the expression -h. An expression - is read from
standard input.
"""


class OnError(str, Enum):
    stop = "stop"
    skip = "skip"


class Method(str, Enum):
    batched = "batched"
    loop = "loop"


class Mode(str, Enum):
    auto = "auto"
    reverse = "reverse"
    forward = "forward"


class Dtype(str, Enum):
    float64 = "float64"
    float32 = "float32"


def chosen_dtype(dtype: Dtype | None) -> str:
    """--dtype, else $GRADCLI_DTYPE, else float64; an unknown $GRADCLI_DTYPE is an error."""
    if dtype is not None:
        return dtype.value
    text = os.environ.get("GRADCLI_DTYPE", "")
    if text and text not in Dtype.__members__:
        raise GradcliError(f"GRADCLI_DTYPE is {text!r}: use float32 or float64", kind="usage")
    return text or Dtype.float64.value


def default_format() -> Format:
    """The format GRADCLI_FORMAT names (table when unset); an unknown name is an error."""
    name = os.environ.get("GRADCLI_FORMAT", "table")
    try:
        return Format(name)
    except ValueError:
        choices = ", ".join(f.value for f in Format)
        raise GradcliError(f"GRADCLI_FORMAT={name!r} is not a format: use one of {choices}",
                           kind="usage") from None


def expression_command(name: str | None = None, *, help: str) -> Callable[[Callable[..., Any]], Any]:
    """Register a command that takes an expression and variables: its help ends with how to give values."""
    return app.command(name, cls=ExpressionCommand, context_settings=VARIABLES, help=help, epilog=VALUES_HELP)


# -- options shared by the commands ------------------------------------------------------
ExprArg = Annotated[str, typer.Argument(
    help="The expression, e.g. 'mean(2*x)' or -log(x), or a program (steps h = ..., functions f(a) = ..., "
         "lines or ; between them, the output last); @FILE reads it from a file, - or @- from standard input.",
    show_default=False,
    metavar="EXPR")]
WrtOpt = Annotated[Optional[str], typer.Option("--wrt", help="Variables to differentiate, comma separated (default: all).")]


def format_option(meaning: str) -> Any:
    """The --format option of a command, its help saying what each format gives there."""
    return Annotated[Optional[Format], typer.Option(
        "--format", "-f", show_default=False,
        help=f"{meaning} Default: $GRADCLI_FORMAT where the command has it, else table.")]


FormatOpt = format_option(
    "table: for people. json: one object. csv: a header line, then one row (inputs, value, derivative "
    "entries). plain: numbers only, one line per derivative (Hessian: per block), in the syntax VALUE "
    "accepts, so it reads back. With --points: json gives one object per line (JSON Lines), csv one row "
    "per point, plain the same rows without the header.")
OutputOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="Write the result to a .json, .npy or .npz file.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for rand(...) and randn(...) values.")]
PrecisionOpt = Annotated[int, typer.Option("--precision", min=1, max=17, help="Significant digits shown in tables.")]
VarOpt = Annotated[Optional[list[str]], typer.Option("--var", "-v", help="NAME=VALUE, for a variable whose name clashes with an option.")]
DtypeOpt = Annotated[Optional[Dtype], typer.Option("--dtype", show_default=False, help="float64 or float32 (PyTorch's default dtype): values are rounded to it once and every operation computes in it. Default: $GRADCLI_DTYPE, else float64.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an error.")]
MethodOpt = Annotated[Method, typer.Option("--method", help="batched (one pass per chunk of rows) or loop (one pass per row).")]
ModeOpt = Annotated[Mode, typer.Option("--mode", help="reverse (rows: a backward pass per output entry), forward (columns: a forward pass per input entry) or auto (the fewer passes; the result says which).")]
ChunkOpt = Annotated[Optional[int], typer.Option("--chunk", help="Rows of the Jacobian per batched pass (default: chosen from the sizes).")]
PointsOpt = Annotated[Optional[str], typer.Option("--points", help="A CSV (header of names) or JSON Lines file of points, or - for standard input: one result per point.")]
OnErrorOpt = Annotated[OnError, typer.Option("--on-error", help="With --points, a bad row: stop (exit 2) or skip it.")]
CheckOpt = Annotated[bool, typer.Option("--check", help="Also differentiate with SymPy and by central finite differences, show them side by side, exit 1 on a disagreement.")]
SymbolicOpt = Annotated[bool, typer.Option("--symbolic", help="Print only the symbolic derivative (SymPy, simplified). Formats: table, SymPy's pretty form; json, one object; csv, a row per derivative (variable, derivative, formula); plain, one `∂f/∂x = formula` line each, in SymPy's spelling.")]
LatexOpt = Annotated[bool, typer.Option("--latex", help="Symbolic derivatives as LaTeX (alone: print only them).")]
RtolOpt = Annotated[float, typer.Option("--rtol", help="Relative tolerance against finite differences (torch gradcheck's).")]
AtolOpt = Annotated[float, typer.Option("--atol", help="Absolute tolerance against finite differences (torch gradcheck's).")]
ExpectOpt = Annotated[Optional[list[str]], typer.Option("--expect", metavar="[NAME=]FORMULA", show_default=False, help="Your hand-derived derivative, in the expression language, to compare with autograd at the point, at random points and with SymPy: NAME=FORMULA per variable (a,b=FORMULA for a Hessian block), or a bare FORMULA when there is one. Exit 1 when it is wrong, saying how.")]
CheckSamplesOpt = Annotated[int, typer.Option("--check-samples", min=1, help="Most coordinates (and output entries) checked; larger inputs are sampled.")]


def flag_spelling(kind: str, name: str) -> str:
    """A name marked in a library message as the command line spells it: --chunk, --x, --x VALUE."""
    if kind == "param":
        return "--" + name.replace("_", "-")
    return f"--{name} VALUE" if kind == "value" else f"--{name}"


def report(err: GradcliError, *, label: str = "error") -> None:
    """Print an error or warning to standard error: message (naming options), then the caret lines."""
    with spelling(flag_spelling):
        lines = [f"{label}: {err.message}", *err.caret_lines()]
    sys.stderr.write("\n".join(lines) + "\n")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body: GradcliError -> stderr and exit 2, Ctrl-C -> 130, closed pipe -> quiet.

    Within the body, messages name options, so that rows and payloads built from them do too."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        origin = kwargs.get("expr", "")[1:] if str(kwargs.get("expr", "")).startswith("@") else None
        try:
            with spelling(flag_spelling):
                default_format()  # an unknown GRADCLI_FORMAT is refused before any work
                if "expr" in kwargs:
                    words = list(kwargs["ctx"].args) if "ctx" in kwargs else []
                    kwargs["expr"] = read_expression(kwargs["expr"], stdin_readers(words, kwargs.get("var"),
                                                                                   kwargs.get("points")))
                return fn(*args, **kwargs)
        except GradcliError as err:
            if debug:
                with spelling(flag_spelling):
                    traceback.print_exc()
            if origin and origin != "-" and err.source is not None and "expr" in kwargs and \
                    err.source == kwargs["expr"]:
                err.origin = origin  # a span into the program file: model.gc:3:7
            report(err)
            raise typer.Exit(1 if err.kind == "check" else 2) from None
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(130) from None
        except MemoryError:
            # Limits catch what shapes predict; this is what they cannot (e.g. many large passes).
            report(GradcliError("not enough memory for this computation: use smaller values, or lower "
                                "GRADCLI_MAX_ELEMENTS to be stopped earlier", kind="limit"))
            raise typer.Exit(2) from None
        except BrokenPipeError:
            # NOTE: the reader went away (| head): stop quietly, and keep Python from
            # complaining when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
    return wrapper


def read_values(ctx: typer.Context, expr: str, var: list[str] | None, seed: int) -> dict[str, Any]:
    """Each variable's value, from --NAME VALUE and -v NAME=VALUE (cli/arguments.py reads the words)."""
    texts = variable_texts(ctx, expr, var)
    return {name: parse_value(text, name, seed=seed) for name, text in texts.items()}


def named_values(items: list[str], option: str, names: list[str], seed: int) -> dict[str, Any]:
    """NAME=VALUE items of a repeated option (a bare VALUE when the expression has one variable), parsed."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            if len(names) != 1:
                raise GradcliError(f"{option} {item!r}: write NAME=VALUE (the expression has "
                                   f"{len(names)} variables: {', '.join(names)})", kind="usage")
            name, text = names[0], item
        if name in out:
            raise GradcliError(f"{option} gives {name} twice", kind="usage")
        out[name] = parse_value(text, option.lstrip("-"), seed=seed)
    return out


def announce(result: functional.Result) -> None:
    """A result's warnings and notes, to standard error."""
    for warning in result.warnings:
        report(warning, label="warning")
    for note in result.notes:
        sys.stderr.write(f"note: {note}\n")


def emit(view: View, fmt: Format | str | None, output: str | None) -> None:
    """The view to a file (--output) or standard output in fmt: given (a Format, or a text format
    such as the graph's "dot"), else $GRADCLI_FORMAT where the view has that format, else table."""
    from gradcli.render.view import emit as write

    chosen = fmt or default_format()
    if fmt is None and isinstance(getattr(view, chosen.value), str):
        chosen = Format.table
    write(view, chosen, output)


def emit_result(result: functional.Result, fmt: Format | None, output: str | None, precision: int) -> None:
    """A derivative result: its warnings and notes to standard error, then the result."""
    from gradcli.render.result import result_view

    announce(result)
    emit(result_view(result, precision), fmt, output)
