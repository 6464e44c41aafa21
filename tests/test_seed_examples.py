"""Every worked example of the documents, through the real CLI, with the numbers they state."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED_CASES as CASES
from conftest import run_cli, seed_command

KEY = {"grad": "gradients", "vjp": "gradients", "jacobian": "jacobian", "hessian": "hessian"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}:{c['expr']}" for c in CASES])
def test_seed_example(case):
    run = run_cli(*seed_command(case))
    assert run.exit_code == 0, run.stderr
    out = run.json()
    np.testing.assert_allclose(out["value"], case["value"], rtol=1e-12, atol=1e-12)
    key = KEY[case["kind"]]
    for name in case["wrt"]:
        np.testing.assert_allclose(out[key][name], case[key][name], rtol=1e-9, atol=1e-12)
