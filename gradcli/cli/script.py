"""`gradcli descend`, `gradcli plot`, and `--points` of grad/jacobian/hessian: the shell-facing commands.

The maths is in batch.py, descend.py and plot.py; this module reads options, shows a
progress bar on standard error when it is a terminal, and renders.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import numpy as np
import typer

from gradcli.cli.base import (
    VARIABLES,
    DebugOpt,
    ExprArg,
    Format,
    FormatOpt,
    OnError,
    PrecisionOpt,
    SeedOpt,
    VarOpt,
    app,
    default_format,
    guarded,
    read_values,
    report,
    variable_strings,
)
from gradcli.errors import GradcliError
from gradcli.lang.values import parse_value

if TYPE_CHECKING:
    from gradcli.api.descend import Descent
    from gradcli.render.plot import Series

WARNINGS_SHOWN = 10  # per-point warnings printed on standard error before they are only counted
DESCEND_ROWS = 5  # steps shown at each end of the descend table


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
               single: dict[str, bool] | None = None) -> None:
    """One result per point of path: JSON Lines, CSV (also for plain) or a table on standard output.

    single names the options that work on one point only, with whether each was given.
    """
    from gradcli.api.batch import BadRow, Batch, run
    from gradcli.render.rows import CsvRows, JsonRows, TableRows

    given = [name for name, on in (single or {}).items() if on]
    if given:
        raise GradcliError(f"{', '.join(given)} work{'s' if len(given) == 1 else ''} on one point, not with --points",
                           kind="usage")
    if output is not None:
        raise GradcliError("--output takes one result; with --points, choose --format json or csv and "
                           "redirect standard output", kind="usage")
    fmt = fmt or default_format()
    batch = Batch(kind, expr, fixed, wrt, grad_output=grad_output, method=method, chunk=chunk)
    warned = 0
    # NOTE: the bar is for points computed one by one; vectorised chunks are done before it would draw.
    show = not batch.vectorise and sys.stderr.isatty()
    with progress("points", _line_count(path) if show else None, show=show) as advance:
        batch.on_point = advance
        writer = JsonRows(sys.stdout) if fmt is Format.json else \
            TableRows(sys.stdout, precision) if fmt is Format.table else CsvRows(sys.stdout)
        try:
            for item in run(batch, path, seed=seed):
                if isinstance(item, BadRow):
                    err = item.error
                    if on_error is OnError.stop:
                        raise GradcliError(item.message, kind=err.kind, span=err.span, source=err.source)
                    report(GradcliError(item.message + " (skipped)"), label="warning")
                    continue
                writer.write(item)
                if fmt is not Format.json:  # JSON Lines carry their warnings in each object
                    for line, messages in zip(item.lines, item.warnings):
                        for message in messages:
                            warned += 1
                            if warned <= WARNINGS_SHOWN:
                                report(GradcliError(f"line {line}: {message}"), label="warning")
        finally:
            writer.close()
    if warned > WARNINGS_SHOWN:
        report(GradcliError(f"{warned - WARNINGS_SHOWN} more warnings not shown (--format json has them all)"),
               label="warning")


# -- descend ------------------------------------------------------------------------------
class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


@app.command(context_settings=VARIABLES, help="""Gradient descent on a scalar expression: update the --wrt variables STEPS times.

Each step computes the gradient and moves against it (sgd: v -= lr * g; momentum and
adam as in torch.optim). Shows the first and last steps: loss, values, gradient norm.

Examples:

\b
  gradcli descend "(w*x - y)**2" --w 1 --x 2 --y 4 --wrt w --lr 0.1 --steps 2
  gradcli descend "mean((w*x - y)**2)" --x 1,2,3 --y 2,4,6 --w 1 --wrt w --lr 0.01 --steps 100
  gradcli descend "(a-3)**2 + (b+1)**2" --a 0 --b 0 --wrt a,b --optimizer adam --lr 0.1 --tol 1e-6 --plot
