"""The output formats through the real CLI: strict JSON, plain text that reads back as a
VALUE, tables for people, files, --precision, `python -m gradcli` and `gradcli ops`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_cli

from gradcli.autodiff.op import OPS


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity literals, as jq and other strict readers do."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def ok(*args: str, input: str | None = None, env: dict | None = None) -> str:
    run = run_cli(*args, input=input, env=env)
    assert run.exit_code == 0, run.stderr
    return run.stdout


def test_grad_json_object():
    out = strict_json(ok("grad", "mean(2*x)", "--x", "1,2,3", "--format", "json"))
    assert out == {"expression": "mean(2*x)", "value": 4.0, "shape": [], "wrt": ["x"],
                   "gradients": {"x": [2 / 3, 2 / 3, 2 / 3]}}


def test_jacobian_json_object():
    out = strict_json(ok("jacobian", "[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]", "--m", "2,3", "-f", "json"))
    assert out["value"] == [13.0, 13.0] and out["shape"] == [2]
    assert out["jacobian"] == {"m": [[4.0, 3.0], [2.0, 6.0]]}


def test_hessian_json_object():
    out = strict_json(ok("hessian", "x @ A @ x", "--x", "1,2", "--A", "1,2;3,4", "--wrt", "x", "-f", "json"))
    assert out["value"] == 27.0 and out["wrt"] == ["x"]
    assert out["hessian"] == {"x": {"x": [[2.0, 5.0], [5.0, 8.0]]}}
    assert out["gradients"] == {"x": [12.0, 21.0]}


def test_vjp_json_carries_the_cotangent():
    out = strict_json(ok("grad", "x * x", "--x", "1,2", "--grad-output", "3,4", "-f", "json"))
    assert out["grad_output"] == [3.0, 4.0]
    assert out["gradients"]["x"] == [6.0, 16.0]


def test_json_is_strict_with_non_finite_numbers_as_strings():
    run = run_cli("grad", "sum(log(x) + sqrt(x))", "--x", "0,1", "--format", "json")
    assert run.exit_code == 0
    out = strict_json(run.stdout)
    assert out["value"] == "-inf"
    assert out["gradients"]["x"] == ["inf", 1.5]
    assert out["warnings"] and "-inf" in out["warnings"][0]
    nan = strict_json(ok("grad", "x - x", "--x", "inf", "-f", "json"))
    assert nan["value"] == "nan"


def test_json_keeps_full_precision():
    out = strict_json(ok("grad", "x / 3", "--x", "1", "-f", "json", "--precision", "2"))
    assert out["value"] == 1 / 3 and out["gradients"]["x"] == 1 / 3


def test_plain_is_one_line_per_variable_in_wrt_order():
    text = ok("grad", "x*y + sum(v)", "--x", "2", "--y", "3", "--v", "1,2", "--wrt", "v,y", "-f", "plain")
    assert text == "1,1\n2\n"


def test_plain_at_full_precision():
    assert ok("grad", "mean(2*x)", "--x", "1,2,3", "-f", "plain") == \
        "0.6666666666666666,0.6666666666666666,0.6666666666666666\n"


def test_plain_output_feeds_back_as_a_value():
    # one gradient step, twice, through the shell's $( ): m <- gradient of sum(m*m) = 2m
    first = ok("grad", "sum(m*m)", "--m", "0.1,2;3,-4.25", "-f", "plain").strip()
    assert first == "0.2,4;6,-8.5"
    second = ok("grad", "sum(m*m)", "--m", first, "-f", "plain").strip()
    assert second == "0.4,8;12,-17"
    # irrational numbers survive the round trip bit for bit
    third = ok("grad", "sum(x)/3", "--x", "1,2", "-f", "plain").strip()
    again = ok("grad", "sum(x*x)/2", "--x", third, "-f", "plain").strip()
    assert np.array_equal(np.array(again.split(","), dtype=float), np.full(2, 1 / 3))


def test_plain_higher_rank_is_json_which_reads_back():
    text = ok("grad", "sum(t)", "--t", "ones(2,2,2)", "-f", "plain").strip()
    assert json.loads(text) == np.ones((2, 2, 2)).tolist()
    assert ok("grad", "sum(t*t)", "--t", text, "-f", "plain").strip() == json.dumps(np.full((2, 2, 2), 2.0).tolist())


def test_plain_jacobian_and_hessian():
    assert ok("jacobian", "[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]", "--m", "2,3", "-f", "plain") == "4,3;2,6\n"
    assert ok("hessian", "x**3 * y", "--x", "2", "--y", "5", "-f", "plain") == "60\n12\n12\n0\n"


def test_format_from_the_environment():
    out = ok("grad", "x*x", "--x", "3", env={"GRADCLI_FORMAT": "json"})
    assert strict_json(out)["gradients"]["x"] == 6.0
    assert ok("grad", "x*x", "--x", "3", "-f", "plain", env={"GRADCLI_FORMAT": "json"}) == "6\n"


def test_output_json_file(tmp_path):
    path = tmp_path / "r.json"
    assert ok("grad", "mean(2*x)", "--x", "1,2,3", "--output", str(path)) == ""
    assert strict_json(path.read_text())["gradients"]["x"] == [2 / 3] * 3


def test_output_npy_file(tmp_path):
    path = tmp_path / "g.npy"
    ok("jacobian", "x * 2", "--x", "1,2", "-o", str(path))
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), [[2.0, 0.0], [0.0, 2.0]])


def test_output_npz_file(tmp_path):
    path = tmp_path / "h.npz"
    ok("hessian", "x**3 * y", "--x", "2", "--y", "5", "--output", str(path))
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["hessian_x_x", "hessian_x_y", "hessian_y_x", "hessian_y_y", "value"]
        assert data["value"] == 40.0
        assert data["hessian_x_x"] == 60.0 and data["hessian_x_y"] == 12.0
    grads = tmp_path / "g.npz"
    ok("grad", "x*y", "--x", "2", "--y", "3", "--output", str(grads))
    with np.load(grads) as data:
        assert data["grad_x"] == 3.0 and data["grad_y"] == 2.0


def test_output_npy_with_several_arrays_asks_for_npz(tmp_path):
    run = run_cli("grad", "x*y", "--x", "2", "--y", "3", "--output", str(tmp_path / "g.npy"))
    assert run.exit_code == 2 and "use .npz" in run.stderr
    assert not (tmp_path / "g.npy").exists()


def test_output_to_a_missing_folder_or_unknown_suffix(tmp_path):
    run = run_cli("grad", "x*x", "--x", "2", "--output", str(tmp_path / "no" / "r.json"))
    assert run.exit_code == 2 and "does not exist" in run.stderr
    run = run_cli("grad", "x*x", "--x", "2", "--output", str(tmp_path / "r.txt"))
    assert run.exit_code == 2 and ".json, .npy or .npz" in run.stderr


def test_table_shows_the_parsed_expression_value_and_gradient():
    text = ok("grad", "-x**2 + sum(y)", "--x", "3", "--y", "1,2")
    lines = text.splitlines()
    assert lines[0].split() == ["f", "-(x**2)", "+", "sum(y)"]
    assert lines[1].split() == ["value", "-6"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip()}
    assert rows["x"] == ["3", "-6"]
    assert rows["y[0]"] == ["1", "1"] and rows["y[1]"] == ["2", "1"]


def test_table_keeps_square_brackets_of_user_text():
    text = ok("jacobian", "[m[0]**2, m[1]*m[0]]", "--m", "2,3")
    assert "[m[0]**2, m[1]*m[0]]" in text
    assert "m[0]" in text and "f[1]" in text


def test_table_matrix_value_and_derivative_side_by_side():
    text = ok("grad", "sum(m*m)", "--m", "1,2;3,4", env={"COLUMNS": "100"})
    heading = next(line for line in text.splitlines() if "∂f/∂m" in line)
    assert heading.split()[:4] == ["m", "shape", "(2,", "2)"]
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(("0 ", "1 "))]
    assert rows == [["0", "1", "2", "0", "2", "4"], ["1", "3", "4", "1", "6", "8"]]


def test_table_headings_do_not_wrap_in_a_narrow_terminal():
    text = ok("jacobian", "[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]", "--m", "2,3", env={"COLUMNS": "40"})
    assert "∂f/∂m   shape (2, 2)" in text.splitlines()


def test_table_hessian_of_small_variables_is_one_grid():
    text = ok("hessian", "x**3 * y", "--x", "2", "--y", "5")
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("∂²f/∂(x, y)²")))
    assert lines[start + 1].split() == ["x", "y"]
    assert lines[start + 3].split() == ["x", "60", "12"]
    assert lines[start + 4].split() == ["y", "12", "0"]


def test_table_hessian_blocks_of_larger_variables():
    text = ok("hessian", "sum(x*x) * y", "--x", "arange(9)", "--y", "2")
    for heading in ("∂²f/∂x∂x   shape (9, 9)", "∂²f/∂x∂y   shape (9,)", "∂²f/∂y∂y   shape ()"):
        assert heading in text.splitlines()


@pytest.mark.parametrize("value", ["zeros(0)", "zeros(2,0)"])
def test_table_of_empty_arrays(value):
    assert "no entries" in ok("jacobian", "x*2", "--x", value)


def test_table_precision():
    assert "0.6667" in ok("grad", "mean(2*x)", "--x", "1,2,3")
    text = ok("grad", "mean(2*x)", "--x", "1,2,3", "--precision", "8")
    assert "0.66666667" in text and "0.666666667" not in text


def test_table_elides_long_arrays_and_says_how_to_get_all():
    text = ok("grad", "sum(x*x)", "--x", "arange(100)")
    assert "x[0]" in text and "x[99]" in text and "x[50]" not in text
    assert "80 entries not shown" in text and "--format json" in text


def test_table_has_colour_only_on_a_terminal():
    assert "\x1b[" not in ok("grad", "x*x", "--x", "2")
    assert "\x1b[" in ok("grad", "x*x", "--x", "2", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "gradcli", "grad", "mean(2*x)", "--x", "1,2,3", "-f", "json"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["gradients"]["x"] == [2 / 3] * 3
    failed = subprocess.run([sys.executable, "-m", "gradcli", "grad", "sinn(x)", "--x", "1"],
                            check=False, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "did you mean 'sin'" in failed.stderr and "Traceback" not in failed.stderr


PUBLIC = [op for op in OPS.values() if op.public]


def test_ops_json_lists_every_public_operation():
    entries = strict_json(ok("ops", "--format", "json"))
    named = {e["name"]: e for e in entries if "name" in e}
    assert set(named) == {op.name for op in PUBLIC}
    for op in PUBLIC:
        assert named[op.name]["signature"] == op.signature
        assert named[op.name]["doc"] == op.doc


def test_ops_table_and_csv_show_every_signature_and_alias_and_plain_is_refused():
    import csv
    import io

    table = ok("ops", env={"COLUMNS": "160"})
    rows = {(r["signature"], r["doc"]) for r in csv.DictReader(io.StringIO(ok("ops", "--format", "csv")))}
    for op in PUBLIC:
        assert op.signature in table and (op.signature, op.doc) in rows
        for alias in op.aliases:
            assert alias in table
    assert "Precedence" in table
    run = run_cli("ops", "--format", "plain")
    assert run.exit_code == 2 and run.stdout == ""
    assert run.stderr == ("error: gradcli ops lists functions, not numbers, so it has no plain format: "
                          "use --format table, csv or json\n")
    # GRADCLI_FORMAT=plain is a default, not a request: ops falls back to its table.
    assert ok("ops", env={"GRADCLI_FORMAT": "plain", "COLUMNS": "160"}) == table


@pytest.mark.parametrize("command", ["grad", "jacobian", "hessian", "ops"])
def test_help_works(command):
    text = ok(command, "--help")
    assert "--format" in text


def test_output_file_gets_the_usual_mode_and_keeps_an_existing_one(tmp_path):
    import os
    import stat

    fresh = tmp_path / "fresh.json"
    assert run_cli("grad", "sum(x**2)", "--x", "1,2", "--output", str(fresh)).exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~mask
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    assert run_cli("grad", "sum(x**2)", "--x", "1,2", "--output", str(kept)).exit_code == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert json.loads(kept.read_text())["gradients"]["x"] == [2.0, 4.0]


def test_jacobian_explain_refuses_points(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n")
    run = run_cli("jacobian", "x*2", "--explain", "--points", str(points))
    assert run.exit_code == 2
    assert "cannot be combined with --points" in run.stderr


def test_ops_as_csv_has_a_row_per_entry():
    import csv
    import io

    run = run_cli("ops", "--format", "csv")
    assert run.exit_code == 0
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0] == ["signature", "family", "doc"]
    signatures = {r[0] for r in rows[1:]}
    assert {op.signature for op in OPS.values() if op.public} <= signatures


def test_ctrl_c_while_the_cli_loads_ends_with_130_and_no_traceback():
    # An import hook interrupts the import of numpy, as Ctrl-C during start-up would.
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'numpy':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "sys.argv = ['gradcli', 'grad', 'x*2', '--x', '1']\n"
        "from gradcli.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130
    assert proc.stderr == "interrupted\n"


@pytest.mark.parametrize("value,shape", [("[5]", (1,)), ("[[1,2,3]]", (1, 3)), ("[[1],[2]]", (2, 1))])
def test_plain_output_keeps_every_axis(value, shape):
    run = run_cli("grad", "x*1", "--x", value, "--grad-output", value, "--format", "plain")
    assert run.exit_code == 0, run.stderr
    again = run_cli("grad", "sum(x)", "--x", run.stdout.strip(), "--format", "json")
    assert np.asarray(again.json()["gradients"]["x"]).shape == shape


def test_plot_csv_has_a_header_and_plain_is_its_rows_alone_and_explain_refuses_both():
    run = run_cli("plot", "x**2", "--x", "0:1:3", "--format", "csv")
    assert run.exit_code == 0
    assert run.stdout.splitlines() == ["x,value,d/dx", "0,0,0", "0.5,0.25,1", "1,1,2"]
    run = run_cli("plot", "x**2", "--x", "0:1:3", "--format", "plain")
    assert run.exit_code == 0
    assert run.stdout.splitlines() == ["0,0,0", "0.5,0.25,1", "1,1,2"]
    run = run_cli("explain", "x*2", "--x", "1", "--format", "csv")
    assert run.exit_code == 2 and run.stdout == ""
    assert "not CSV: `gradcli grad --format csv` gives the numbers alone" in run.stderr
    run = run_cli("explain", "x*2", "--x", "1", "--format", "plain")
    assert run.exit_code == 2 and run.stdout == ""
    assert "not plain numbers: `gradcli grad --format plain` gives the numbers alone" in run.stderr
