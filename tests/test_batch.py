"""Batches of points: CSV and JSON Lines in and out, streaming, vectorised == one by one, bad rows."""

from __future__ import annotations

import csv
import io
import json
import select
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_cli

from gradcli.api import functional
from gradcli.api.batch import Batch, Results
from gradcli.api.points import Point

F = "x*y + sin(x)"


def f_and_grad(x, y):
    """The reference for F, by hand: value, d/dx, d/dy."""
    return x * y + np.sin(x), y + np.cos(x), x


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def jsonl(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def test_csv_points_give_one_json_line_each(tmp_path):
    path = write(tmp_path, "p.csv", "x,y\n0.5,2\n# a comment\n\n-1,3\n2,-4\n")
    run = run_cli("grad", F, "--points", path, "--format", "json")
    assert run.exit_code == 0, run.stderr
    rows = jsonl(run.stdout)
    assert [r["line"] for r in rows] == [2, 5, 6]
    for r in rows:
        x, y = r["values"]["x"], r["values"]["y"]
        value, dx, dy = f_and_grad(x, y)
        assert r["value"] == pytest.approx(value, rel=1e-14)
        assert r["gradients"]["x"] == pytest.approx(dx, rel=1e-14)
        assert r["gradients"]["y"] == pytest.approx(dy, rel=1e-14)


def test_csv_out_has_inputs_value_and_one_column_per_derivative(tmp_path):
    path = write(tmp_path, "p.csv", "x,y\n0.5,2\n-1,3\n")
    run = run_cli("grad", F, "--points", path, "--format", "csv", "--wrt", "x")
    assert run.exit_code == 0, run.stderr
    table = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(table[0]) == ["x", "y", "value", "d/dx"]
    for row in table:
        value, dx, _ = f_and_grad(float(row["x"]), float(row["y"]))
        assert float(row["value"]) == pytest.approx(value, rel=1e-15)
        assert float(row["d/dx"]) == pytest.approx(dx, rel=1e-15)


def test_fixed_values_from_options_join_every_point(tmp_path):
    path = write(tmp_path, "p.csv", "x\n1\n2\n")
    run = run_cli("grad", F, "--y", "10", "--points", path, "--format", "json")
    rows = jsonl(run.stdout)
    assert [r["gradients"]["x"] for r in rows] == pytest.approx([10 + np.cos(1), 10 + np.cos(2)])
    # the fixed variable's own derivative is per point too (d/dy = x), not summed over points
    assert [r["gradients"]["y"] for r in rows] == [1.0, 2.0]


def test_json_lines_with_arrays_and_csv_entry_columns(tmp_path):
    points = [{"w": [[1, 2], [3, 4]], "x": 2}, {"w": [[0.5, -1], [2, 0]], "x": -1}]
    path = write(tmp_path, "p.jsonl", "".join(json.dumps(p) + "\n" for p in points))
    run = run_cli("grad", "sum(w*w) * x", "--points", path, "--format", "json")
    assert run.exit_code == 0, run.stderr
    for p, r in zip(points, jsonl(run.stdout)):
        w, x = np.array(p["w"], dtype=float), p["x"]
        np.testing.assert_allclose(r["gradients"]["w"], 2 * w * x, rtol=1e-14)
        assert r["gradients"]["x"] == pytest.approx(float(np.sum(w * w)))
    run = run_cli("grad", "sum(w*w) * x", "--points", path, "--format", "csv", "--wrt", "w")
    table = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(table[0])[4:] == ["x", "value", "d/dw[0,0]", "d/dw[0,1]", "d/dw[1,0]", "d/dw[1,1]"]
    assert float(table[1]["d/dw[1,0]"]) == 2 * 2 * -1


@pytest.mark.parametrize("text", ["x[argmax(x)]", "sum(x[x > 1.5])", "sum(x[:argmax(x) + 1] ** 2)"])
def test_an_index_computed_from_the_point_is_each_points_own(tmp_path, text):
    # The points replay one traced program: an index read from the data is a guard of it, not a constant.
    points = [[1, 3, 2], [5, 1, 2], [0, 1, 9], [0, 1, 9]]
    path = write(tmp_path, "p.jsonl", "".join(json.dumps({"x": x}) + "\n" for x in points))
    run = run_cli("grad", text, "--points", path, "--format", "json")
    assert run.exit_code == 0, run.stderr
    for x, r in zip(points, jsonl(run.stdout)):
        want = functional.grad(text, {"x": np.array(x, dtype=float)})
        assert r["value"] == float(want.value) and r["gradients"]["x"] == want.gradients["x"].tolist()
    best = [np.argmax(x) for x in points]
    if text == "x[argmax(x)]":  # by hand: the largest entry, and 1 at its index
        assert [r["value"] for r in jsonl(run.stdout)] == [max(x) for x in points]
        assert [r["gradients"]["x"][i] for r, i in zip(jsonl(run.stdout), best)] == [1.0] * len(points)


def test_jacobian_and_hessian_columns(tmp_path):
    path = write(tmp_path, "p.csv", "x,y\n0.5,2\n1.5,-1\n")
    run = run_cli("hessian", F, "--points", path, "--format", "csv")
    assert run.exit_code == 0, run.stderr
    table = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(table[0]) == ["x", "y", "value", "d/dx", "d/dy", "d2/dx/dx", "d2/dx/dy", "d2/dy/dx", "d2/dy/dy"]
    for row in table:
        x = float(row["x"])
        assert float(row["d2/dx/dx"]) == pytest.approx(-np.sin(x), rel=1e-14)
        assert float(row["d2/dx/dy"]) == float(row["d2/dy/dx"]) == 1
        assert float(row["d2/dy/dy"]) == 0
    path = write(tmp_path, "m.jsonl", '{"m": [2, 3]}\n')
    run = run_cli("jacobian", "[m[0]**2, m[0]*m[1]]", "--points", path, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(run.stdout)))
    assert {k: float(v) for k, v in table[0].items() if k.startswith("d")} == {
        "d[0]/dm[0]": 4, "d[0]/dm[1]": 0, "d[1]/dm[0]": 3, "d[1]/dm[1]": 2}


