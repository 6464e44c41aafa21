"""`gradcli check` and --check/--symbolic/--latex: the three-way comparison through the real CLI.

A planted wrong backward rule must make the check fail and name the entries it spoils;
every seed example must pass; exit statuses; sampling of large inputs; kinks and points
where SymPy's derivative is undefined; an operation SymPy cannot expand.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import SEED_CASES as CASES
from conftest import run_cli, seed_command
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import expressions

from gradcli.api import functional
from gradcli.analysis.check import verify
from gradcli.autodiff.engine import Tensor, call
from gradcli.api.evaluate import evaluate
from gradcli.autodiff.op import FUNCTIONS, OPS
from gradcli.lang.parser import parse
from gradcli.lang.tree import postorder


def checked(*args: str, code: int = 0) -> dict:
    run = run_cli(*args, "--format", "json")
    assert run.exit_code == code, run.stderr
    return run.json()["check"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}:{c['expr']}" for c in CASES])
def test_seed_example_passes_the_check(case):
    check = checked(*seed_command(case)[:-2], "--check")
    assert check["ok"] and not check["disagreeing"]
    assert "unavailable" not in check["sympy"]
    # SymPy and finite differences were both compared on every entry, within their tolerances.
    assert check["sympy"]["compared"] == check["finite_difference"]["compared"] == len(check["entries"])
    assert check["sympy"]["max_rel_err"] <= 1e-9
    assert check["finite_difference"]["max_abs_err"] <= 1e-5 + 1e-3 * max(abs(e["finite_difference"])
                                                                        for e in check["entries"])


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}:{c['expr']}" for c in CASES])
def test_seed_expression_passes_gradcli_check(case):
    args = ["check", case["expr"]] + [a for n, v in case["values"].items() for a in (f"--{n}", v)]
    check = checked(*args, "--wrt", ",".join(case["wrt"]))
    assert check["ok"]


@pytest.mark.parametrize("smooth", [True, False], ids=["smooth", "kinked"])
@given(data=st.data())
def test_random_expressions_pass_the_check(smooth, data):
    """Through the library (the CLI is tested above): nested calls, broadcasting, reductions,
    indexing, stacking, matrix products, and with kinks also masks, detach and constants."""
    drawn = data.draw(expressions(smooth=smooth, max_depth=3))
    # At a tie the program's derivative is not the function's: where(x == 0, 0, x) follows the
    # branch taken (gradient 0, as PyTorch) while differences see x on both sides (slope 1),
    # and the check rightly says they disagree.
    assume(not _comparison_ties(drawn.text, drawn.values))
    kind = functional.grad if drawn.shape == () else functional.jacobian
    result = kind(drawn.text, drawn.values)
    # A non-finite derivative (std of one entry: sqrt at 0) is the engine's, with its own warning,
    # and the check rightly flags it where SymPy and the differences agree on a number.
    assume(not result.warnings)
    report = verify(result)
    assert report.ok, [(e.label, e.engine, e.sympy, e.fd, e.note) for e in report.entries if not e.ok]
    assert not report.sympy.note


def _comparison_ties(text: str, values: dict) -> bool:
    """Whether some comparison in text has equal operands somewhere at these values, or operands so
    close (1e-8 apart, with differences of step 1e-6) that a difference's step flips it."""
    tree, seen = parse(text), {}
    evaluate(tree, {k: Tensor(v) for k, v in values.items()}, on_node=lambda e, v: seen.__setitem__(id(e), v))
    return any(np.any(np.abs(seen[id(node.args[0])].data - seen[id(node.args[1])].data)
                      <= 1e-5 * np.maximum(1.0, np.abs(seen[id(node.args[0])].data)))
               for node in postorder(tree) if node.kind == "binary" and not OPS[node.value].differentiable)


def test_check_knows_where_follows_the_branch_taken_at_a_tie():
    # The disagreement the random test above steps around: the check reports it.
    report = verify(functional.grad("sum(where(x == y, 0 * x, x))", {"x": [0.0], "y": [0.0]}, wrt="x"))
    (entry,) = report.entries
    assert not report.ok and entry.engine == 0.0 and abs(entry.fd - 1.0) < 1e-9


@pytest.mark.parametrize("shape", ["[[1.5]]", "[1.5]"])
def test_a_one_entry_shaped_output_gets_its_sympy_comparison(shape):
    # The gradient of an output of shape (1, 1) or (1,): its one entry, not the array, goes to SymPy.
    check = checked("check", "x*y", "--x", shape, "--y", "2", "--wrt", "x,y")
    assert check["ok"] and check["sympy"]["compared"] == 2
    assert [e["sympy"] for e in check["entries"]] == [2.0, 1.5]


def planted(monkeypatch, name: str, backward) -> None:
    """Replace op `name`'s backward rule for this test (the registry is restored afterwards)."""
    wrong = dataclasses.replace(OPS[name], backward=backward)
    monkeypatch.setitem(OPS, name, wrong)
    if FUNCTIONS.get(name) is not None:
        monkeypatch.setitem(FUNCTIONS, name, wrong)