""")
@guarded
def descend(ctx: typer.Context, expr: ExprArg,
            wrt: Annotated[str, typer.Option("--wrt", help="Variables to update, comma separated.", show_default=False)],
            lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 0.01,
            steps: Annotated[int, typer.Option("--steps", help="Number of updates.")] = 100,
            optimizer: Annotated[Optimizer, typer.Option("--optimizer", help="sgd, momentum or adam.")] = Optimizer.sgd,
            momentum: Annotated[float, typer.Option("--momentum", help="Momentum factor of the momentum optimizer.")] = 0.9,
            tol: Annotated[Optional[float], typer.Option("--tol", help="Stop when the gradient norm falls below this.")] = None,
            every: Annotated[Optional[int], typer.Option("--every", min=1, help="Show every K-th step in the table (default: the first and last few).")] = None,
            plot: Annotated[bool, typer.Option("--plot", help="Draw the loss curve in the terminal.")] = False,
            format: FormatOpt = None,
            output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the history to a .json file, or the loss curve to .png/.svg/.pdf.")] = None,
            seed: SeedOpt = 0, precision: PrecisionOpt = 4, var: VarOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.api import descend as gd

    values = read_values(ctx, var, seed)
    with progress("descending", steps + 1) as advance:
        result = gd.descend(expr, values, wrt, lr=lr, steps=steps, optimizer=optimizer.value, tol=tol,
                            momentum=momentum, on_step=lambda step: advance(1))
    if output is not None:
        _write_descent(result, output)
        return
    fmt = format or default_format()
    if fmt is Format.json:
        from gradcli.render.output import dumps

        sys.stdout.write(dumps(_descent_payload(result)) + "\n")
    elif fmt is Format.csv:
        _descent_csv(result)
    elif fmt is Format.plain:
        from gradcli.render.output import plain_array

        sys.stdout.write("\n".join(plain_array(result.history[-1].values[n]) for n in result.wrt) + "\n")
    else:
        _descent_table(result, every, precision)
    if plot:
        _draw([_loss_series(result)])
    sys.stdout.flush()


def _descent_payload(result: Descent) -> dict[str, Any]:
    from gradcli.lang.numbers import json_number
    from gradcli.render.output import to_json

    last = result.history[-1]
    return {"expression": result.expression, "optimizer": result.optimizer, "lr": result.lr, "wrt": result.wrt,
            "steps": last.step, "stopped": result.stopped, "loss": json_number(last.loss),
            "values": {n: to_json(v) for n, v in last.values.items()},
            "history": [{"step": s.step, "loss": json_number(s.loss),
                         "values": {n: to_json(v) for n, v in s.values.items()},
                         "grad_norm": json_number(s.grad_norm)} for s in result.history]}


def _descent_csv(result: Descent) -> None:
    import csv

    from gradcli.render.output import entry_labels, plain_number

    writer = csv.writer(sys.stdout, lineterminator="\n")
    first = result.history[0].values
    writer.writerow(["step", "loss", *(e for n in result.wrt for e in entry_labels(n, first[n].shape)), "grad_norm"])
    for s in result.history:
        cells = [plain_number(v) for n in result.wrt for v in np.asarray(s.values[n]).reshape(-1)]
        writer.writerow([s.step, plain_number(s.loss), *cells, plain_number(s.grad_norm)])


def _descent_table(result: Descent, every: int | None, precision: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from gradcli.render.tables import array_cell, fmt

    history = result.history
    if every is not None:
        shown: list[Any] = [s for s in history if s.step % every == 0 or s is history[-1]]
    elif len(history) > 2 * DESCEND_ROWS + 1:
        shown = [*history[:DESCEND_ROWS], None, *history[-DESCEND_ROWS:]]
    else:
        shown = list(history)
    table = Table(title=Text(f"{result.optimizer}, lr {result.lr:g}: {result.expression}"), title_justify="left")
    for header in ("step", "loss", *result.wrt, "|grad|"):
        table.add_column(Text(header), justify="right")
    for s in shown:
        if s is None:
            table.add_row(*(Text("…") for _ in table.columns))
            continue
        table.add_row(Text(str(s.step)), Text(fmt(s.loss, precision)),
                      *(Text(array_cell(s.values[n], precision)) for n in result.wrt), Text(fmt(s.grad_norm, precision)))
    why = {"steps": f"{history[-1].step} steps", "tol": f"stopped at step {history[-1].step}: gradient norm below --tol",
           "diverged": f"stopped at step {history[-1].step}: the loss or gradient is not finite (try a smaller --lr)"}
    table.caption = Text(why[result.stopped])
    Console().print(table)


def _loss_series(result: Descent) -> Series:
    from gradcli.render.plot import Series

    losses = np.array([s.loss for s in result.history])
    finite = losses[np.isfinite(losses)]
    log = bool(finite.size and (finite > 0).all() and finite.max() > 100 * finite.min())
    return Series("loss" + (" (log scale)" if log else ""), np.array([s.step for s in result.history], dtype=float),
                  losses, "step", log=log)


def _write_descent(result: Descent, path: str) -> None:
    from gradcli.render.plot import save
    from gradcli.render.output import dumps, write_atomic

    if path.lower().endswith(".json"):
        text = dumps(_descent_payload(result)) + "\n"
        write_atomic(path, lambda fh: fh.write(text), binary=False)
    else:
        save(path, [_loss_series(result)])


# -- plot ---------------------------------------------------------------------------------
def _draw(series: list[Series], height: int = 12) -> None:
    from rich.console import Console
    from rich.text import Text

    from gradcli.render.plot import chart

    console = Console()
    width = max(20, min(100, console.width - 12))
    for s, style in zip(series, ("cyan", "magenta")):
        for margin, drawing in chart(s, width, height):
            console.print(Text(margin) + Text(drawing, style=style if margin.endswith("┤") else "bold"),
                          soft_wrap=True)


@app.command(context_settings=VARIABLES, help="""The function and its derivative over a range of one variable.

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
def plot(ctx: typer.Context, expr: ExprArg, format: FormatOpt = None,
         output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write a .png, .svg or .pdf picture (needs matplotlib).")] = None,
         height: Annotated[int, typer.Option("--height", min=4, max=60, help="Rows of each terminal chart.")] = 12,
         seed: SeedOpt = 0, var: VarOpt = None, debug: DebugOpt = False) -> None:
    from gradcli.render import plot as pl
    from gradcli.render.output import dumps, to_json

    texts = variable_strings(list(ctx.args), var)
    ranges = [name for name, text in texts.items() if pl.is_range(text)]
    if len(ranges) != 1:
        raise GradcliError("give exactly one variable a range start:stop[:num], e.g. --x -3:3 "
                           f"({'none has one' if not ranges else ', '.join(ranges) + ' have ranges'})", kind="usage")
    (name,) = ranges
    xs = pl.parse_range(texts[name], name)
    fixed = {n: parse_value(t, n, seed=seed) for n, t in texts.items() if n != name}
    ys, slopes = pl.curve(expr, fixed, name, xs)
    series = [pl.Series(f"f = {expr}", xs, ys, name), pl.Series(f"df/d{name}", xs, slopes, name)]
    if output is not None:
        pl.save(output, series)
        return
    fmt = format or default_format()
    if fmt is Format.json:
        sys.stdout.write(dumps({"expression": expr, "variable": name, name: to_json(xs), "value": to_json(ys),
                                f"d/d{name}": to_json(slopes)}) + "\n")
    elif fmt in (Format.csv, Format.plain):
        from gradcli.render.output import plain_number

        sys.stdout.write(f"{name},value,d/d{name}\n")
        sys.stdout.write("".join(",".join(map(plain_number, row)) + "\n" for row in zip(xs, ys, slopes)))
    else:
        _draw(series, height)
    sys.stdout.flush()