@pytest.mark.parametrize("kind", ["grad", "jacobian", "hessian"])
def test_vectorised_equals_one_by_one(kind):
    rng = np.random.default_rng(7)
    expr = "x*y + sin(x) * exp(-y**2) + maximum(x, 0.3) / (1 + y**2) + tanh(x - y)"
    points = [Point(i, {"x": float(a), "y": float(b)}) for i, (a, b) in enumerate(rng.normal(size=(300, 2)), 2)]
    batch = Batch(kind, expr, {}, None)
    assert batch.vectorise
    (together,) = list(batch.compute(points))
    assert isinstance(together, Results) and len(together) == 300
    batch.vectorise = False
    alone = list(batch.compute(points))
    assert len(alone) == 300
    key = "jacobian" if kind == "jacobian" else "gradients"
    for i, one in enumerate(alone):
        assert one.value[0] == pytest.approx(together.value[i], rel=1e-13)
        for name in ("x", "y"):
            assert getattr(one, key)[name][0] == pytest.approx(getattr(together, key)[name][i], rel=1e-12, abs=1e-14)
            if kind == "hessian":
                for other in ("x", "y"):
                    assert one.hessian[name][other][0] == pytest.approx(together.hessian[name][other][i],
                                                                       rel=1e-12, abs=1e-14)


def test_a_fixed_vector_is_shared_by_every_point(tmp_path):
    batch = Batch("grad", "sum(x * v)", {"v": np.array([1.0, 2.0])}, None)
    assert batch.vectorise
    path = write(tmp_path, "p.csv", "x\n1\n2\n3\n")
    run = run_cli("grad", "sum(x * v)", "--v", "1,2", "--points", path, "--format", "json", "--wrt", "x")
    assert [r["gradients"]["x"] for r in jsonl(run.stdout)] == [3.0, 3.0, 3.0]
    run = run_cli("grad", "sum(x * v)", "--v", "1,2", "--points", path, "--format", "json")
    assert [r["gradients"]["v"] for r in jsonl(run.stdout)] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]


def test_expressions_that_cannot_batch_run_one_by_one(tmp_path):
    batch = Batch("grad", "x * v[1]", {"v": np.array([1.0, 2.0])}, None)
    assert not batch.vectorise  # indexing reads the shape outside the engine
    path = write(tmp_path, "p.csv", "x\n1\n2\n3\n")
    run = run_cli("grad", "x * v[1]", "--v", "1,2", "--points", path, "--format", "json", "--wrt", "x")
    assert [r["gradients"]["x"] for r in jsonl(run.stdout)] == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_bad_row_stops_by_default_keeping_what_was_written(tmp_path, fmt):
    path = write(tmp_path, "p.csv", "x,y\n1,2\n3,abc\n2,5\n")
    run = run_cli("grad", F, "--points", path, "--format", fmt)
    assert run.exit_code == 2
    assert "line 3: 'abc' is not a number" in run.stderr
    out = run.stdout.splitlines()
    assert len(out) == (1 if fmt == "json" else 2)  # the first point (and the CSV header) were written
    assert "2.84147" in out[-1]


