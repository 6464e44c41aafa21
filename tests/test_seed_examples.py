"""Every worked example of the documents, through the real CLI, with the numbers they state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA, run_cli

CASES = json.loads((DATA / "seed-examples.json").read_text())["cases"]
KEY = {"grad": "gradients", "vjp": "gradients", "jacobian": "jacobian", "hessian": "hessian"}


def command(case: dict) -> list[str]:
    sub = "grad" if case["kind"] in ("grad", "vjp") else case["kind"]
    args = [sub, case["expr"]]
    for name, value in case["values"].items():
        args += [f"--{name}", value]
    args += ["--wrt", ",".join(case["wrt"])]
    if case["kind"] == "vjp":
        args += ["--grad-output", case["grad_output"]]
    return args + ["--format", "json"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}:{c['expr']}" for c in CASES])
def test_seed_example(case):
    run = run_cli(*command(case))
    assert run.exit_code == 0, run.stderr
    out = run.json()
    np.testing.assert_allclose(out["value"], case["value"], rtol=1e-12, atol=1e-12)
    key = KEY[case["kind"]]
    for name in case["wrt"]:
        np.testing.assert_allclose(out[key][name], case[key][name], rtol=1e-9, atol=1e-12)