def test_a_wrong_rule_fails_the_check_and_names_every_entry_it_spoils(monkeypatch):
    planted(monkeypatch, "sin", lambda n, g: (g * call("cos", n.x) * 1.01,))
    x = np.array([0.5, 1.0, 2.0])
    run = run_cli("check", "sum(sin(x))", "--x", "0.5,1,2", "--format", "json")
    assert run.exit_code == 1
    check = run.json()["check"]
    assert not check["ok"] and check["disagreeing"] == ["∂f/∂x_0", "∂f/∂x_1", "∂f/∂x_2"]
    assert "∂f/∂x_0, ∂f/∂x_1, ∂f/∂x_2" in run.stderr
    entries = check["entries"]
    np.testing.assert_allclose([e["autograd"] for e in entries], 1.01 * np.cos(x), rtol=1e-12)
    np.testing.assert_allclose([e["sympy"] for e in entries], np.cos(x), rtol=1e-12)
    np.testing.assert_allclose([e["finite_difference"] for e in entries], np.cos(x), rtol=1e-8)


def test_a_wrong_rule_for_one_input_names_only_that_input(monkeypatch):
    planted(monkeypatch, "mul", lambda n, g: (g * n.y if n.needs[0] else None, g * n.x * 2.0 if n.needs[1] else None))
    run = run_cli("check", "x*y", "--x", "2", "--y", "3")
    assert run.exit_code == 1
    assert "1 of 2 entries disagree" in run.stderr and run.stderr.rstrip().endswith("∂f/∂y")
    assert "✗" in run.stdout and "✓" in run.stdout


def test_a_check_with_the_grad_command_fails_too(monkeypatch):
    planted(monkeypatch, "exp", lambda n, g: (g * n.ans * 0.5,))
    assert checked("grad", "exp(x)", "--x", "1", "--check", code=1)["disagreeing"] == ["∂f/∂x"]


@pytest.mark.parametrize("args", [("check", "x +", "--x", "1"), ("check", "x*y", "--x", "1"),
                                  ("check", "x", "--x", "1", "--check-samples", "0"),
                                  ("grad", "x", "--x", "1", "--check", "--symbolic")])
def test_bad_input_exits_2(args):
    assert run_cli(*args).exit_code == 2


def test_agreement_exits_0_and_tolerances_are_shown_and_settable(monkeypatch):
    check = checked("check", "exp(x)", "--x", "1")
    assert check["tolerance"] == {"finite_difference": {"rtol": 1e-3, "atol": 1e-5},
                                  "sympy": {"rtol": 1e-9, "atol": 1e-12}}
    assert check["finite_difference"]["step"] == 1e-6
    assert check["entries"][0]["sympy"] == pytest.approx(math.e, rel=1e-15)
    # A rule 0.5% off: beyond the default rtol of the differences, within rtol 1e-2; SymPy sees it either way.
    planted(monkeypatch, "exp", lambda n, g: (g * n.ans * 1.005,))
    default = checked("check", "exp(x)", "--x", "1", code=1)["entries"][0]["agrees"]
    loose = checked("check", "exp(x)", "--x", "1", "--rtol", "1e-2", code=1)
    assert default == {"sympy": False, "finite_difference": False}
    assert loose["entries"][0]["agrees"] == {"sympy": False, "finite_difference": True}
    assert loose["tolerance"]["finite_difference"] == {"rtol": 1e-2, "atol": 1e-5}


def test_large_inputs_are_sampled_and_fast():
    start = time.perf_counter()
    check = checked("check", "sum(sin(x)*exp(-x**2))", "--x", "randn(100000)")
    assert time.perf_counter() - start < 30  # a few seconds; the benchmark times it properly
    assert check["ok"] and check["sampled"] == {"x": {"checked": 32, "of": 100_000}}
    assert check["sympy"]["compared"] == check["finite_difference"]["compared"] == 32
    few = checked("check", "sum(sin(x)*exp(-x**2))", "--x", "randn(100000)", "--check-samples", "5")
    assert len(few["entries"]) == 5 and few["sympy"]["max_rel_err"] <= 1e-9


def test_a_jacobian_samples_outputs_too():
    check = checked("check", "sin(x) * x[0]", "--x", "randn(50)", "--check-samples", "5")
    assert check["sampled"] == {"x": {"checked": 5, "of": 50}, "output entries": {"checked": 5, "of": 50}}
    assert len(check["entries"]) == 25 and check["ok"]


def test_hessian_check_compares_second_derivatives():
    check = checked("hessian", "x @ A @ x", "--x", "1,2", "--A", "1,2;3,4", "--wrt", "x", "--check")
    second = {e["entry"]: e for e in check["entries"] if e["entry"].startswith("∂²")}
    assert second["∂²f/∂x_0∂x_1"]["sympy"] == 5.0 and second["∂²f/∂x_1∂x_1"]["sympy"] == 8.0
    assert check["sympy"]["derivatives"]["x"]["∂²f/∂x_0∂x_1"] == "A_0_1 + A_1_0"
    assert check["ok"] and check["sympy"]["compared"] == 6