def test_bad_rows_skipped_with_their_line_numbers(tmp_path):
    path = write(tmp_path, "p.csv", "x,y\n1,2\n3,abc\n4\n2,5\n")
    run = run_cli("grad", F, "--points", path, "--format", "json", "--on-error", "skip")
    assert run.exit_code == 0
    assert [r["line"] for r in jsonl(run.stdout)] == [2, 5]
    assert "line 3: 'abc' is not a number (skipped)" in run.stderr
    assert "line 4: 1 value for 2 columns (x, y) (skipped)" in run.stderr


def test_json_lines_missing_variable_and_wrong_shape(tmp_path):
    path = write(tmp_path, "p.jsonl", '{"x": 1, "y": 2}\n{"x": 1}\n{"x": [1, 2], "y": 1}\n{"x": 2, "y": 2}\n')
    run = run_cli("grad", F, "--points", path, "--format", "json", "--on-error", "skip")
    assert run.exit_code == 0
    assert [r["line"] for r in jsonl(run.stdout)] == [1, 4]
    assert "line 2: no value for y" in run.stderr
    assert "line 3: the output has shape (2,)" in run.stderr


def test_a_column_that_is_not_a_variable_is_refused(tmp_path):
    path = write(tmp_path, "p.csv", "x,z\n1,2\n")
    run = run_cli("grad", F, "--points", path)
    assert run.exit_code == 2
    assert "the column 'z' is not a variable of the expression (its variables: x, y)" in run.stderr


