"""gradcli descend: the documents' numbers, a data fit, the optimisers against their formulas."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from conftest import run_cli

DATA = ["--x", "1,2,3", "--y", "2,4,6", "--w", "1", "--wrt", "w"]
FIT = "mean((w*x - y)**2)"


def descend(*args: str):
    run = run_cli("descend", *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return run.json()


def test_seed_example(seed_cases):
    case = seed_cases["descend"]
    args = [case["expr"], *(a for n, v in case["values"].items() for a in (f"--{n}", v))]
    steps = len(case["w_after_steps"]) - 1
    out = descend(*args, "--wrt", ",".join(case["wrt"]), "--lr", str(case["lr"]), "--steps", str(steps))
    assert [s["values"]["w"] for s in out["history"]] == pytest.approx(case["w_after_steps"], rel=1e-14)
    assert [s["loss"] for s in out["history"]] == pytest.approx(case["loss_after_steps"], rel=1e-12)
    assert out["values"]["w"] == pytest.approx(1.96)
    assert out["stopped"] == "steps" and out["steps"] == 2


def test_data_fit_reaches_w_2_as_the_closed_form_says():
    out = descend(FIT, *DATA, "--lr", "0.01", "--steps", "100")
    # grad = 2 (w - 2) mean(x²) = (28/3)(w - 2), so w_k - 2 = (1 - 0.01 * 28/3)^k (w_0 - 2)
    expected = 2 - (1 - 0.01 * 28 / 3) ** np.arange(101)
    np.testing.assert_allclose([s["values"]["w"] for s in out["history"]], expected, rtol=1e-12)
    assert out["values"]["w"] == pytest.approx(2, abs=1e-4)
    norms = [s["grad_norm"] for s in out["history"]]
    np.testing.assert_allclose(norms, 28 / 3 * np.abs(expected - 2), rtol=1e-10)


def reference(optimizer: str, lr: float, steps: int, w0: float = 1.0) -> list[float]:
    """torch.optim's update formulas, written out for the data fit's gradient (28/3)(w - 2)."""
    w, buf, m, s, path = w0, None, 0.0, 0.0, [w0]
    for t in range(1, steps + 1):
        g = 28 / 3 * (w - 2)
        if optimizer == "momentum":
            buf = g if buf is None else 0.9 * buf + g
            w -= lr * buf
        else:
            m = 0.9 * m + 0.1 * g
            s = 0.999 * s + 0.001 * g * g
            w -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-8)
        path.append(w)
    return path


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_optimisers_follow_their_update_rules(optimizer):
    out = descend(FIT, *DATA, "--lr", "0.05", "--steps", "40", "--optimizer", optimizer)
    np.testing.assert_allclose([s["values"]["w"] for s in out["history"]], reference(optimizer, 0.05, 40), rtol=1e-12)
    assert out["optimizer"] == optimizer


def test_adam_first_step_moves_by_the_learning_rate():
    out = descend("(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4", "--wrt", "w", "--lr", "0.1", "--steps", "1",
                  "--optimizer", "adam")
    assert out["history"][1]["values"]["w"] == pytest.approx(1.1, rel=1e-8)


def test_tol_stops_early_below_the_gradient_norm():
    out = descend(FIT, *DATA, "--lr", "0.05", "--steps", "1000", "--tol", "1e-6")
    assert out["stopped"] == "tol"
    last = out["history"][-1]
    assert last["grad_norm"] < 1e-6 <= out["history"][-2]["grad_norm"]
    assert last["step"] < 1000
    assert last["values"]["w"] == pytest.approx(2, abs=1e-6)


def test_vector_variables_and_several_names():
    out = descend("sum((a - t)**2) + (b + 1)**2", "--a", "0,0", "--t", "1,-2", "--b", "0", "--wrt", "a,b",
                  "--lr", "0.25", "--steps", "1")
    # one step of lr 0.25 halves the distance to the minimum
    assert out["values"]["a"] == pytest.approx([0.5, -1.0])
    assert out["values"]["b"] == pytest.approx(-0.5)
    assert out["history"][0]["grad_norm"] == pytest.approx(np.sqrt(2**2 + 4**2 + 2**2))


def test_the_one_variable_of_a_loss_needs_no_wrt_and_several_must_be_named():
    # w = 3, lr 0.1: w - 0.1 * 2(w - 1) = 2.6
    out = descend("(w - 1)**2", "--w", "3", "--lr", "0.1", "--steps", "1")
    assert out["wrt"] == ["w"] and out["values"]["w"] == pytest.approx(2.6, rel=1e-15)
    run = run_cli("descend", "(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == ("error: descent updates the variables named in --wrt and keeps the "
                                          "others fixed; this loss has w, x, y: name the ones to update")


def test_divergence_is_reported():
    out = descend("w**4", "--w", "3", "--wrt", "w", "--lr", "1", "--steps", "50")
    assert out["stopped"] == "diverged"
    assert out["history"][-1]["loss"] in ("inf", "nan")


def test_table_shows_first_and_last_steps():
    run = run_cli("descend", FIT, *DATA, "--lr", "0.01", "--steps", "100", "--format", "table")
    assert run.exit_code == 0
    rows = [line.split("│")[1:-1] for line in run.stdout.splitlines() if line.startswith("│")]
    steps = [r[0].strip() for r in rows]
    assert steps == ["0", "1", "2", "3", "4", "…", "96", "97", "98", "99", "100"]
    assert float(rows[0][1]) == pytest.approx(14 / 3, rel=1e-3)  # loss at w = 1: mean((x - 2x)²)
    assert "100 steps" in run.stdout
    run = run_cli("descend", FIT, *DATA, "--lr", "0.01", "--steps", "100", "--every", "25", "--format", "table")
    steps = [line.split("│")[1].strip() for line in run.stdout.splitlines() if line.startswith("│")]
    assert steps == ["0", "25", "50", "75", "100"]


def test_csv_and_plain_output():
    run = run_cli("descend", "sum((a - t)**2)", "--a", "0,0", "--t", "1,2", "--wrt", "a", "--lr", "0.25",
                  "--steps", "2", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(table[0]) == ["step", "loss", "a[0]", "a[1]", "grad_norm"]
    assert [(float(r["a[0]"]), float(r["a[1]"])) for r in table] == [(0, 0), (0.5, 1), (0.75, 1.5)]
    run = run_cli("descend", "(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4", "--wrt", "w", "--lr", "0.1",
                  "--steps", "2", "--format", "plain")
    assert run.stdout == "1.96\n"


def test_history_to_a_json_file(tmp_path):
    path = tmp_path / "history.json"
    run = run_cli("descend", "(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4", "--wrt", "w", "--lr", "0.1",
                  "--steps", "2", "--output", str(path))
    assert run.exit_code == 0 and run.stdout == ""
    assert [s["values"]["w"] for s in json.loads(path.read_text())["history"]] == pytest.approx([1, 1.8, 1.96])


def test_plot_draws_the_loss_curve():
    run = run_cli("descend", FIT, *DATA, "--lr", "0.01", "--steps", "100", "--plot")
    assert run.exit_code == 0
    assert "loss (log scale)" in run.stdout and "100 steps" in run.stdout
    assert any("\u2801" <= ch <= "\u28ff" for ch in run.stdout)  # braille dots drawn
    # With a format for programs, the chart goes to standard error and standard output stays plain.
    run = run_cli("descend", FIT, *DATA, "--lr", "0.01", "--steps", "100", "--plot", "--format", "plain")
    assert run.exit_code == 0
    assert float(run.stdout) == pytest.approx(2.0, abs=1e-3)  # w of the fit y = 2x
    assert "loss (log scale)" in run.stderr and any("\u2801" <= ch <= "\u28ff" for ch in run.stderr)


@pytest.mark.parametrize("args, message", [
    (["sum(w)", "--w", "1,2", "--wrt", "w", "--steps", "1", "--w", "3"], "w is given two values"),
    (["w*x", "--w", "1", "--x", "1,2", "--wrt", "w"], "gradient descent needs a scalar loss"),
    (["w**2", "--w", "1", "--wrt", "v"], "--wrt names 'v'"),
    (["w**2", "--w", "1", "--wrt", "w", "--lr", "-1"], "--lr must be a positive number"),
])
def test_errors(args, message):
    run = run_cli("descend", *args)
    assert run.exit_code == 2
    assert message in run.stderr


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_the_update_of_a_few_floats_is_the_update_of_whole_arrays(optimizer):
    # A few float64 entries are updated one by one as Python floats (api/descend.py _update);
    # larger variables and float32 as whole arrays: the same numbers, gradient zeros and
    # infinities included.
    from gradcli.api.descend import TINY_ENTRIES, _update

    rng = np.random.default_rng(3)
    v = rng.standard_normal(5)
    floats, arrays = {}, {}
    for t in range(1, 40):
        g = rng.standard_normal(5) * 10.0 ** rng.integers(-300, 300, 5)
        g[t % 5] = [0.0, -0.0, np.inf, 1e-320, 5.0][t % 5]
        with np.errstate(all="ignore"):
            by_floats = _update(optimizer, floats, v, g, t, 0.01, 0.9)
            wide = np.concatenate([v, np.zeros(TINY_ENTRIES)])  # (more entries than a float update takes)
            by_arrays = _update(optimizer, arrays, wide, np.concatenate([g, np.zeros(TINY_ENTRIES)]), t, 0.01, 0.9)
        assert by_floats.dtype == np.float64 and by_floats.shape == (5,)
        assert by_floats.tobytes() == by_arrays[:5].tobytes(), t
        v = by_floats
