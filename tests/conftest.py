"""Shared test helpers: run the real CLI in-process and parse its JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcli.cli import app

DATA = Path(__file__).parent / "data"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def run_cli(*args: str, input: str | None = None, env: dict | None = None) -> Run:
    """Run `gradcli ARGS` through typer's CliRunner; stdout and stderr kept apart."""
    result = CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def seed_cases():
    return json.loads((DATA / "seed-examples.json").read_text())
