"""The gradcli application: every command module registered on one typer app, its own
options (--version), and main."""

from __future__ import annotations

from typing import Annotated

import typer

# Each module registers its commands on `app` when imported, in the order `--help` lists them.
from gradcli.cli import derivatives, script, inspect  # noqa: F401  isort: skip
from gradcli.cli import check as check_commands  # noqa: F401  (its name would shadow --check)
from gradcli.cli import higher  # noqa: F401
from gradcli.cli import repl  # noqa: F401
from gradcli.cli import run  # noqa: F401  isort: skip
from gradcli.cli.base import app

__all__ = ["app", "main"]


def _print_version(wanted: bool) -> None:
    if not wanted:
        return
    # NOTE: read only when asked, so that start-up does not scan the installed packages
    from importlib.metadata import PackageNotFoundError, version

    try:
        typer.echo(f"gradcli {version('gradcli')}")
    except PackageNotFoundError:
        typer.echo("gradcli: version unknown, as the package is not installed (pip install -e .)")
    raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def gradcli_options(ctx: typer.Context, version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_print_version, is_eager=True, help="Print gradcli's version and exit.")] = False,
                    ) -> None:
    # Bare `gradcli` is a request for help: it goes to standard output, with status 0.
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def main() -> None:
    # NOTE: the same name under `python -m gradcli`, so completion's _GRADCLI_COMPLETE works there too
    app(prog_name="gradcli")
