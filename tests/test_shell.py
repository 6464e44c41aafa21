"""The shell around gradcli: completion scripts, --help examples that run, GRADCLI_FORMAT, NO_COLOR."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import run_cli

from gradcli.cli.app import app

COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|9[0-7])(?:;[0-9]+)*m")  # SGR with a foreground colour
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
SHELL_MARKERS = {"bash": "complete -o default -F _gradcli_completion gradcli", "zsh": "#compdef gradcli",
                 "fish": "complete --command gradcli"}


def gradcli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("_GRADCLI")}
    env.update(extra)
    return env


@pytest.mark.parametrize("shell", sorted(SHELL_MARKERS))
def test_completion_script_generates(shell):
    out = subprocess.run([sys.executable, "-m", "gradcli"], check=False, capture_output=True, text=True, timeout=60,
                         env=gradcli_env(_GRADCLI_COMPLETE=f"source_{shell}"))
    assert out.returncode == 0, out.stderr
    assert SHELL_MARKERS[shell] in out.stdout


def test_completion_completes_command_names():
    out = subprocess.run([sys.executable, "-m", "gradcli"], check=False, capture_output=True, text=True, timeout=60,
                         env=gradcli_env(_GRADCLI_COMPLETE="complete_bash", COMP_WORDS="gradcli des", COMP_CWORD="1"))
    assert out.stdout.split() == ["descend"]


def test_bash_accepts_the_completion_script():
    script = subprocess.run([sys.executable, "-m", "gradcli"], check=False, capture_output=True, text=True, timeout=60,
                            env=gradcli_env(_GRADCLI_COMPLETE="source_bash")).stdout
    out = subprocess.run(["bash", "-c", script + "\ncomplete -p gradcli"], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "_gradcli_completion" in out.stdout


def examples(command: str) -> list[str]:
    """The example lines of a command's --help, as shown."""
    text = run_cli(command, "--help").stdout
    body = text.split("Examples:", 1)[1] if "Examples:" in text else ""
    lines = [line.strip() for line in body.splitlines()]
    return [line for line in lines if line == f"gradcli {command}" or line.startswith(f"gradcli {command} ")]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_examples_that_run(command, tmp_path, monkeypatch):
    shown = examples(command)
    assert len(shown) >= 2, f"`gradcli {command} --help` shows fewer than two examples"
    monkeypatch.chdir(tmp_path)
    for line in shown:
        words = shlex.split(line)
        # the part before a pipe or redirection is gradcli's own
        for stop in ("|", ">", "<"):
            if stop in words:
                words = words[:words.index(stop)]
        run = run_cli(*words[1:])
        assert run.exit_code == 0, f"{line}\n{run.stderr}"


def test_gradcli_format_sets_the_default():
    run = run_cli("grad", "x**2", "--x", "3", env={"GRADCLI_FORMAT": "json"})
    assert run.json()["gradients"]["x"] == 6.0
    run = run_cli("grad", "x**2", "--x", "3", env={"GRADCLI_FORMAT": "csv"})
    assert run.stdout.splitlines() == ["x,value,d/dx", "3,9,6"]
    run = run_cli("grad", "x**2", "--x", "3", "--format", "plain", env={"GRADCLI_FORMAT": "json"})
    assert run.stdout == "6\n"  # an explicit --format wins
    run = run_cli("descend", "(w-1)**2", "--w", "0", "--wrt", "w", "--lr", "0.5", "--steps", "1",
                  env={"GRADCLI_FORMAT": "json"})
    assert json.loads(run.stdout)["values"]["w"] == 1.0


@pytest.mark.parametrize("command", [["plot", "x**2", "--x", "-1:1"],
                                     ["grad", "x**2", "--x", "3"]])
def test_no_color_is_honoured(command):
    coloured = run_cli(*command, env={"FORCE_COLOR": "1", "NO_COLOR": None, "TERM": "xterm-256color"})
    plain = run_cli(*command, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"})
    assert coloured.exit_code == plain.exit_code == 0
    assert COLOUR.search(coloured.stdout), "FORCE_COLOR should colour this output"
    assert not COLOUR.search(plain.stdout)
