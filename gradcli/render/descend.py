"""The View of a gradient descent (`gradcli descend`): its history as JSON, CSV and a table;
its final values as plain lines; the loss curve for the terminal or a picture file.

    json   {"expression", "optimizer", "lr", "wrt", "steps", "stopped", "loss", "values", "history"}
    csv    step, loss, each fitted entry, grad_norm: a row per step
    plain  the fitted values after the last step, one line per variable, in the syntax VALUE accepts
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.api.descend import Descent
from gradcli.lang.numbers import plain_array, table_number, to_json
from gradcli.render.plot import Series, picture_files
from gradcli.render.rows import entry_labels
from gradcli.render.view import View, once

DESCEND_ROWS = 5  # steps shown at each end of the table


def _number(result: Descent, v: float) -> Any:
    """A loss or a gradient norm in the descent's dtype (float32 as a numpy float32, written with its digits)."""
    return np.asarray(v, result.dtype)[()]


def descent_payload(result: Descent) -> dict[str, Any]:
    last = result.history[-1]
    out = {"expression": result.expression, "optimizer": result.optimizer, "lr": result.lr, "wrt": result.wrt}
    if result.dtype == np.float32:  # (float64, the default, goes unsaid)
        out["dtype"] = "float32"
    # Each column of the history is converted as one array: to_json of a stack is the list of
    # to_json of its rows (the same numbers, non-finite ones spelled the same), made at once.
    history = result.history
    losses = to_json(np.array([s.loss for s in history], result.dtype))
    norms = to_json(np.array([s.grad_norm for s in history], result.dtype))
    names = list(last.values)
    columns = [to_json(np.stack([s.values[n] for s in history])) for n in names]
    # (zip and dict(zip(...)) per step: 10^4 steps are 10^4 dicts, made without a comprehension each)
    return {**out, "steps": last.step, "stopped": result.stopped, "loss": losses[-1],
            "values": {n: v[-1] for n, v in zip(names, columns)},
            "history": [{"step": s.step, "loss": loss, "values": dict(zip(names, entries)), "grad_norm": norm}
                        for s, loss, norm, *entries in zip(history, losses, norms, *columns)]}


def descent_rows(result: Descent) -> list[list[Any]]:
    first = result.history[0].values
    header = ["step", "loss", *(e for n in result.wrt for e in entry_labels(n, first[n].shape)), "grad_norm"]
    return [header, *([s.step, _number(result, s.loss), *(v for n in result.wrt for v in np.asarray(s.values[n]).reshape(-1)),
                       _number(result, s.grad_norm)] for s in result.history)]


def descent_table(result: Descent, every: int | None, precision: int, console: Any) -> None:
    """The first and last steps (or every K-th): loss, values, gradient norm; why it stopped."""
    from rich.table import Table
    from rich.text import Text

    from gradcli.render.tables import array_cell

    history = result.history
    if every is not None:
        shown: list[Any] = [s for s in history if s.step % every == 0 or s is history[-1]]
    elif len(history) > 2 * DESCEND_ROWS + 1:
        shown = [*history[:DESCEND_ROWS], None, *history[-DESCEND_ROWS:]]
    else:
        shown = list(history)
    table = Table(title=Text(f"{result.optimizer}, lr {table_number(result.lr, 6)}"
                                   f"{', float32' if result.dtype == np.float32 else ''}: {result.expression}"),
                  title_justify="left")
    for header in ("step", "loss", *result.wrt, "|grad|"):
        table.add_column(Text(header), justify="right")
    for s in shown:
        if s is None:
            table.add_row(*(Text("…") for _ in table.columns))
            continue
        table.add_row(Text(str(s.step)), Text(table_number(s.loss, precision)),
                      *(Text(array_cell(s.values[n], precision)) for n in result.wrt),
                      Text(table_number(s.grad_norm, precision)))
    why = {"steps": f"{history[-1].step} steps", "tol": f"stopped at step {history[-1].step}: gradient norm below --tol",
           "diverged": f"stopped at step {history[-1].step}: the loss or gradient is not finite (try a smaller --lr)"}
    table.caption = Text(why[result.stopped])
    console.print(table)


def loss_series(result: Descent) -> Series:
    """The loss by step, on a log scale when it spans more than a factor of 100 and stays positive."""
    losses = np.array([s.loss for s in result.history])
    finite = losses[np.isfinite(losses)]
    log = bool(finite.size and (finite > 0).all() and finite.max() > 100 * finite.min())
    return Series("loss" + (" (log scale)" if log else ""), np.array([s.step for s in result.history], dtype=float),
                  losses, "step", log=log)


def descent_view(result: Descent, every: int | None, precision: int) -> View:
    return View(json=once(lambda: [descent_payload(result)]),
                csv=once(lambda: descent_rows(result)),
                plain=once(lambda: [plain_array(result.history[-1].values[n]) for n in result.wrt]),
                table=lambda console: descent_table(result, every, precision, console),
                files=picture_files(lambda: [loss_series(result)]))