def test_standard_input_is_read_with_dash():
    run = run_cli("grad", "x**3", "--points", "-", "--format", "csv", input="x\n2\n-1\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == ["x,value,d/dx", "2,8,12", "-1,-1,3"]


def test_non_finite_points_carry_their_warning():
    run = run_cli("grad", "log(x) + x", "--points", "-", "--format", "json", input="x\n1\n-1\n2\n")
    rows = jsonl(run.stdout)
    assert "warnings" not in rows[0] and "warnings" not in rows[2]
    assert rows[1]["value"] == "nan"
    assert rows[1]["warnings"] == ["the value became nan here"]


def test_results_stream_before_standard_input_closes():
    proc = subprocess.Popen([sys.executable, "-m", "gradcli", "grad", "x**2", "--points", "-", "--format", "json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write("x\n3\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no result before standard input closed"
        first = json.loads(proc.stdout.readline())
        assert (first["line"], first["value"], first["gradients"]["x"]) == (2, 9.0, 6.0)
        assert proc.poll() is None  # still waiting for more points
        proc.stdin.write("4\n")
        proc.stdin.close()
        rest = proc.stdout.read()
        assert json.loads(rest)["gradients"]["x"] == 8.0
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_hundred_thousand_points_are_vectorised(tmp_path, monkeypatch):
    # Vectorised means one forward evaluation per chunk of points and none per point; counted,
    # not timed (a shared machine makes any time limit flaky).
    from gradcli.api import batch
    from gradcli.api.problem import Problem

    evaluations, singles = [], []
    forward = Problem.forward
    monkeypatch.setattr(Problem, "forward", lambda self, *a, **k: evaluations.append(1) or forward(self, *a, **k))
    single = batch.Batch._single
    monkeypatch.setattr(batch.Batch, "_single", lambda self, point: singles.append(point) or single(self, point))
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(100_000, 2))
    path = tmp_path / "big.csv"
    path.write_text("x,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in xy.tolist()) + "\n")
    run = run_cli("grad", F, "--points", str(path), "--format", "csv")
    assert run.exit_code == 0
    out = np.loadtxt(io.StringIO(run.stdout), delimiter=",", skiprows=1)
    value, dx, dy = f_and_grad(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(out[:, 2:], np.stack([value, dx, dy], axis=1), rtol=1e-13, atol=1e-15)
    assert singles == []
    assert len(evaluations) == -(-100_000 // batch.CHUNK) == 13


@pytest.mark.parametrize("option, message", [
    (["--check"], "--check works on one point, not with --points"),
    (["--output", "r.json"], "--output takes one result"),
])
def test_one_point_options_are_refused_with_points(tmp_path, option, message):
    path = write(tmp_path, "p.csv", "x,y\n1,2\n")
    run = run_cli("grad", F, "--points", path, *option)
    assert run.exit_code == 2
    assert message in run.stderr and run.stdout == ""


# Expressions over vectors and matrices (x, y: 3-vectors per point; m: 2x3 per point; W, b shared).
VECTOR_EXPRESSIONS = [
    ("grad", "sum(tanh(W @ x))"), ("grad", "sum(x * y) + mean(exp(-x**2))"), ("grad", "logsumexp(W @ x + b)"),
    ("grad", "sum(softmax(m, axis=1) * m)"), ("grad", "norm(m @ x) + max(x)"), ("grad", "sum(m.T @ m @ y)"),
    ("grad", "sum(cumsum(x * y))"), ("grad", "sum(outer(x, y) @ x)"), ("grad", "det(W * x) + trace(m @ W)"),
    ("grad", "sum(cross(x, y)**2)"), ("grad", "mse_loss(W @ x, y) + var(m)"), ("grad", "x @ y"),
    ("jacobian", "tanh(W @ x) * y"), ("jacobian", "m @ x"), ("jacobian", "sum(m, axis=0) * x"),
    ("hessian", "sum(tanh(W @ x)) + x @ y"), ("hessian", "logsumexp(m @ x)"),
]


def _vector_points(n: int) -> list[Point]:
    rng = np.random.default_rng(11)
    return [Point(i, {"x": rng.normal(size=3), "y": rng.normal(size=3), "m": rng.normal(size=(2, 3))})
            for i in range(2, n + 2)]


@pytest.mark.parametrize("kind, expr", VECTOR_EXPRESSIONS)
def test_vector_points_batched_equal_one_by_one(kind, expr):
    """Batched (one pass, a leading point axis) against one computation per point: equal to the last
    ulps (a stacked matrix product may add in another order than one point's)."""
    rng = np.random.default_rng(5)
    fixed = {"W": rng.normal(size=(3, 3)), "b": rng.normal(size=3)}
    batch = Batch(kind, expr, {k: v for k, v in fixed.items() if k in expr}, None)
    assert batch.vectorise
    names = batch.names
    points = [Point(p.line, {k: v for k, v in p.values.items() if k in names}) for p in _vector_points(40)]
    (together,) = list(batch.compute(points))
    batch.vectorise = False
    alone = list(batch.compute(points))
    for i, one in enumerate(alone):
        np.testing.assert_allclose(together.value[i], one.value[0], rtol=1e-14, atol=1e-15)
        for key in ("gradients", "jacobian"):
            for name, a in (getattr(one, key) or {}).items():
                np.testing.assert_allclose(getattr(together, key)[name][i], a[0], rtol=1e-13, atol=1e-14)
        for a_name, row in (one.hessian or {}).items():
            for b_name, h in row.items():
                np.testing.assert_allclose(together.hessian[a_name][b_name][i], h[0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_points_one_by_one_replay_the_engines_numbers_and_warnings(dtype):
    # Indexing keeps these points from batching: each is a traced gradient replayed. Zeros,
    # ties and non-finite points (log of a negative) go through the guards and the warnings.
    expr = "(1 - w[0])**2 + 100*(w[1] - w[0]**2)**2 + maximum(w[0], w[1]) + log(w[1] + 3)"
    rng = np.random.default_rng(3)
    rows = [*rng.normal(size=(40, 2)) * 2, [0.0, 0.0], [0.5, 0.5], [1.0, -4.0], [np.nan, 1.0], [2.0, -3.0]]
    points = [Point(i, {"w": np.array(w)}) for i, w in enumerate(rows, 2)]
    batch = Batch("grad", expr, {}, None, dtype=dtype)
    assert not batch.vectorise and batch.replays
    results = list(batch.compute(points))
    assert batch._gradient.traced.replayed > 30
    for point, got in zip(points, results):
        want = functional.grad(expr, point.values, dtype=dtype)
        assert got.value.dtype == want.value.dtype and got.gradients["w"].dtype == want.gradients["w"].dtype
        assert np.array_equal(got.value[0], want.value, equal_nan=True)
        assert np.array_equal(got.gradients["w"][0], want.gradients["w"], equal_nan=True)
        assert np.array_equal(got.inputs["w"][0], want.problem.values["w"], equal_nan=True)
        assert got.warnings == [[w.message for w in want.warnings]]
    assert sum(bool(r.warnings[0]) for r in results) >= 2  # log(-1) and a nan point warn
