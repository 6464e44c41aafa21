"""nan and inf in and out: the names of the language, every VALUE form, and the round trip
(every result gradcli writes, as JSON or plain text, reads back as the same numbers)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import run_cli

from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr
from gradcli.lang.values import parse_value

NAN, INF = math.nan, math.inf


def same(a, b) -> None:
    """Equal arrays, nan where nan, and the same shape."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a, b)
    np.testing.assert_array_equal(a, b)


# -- the names nan and inf ------------------------------------------------------------------
def test_nan_and_inf_are_constants_of_the_language():
    assert sexpr(parse("-inf")) == "(neg inf)"
    out = run_cli("grad", "x*inf + maximum(x, -inf)", "--x", "2", "--format", "json").json()
    assert out["value"] == "inf" and out["gradients"] == {"x": "inf"} and out["wrt"] == ["x"]
    out = run_cli("grad", "sum(where(x > 1, x, nan))", "--x", "1,2", "--format", "json").json()
    assert out["value"] == "nan" and out["gradients"] == {"x": [0.0, 1.0]}


def test_a_finite_result_from_infinite_constants_has_no_warning():
    # clip(x, -inf, inf) is x: the constants are bounds, nothing became infinite
    run = run_cli("grad", "sum(clip(x, -inf, inf) * exp(-inf))", "--x", "1,2", "--format", "json")
    assert run.json()["value"] == 0.0 and run.json()["gradients"] == {"x": [0.0, 0.0]}
    assert run.stderr == ""


def test_ops_lists_the_constants():
    entries = run_cli("ops", "--format", "json").json()
    assert {"signature": "pi, e, nan, inf", "family": "syntax",
            "doc": "the constants (-inf is the minus of inf)"} in entries


def test_nan_and_inf_are_not_variables():
    run = run_cli("grad", "x + inf", "--x", "1", "--inf", "2")
    assert run.exit_code == 2 and run.stderr == ("error: unknown option --inf: not an option of gradcli grad, nor "
                                                 "a variable of the expression (its variables: x)\n")


# -- VALUE forms ----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("nan", NAN),
    ("-inf", -INF),
    ("inf,-inf,nan,1", [INF, -INF, NAN, 1.0]),
    ("1,inf;nan,2", [[1.0, INF], [NAN, 2.0]]),
    ("NaN,Infinity,-Infinity,+inf,INF", [NAN, INF, -INF, INF, INF]),
    ('["nan", "inf", "-inf", 1]', [NAN, INF, -INF, 1.0]),
    ('[["NaN", "Infinity"], ["-Infinity", 0]]', [[NAN, INF], [-INF, 0.0]]),
    ("[NaN, Infinity, -Infinity]", [NAN, INF, -INF]),
    ('"-inf"', -INF),
    ('"nan"', NAN),
    ("full(2, inf)", [INF, INF]),
])
def test_non_finite_values(text, expected):
    same(parse_value(text, "x"), expected)


def test_non_finite_values_in_files_and_standard_input(tmp_path):
    (tmp_path / "v.json").write_text('[["nan", 1], ["-inf", "inf"]]')
    (tmp_path / "v.csv").write_text("nan,1\n-inf,inf\n")
    np.save(tmp_path / "v.npy", np.array([[NAN, 1.0], [-INF, INF]]))
    expected = [[NAN, 1.0], [-INF, INF]]
    for name in ("v.json", "v.csv", "v.npy"):
        same(parse_value(f"@{tmp_path / name}", "v"), expected)
    out = run_cli("jacobian", "v*1", "--v", "@-", "--format", "json", input='["nan", "-inf"]').json()
    assert out["value"] == ["nan", "-inf"]


def test_non_finite_values_in_points():
    csv = "x,y\n0,nan\ninf,-inf\n"
    rows = [json.loads(line) for line in
            run_cli("grad", "log(x)*y", "--points", "-", "--format", "json", input=csv).stdout.splitlines()]
    # d/dx log(x)*y = y/x, d/dy = log(x): at (0, nan) and (inf, -inf)
    assert [r["values"] for r in rows] == [{"x": 0.0, "y": "nan"}, {"x": "inf", "y": "-inf"}]
    assert [r["gradients"] for r in rows] == [{"x": "nan", "y": "-inf"}, {"x": "nan", "y": "inf"}]
    jsonl = '{"x": ["nan", 0], "y": "inf"}\n{"x": "-inf,1", "y": 2}\n'
    rows = [json.loads(line) for line in
            run_cli("grad", "sum(exp(x))*y", "--points", "-", "--format", "json", input=jsonl).stdout.splitlines()]
    assert [r["value"] for r in rows] == ["nan", 2 * math.e]
    assert [r["gradients"]["x"] for r in rows] == [["nan", "inf"], [0.0, 2 * math.e]]


