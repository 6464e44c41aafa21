"""gradcli plot: the sampled curve and its derivative, the terminal drawing, picture files."""

from __future__ import annotations

import csv
import io
import json
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import run_cli

from gradcli.render.plot import braille, parse_range


def plot_json(*args: str):
    run = run_cli("plot", *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return run.json()


def test_function_and_derivative_over_the_range():
    out = plot_json("sin(x) * x", "--x", "-3:3:61")
    x = np.linspace(-3, 3, 61)
    np.testing.assert_array_equal(out["x"], x)
    np.testing.assert_allclose(out["value"], np.sin(x) * x, rtol=1e-15)
    np.testing.assert_allclose(out["d/dx"], np.cos(x) * x + np.sin(x), rtol=1e-14, atol=1e-15)


def test_other_variables_are_fixed_and_arrays_run_point_by_point():
    out = plot_json("tanh(w*t)", "--t", "-1:1:5", "--w", "3")
    t = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(out["d/dt"], 3 / np.cosh(3 * t) ** 2, rtol=1e-13)
    out = plot_json("sum(v * x**2)", "--x", "0:2:3", "--v", "1,2")  # not elementwise: one point at a time
    np.testing.assert_allclose(out["d/dx"], [0, 6, 12])


def test_csv_output():
    run = run_cli("plot", "x**3", "--x", "0:2:3", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [(float(r["x"]), float(r["value"]), float(r["d/dx"])) for r in table] == [(0, 0, 0), (1, 1, 3), (2, 8, 12)]


def test_range_syntax():
    np.testing.assert_array_equal(parse_range("-3:3", "x"), np.linspace(-3, 3, 201))
    np.testing.assert_array_equal(parse_range("0:1:11", "x"), np.linspace(0, 1, 11))


@pytest.mark.parametrize("args, message", [
    (["x**2", "--x", "1"], "give exactly one variable a range"),
    (["x*y", "--x", "0:1", "--y", "0:1"], "x, y have ranges"),
    (["x**2", "--x", "3:1"], "needs finite start < stop"),
    (["x**2", "--x", "0:1:1.5"], "whole number from 2 to 100000"),
    (["x**2", "--x", "a:1"], "'a' is not a number"),
    (["[x, x]", "--x", "0:1"], "at x = 0: the output has shape (2,)"),
])
def test_errors(args, message):
    run = run_cli("plot", *args)
    assert run.exit_code == 2
    assert message in run.stderr


def test_braille_draws_a_line_through_the_corners():
    rows = braille(np.array([0.0, 1.0]), np.array([0.0, 1.0]), width=2, height=1, bounds=(0, 1, 0, 1))
    # 4 × 2 dots: the diagonal from bottom left to top right sets dots (3,0), (2,0|1), (1,1), (0,1)
    dots = ord(rows[0][0]) - 0x2800, ord(rows[0][1]) - 0x2800
    assert dots[0] & 0x40 and dots[1] & 0x08  # bottom left of the first cell, top right of the second


def test_terminal_drawing_has_both_charts():
    run = run_cli("plot", "x**2", "--x", "-1:1", "--height", "6")
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "f = x**2"
    assert "df/dx" in lines
    # value from 0 to 1, slope from -2 to 2, labelled at the top and bottom rows
    assert lines[1].lstrip().startswith("1┤") and lines[6].lstrip().startswith("0┤")
    df = lines.index("df/dx")
    assert lines[df + 1].lstrip().startswith("2┤") and lines[df + 6].lstrip().startswith("-2┤")
    drawn = "".join(lines[1:7])
    assert sum(ch != "\u2800" for ch in drawn if "\u2800" <= ch <= "\u28ff") > 10


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_picture_files(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"plot.{suffix}"
    run = run_cli("plot", "sin(x)", "--x", "-3:3", "--output", str(path))
    assert run.exit_code == 0, run.stderr
    data = path.read_bytes()
    if suffix == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 2


def test_descend_loss_curve_to_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "loss.png"
    run = run_cli("descend", "(w - 3)**2", "--w", "0", "--wrt", "w", "--lr", "0.1", "--steps", "20",
                  "--output", str(path))
    assert run.exit_code == 0, run.stderr
    assert path.read_bytes().startswith(b"\x89PNG")


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    run = run_cli("plot", "sin(x)", "--x", "-3:3", "--output", str(tmp_path / "p.png"))
    assert run.exit_code == 2
    assert "matplotlib, which is not installed: pip install 'gradcli[plot]'" in run.stderr
    assert not (tmp_path / "p.png").exists()


def test_unknown_picture_type(tmp_path):
    run = run_cli("plot", "sin(x)", "--x", "-3:3", "--output", str(tmp_path / "p.gif"))
    assert run.exit_code == 2
    assert "use a .json, .png, .svg or .pdf file" in run.stderr


def test_a_json_file_holds_what_format_json_prints(tmp_path):
    path = tmp_path / "curve.json"
    run = run_cli("plot", "x**2", "--x", "0:1:3", "--output", str(path))
    assert run.exit_code == 0 and run.stdout == ""
    assert path.read_text() == run_cli("plot", "x**2", "--x", "0:1:3", "--format", "json").stdout
    data = json.loads(path.read_text())
    assert data["x"] == [0.0, 0.5, 1.0] and data["value"] == [0.0, 0.25, 1.0] and data["d/dx"] == [0.0, 1.0, 2.0]


def test_a_curve_with_no_finite_value_says_so():
    run = run_cli("plot", "log(x)", "--x", "-2:-1", "--height", "4")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "f = log(x)  (no finite value over this range)"
    assert set("".join(lines[1:5])) <= {"┤", " ", "\u2800"}  # nothing drawn, no made-up y labels
    assert "(no finite" not in run.stdout.split("df/dx")[1]  # the slope 1/x is finite there


def test_samples_that_cannot_batch_replay_a_traced_gradient_with_the_right_numbers():
    from gradcli.render.plot import curve

    xs = np.linspace(-2, 2, 41)
    ys, slopes = curve("stack([x, x**2])[1] * sin(x)", {}, "x", xs)  # indexing: one point at a time
    np.testing.assert_allclose(ys, xs**2 * np.sin(xs), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(slopes, 2 * xs * np.sin(xs) + xs**2 * np.cos(xs), rtol=1e-14, atol=1e-15)
