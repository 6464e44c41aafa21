"""The gradcli application: every command module registered on one typer app, its own
options (--version), and main."""

from __future__ import annotations

import copy
import os
import sys
from typing import Annotated

import typer
from typer.main import get_command_name

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
    app_for(sys.argv[1:])(prog_name="gradcli")


def app_for(args: list[str]) -> typer.Typer:
    """The app to run args with: one that holds only the command they name, when they name one.

    typer builds the options of every command it holds before it runs one; for one
    command that is a third of what the process does besides importing. Completion, help
    on the app and a name that is no command take the whole app (its list, its hints).
    """
    if not args or os.environ.get("_GRADCLI_COMPLETE"):
        return app
    named = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == args[0]]
    if not named:
        return app
    one = copy.copy(app)
    one.registered_commands = named
    return one
