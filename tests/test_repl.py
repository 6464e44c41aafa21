"""`gradcli repl`: through piped standard input (a script) and through a real pseudo-terminal.

The terminal tests drive the installed entry point (`python -m gradcli repl`) with pexpect:
prompts, an error that does not end the session, history kept in the state folder and read
back, tab completion, Ctrl-C cancelling a line and Ctrl-D ending the session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def piped(lines: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "gradcli", "repl"], input=lines, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def test_a_piped_session_is_a_script(tmp_path):
    done = piped("x = 1,2,3\nh = x * 2   # a step\nsum(h)\ngrad sum(h**2) -f plain\nf(a) = a**2\nf(h)\n"
                 ":format json\njacobian f(x) --wrt x\n", tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["12.0", "8,16,24", "[4.0, 16.0, 36.0]"]
    result = json.loads(lines[3])
    assert result["expression"] == "f(a) = a**2; f(x)"
    np.testing.assert_array_equal(result["jacobian"]["x"], np.diag([2.0, 4.0, 6.0]))
    assert done.stderr == ""


def test_an_error_prints_its_caret_and_the_session_goes_on(tmp_path):
    done = piped("x = 2\nx * q\nsum = x\nx ** 3\ngrad x**2 --wrt y\n", tmp_path)
    assert done.returncode == 2  # a line failed
    assert done.stdout.splitlines() == ["8.0"]
    err = done.stderr.splitlines()
    assert err[:3] == ["error: variable 'q' has no value: give one with q = VALUE", "  x * q", "      ^"]
    assert "sum is a function gradcli has" in err[3]
    assert any("--wrt names 'y', which is not a variable of the expression" in e for e in err)


def test_values_are_drawn_once_and_steps_follow_their_redefinition(tmp_path):
    done = piped("x = randn(3)\nsum(x) - sum(x)\nh = x * 2\nz = h + 1\nh = x * 3\nsum(z - x * 3)\n:vars\n",
                 tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[:2] == ["0.0", "3.0"]
    assert out[3:] == ["h = x * 3", "z = h + 1"]


def test_the_help_and_ops_words(tmp_path):
    done = piped(":help\n:ops softplus\n:format yaml\n", tmp_path)
    assert "grad sum(h) --wrt x" in done.stdout and "softplus" in done.stdout
    assert ":format takes table, json, plain, csv" in done.stderr


def test_python_habits_help_and_exit_end_or_help_unless_a_name_is_taken(tmp_path):
    done = piped("help\nx = 2\nexit\nx**2\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "grad sum(h) --wrt x" in done.stdout and "4.0" not in done.stdout  # the session ended at exit
    done = piped("help = 3\nhelp * 2\nquit()\nhelp\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["6.0"]  # a value named help is the value; quit() ended it


# -- a real terminal --------------------------------------------------------------------------
@pytest.fixture
def terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "TERM": "dumb",
           "INPUTRC": "/dev/null"}

    def start():
        child = pexpect.spawn(sys.executable, ["-m", "gradcli", "repl"], env=env, cwd=str(tmp_path),
                              encoding="utf-8", timeout=60, dimensions=(24, 100))
        child.logfile_read = sys.stdout  # shown by pytest when the test fails
        child.expect_exact("gradcli> ")
        return child

    yield start, pexpect


def test_a_terminal_session_edits_remembers_completes_and_ends(terminal, tmp_path):
    start, pexpect = terminal
    child = start()
    child.sendline("x = 1.5")
    child.expect_exact("gradcli> ")
    child.sendline("x * q")
    child.expect_exact("error: variable 'q' has no value")
    child.expect_exact("gradcli> ")
    child.send("softp\t")  # completion of a function's name
    child.expect_exact("softplus")
    child.sendline("(x)")
    child.expect(r"1\.70141")  # softplus(1.5) = log(1 + e^1.5) = 1.7014132779827524
    child.expect_exact("gradcli> ")
    child.send("abc")
    child.expect_exact("abc")  # (readline has the line: now Ctrl-C reaches it)
    child.sendintr()  # Ctrl-C cancels the line
    child.expect_exact("gradcli> ")
    child.sendline("x ** 2")
    child.expect_exact("2.25")
    child.expect_exact("gradcli> ")
    child.sendeof()  # Ctrl-D ends the session
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "gradcli" / "history").read_text().splitlines()
    assert history[-1] == "x ** 2" and "x = 1.5" in history and "abc" not in history
    again = start()
    again.send("\x1b[A")  # the up arrow brings back the last line of the previous session
    again.expect_exact("x ** 2")
    again.sendline("")
    again.expect_exact("variable 'x' has no value")  # a new session: the values are gone
    again.expect_exact("gradcli> ")
    again.sendeof()
    again.expect(pexpect.EOF)


def test_steps_that_use_each_other_are_refused_not_looped_on(tmp_path):
    done = piped("h = x + 1\nx = h * 2\nx = 2\nh\n", tmp_path)
    assert done.stdout.splitlines() == ["3.0"]
    assert done.stderr.splitlines()[0] == "error: x is used before its definition (at line 2, column 1)"


def test_a_line_asked_again_at_new_values_replays_with_the_engines_numbers(capsys):
    from gradcli.cli.repl import Session
    from gradcli.lang.numbers import array_text

    session = Session()
    session.run("h = tanh(W @ x)")
    session.run("W = 0.5,-1;2,0.25")
    rng = np.random.default_rng(5)
    W = np.array([[0.5, -1.0], [2.0, 0.25]])
    want = []
    for x in [*rng.normal(size=(6, 2)), [0.0, 0.0], [np.inf, 1.0]]:
        session.run(f"x = {float(x[0])!r},{float(x[1])!r}")
        session.run("sum(h * x) + maximum(h, 0)[0] + sum(abs(x))")  # indexing, a tie at 0, a kink
        h = np.tanh(W @ x)
        want.append(array_text(np.sum(h * x) + np.maximum(h, 0)[0] + np.sum(np.abs(x))))
    session.run("x = 1,2,3")  # another shape: the program is recorded again
    session.run("sum(h * x) + maximum(h, 0)[0] + sum(abs(x))")  # (W @ x does not fit: the engine's error)
    out, err = capsys.readouterr()
    assert out.splitlines() == want
    assert "error:" in err and "^" in err
    (value,) = session.lines.values()
    assert value.traced.recorded == 1 and value.traced.replayed == 7  # (the 3-vector raised: nothing recorded)
