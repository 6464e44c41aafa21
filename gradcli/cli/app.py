"""The gradcli application: the index of the command modules, the app's own options
(--version), and main, which imports only the module of the command it runs."""

from __future__ import annotations

import copy
import importlib
import os
import sys
from typing import Annotated, Any

import typer
from typer.main import get_command_name

from gradcli.cli import base

__all__ = ["COMMANDS", "app", "app_for", "main"]  # noqa: F822 (app comes from __getattr__)

# Each command -> the module (of gradcli.cli) that registers it on the app, in the order
# `--help` lists them. tests/test_command_line.py keeps it equal to what the modules register.
COMMANDS = {
    "check": "check", "grad": "derivatives", "jacobian": "derivatives", "hessian": "derivatives",
    "jvp": "derivatives", "ops": "derivatives", "descend": "script", "plot": "script", "graph": "inspect",
    "explain": "inspect", "derivative": "higher", "taylor": "higher", "repl": "repl", "run": "run",
}


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


@base.app.callback(invoke_without_command=True)
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

    typer builds the options of every command it holds before it runs one (for one
    command, a third of what the process does besides importing), and only the named
    command's module is imported. Completion, help on the app and a name that is no
    command take the whole app (its list, its hints).
    """
    if not args or os.environ.get("_GRADCLI_COMPLETE") or args[0] not in COMMANDS:
        return whole_app()
    importlib.import_module(f"gradcli.cli.{COMMANDS[args[0]]}")
    one = copy.copy(base.app)
    one.registered_commands = [c for c in base.app.registered_commands if _name(c) == args[0]]
    return one


def whole_app() -> typer.Typer:
    """The app with every command, listed in COMMANDS' order whichever module loaded first."""
    for module in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"gradcli.cli.{module}")
    place = {name: i for i, name in enumerate(COMMANDS)}
    base.app.registered_commands.sort(key=lambda c: place.get(_name(c), len(place)))
    return base.app


def _name(command: Any) -> str:
    return command.name or get_command_name(command.callback.__name__)


def __getattr__(name: str) -> Any:
    # `app` is the whole app: its commands' modules load when it is first asked for.
    if name == "app":
        return whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
