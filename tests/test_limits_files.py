"""Limits, files and process behaviour: refused before the work, one-line errors, clean exits.

Limits are checked from shapes before anything is allocated (measured with tracemalloc,
which sees numpy's allocations); files are parsed, never evaluated or unpickled; --output
is replaced only by a complete file; Ctrl-C gives 130 and a closed pipe ends quietly;
numpy's floating-point warnings never reach the terminal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from conftest import run_cli

from gradcli.limits import LIMITS

GRADCLI = [sys.executable, "-m", "gradcli"]


def refused(*args: str, says: str) -> str:
    run = run_cli(*args)
    assert run.exit_code == 2, run.stdout
    assert run.stderr.startswith("error: ") and says in run.stderr, run.stderr
    return run.stderr


def peak_bytes(*args: str) -> int:
    tracemalloc.start()
    try:
        run_cli(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- limits -------------------------------------------------------------------------------
def test_expression_length(monkeypatch):
    monkeypatch.setattr(LIMITS, "max_length", 20)
    refused("grad", "x+x+x+x+x+x+x+x+x+x+x", "--x", "1", says="GRADCLI_MAX_LENGTH")
    assert run_cli("grad", "x+x+x", "--x", "1").exit_code == 0


def test_nesting_depth(monkeypatch):
    refused("grad", "(" * 201 + "x" + ")" * 201, "--x", "1", says="GRADCLI_MAX_DEPTH")
    monkeypatch.setattr(LIMITS, "max_depth", 4)
    refused("grad", "sin(sin(sin(sin(x))))", "--x", "1", says="nested more than 4 levels")
    assert run_cli("grad", "sin(sin(x))", "--x", "1").exit_code == 0


def test_graph_size(monkeypatch):
    monkeypatch.setattr(LIMITS, "max_nodes", 10)
    refused("grad", "x+x+x+x+x+x", "--x", "1", says="GRADCLI_MAX_NODES")
    assert run_cli("grad", "x+x+x", "--x", "1").exit_code == 0


@pytest.mark.parametrize("args,says", [
    (("grad", "sum(outer(x, x))", "--x", "ones(1000000)"), "(1000000, 1000000)"),
    (("grad", "sum(x * zeros(100000000000))", "--x", "1"), "GRADCLI_MAX_ELEMENTS"),
    (("grad", "sum(eye(10**10)) * x", "--x", "1"), "GRADCLI_MAX_ELEMENTS"),
    (("grad", "sum(x)", "--x", "zeros(100000000000)"), "GRADCLI_MAX_ELEMENTS"),
    (("jacobian", "x * 2", "--x", "zeros(100000)"), "10,000,000,000 entries"),
    (("hessian", "sum(x * x)", "--x", "zeros(100000)"), "10,000,000,000 entries"),
])
def test_element_count_is_checked_before_allocating(args, says):
    refused(*args, says=says)
    # The inputs themselves may be allocated (8 MB for a 10^6 vector), never the result.
    assert peak_bytes(*args) < 64 * 2**20


def test_element_limit_is_exact(monkeypatch):
    monkeypatch.setattr(LIMITS, "max_elements", 100)
    refused("grad", "sum(outer(x, x))", "--x", "ones(11)", says="121 entries")
    run = run_cli("grad", "sum(outer(x, x))", "--x", "ones(10)", "--format", "json")
    assert run.exit_code == 0 and run.json()["gradients"]["x"] == [20.0] * 10


def test_limits_come_from_the_environment():
    env = {**os.environ, "GRADCLI_MAX_ELEMENTS": "5", "GRADCLI_MAX_LENGTH": "1000"}
    run = subprocess.run([*GRADCLI, "grad", "sum(x)", "--x", "ones(6)"], check=False, capture_output=True, text=True,
                         env=env, timeout=60)
    assert run.returncode == 2 and "over the limit of 5" in run.stderr, run.stderr


# -- files ---------------------------------------------------------------------------------
def test_numbers_from_csv_json_and_npy(tmp_path):
    (tmp_path / "m.csv").write_text("# a matrix\n1, 2\n3, 4\n")
    (tmp_path / "v.json").write_text("[0.5, -1, 2e1]")
    np.save(tmp_path / "w.npy", np.array([[1, 2], [3, 4]], dtype=np.int32))
    run = run_cli("grad", "sum(m * w) + sum(v * v)", "--m", f"@{tmp_path / 'm.csv'}", "--v",
                  f"@{tmp_path / 'v.json'}", "--w", f"@{tmp_path / 'w.npy'}", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert out["value"] == 30.0 + 0.25 + 1 + 400
    assert out["gradients"] == {"m": [[1.0, 2.0], [3.0, 4.0]], "v": [1.0, -2.0, 40.0],
                                "w": [[1.0, 2.0], [3.0, 4.0]]}


def write_pickled_npy(path):
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


def write_truncated_npy(path):
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (10**6,)})
        fh.write(b"\0" * 64)


@pytest.mark.parametrize("name,write,says", [
    ("pickled.npy", write_pickled_npy, "pickles are never loaded"),
    ("garbage.npy", lambda p: p.write_bytes(b"cos(1)\n" * 10), "is not a .npy file"),
    ("truncated.npy", write_truncated_npy, "shorter than its header"),
    ("text.npy", lambda p: np.save(p, np.array(["a", "b"])), "not numbers"),
    ("ragged.csv", lambda p: p.write_text("1,2\n3\n"), "rows have different lengths"),
    ("code.csv", lambda p: p.write_text("__import__('os').getcwd()\n"), "is not a number"),
    ("binary.csv", lambda p: p.write_bytes(b"\xff\xfe\x00\x01"), "cannot be read"),
    ("bad.json", lambda p: p.write_text("[1, 2"), "not valid JSON"),
    ("object.json", lambda p: p.write_text('{"__class__": 1}'), "not a number"),
    ("string.json", lambda p: p.write_text('["__import__(\'os\')"]'), "not a number"),
    ("deep.json", lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "JSON"),
    ("empty.csv", lambda p: p.write_text("# nothing\n"), "holds no numbers"),
    ("data.yaml", lambda p: p.write_text("1"), "use a .npy, .csv or .json file"),
    ("missing.csv", None, "does not exist"),
    ("folder.json", lambda p: p.mkdir(), "is a folder"),
])
def test_bad_file_gives_one_line_naming_it(tmp_path, name, write, says):
    path = tmp_path / name
    if write is not None:
        write(path)
    stderr = refused("grad", "sum(x)", "--x", f"@{path}", says=says)
    assert stderr.count("\n") == 1 and str(path) in stderr


# -- --output ----------------------------------------------------------------------------
def test_failed_run_leaves_the_output_file_intact(tmp_path):
    out = tmp_path / "result.json"
    out.write_text("previous result\n")
    refused("grad", "sum(x", "--x", "1,2", "-o", str(out), says="expected")
    refused("grad", "sum(x)", "--x", "1,2", "--y", "3", "-o", str(out), says="unknown option --y")
    refused("grad", "x * y", "--x", "1", "--y", "2", "-o", str(tmp_path / "r.npy"), says="use .npz")
    assert out.read_text() == "previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_interrupted_write_leaves_the_output_file_intact(tmp_path, monkeypatch):
    out = tmp_path / "result.npz"
    out.write_bytes(b"previous result")

    def half_written(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", half_written)
    run = run_cli("grad", "sum(x*x)", "--x", "1,2", "-o", str(out))
    assert run.exit_code == 130 and "Traceback" not in run.stderr
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.npz"]


def test_successful_run_replaces_the_output_file(tmp_path):
    out = tmp_path / "result.json"
    out.write_text("previous result, longer than the new one will be" * 100)
    run = run_cli("grad", "sum(x*x)", "--x", "1,2", "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert json.loads(out.read_text())["gradients"] == {"x": [2.0, 4.0]}


# -- the process -----------------------------------------------------------------------------
def wait_until_reading(pid: int, timeout: float = 20.0) -> None:
    """Until the process sleeps in a read (Linux: wchan names the pipe read), or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/wchan") as fh:
                if "pipe" in fh.read():
                    return
        except OSError:
            time.sleep(2.0)  # no /proc: give start-up a generous moment instead
            return
        time.sleep(0.05)


