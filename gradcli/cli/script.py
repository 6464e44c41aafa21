"""`gradcli descend`, `gradcli plot`, and `--points` of grad/jacobian/hessian: the shell-facing commands.

The maths is in api/batch.py, api/descend.py and render/plot.py; this module reads options,
shows a progress bar on standard error when it is a terminal, and emits a view
(render/rows.py, render/descend.py, render/plot.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from gradcli.cli.arguments import variable_texts
from gradcli.cli.base import (
    DebugOpt,
    DtypeOpt,
    ExprArg,
    Format,
    OnError,
    PrecisionOpt,
    SeedOpt,
    VarOpt,
    chosen_dtype,
    default_format,
    emit,
    expression_command,
    format_option,
    guarded,
    read_values,
    report,
)
from gradcli.errors import GradcliError
from gradcli.lang.values import parse_value

WARNINGS_SHOWN = 10  # per-point warnings printed on standard error before they are only counted
DescendFormatOpt = format_option(
    "table: for people, the first and last steps. json: one object with the whole history. csv: a header "
    "line, then a row per step (step, loss, each fitted entry, grad_norm). plain: numbers only, the fitted "
    "values after the last step, one line per variable, in the syntax VALUE accepts. With a format other "
    "than table, --plot draws on standard error.")
PlotFormatOpt = format_option(
    "table: charts for people. json: one object (the x values, the values and the derivatives). csv: a "
    "header line (x, value, d/dx), then a row per point. plain: the same rows without the header: numbers "
    "only, each row in the syntax VALUE accepts.")


@contextlib.contextmanager
def progress(description: str, total: int | None, show: bool = True) -> Iterator[Callable[[int], None]]:
    """advance(n) for a transient rich progress bar on standard error, drawn only on a terminal."""
    if not (show and sys.stderr.isatty()):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import Progress

    # NOTE: standard output goes through the bar only when it is the same terminal; redirected, it stays a file.
    with Progress(console=Console(stderr=True), transient=True, redirect_stdout=sys.stdout.isatty()) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _line_count(path: str) -> int | None:
    if path == "-":
        return None
    try:
        with open(path, "rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return None


def run_points(kind: str, expr: str, fixed: dict[str, Any], wrt: str | None, path: str, on_error: OnError,
               fmt: Format | None, output: str | None, precision: int, seed: int, *,
               grad_output: Any = None, method: str = "batched", chunk: int | None = None,
               single: dict[str, bool] | None = None, dtype: str = "float64") -> None:
    """One result per point of path, written as the points arrive: JSON Lines, CSV, plain rows or a table.

    single names the options that work on one point only, with whether each was given.
    """
    from gradcli.api.batch import Batch
    from gradcli.render.rows import points_view

    given = [name for name, on in (single or {}).items() if on]
    if given:
        raise GradcliError(f"{', '.join(given)} work{'s' if len(given) == 1 else ''} on one point, not with --points",
                           kind="usage")
    batch = Batch(kind, expr, fixed, wrt, grad_output=grad_output, method=method, chunk=chunk, dtype=dtype)
    # JSON Lines carry their warnings in each object; the other formats leave them to standard error.
    stream = _points(batch, path, on_error, seed, warn=(fmt or default_format()) is not Format.json)
    emit(points_view(stream, precision), fmt, output)


def _points(batch: Any, path: str, on_error: OnError, seed: int, *, warn: bool) -> Iterator[Any]:
    """The Results of each chunk of points; a bad row stops the run or is skipped with a warning."""
    from gradcli.api.batch import BadRow, run

    warned = 0
    # NOTE: the bar is for points computed one by one; vectorised chunks are done before it would draw.
    show = not batch.vectorise and sys.stderr.isatty()
    with progress("points", _line_count(path) if show else None, show=show) as advance:
        batch.on_point = advance
        for item in run(batch, path, seed=seed):
            if isinstance(item, BadRow):
                err = item.error
                if on_error is OnError.stop:
                    raise GradcliError(item.message, kind=err.kind, span=err.span, source=err.source)
                report(GradcliError(item.message + " (skipped)"), label="warning")
                continue
            yield item
            for line, messages in zip(item.lines, item.warnings) if warn else ():
                for message in messages:
                    warned += 1
                    if warned <= WARNINGS_SHOWN:
                        report(GradcliError(f"line {line}: {message}"), label="warning")
    if warned > WARNINGS_SHOWN:
        report(GradcliError(f"{warned - WARNINGS_SHOWN} more warnings not shown (--format json has them all)"),
               label="warning")


# -- descend ------------------------------------------------------------------------------
class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


@expression_command(help="""Gradient descent on a scalar expression: update the --wrt variables STEPS times.

