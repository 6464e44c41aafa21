"""Shared test helpers: run the real CLI in-process and parse its JSON; the documents' worked
examples as commands; every operation's samples and the values drawn for them."""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import InMemoryExampleDatabase
from typer.testing import CliRunner

from gradcli.cli.app import app

DATA = Path(__file__).parent / "data"

# Property and fuzz tests: a short run by default, a long one with GRADCLI_LONG_TESTS=1.
# The example database is kept in memory, never None: hypothesis's pytest plugin stacks one
# settings layer per parametrized case, and with database=None (its "ci" profile, loaded where
# CI is set) every case walks the whole stack, past the recursion limit after ~950 cases.
PROFILE = dict(deadline=None, database=InMemoryExampleDatabase(),
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("short", max_examples=25, **PROFILE)
settings.register_profile("long", max_examples=2000, **PROFILE)
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


# -- budgets and shares -------------------------------------------------------------------
def sum_of_terms(n: int) -> str:
    """sum(x+x+...+x) with n terms: a graph of n nodes through the whole pipeline."""
    return "sum(" + "+".join(["x"] * n) + ")"


def cpu_seconds(*args: str, input: str | None = None) -> tuple[Run, float]:
    """run_cli(ARGS) and the CPU seconds this process spent on it (wall time stretches under load)."""
    start = time.process_time()
    run = run_cli(*args, input=input)
    return run, time.process_time() - start


BASELINE_TERMS = 10_000


def measure_cpu_baseline() -> float:
    """CPU seconds of a fixed workload, the gradient of a 10,000-term sum through the CLI
    (about 0.4 s where the budgets were set): the unit of the time budgets, measured in
    the same run so that a slow or busy machine scales them. The least of three runs."""
    return min(cpu_seconds("grad", sum_of_terms(BASELINE_TERMS), "--x", "1,2", "--format", "json")[1]
               for _ in range(3))


cpu_baseline = functools.cache(measure_cpu_baseline)


def assert_share(outcomes: list[bool], minimum: float, what: str) -> None:
    """At least `minimum` of the cases ran to a result: a run in which (nearly) every case
    ends in an error, e.g. because the generator broke, fails instead of passing vacuously."""
    assert outcomes, f"{what}: no cases ran"
    share = sum(outcomes) / len(outcomes)
    assert share >= minimum, f"{what}: {sum(outcomes)} of {len(outcomes)} cases ran to a result, below {minimum:.0%}"


SEED_EXAMPLES = json.loads((DATA / "seed-examples.json").read_text())
SEED_CASES = SEED_EXAMPLES["cases"]  # grad, vjp, jacobian and hessian examples


@pytest.fixture(scope="session")
def seed_cases():
    return SEED_EXAMPLES


def seed_command(case: dict) -> list[str]:
    """The gradcli command of a worked example (grad, vjp, jacobian, hessian), JSON out."""
    sub = "grad" if case["kind"] in ("grad", "vjp") else case["kind"]
    args = [sub, case["expr"]]
    for name, value in case["values"].items():
        args += [f"--{name}", value]
    args += ["--wrt", ",".join(case["wrt"])]
    if case["kind"] == "vjp":
        args += ["--grad-output", case["grad_output"]]
    return args + ["--format", "json"]
