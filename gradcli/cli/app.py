"""The gradcli application: every command module registered on one typer app, and main."""

from __future__ import annotations

# Each module registers its commands on `app` when imported, in the order `--help` lists them.
from gradcli.cli import derivatives, script, inspect  # noqa: F401  isort: skip
from gradcli.cli import check as check_commands  # noqa: F401  (its name would shadow --check)
from gradcli.cli.base import app

__all__ = ["app", "main"]


def main() -> None:
    # NOTE: the same name under `python -m gradcli`, so completion's _GRADCLI_COMPLETE works there too
    app(prog_name="gradcli")
