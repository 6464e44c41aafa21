"""--expect: a hand-derived derivative against autograd, at the point, at random points and with SymPy.

Right and wrong derivations from calculus exercises and from the documents, run through
the real command line; each asserts the verdicts and the diagnosis. The references are the
derivatives themselves, written out here (the documents' worked example: ∂L/∂w = 2x(xw − y)
= −8 at w = 1, x = 2, y = 4).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.analysis.expect import expect
from gradcli.api import functional

SEED = ("(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4", "--wrt", "w")


def verdict(run, target):
    return run.json()["expect"][target]


@pytest.mark.parametrize("command", ["check", "grad"])
def test_the_documents_derivation_is_right_three_ways(cli, command):
    run = cli(command, *SEED, "--expect", "2*x*(x*w - y)", "--format", "json")
    assert run.exit_code == 0, run.stderr
    v = verdict(run, "w")
    assert v["ok"] and v["at_point"] == {"agrees": True, "yours": -8.0, "autograd": -8.0}
    assert v["random_points"]["checked"] >= 150 and v["random_points"]["first_difference"] is None
    assert v["symbolic"] == "equal" and v["diagnosis"] is None


def test_the_table_shows_the_verdicts(cli):
    run = cli("grad", *SEED, "--expect", "w=2*x*(x*w - y)")
    assert run.exit_code == 0, run.stderr
    assert "expect: your derivative against autograd" in run.stdout
    row = next(line for line in run.stdout.splitlines() if line.startswith("∂f/∂w"))
    assert row.split() == ["∂f/∂w", "2*x*(x*w", "-", "y)", "-8", "=", "-8", "200", "agree", "equal", "✓"]


def test_a_missing_factor_of_two_is_named(cli):
    run = cli("check", *SEED, "--expect", "x*(x*w - y)", "--format", "json")
    assert run.exit_code == 1
    v = verdict(run, "w")
    assert v["at_point"] == {"agrees": False, "yours": -4.0, "autograd": -8.0}
    assert v["symbolic"] == "different" and v["symbolic_difference"] == "x*(w*x - y)"
    assert v["diagnosis"] == "yours is 1/2 × the derivative: a constant factor is missing or extra"
    assert run.stderr.splitlines()[-1] == "error: your ∂f/∂w is wrong (--expect)"


def test_a_sign_error_is_named(cli):
    run = cli("grad", *SEED, "--expect", "2*x*(y - x*w)", "--format", "json")
    assert run.exit_code == 1
    assert verdict(run, "w")["diagnosis"] == "yours has the wrong sign: it is −1 × the derivative"


def test_a_chain_rule_without_its_inner_derivative(cli):
    run = cli("grad", "sin(x**2)", "--x", "0.8", "--expect", "cos(x**2)", "--format", "json")
    assert run.exit_code == 1
    v = verdict(run, "x")
    assert v["at_point"]["yours"] == pytest.approx(np.cos(0.64), rel=1e-15)
    assert v["at_point"]["autograd"] == pytest.approx(2 * 0.8 * np.cos(0.64), rel=1e-15)
    assert v["diagnosis"] == "the derivative is yours × 2*x: a factor is missing (a chain rule's inner derivative?)"


def test_a_missing_factor_that_is_1_at_the_point_is_caught_elsewhere(cli):
    """At x = 0.5 the inner derivative 2x is 1: the point agrees, the random points do not."""
    run = cli("grad", "sin(x**2)", "--x", "0.5", "--expect", "cos(x**2)")
    assert run.exit_code == 1
    assert "  right at the point, but not at x=" in run.stdout
    run = cli("grad", "sin(x**2)", "--x", "0.5", "--expect", "cos(x**2)", "--format", "json")
    v = verdict(run, "x")
    assert v["at_point"]["agrees"] is True
    first = v["random_points"]["first_difference"]
    x = first["point"]["x"]
    assert first["autograd"] == pytest.approx(2 * x * np.cos(x ** 2), rel=1e-14)
    assert first["yours"] == pytest.approx(np.cos(x ** 2), rel=1e-14)


def test_the_product_rule_with_a_sign_slip(cli):
    run = cli("grad", "x*exp(-x)", "--x", "0.5", "--expect", "exp(-x) + x*exp(-x)", "--format", "json")
    assert run.exit_code == 1
    v = verdict(run, "x")
    assert v["diagnosis"] == "a sign slip: the term x*exp(-x) of yours has the wrong sign"
    assert v["symbolic_difference"] == "-2*x*exp(-x)"


def test_a_transposed_softmax_jacobian(cli):
    W = "1,2,0;0.5,-1,2;0,1,1"
    s = "softmax(W @ x)"
    right = f"(eye(3)*{s} - outer({s}, {s})) @ W"
    ok = cli("jacobian", s, "--W", W, "--x", "0.1,0.2,0.3", "--wrt", "x", "--expect", right, "--format", "json")
    assert ok.exit_code == 0, ok.stderr
    assert verdict(ok, "x")["symbolic"] == "equal"
    wrong = cli("jacobian", s, "--W", W, "--x", "0.1,0.2,0.3", "--wrt", "x", "--expect", f"({right}).T",
                "--format", "json")
    assert wrong.exit_code == 1
    assert verdict(wrong, "x")["diagnosis"].startswith("yours is the transpose of the Jacobian")


def test_a_formula_right_only_for_positive_x(cli):
    run = cli("grad", "sum(abs(x))", "--x", "0.5,2", "--expect", "ones_like(x)", "--format", "json")
    assert run.exit_code == 1
    v = verdict(run, "x")
    assert v["at_point"]["agrees"] is True  # both entries are positive at the point
    assert v["diagnosis"].startswith("yours agrees where x > 0 and differs where x < 0")


def test_a_hessian_block_off_by_two(cli):
    run = cli("hessian", "x**3*y", "--x", "1.5", "--y", "2", "--expect", "x=3*x*y", "--expect", "x,y=3*x**2",
              "--format", "json")
    assert run.exit_code == 1
    expected = run.json()["expect"]
    assert expected["x,x"]["diagnosis"] == "yours is 1/2 × the derivative: a constant factor is missing or extra"
    assert expected["x,x"]["at_point"]["autograd"] == pytest.approx(6 * 1.5 * 2, rel=1e-15)
    assert expected["x,y"]["ok"] and expected["x,y"]["symbolic"] == "equal"


def test_a_difference_only_at_a_kink_is_right_with_a_note(cli):
    """relu'(0) is 0 in PyTorch; x >= 0 gives 1 there, a subgradient: right, with the kink said."""
    run = cli("grad", "sum(relu(x))", "--x", "0.5,-1", "--expect", "x >= 0", "--format", "json")
    assert run.exit_code == 0, run.stderr
    v = verdict(run, "x")
    assert v["ok"] and v["random_points"]["first_difference"] is None
    assert v["notes"][0].startswith("differs only where autograd meets a kink")


