"""`gradcli run --explain` and `--graph`: each backward() of a file explained and drawn as gradcli explain
and gradcli graph do for an expression, labelled with the file's line; the program's own output unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTING = """import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * 2
z = y.mean()
z.backward()
print(x.grad)
w = torch.tensor(3.0, requires_grad=True)
loss = (w * x).sum()
loss.backward()
print(w.grad)
"""


def run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    script = tmp_path / "listing.py"
    script.write_text(LISTING)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gradcli", "run", *options, str(script)], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_explain_walks_each_backward_with_its_line_and_grads(tmp_path):
    done = run(tmp_path, "--explain")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    first = lines[:lines.index("tensor([0.6667, 0.6667, 0.6667])") + 1]
    assert first == [
        "── backward #1, line 6: z.backward()",
        "L = z = 4.0",
        "Backward pass, in the order the engine runs it",
        "  MeanBackward0  z",
        "    upstream  ∂L/∂L = 1.0 (the seed)",
        "    rule      ∂L/∂y = g / n, copied to each of the n averaged entries (∂mean/∂xᵢ = 1/n)",
        "    passes    ∂L/∂y = [0.333333, 0.333333, 0.333333]",
        "  MulBackward0  y",
        "    upstream  ∂L/∂y = [0.333333, 0.333333, 0.333333]",
        "    rule      ∂y/∂x = (a constant) = 2.0",
        "    passes    ∂L/∂x = [0.333333, 0.333333, 0.333333] × 2.0 = [0.666667, 0.666667, 0.666667]",
        "  AccumulateGrad  x",
        "    ∂L/∂x = [0.666667, 0.666667, 0.666667]",
        ".grad before and after",
        "  x.grad: None -> [0.666667, 0.666667, 0.666667]",
        "",
        "tensor([0.6667, 0.6667, 0.6667])",
    ]
    second = lines[len(first):]
    assert second[0] == "── backward #2, line 10: loss.backward()"
    assert "L = loss = 18.0" in second  # 3 * (1 + 2 + 3)
    assert "  w.grad: None -> 6.0" in second  # d/dw sum(w x) = sum(x)
    assert "  x.grad: [0.666667, 0.666667, 0.666667] -> [3.66667, 3.66667, 3.66667]" in second  # 2/3 + w
    assert second[-1] == "tensor(6.)"


def test_graph_draws_each_backward_as_gradcli_graph_does(tmp_path):
    done = run(tmp_path, "--graph", "dot")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("digraph gradcli {") == 2
    assert 'n1 [label="MulBackward0\\ny = x * 2\\nshape (3,)\\nvalue [2.0, 4.0, 6.0]' in out
    assert "n0 -> n1;" in out and "n1 -> n2;" in out
    mermaid = run(tmp_path, "--graph", "mermaid").stdout
    assert mermaid.count("flowchart BT") == 2


def test_without_options_the_output_is_the_programs_alone(tmp_path):
    done = run(tmp_path)
    assert done.stdout == "tensor([0.6667, 0.6667, 0.6667])\ntensor(6.)\n"


def test_a_syntax_error_in_the_file_is_shown_as_python_shows_it(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nx = (\n")
    ours = subprocess.run([sys.executable, "-m", "gradcli", "run", str(bad)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    python = subprocess.run([sys.executable, str(bad)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert (ours.returncode, ours.stderr) == (1, python.stderr)


def test_a_plain_run_starts_without_the_other_commands(tmp_path):
    """gradcli run FILE (no run options) runs the file before any other command module is loaded."""
    import subprocess
    import sys

    listing = tmp_path / "listing.py"
    listing.write_text("import sys\nimport torch\nprint(torch.ones(2) * 2)\n"
                       "print(sorted(m for m in sys.modules if m.startswith('gradcli.cli')))\n")
    done = subprocess.run([sys.executable, "-m", "gradcli", "run", str(listing), "--flag-of-the-script"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["tensor([2., 2.])", "['gradcli.cli', 'gradcli.cli.runner']"]


def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path):
    """`gradcli run --explain FILE | head -3`: no traceback when head has gone, exit 1 as a command's."""
    script = tmp_path / "many.py"
    script.write_text("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                      "for i in range(300):\n    (x * x).sum().backward()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gradcli", "run", "--explain", str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # the reader goes away, as head does after its lines
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert first[0] == "── backward #1, line 4: (x * x).sum().backward()\n"
    assert err == ""
