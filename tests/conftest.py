"""Shared test helpers: run the real CLI in-process and parse its JSON."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from gradcli.cli.app import app

DATA = Path(__file__).parent / "data"

# Property and fuzz tests: a short run by default, a long one with GRADCLI_LONG_TESTS=1.
settings.register_profile("short", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("long" if os.environ.get("GRADCLI_LONG_TESTS") == "1" else "short")


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
