"""Every command in every format it has, against the documented meaning of each format:

json   one JSON object (strict: no NaN or Infinity), JSON Lines for --points
csv    a header line, then rows of numbers, all as long as the header
plain  numbers only, each line a VALUE that reads back (gradcli.lang.values.parse_value)
table  for people: something on standard output
A format a command does not have is refused: exit status 2, a message, nothing on stdout.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from conftest import run_cli

from gradcli.lang.values import parse_value

GRAD = ["grad", "x*y + sum(v)", "--x", "2", "--y", "3", "--v", "1,2", "--wrt", "v,y"]
VJP = ["grad", "[m[0]**2, m[1]**3]", "--m", "2,3", "--grad-output", "2,3"]
JACOBIAN = ["jacobian", "[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]", "--m", "2,3"]
HESSIAN = ["hessian", "x**3 * y + sum(v**2)", "--x", "2", "--y", "5", "--v", "1,2"]
CHECK = ["check", "mean(2*x)", "--x", "1,2,3"]
GRAD_CHECK = ["grad", "x**2 * y", "--x", "3", "--y", "2", "--check"]
DESCEND = ["descend", "sum((a - t)**2)", "--a", "0,0", "--t", "1,2", "--wrt", "a", "--lr", "0.25", "--steps", "2"]
PLOT = ["plot", "x**2", "--x", "0:1:3"]
EXPLAIN = ["explain", "(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4"]
JACOBIAN_EXPLAIN = ["jacobian", "[m[0]**2, m[1]**3]", "--m", "2,3", "--explain"]

NUMERIC = {"grad": GRAD, "vjp": VJP, "jacobian": JACOBIAN, "hessian": HESSIAN, "check": CHECK,
           "grad --check": GRAD_CHECK, "descend": DESCEND, "plot": PLOT}


def run(args: list[str], fmt: str, **kwargs):
    result = run_cli(*args, "--format", fmt, **kwargs)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def numbers_csv(text: str) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert header and body and all(len(row) == len(header) for row in body)
    assert not any(_is_number(name) for name in header)
    return header, np.array([[float(cell) for cell in row] for row in body])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def plain_values(text: str) -> list[np.ndarray]:
    assert text.endswith("\n")
    return [parse_value(line, "line") for line in text.splitlines()]


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_command_in_every_format(name):
    args = NUMERIC[name]
    assert isinstance(strict_json(run(args, "json")), dict)
    numbers_csv(run(args, "csv"))
    assert plain_values(run(args, "plain"))
    assert run(args, "table").strip()


def test_plain_reads_back_as_the_json_numbers():
    data = strict_json(run(GRAD, "json"))
    assert [v.tolist() for v in plain_values(run(GRAD, "plain"))] == [data["gradients"]["v"], data["gradients"]["y"]]
    assert [v.tolist() for v in plain_values(run(VJP, "plain"))] == [[8.0, 81.0]]  # 2·2m0, 3·3m1²
    assert [v.tolist() for v in plain_values(run(JACOBIAN, "plain"))] == [[[4.0, 3.0], [2.0, 6.0]]]
    data = strict_json(run(HESSIAN, "json"))
    blocks = [data["hessian"][a][b] for a in data["wrt"] for b in data["wrt"]]
    assert [v.tolist() for v in plain_values(run(HESSIAN, "plain"))] == blocks
    assert [v.tolist() for v in plain_values(run(DESCEND, "plain"))] == [[0.75, 1.5]]  # a ← a - 0.25·2(a - t), twice


def test_csv_is_the_inputs_value_and_derivatives_of_one_row():
    header, table = numbers_csv(run(GRAD, "csv"))
    assert header == ["x", "y", "v[0]", "v[1]", "value", "d/dv[0]", "d/dv[1]", "d/dy"]
    assert table.tolist() == [[2, 3, 1, 2, 9, 1, 1, 2]]
    header, table = numbers_csv(run(PLOT, "csv"))
    assert header == ["x", "value", "d/dx"] and table.tolist() == [[0, 0, 0], [0.5, 0.25, 1], [1, 1, 2]]
    # plain gives the same rows alone, each a vector VALUE
    assert [v.tolist() for v in plain_values(run(PLOT, "plain"))] == table.tolist()


def test_points_in_every_format(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n0.5,2\n1,-1\n")
    args = ["grad", "x*y", "--points", str(points)]
    objects = [strict_json(line) for line in run(args, "json").splitlines()]
    assert [o["gradients"] for o in objects] == [{"x": 2.0, "y": 0.5}, {"x": -1.0, "y": 1.0}]
    header, table = numbers_csv(run(args, "csv"))
    assert header == ["x", "y", "value", "d/dx", "d/dy"] and table.tolist() == [[0.5, 2, 1, 2, 0.5], [1, -1, -1, -1, 1]]
    assert [v.tolist() for v in plain_values(run(args, "plain"))] == table.tolist()
    assert "d/dx" in run(args, "table")


def test_symbolic_formats_give_the_formulas():
    args = ["grad", "x**2 * y", "--x", "3", "--y", "2", "--symbolic"]
    assert strict_json(run(args, "json"))["derivatives"] == {"x": {"∂f/∂x": "2*x*y"}, "y": {"∂f/∂y": "x**2"}}
    assert list(csv.reader(io.StringIO(run(args, "csv")))) == [
        ["variable", "derivative", "formula"], ["x", "∂f/∂x", "2*x*y"], ["y", "∂f/∂y", "x**2"]]
    assert run(args, "plain") == "∂f/∂x = 2*x*y\n∂f/∂y = x**2\n"
    rows = list(csv.reader(io.StringIO(run([*args, "--latex"], "csv"))))
    assert rows[0] == ["variable", "derivative", "formula", "latex"] and rows[1][3] == "2 x y"


def test_ops_json_is_one_array_and_csv_a_row_per_function():
    entries = strict_json(run(["ops"], "json"))
    assert isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
    rows = list(csv.DictReader(io.StringIO(run(["ops"], "csv"))))
    assert [r["signature"] for r in rows] == [e["signature"] for e in entries]


@pytest.mark.parametrize("args", [EXPLAIN, JACOBIAN_EXPLAIN], ids=["explain", "jacobian --explain"])
def test_explanations_are_text_or_json(args):
    data = strict_json(run(args, "json"))
    assert isinstance(data, dict) and data["steps"]
    assert "Backward pass" in run(args, "table") or "backward(" in run(args, "table")


REFUSED = [
    (["ops"], "plain", "gradcli ops lists functions, not numbers, so it has no plain format"),
    (EXPLAIN, "plain", "`gradcli grad --format plain` gives the numbers alone"),
    (EXPLAIN, "csv", "`gradcli grad --format csv` gives the numbers alone"),
    (JACOBIAN_EXPLAIN, "plain", "`gradcli jacobian --format plain` gives the numbers alone"),
    (JACOBIAN_EXPLAIN, "csv", "`gradcli jacobian --format csv` gives the numbers alone"),
    (["graph", "x*x"], "plain", "'plain' is not one of 'tree', 'dot', 'mermaid', 'json'"),
    (["graph", "x*x"], "csv", "'csv' is not one of 'tree', 'dot', 'mermaid', 'json'"),
]


@pytest.mark.parametrize("args, fmt, message", REFUSED)
def test_a_format_a_command_does_not_have_is_refused(args, fmt, message):
    result = run_cli(*args, "--format", fmt)
    assert result.exit_code == 2 and result.stdout == ""
    assert message in result.stderr


def test_graph_formats():
    args = ["graph", "x*x + y", "--x", "3", "--y", "1"]
    assert strict_json(run(args, "json"))["output"] == 3
    assert run(args, "dot").startswith("digraph gradcli {\n")
    assert run(args, "mermaid").startswith("flowchart BT\n")
    assert "AddBackward0" in run(args, "tree")


def test_an_environment_default_the_command_lacks_falls_back_to_the_table():
    table = run_cli(*EXPLAIN).stdout
    for fmt in ("plain", "csv"):
        result = run_cli(*EXPLAIN, env={"GRADCLI_FORMAT": fmt})
        assert result.exit_code == 0 and result.stdout == table


@pytest.mark.parametrize("command", ["grad", "jacobian", "hessian", "check", "ops", "explain", "descend", "plot"])
def test_help_states_each_format(command):
    text = " ".join(run_cli(command, "--help").stdout.split())
    for fmt in ("table:", "json:", "csv:", "plain:"):
        assert fmt in text, (command, fmt)
