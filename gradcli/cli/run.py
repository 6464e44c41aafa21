"""`gradcli run FILE.py [ARGS]`: the command's options and help; cli/runner.py runs the file."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from gradcli.cli.base import app


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    mermaid = "mermaid"


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_command(ctx: typer.Context,
                file: Annotated[str, typer.Argument(help="A Python file of PyTorch autograd code (- for standard input).", metavar="FILE",
                                                    show_default=False)],
                explain: Annotated[bool, typer.Option(
                    "--explain", help="Explain each backward() as gradcli explain does (the nodes, their local "
                    "rules and gradients, each leaf's .grad before and after), labelled with the file's line.")] = False,
                graph: Annotated[GraphFormat | None, typer.Option(
                    "--graph", help="Draw each backward()'s graph as gradcli graph does: tree, dot or mermaid.",
                    show_default=False)] = None) -> None:
    """Run a Python file of PyTorch autograd code as `python FILE.py ARGS` would, with `import torch` answered by
    gradcli (torch.tensor, backward, .grad, no_grad, torch.autograd.Function, torch.optim, ...). Its errors show
    their traceback (exit 1); a PyTorch feature gradcli lacks exits 2 with a message. FILE - reads the code from
    standard input, as `python -` does.

    Examples:

    \b
      gradcli run - < listing.py
      gradcli run --explain - < listing.py
      gradcli run --graph dot - < listing.py | dot -Tsvg > graph.svg
    """
    from gradcli.cli.runner import run

    raise typer.Exit(run(file, list(ctx.args), explain, None if graph is None else graph.value))