def test_kinks_pass_under_the_same_convention():
    check = checked("check", "relu(x) + abs(y) + maximum(x, y)", "--x", "0", "--y", "0")
    by_entry = {e["entry"]: e for e in check["entries"]}
    assert by_entry["∂f/∂x"]["autograd"] == by_entry["∂f/∂x"]["sympy"] == 0.5  # relu'(0)=0, a tie gives 1/2
    assert all(e["note"].startswith("kink: one-sided slopes") for e in check["entries"])


def test_where_sympy_has_another_convention_at_a_kink_the_entry_is_not_comparable(monkeypatch):
    check = checked("check", "max(x)", "--x", "3,3,3")
    assert [e["autograd"] for e in check["entries"]] == [pytest.approx(1 / 3)] * 3  # ties share evenly
    assert [e["sympy"] for e in check["entries"]] == [0.5] * 3  # SymPy's Heaviside(0)
    assert all(e["note"].startswith("not comparable at this point (SymPy's convention at this kink gives 0.5)")
               for e in check["entries"])
    # A value outside the one-sided slopes is wrong there, whatever SymPy's convention.
    planted(monkeypatch, "max", lambda n, g: (call("expand", g, src=(), dst=(3,)) * 2.0,))
    assert checked("check", "max(x)", "--x", "3,3,3", code=1)["disagreeing"] == ["∂f/∂x_0", "∂f/∂x_1", "∂f/∂x_2"]


def test_an_engine_nan_where_the_function_is_smooth_is_flagged():
    # sqrt(x - x) is the constant 0, but its chain rule meets inf * 0 (sqrt'(0) = inf).
    run = run_cli("check", "sqrt(x - x)", "--x", "1.5", "--format", "json")
    assert run.exit_code == 1 and "warning" in run.stderr
    (entry,) = run.json()["check"]["entries"]
    assert entry["autograd"] == "nan" and entry["sympy"] == 0.0 and entry["finite_difference"] == 0.0


def test_where_sympy_is_undefined_the_entry_is_not_comparable():
    check = checked("check", "sqrt(x) + y", "--x", "0", "--y", "1")
    entry = next(e for e in check["entries"] if e["entry"] == "∂f/∂x")
    assert entry["autograd"] == "inf" and entry["sympy"] is None and entry["ok"]
    assert entry["note"] == "not comparable at this point (SymPy gives zoo; differences give nan)"


def test_an_operation_sympy_cannot_expand_leaves_finite_differences_to_decide():
    check = checked("check", "det(A)", "--A", "randn(5,5)")
    assert "det" in check["sympy"]["unavailable"] and check["sympy"]["compared"] == 0
    assert check["finite_difference"]["compared"] == 25 and check["ok"]


def test_symbolic_prints_the_simplified_formula_only():
    run = run_cli("grad", "mean(2*x)", "--x", "1,2,3", "--symbolic", "--format", "plain")
    assert run.exit_code == 0 and run.stdout == "∂f/∂x_i = 2/3\n"
    run = run_cli("grad", "sin(x)**2 + cos(x)**2 + x", "--x", "0.3", "--symbolic", "--format", "json")
    assert run.json()["derivatives"] == {"x": {"∂f/∂x": "1"}}
    run = run_cli("jacobian", "[m[0]**2, m[0]*m[1]]", "--m", "2,3", "--latex")
    assert run.stdout.splitlines()[1] == r"\frac{\partial f_{0}}{\partial m_{1}} = 0"


def test_the_table_shows_formula_values_and_verdicts():
    run = run_cli("check", "mean(2*x)", "--x", "1,2,3")
    assert run.exit_code == 0
    for text in ("∂f/∂x_i = 2/3", "SymPy formula", "finite diff.", "✓ all 3 entries agree", "max rel error"):
        assert text in run.stdout


def test_plain_output_stays_parseable_and_the_verdict_goes_to_stderr():
    run = run_cli("grad", "x**2", "--x", "3", "--check", "--format", "plain")
    assert run.exit_code == 0 and run.stdout == "6\n" and "agree" in run.stderr


def test_a_json_file_holds_the_check(tmp_path):
    path = tmp_path / "result.json"
    run = run_cli("grad", "x**3", "--x", "2", "--check", "--output", str(path))
    assert run.exit_code == 0 and run.stdout == "" and "agree" in run.stderr
    check = json.loads(path.read_text())["check"]
    assert check["ok"] and check["entries"][0]["sympy"] == 12.0


def test_sympy_is_imported_only_for_a_check():
    code = ("import sys; from gradcli.cli.app import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('sympy' in sys.modules, file=sys.stderr)")
    for extra, imported in (([], "False"), (["--check"], "True")):
        run = subprocess.run([sys.executable, "-c", code, "grad", "sum(x**2)", "--x", "1,2", *extra],
                             capture_output=True, text=True, check=True)
        assert run.stderr.strip().splitlines()[-1] == imported


def test_a_variable_of_seven_axes_is_checked():
    check = checked("check", "sum(x**2)", "--x", "ones(1,1,1,1,1,1,2)")
    assert check["ok"] and [e["autograd"] for e in check["entries"]] == [2.0, 2.0]