# -- the round trip -------------------------------------------------------------------------
def arrays(payload: dict) -> list:
    """Every number or array a JSON result holds: value, gradients, Jacobian and Hessian blocks."""
    found = [payload["value"], *payload.get("gradients", {}).values(), *payload.get("jacobian", {}).values()]
    found += [block for row in payload.get("hessian", {}).values() for block in row.values()]
    return found


# Each result holds nan, inf or -inf, for reasons the comments give.
RESULTS = [
    # log(0) = -inf; d/dx = 1/x = inf at 0
    (("grad", "sum(log(x))", "--x", "0,1,2"), {"value": "-inf", "gradients": {"x": ["inf", 1.0, 0.5]}}),
    # the Jacobian's row for log(1) passes 0/0 = nan back to x[0] = 0, as torch does
    (("jacobian", "log(x)", "--x", "0,1"), {"value": ["-inf", 0.0], "jacobian": {"x": [["inf", 0.0], ["nan", 1.0]]}}),
    # sqrt'(0) = inf, sqrt''(0) = -inf; the off-diagonal 0 * inf is nan
    (("hessian", "sum(sqrt(x))", "--x", "0,1"),
     {"value": 1.0, "gradients": {"x": ["inf", 0.5]}, "hessian": {"x": {"x": [["-inf", -0.0], ["nan", -0.25]]}}}),
    (("grad", "log(x)", "--x", "0,1", "--grad-output", "1,2"), {"value": ["-inf", 0.0], "gradients": {"x": ["inf", 2.0]}}),
    (("check", "sum(sqrt(x))", "--x", "0,4"), {"value": 2.0, "gradients": {"x": ["inf", 0.25]}}),
    (("grad", "x*inf - inf", "--x", "1"), {"value": "nan", "gradients": {"x": "inf"}}),
]


@pytest.mark.parametrize(("args", "expected"), RESULTS, ids=[" ".join(a[:2]) for a, _ in RESULTS])
def test_every_json_result_reads_back_as_the_same_numbers(args, expected):
    out = run_cli(*args, "--format", "json").json()
    assert {k: out[k] for k in expected} == expected
    for item in arrays(out):
        # v itself, written by gradcli again: the same JSON, "nan" where "nan"
        echoed = run_cli("jacobian", "v*1", f"--v={json.dumps(item)}", "--format", "json").json()["value"]
        assert echoed == item


def test_points_results_read_back_as_points():
    out = run_cli("grad", "sum(log(x))", "--points", "-", "--format", "json", input='{"x": [0, 1]}\n').json()
    assert out["gradients"] == {"x": ["inf", 1.0]}
    again = run_cli("grad", "sum(x)", "--points", "-", "--format", "json",
                    input=json.dumps(out["gradients"]) + "\n").json()
    assert again["values"] == {"x": ["inf", 1.0]} and again["value"] == "inf"


@pytest.mark.parametrize("args", [
    ("grad", "sum(log(x))", "--x", "0,1,2"),
    ("jacobian", "log(x)", "--x", "0,1"),
    ("hessian", "sum(sqrt(x)) + log(y)", "--x", "0,1", "--y", "0"),
])
def test_plain_output_reads_back(args):
    lines = run_cli(*args, "--format", "plain").stdout.splitlines()
    assert any(word in line for line in lines for word in ("nan", "inf"))
    for line in lines:
        # the gradient of sum(v*w) with respect to v is w, whatever v holds
        echoed = run_cli("grad", "sum(v*w)", f"--v={line}", f"--w={line}", "--wrt", "v", "--format", "plain").stdout.strip()
        same(parse_value(echoed, "v"), parse_value(line, "v"))
        assert echoed == line


def test_check_leaves_sympy_out_where_a_constant_is_not_finite():
    # To SymPy x + nan is nan and x + oo is oo, both with derivative 0; autograd gives 1.
    out = run_cli("check", "sum(x + clip(x, -inf, 1))", "--x", "0.5,2", "--format", "json")
    assert out.exit_code == 0
    check = out.json()["check"]
    assert check["ok"] and check["sympy"]["compared"] == 0
    assert check["sympy"]["unavailable"].startswith("a constant is nan or infinite")
    assert check["finite_difference"]["compared"] == 2 and out.json()["gradients"] == {"x": [2.0, 1.0]}
    out = run_cli("check", "x + nan", "--x", "1", "--format", "json")
    assert out.exit_code == 0 and out.json()["gradients"] == {"x": 1.0}