def test_ctrl_c_while_reading_standard_input():
    proc = subprocess.Popen([*GRADCLI, "grad", "sum(x)", "--x", "@-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_reading(proc.pid)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stdout == ""


def test_closed_pipe_ends_quietly():
    command = ("set -o pipefail; " + " ".join(GRADCLI) +
               " jacobian 'x * 2' --x 'ones(2000)' --format plain | head -c 10 >/dev/null")
    run = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0
    assert run.stderr == ""


NONFINITE = ["log(x - 1)", "1 / (x - 1)", "(x - 1) / (x - 1)", "exp(1000 * x)", "sqrt(-x)", "asin(2 * x)",
             "10**10**10 * x", "(x - 1)**-1", "log(0 * x) * 0", "sum(softmax(x * 1e308 * [1, -1]))",
             "logsumexp(x * [-1e308, -1e308] * 10)", "det(x * [[1e200, 0], [0, 1e200]])", "x**0.5 * -1e308 * 10",
             "prod([x, 0 * x, x]) / 0", "norm(x * [0, 0]) / 0", "acos(x) * log(x - 1)", "tan(pi / 2 * x)"]


@pytest.mark.parametrize("command", ["grad", "hessian"])
@pytest.mark.parametrize("expr", NONFINITE)
def test_numpy_warnings_never_leak(command, expr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would now escape as an exception
        run = run_cli(command, expr, "--x", "1", "--format", "json")
    assert run.exit_code in (0, 2), run.stderr
    assert "RuntimeWarning" not in run.stderr and "Traceback" not in run.stderr
    if run.exit_code == 0:
        json.loads(run.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def test_out_of_memory_is_a_clean_error(monkeypatch):
    from gradcli.api import functional

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(functional, "jacobian", exhausted)
    stderr = refused("jacobian", "x * 2", "--x", "1,2", says="not enough memory")
    assert "Traceback" not in stderr and stderr.count("\n") == 1


def test_a_failing_backward_rule_is_a_clean_error():
    """Numerics that raise inside a backward rule give a one-line error, as in the forward pass."""
    from gradcli.ops import OPS

    def broken(node, g):
        raise ValueError("cannot broadcast")

    sin = OPS["sin"]
    original = sin.backward
    object.__setattr__(sin, "backward", broken)  # Op is frozen: patched and restored by hand
    try:
        stderr = refused("grad", "sin(x)", "--x", "1", says="the gradient of sin could not be computed")
    finally:
        object.__setattr__(sin, "backward", original)
    assert "Traceback" not in stderr and "cannot broadcast" in stderr


def test_text_values_are_refused_past_the_byte_limit(tmp_path, monkeypatch):
    # Standard input is read only one character past the limit; a file's size is checked
    # before it is read. Within the limit both load.
    monkeypatch.setattr(LIMITS, "max_text", 20)
    run = run_cli("grad", "sum(x)", "--x", "@-", "--format", "json", input="1," * 50)
    assert run.exit_code == 2 and "standard input is longer than the limit of 20 bytes" in run.stderr
    assert "GRADCLI_MAX_TEXT" in run.stderr
    long_file = tmp_path / "long.csv"
    long_file.write_text("1\n" * 50)
    refused("grad", "sum(x)", "--x", f"@{long_file}", says="is longer than the limit of 20 bytes")
    short = run_cli("grad", "sum(x)", "--x", "@-", "--format", "json", input="1,2,3")
    assert short.exit_code == 0 and short.json()["gradients"]["x"] == [1.0, 1.0, 1.0]
    (tmp_path / "short.json").write_text("[1, 2]")
    ok = run_cli("grad", "sum(x*x)", "--x", f"@{tmp_path / 'short.json'}", "--format", "json")
    assert ok.exit_code == 0 and ok.json()["gradients"]["x"] == [2.0, 4.0]


def test_a_points_line_past_the_byte_limit_is_refused(tmp_path, monkeypatch):
    # --points streams standard input line by line; a line is read only up to the limit.
    monkeypatch.setattr(LIMITS, "max_text", 30)
    header = "x,y\n"
    run = run_cli("grad", "x*y", "--points", "-", "--format", "json", input=header + "1" * 100 + ",2\n")
    assert run.exit_code == 2
    assert "a line of standard input is longer than the limit of 30 bytes (GRADCLI_MAX_TEXT)" in run.stderr
    path = tmp_path / "p.csv"
    path.write_text(header + "1,2\n" + "3" * 100 + ",4\n")
    refused("grad", "x*y", "--points", str(path), says="is longer than the limit of 30 bytes")
    ok = run_cli("grad", "x*y", "--points", "-", "--format", "json", input=header + "1,2\n3,4\n")
    assert ok.exit_code == 0 and [json.loads(r)["gradients"]["x"] for r in ok.stdout.splitlines()] == [2.0, 4.0]