Each step computes the gradient and moves against it (sgd: v -= lr * g; momentum and
adam as in torch.optim). Shows the first and last steps: loss, values, gradient norm.

Examples:

\b
  gradcli descend "(w*x - y)**2" --w 1 --x 2 --y 4 --wrt w --lr 0.1 --steps 2
  gradcli descend "mean((w*x-y)**2)" --x 1,2 --y 2,4 --w 1 --wrt w --lr 0.01
  gradcli descend "(a-3)**2 + b**2" --a 0 --b 1 --wrt a,b --optimizer adam
  gradcli descend "(a-3)**2 + b**2" --a 0 --b 1 --wrt a,b --tol 1e-6 --plot
""")
@guarded
def descend(ctx: typer.Context, expr: ExprArg,
            wrt: Annotated[Optional[str], typer.Option("--wrt", help="Variables to update, comma separated (the one variable of a loss that has one).", show_default=False)] = None,
            lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 0.01,
            steps: Annotated[int, typer.Option("--steps", help="Number of updates.")] = 100,
            optimizer: Annotated[Optimizer, typer.Option("--optimizer", help="sgd, momentum or adam.")] = Optimizer.sgd,
            momentum: Annotated[float, typer.Option("--momentum", help="Momentum factor of the momentum optimizer.")] = 0.9,
            tol: Annotated[Optional[float], typer.Option("--tol", help="Stop when the gradient norm falls below this.")] = None,
            every: Annotated[Optional[int], typer.Option("--every", min=1, help="Show every K-th step in the table (default: the first and last few).")] = None,
            plot: Annotated[bool, typer.Option("--plot", help="Draw the loss curve in the terminal.")] = False,
            format: DescendFormatOpt = None,
            output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the history to a .json file, or the loss curve to .png/.svg/.pdf.")] = None,
            seed: SeedOpt = 0, precision: PrecisionOpt = 4, var: VarOpt = None, dtype: DtypeOpt = None,
            debug: DebugOpt = False) -> None:
    from gradcli.api import descend as gd
    from gradcli.render.descend import descent_view

    values = read_values(ctx, expr, var, seed)
    with progress("descending", steps + 1) as advance:
        result = gd.descend(expr, values, wrt, lr=lr, steps=steps, optimizer=optimizer.value, tol=tol,
                            momentum=momentum, on_step=lambda step: advance(1), dtype=chosen_dtype(dtype))
    emit(descent_view(result, every, precision), format, output)
    if plot and output is None:
        # The chart is for people: below the table, or on standard error so the format's output stays whole.
        from rich.console import Console

        from gradcli.render.descend import loss_series
        from gradcli.render.plot import draw

        draw([loss_series(result)], Console(stderr=(format or default_format()) is not Format.table))


# -- plot ---------------------------------------------------------------------------------
@expression_command(help="""The function and its derivative over a range of one variable.

Give the free variable a range start:stop[:num] (201 points by default); the other
variables are fixed by their values. Draws in the terminal, or writes a picture with
--output (.png, .svg or .pdf; needs pip install 'gradcli[plot]').

Examples:

\b
  gradcli plot "sin(x) * x" --x -3:3
  gradcli plot "tanh(w*x)" --x -2:2:101 --w 3
  gradcli plot "log(1 + exp(x))" --x -5:5 --output softplus.png
""")
@guarded
def plot(ctx: typer.Context, expr: ExprArg, format: PlotFormatOpt = None,
         output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write a .png, .svg or .pdf picture (needs matplotlib), or the --format json object to a .json file.")] = None,
         height: Annotated[int, typer.Option("--height", min=4, max=60, help="Rows of each terminal chart.")] = 12,
         seed: SeedOpt = 0, var: VarOpt = None, dtype: DtypeOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.render import plot as pl

    texts = variable_texts(ctx, expr, var)
    ranges = [name for name, text in texts.items() if pl.is_range(text)]
    if len(ranges) != 1:
        raise GradcliError("give exactly one variable a range start:stop[:num], e.g. --x -3:3 "
                           f"({'none has one' if not ranges else ', '.join(ranges) + ' have ranges'})", kind="usage")
    (name,) = ranges
    xs = pl.parse_range(texts[name], name).astype(chosen_dtype(dtype))
    fixed = {n: parse_value(t, n, seed=seed) for n, t in texts.items() if n != name}
    ys, slopes = pl.curve(expr, fixed, name, xs)
    emit(pl.curve_view(expr, name, xs, ys, slopes, height), format, output)
