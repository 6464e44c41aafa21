"""Programs: named steps, user functions, @FILE, --show, and every command taking a program.

A program is statements on lines or between `;`: NAME = EXPR names a step, f(a, b) = EXPR
defines a function, and the last line is the output. The property test names random
sub-expressions of expressions as steps and checks the numbers agree to rounding (a step
is made before the output's other operations, and the order nodes are made in is the order
their cotangents add up in, as in PyTorch: tests/test_backward_order.py); the
cross-tests hold a two-layer network's gradients and --show's step gradients to PyTorch's
(retain_grad()).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.lang.parser import parse
from gradcli.lang.tree import postorder

EXPRESSIONS = [
    "sum(tanh(W @ x + b) ** 2)",
    "mean(exp(-x) * sin(x * 2) + log1p(x ** 2))",
    "sum(softmax(W @ x) * log(sigmoid(x) + 1))",
    "sum(where(x > 0, x ** 3, -x) / (1 + abs(b)))",
    "max(x) * sum(sqrt(x ** 2 + 1)) - min(b * x)",
    "sum(relu(W @ x - b) @ W)",
    "norm(x) ** 2 + sum(clip(x, -0.5, 0.5) * b)",
    "logsumexp(W @ x) - sum(x * b) / len(x)",
]
VALUES = {"W": np.array([[0.5, -1.2], [2.0, 0.3]]), "x": np.array([0.7, -1.3]), "b": np.array([0.1, -0.4])}


def named_steps(text: str, rng: random.Random, count: int) -> str:
    """text as a program: up to count sub-expressions hoisted into steps s0, s1, ... (innermost first)."""
    steps = []
    for k in range(count):
        nodes = [n for n in postorder(parse(text)) if n.kind in ("call", "binary") and n.span != (0, len(text))]
        if not nodes:
            break
        node = rng.choice(nodes)
        start, end = node.span
        steps.append(f"s{k} = {text[start:end]}")
        text = text[:start] + f"(s{k})" + text[end:]
    return "\n".join(steps + [text])


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_naming_sub_expressions_keeps_the_numbers(expr):
    from gradcli.api.problem import variable_names

    rng = random.Random(expr)
    values = {n: VALUES[n] for n in variable_names(expr)}
    direct = functional.grad(expr, values)
    ran = 0
    for _ in range(6):
        program = named_steps(expr, rng, rng.randint(1, 4))
        assert parse(program).kind == "program"
        stepped = functional.grad(program, values)
        np.testing.assert_allclose(stepped.value, direct.value, rtol=1e-14, err_msg=program)
        for name in values:
            np.testing.assert_allclose(stepped.gradients[name], direct.gradients[name], rtol=1e-13, atol=1e-15,
                                       err_msg=program)
        ran += 1
    assert ran == 6


def test_a_user_function_is_its_body_with_the_arguments_in_it():
    program = "f(a, b) = a*b + sin(a)\nsum(f(x, 2) + f(b, x))"
    r = functional.grad(program, {"x": VALUES["x"], "b": VALUES["b"]})
    x, b = VALUES["x"], VALUES["b"]
    np.testing.assert_allclose(r.value, np.sum(x * 2 + np.sin(x) + b * x + np.sin(b)), rtol=1e-15)
    np.testing.assert_allclose(r.gradients["x"], 2 + np.cos(x) + b, rtol=1e-15)
    np.testing.assert_allclose(r.gradients["b"], x + np.cos(b), rtol=1e-15)


def test_a_function_sees_the_programs_variables_and_earlier_steps():
    r = functional.grad("k = 3\nscaled(a) = a * k * x\nsum(scaled(x))", {"x": np.array([1.0, 2.0])})
    np.testing.assert_array_equal(r.gradients["x"], [6.0, 12.0])


def test_the_variables_of_a_program_leave_out_its_steps_functions_and_parameters():
    from gradcli.api.problem import variable_names

    assert variable_names("h = W @ x\nf(a) = a * c\nsum(f(h)) + pi") == ["W", "x", "c"]


@pytest.mark.parametrize(("program", "says", "where"), [
    ("h = 1", "a program ends with the expression it computes", "h = 1"),
    ("x + 1\ny", "only the last line of a program is a bare expression", "x + 1"),
    ("h = g(x)\ng(a) = a\nh", "g is used before its definition (at line 2, column 1)", "g"),
    ("f(a) = f(a)\nf(x)", "f calls itself: a function cannot recurse", "f"),
    ("h = x\nh = 2*x\nh", "h is defined twice (at line 1, column 1 and at line 2, column 1)", "h"),
    ("pi = 3\npi * x", "pi is a constant", "pi"),
    ("sum = x\nsum", "sum is a function gradcli has: give the step another name", "sum"),
    ("f(a, a) = a\nf(x, x)", "f() names its parameter 'a' twice", "a"),
    ("f(a) = 2*a\nf(x, 1)", "f() takes 1 argument (a), not 2", "f(x, 1)"),
    ("f(a) = 2*a\nf + x", "f is a function: call it, as in f(...)", "f"),
])
def test_a_wrong_program_is_refused_pointing_at_the_statement(cli, program, says, where):
    run = cli("grad", program, "--x", "1")
    assert run.exit_code == 2, run.stdout
    lines = run.stderr.splitlines()
    assert says in lines[0]
    line, underline = lines[-2], lines[-1]
    start = underline.index("^")
    assert line[start:start + len(where)] == where


def test_an_error_in_a_program_file_names_its_line_and_column(cli, tmp_path):
    path = tmp_path / "model.gc"
    path.write_text("# a one-layer net\nh = tanh(W @ x)\nloss = sum((h - y) ** 2\nloss\n")
    run = cli("grad", f"@{path}", "--W", "1,2;3,4", "--x", "1,2", "--y", "0,1")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[1:] == [f"  {path}:4:1", "  loss", "  ^~~~"]
    path.write_text("h = tanh(W @ x)\nloss = sum((h - y) ** 2)\nloss\n")
    run = cli("grad", f"@{path}", "--W", "1,2;3,4", "--x", "1,2", "--y", "0,1", "-f", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["expression"] == "h = tanh(W @ x); loss = sum((h - y)**2); loss"


def test_a_program_from_standard_input(cli):
    run = cli("grad", "@-", "--x", "1,2", "-f", "plain", input="h = x * 3  # a step\nsum(h ** 2)\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "18,36\n"


@pytest.mark.parametrize("command", ["grad", "check", "hessian", "explain", "graph", "jacobian"])
def test_every_command_takes_a_program(cli, command):
    program = "h = tanh(w*x); sq(a) = a*a; sq(h - 0.5)"
    run = cli(command, program, "--w", "0.7", "--x", "1.5", "-f", "json")
    assert run.exit_code == 0, run.stderr
    if command in ("grad", "check"):
        h = np.tanh(1.05)
        assert run.json()["gradients"]["w"] == pytest.approx(2 * (h - 0.5) * (1 - h ** 2) * 1.5, rel=1e-14)


def test_points_and_descend_take_a_program(cli):
    program = "h = w*x; (h - 2)**2"
    run = cli("grad", program, "--points", "-", "-f", "plain", input="w,x\n1,3\n2,1\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == ["1,3,1,6,2", "2,1,0,0,0"]
    run = cli("descend", program, "--w", "0", "--x", "3", "--wrt", "w", "--steps", "50", "--lr", "0.05", "-f", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["values"]["w"] == pytest.approx(2 / 3, abs=1e-9)


def test_graph_and_explain_label_steps_by_name(cli):
    program = "h = tanh(w*x); sum(h * 2)"
    graph = cli("graph", program, "--w", "0.7", "--x", "1.5")
    assert "TanhBackward0  h = tanh(w*x)" in graph.stdout
    explain = cli("explain", program, "--w", "0.7", "--x", "1.5")
    assert "  h = tanh(w*x) = tanh(1.05) = " in explain.stdout
    assert "  TanhBackward0  h\n    upstream  ∂L/∂h = 2.0\n" in explain.stdout


# -- --show: the gradient at a step ----------------------------------------------------------
def test_show_gives_each_steps_value_and_gradient(cli):
    run = cli("grad", "h = x * 3\nz = h ** 2\nsum(z) + h[0]", "--x", "1,2", "--show", "all", "-f", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["steps"] == {"h": {"value": [3.0, 6.0], "gradient": [7.0, 12.0]},
                                   "z": {"value": [9.0, 36.0], "gradient": [1.0, 1.0]}}
    plain = cli("grad", "h = x * 3\nz = h ** 2\nsum(z) + h[0]", "--x", "1,2", "--show", "h", "-f", "plain")
    assert plain.stdout.splitlines() == ["21,36", "3,6", "7,12"]
    table = cli("grad", "h = x * 3\nz = h ** 2\nsum(z) + h[0]", "--x", "1,2", "--show", "z")
    assert "step z   shape (2,)" in table.stdout and "∂f/∂z" in table.stdout


@pytest.mark.parametrize(("args", "says"), [
    (("sum(x)", "--show", "h"), "--show names steps of a program"),
    (("h = x; sum(h)", "--show", "g"), "--show names 'g', which is not a step of the program (its steps: h)"),
])
def test_show_names_only_steps(cli, args, says):
    run = cli("grad", *args, "--x", "1")
    assert run.exit_code == 2 and says in run.stderr


def test_show_and_a_two_layer_network_agree_with_pytorchs_retain_grad():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    values = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(4), "W2": rng.standard_normal((2, 4)),
              "b2": rng.standard_normal(2), "x": rng.standard_normal(3), "y": np.array([0.0, 1.0])}
    program = """
    h = tanh(W1 @ x + b1)            # the hidden layer
    r = h + relu(W1 @ x)             # a residual
    logits = W2 @ r + b2
    loss = binary_cross_entropy_with_logits(logits, y)
    loss
    """.replace("\n    ", "\n").strip()
    r = functional.grad(program, values, show="all")
    t = {k: torch.tensor(v, requires_grad=k not in ("x", "y")) for k, v in values.items()}
    h = torch.tanh(t["W1"] @ t["x"] + t["b1"])
    rr = h + torch.relu(t["W1"] @ t["x"])
    logits = t["W2"] @ rr + t["b2"]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, t["y"])
    for step in (h, rr, logits, loss):
        step.retain_grad()
    loss.backward()
    assert r.value == pytest.approx(loss.item(), rel=1e-14)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(r.gradients[name], t[name].grad.numpy(), rtol=1e-12, atol=1e-15)
    for name, step in (("h", h), ("r", rr), ("logits", logits), ("loss", loss)):
        np.testing.assert_allclose(r.steps[name]["value"], step.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(r.steps[name]["gradient"], step.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_plot_takes_a_program(cli, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "f.svg"
    run = cli("plot", "h = sin(x)\nh * x", "--x", "-2:2", "--output", str(out))
    assert run.exit_code == 0, run.stderr
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_a_step_takes_no_value_on_the_command_line(cli):
    run = cli("grad", "h = x*2; sum(h)", "--x", "1", "--h", "2")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == "error: --h: h is a step or function of the program, computed there: it takes no value"