def test_a_formula_sympy_cannot_take_still_gets_the_random_points(cli):
    run = cli("grad", "sum(x**2)", "--x", "randn(40)", "--expect", "2*x", "--format", "json")
    assert run.exit_code == 0, run.stderr
    v = verdict(run, "x")
    assert v["symbolic"] == "undecided" and v["symbolic_note"] == "more than 36 entries in the variables"
    assert v["random_points"]["checked"] == 200
    wrong = cli("grad", "sum(x**2)", "--x", "randn(40)", "--expect", "x", "--format", "json")
    assert wrong.exit_code == 1
    assert verdict(wrong, "x")["diagnosis"] == "yours is 1/2 × the derivative: a constant factor is missing or extra"


def test_plain_output_reads_back_and_the_verdict_goes_to_stderr(cli):
    run = cli("grad", *SEED, "--expect", "2*x*(x*w - y)", "--format", "plain")
    assert run.exit_code == 0
    assert run.stdout == "-8\n"
    assert run.stderr.startswith("expect: ✓ ∂f/∂w = 2*x*(x*w - y): right at the point and at 200 random points")


@pytest.mark.parametrize(("args", "says"), [
    (("--expect", "2*x"), "--expect needs a name for each formula here, as NAME=FORMULA: the derivatives are x, y"),
    (("--expect", "z=2*x"), "--expect names 'z', which is not a derivative computed here (they are: x, y)"),
    (("--expect", "x=2*q"), "the formula for x uses q, which is not a variable of the expression"),
    (("--expect", "x=[1, 2, 3]"), "the formula has shape (3,), and the derivative it stands for (2,)"),
    (("--expect", "x=2*x", "--expect", "x=x"), "--expect gives two formulas for x"),
    (("--expect", "x=2*x", "--points", "-"), "--expect"),
])
def test_bad_formulas_exit_2_with_a_message(cli, args, says):
    run = cli("grad", "sum(x**2) + y", "--x", "1,2", "--y", "1", *args)
    assert run.exit_code == 2
    assert says in run.stderr


def test_a_vector_jacobian_product_takes_a_formula_too():
    r = functional.grad("x**2", {"x": [1.0, 2.0]}, grad_output=[1.0, 3.0])
    (v,) = expect(r, {"x": "2*x*[1, 3]"}).verdicts
    assert v.ok and v.symbolic == "equal" and v.label == "∂(v·f)/∂x"
    (v,) = expect(r, {"x": "2*x"}).verdicts
    assert not v.ok and v.at_point is False


def test_a_formula_from_a_file_may_be_a_program(cli, tmp_path):
    path = tmp_path / "dx.gc"
    path.write_text("# d/dx of x**2 * w\ntwo_x = 2*x\ntwo_x * w\n")
    run = cli("grad", "x**2 * w", "--x", "3", "--w", "2", "--expect", f"x=@{path}", "--expect", "w=x**2",
              "-f", "plain")
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines()[0] == ("expect: ✓ ∂f/∂x = two_x = 2*x; two_x*w: right at the point and at 200 "
                                          "random points; SymPy: equal")
    wrong = cli("grad", "x**2 * w", "--x", "3", "--w", "2", "--expect", f"w=@{tmp_path / 'none.gc'}")
    assert wrong.exit_code == 2 and "cannot read the program" in wrong.stderr
