"""How the command line reads a person's words: an expression with a leading minus, -h, --version,
unknown options, the shell's globbing, `-` for standard input, and what --help says."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from gradcli.cli.app import app

DOCS = Path(__file__).parent.parent / "docs"
EXPRESSION_COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands
                             if "expr" in inspect.signature(c.callback).parameters)
ALL_COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)

Z = np.array([1.0, 2.0, 3.0])
SOFTMAX = np.exp(Z) / np.exp(Z).sum()
# expression -> (its variables' values, value, gradient): references computed here, not by gradcli
LEADING_MINUS = {
    "-x": ({"x": "2"}, -2.0, {"x": -1.0}),
    "-log(x)": ({"x": "2"}, -np.log(2.0), {"x": -0.5}),
    "-v": ({"v": "2"}, -2.0, {"v": -1.0}),
    "-o": ({"o": "2"}, -2.0, {"o": -1.0}),
    "-f": ({"f": "2"}, -2.0, {"f": -1.0}),
    "-g": ({"g": "2"}, -2.0, {"g": -1.0}),
    "-log_softmax(z)[1]": ({"z": "1,2,3"}, -(Z[1] - np.log(np.exp(Z).sum())), {"z": SOFTMAX - np.eye(3)[1]}),
    "-x*y+o.json": ({"x": "1", "y": "2", "o": "3"}, None, None),  # o.json is not in the language: an error
}


def words(command: str, expr: str) -> list[str]:
    """The command line running command on expr with its values (plot: a range of the first variable)."""
    values, _, _ = LEADING_MINUS[expr]
    first = next(iter(values))
    if command == "plot":
        values = {**values, first: "1:2:3"}
    given = [w for name, text in values.items() for w in (f"--{name}", text)]
    extra = ["--wrt", first, "--lr", "0.1", "--steps", "1"] if command == "descend" else \
        ["--tangent", f"{first}={values[first]}"] if command == "jvp" else []
    return [command, expr, *given, *extra, "-f", "json"]


def numbers(command: str, payload: dict) -> list:
    """The numbers a command's JSON gives, without the expression's text or the graph's shape."""
    if command == "graph":
        return [payload["value"], {n["expression"]: n["grad"] for n in payload["nodes"] if n["op"] == "leaf"}]
    if command == "descend":
        return [payload["loss"], payload["values"], [step["grad_norm"] for step in payload["history"]]]
    if command == "plot":
        return [payload["value"], payload[f"d/d{payload['variable']}"]]
    if command in ("derivative", "taylor"):
        return [payload["value"], payload.get("derivatives", payload.get("taylor"))]
    return [payload.get(key) for key in ("value", "gradients", "jacobian", "hessian", "jvp")]


def test_the_expression_commands_are_known():
    assert EXPRESSION_COMMANDS == ["check", "derivative", "descend", "explain", "grad", "graph", "hessian", "jacobian",
                                   "jvp", "plot", "taylor"]


@pytest.mark.parametrize("expr", sorted(LEADING_MINUS))
@pytest.mark.parametrize("command", EXPRESSION_COMMANDS)
def test_a_leading_minus_is_the_expression_in_every_command(command, expr):
    given = words(command, expr)
    minus = run_cli(*given)
    zero = run_cli(given[0], "0" + expr, *given[2:])
    assert minus.exit_code == zero.exit_code, (minus, zero)
    if zero.exit_code != 0:
        # the same error, its caret one column to the left of 0-...'s: it points into the expression
        first, *carets = minus.stderr.splitlines()
        zero_first, *zero_carets = zero.stderr.splitlines()
        assert first == zero_first and carets[0] == "  " + expr
        assert [c[:2] + c[3:] for c in zero_carets[1:]] == carets[1:] and "^" in carets[1]
        return
    assert numbers(command, minus.json()) == numbers(command, zero.json())


@pytest.mark.parametrize("expr", sorted(e for e, (_, value, _) in LEADING_MINUS.items() if value is not None))
def test_a_leading_minus_gives_the_known_numbers(expr):
    _, value, gradient = LEADING_MINUS[expr]
    out = run_cli(*words("grad", expr)).json()
    assert out["expression"] == expr
    assert out["value"] == pytest.approx(value, rel=1e-15)
    for name, g in gradient.items():
        np.testing.assert_allclose(out["gradients"][name], g, rtol=1e-14, atol=1e-16)


def test_a_leading_minus_hessian_and_descent():
    # d²(-log x)/dx² = 1/x², and one sgd step moves x by -lr * (-1/x)
    assert run_cli(*words("hessian", "-log(x)")).json()["hessian"] == {"x": {"x": 0.25}}
    assert run_cli(*words("descend", "-log(x)")).json()["values"] == {"x": 2.05}
    hessian = run_cli(*words("hessian", "-log_softmax(z)[1]")).json()["hessian"]["z"]["z"]
    np.testing.assert_allclose(hessian, np.diag(SOFTMAX) - np.outer(SOFTMAX, SOFTMAX), rtol=1e-12, atol=1e-15)


def test_the_caret_stays_under_the_expression():
    run = run_cli("grad", "-x*y+o.json", "--x", "1", "--y", "2", "--o", "3")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[1:] == ["  -x*y+o.json", "         ^~~~"]


def test_the_other_spellings_keep_working(tmp_path):
    out = tmp_path / "r.json"
    run = run_cli("grad", "--wrt", "x", "--format", "plain", "-x*y", "--y", "2", "--x", "-3", "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert json.loads(out.read_text())["gradients"] == {"x": -2.0}
    run = run_cli("grad", "-x*seed", "-v", "seed=-inf", "--x=-1", "-f", "plain", "--wrt", "x")
    assert run.stdout == "inf\n"
    # variables before the expression, and a value that looks like short options (-f is --format)
    assert run_cli("grad", "--x", "-2", "-x*x", "-f", "plain").stdout == "4\n"
    assert run_cli("grad", "x**2", "--x", "-inf", "-f", "json").json()["gradients"] == {"x": "-inf"}
    # -- separates short options from the expression and variables, as it does elsewhere
    assert run_cli("grad", "-f", "plain", "--", "-x*x", "--x", "-2").stdout == "4\n"  # -2x


def test_minus_h_is_help_unless_h_has_a_value():
    for spelling in (["grad", "-h"], ["grad", "x", "-h"], ["grad", "--help"], ["-h"], ["--help"]):
        run = run_cli(*spelling)
        assert run.exit_code == 0 and run.stdout.startswith("Usage: gradcli"), spelling
    for command in ALL_COMMANDS:
        assert run_cli(command, "-h").stdout == run_cli(command, "--help").stdout
    for given in (["--h", "2"], ["--h=2"], ["-v", "h=2"]):
        run = run_cli("grad", "-h", *given, "-f", "json")
        assert run.json()["value"] == -2.0 and run.json()["gradients"] == {"h": -1.0}


def test_version():
    expected = f"gradcli {importlib.metadata.version('gradcli')}\n"
    for spelling in ("--version", "-V"):
        run = run_cli(spelling)
        assert (run.exit_code, run.stdout, run.stderr) == (0, expected, "")


def test_bare_gradcli_prints_help_to_standard_output():
    run = run_cli()
    assert run.exit_code == 0 and run.stderr == ""
    assert run.stdout.startswith("Usage: gradcli [OPTIONS] COMMAND [ARGS]...\n")
    assert all(f"  {command} " in run.stdout for command in ALL_COMMANDS)


def test_start_up_reads_no_package_metadata():
    code = ("import sys\nfrom gradcli.__main__ import main\nsys.argv = ['gradcli', 'grad', 'x', '--x', '1']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('importlib.metadata', 'sympy', 'matplotlib') if m in sys.modules), "
            "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.stderr.strip() == "[]"


def test_a_command_starts_with_its_own_options_only():
    """main() builds only the command named (typer would build every command's options) and imports
    only its module; the single-point table and JSON paths load neither the points reader nor CSV
    nor rich's columns; a table loads no json."""
    from gradcli.cli.app import app, app_for

    one = app_for(["grad", "x", "--x", "1"])
    assert [c.callback.__name__ for c in one.registered_commands] == ["grad"]
    assert one.registered_callback is app.registered_callback and len(app.registered_commands) > 1
    assert app_for(["--help"]) is app and app_for(["gradd"]) is app and app_for([]) is app
    code = ("import sys\nfrom gradcli.__main__ import main\nsys.argv = ['gradcli', 'grad', 'mean(2*x)', '--x', '1,2,3', "
            "'-f', sys.argv[1]]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('gradcli.api.batch', 'gradcli.api.points', 'csv', 'rich.columns', "
            "'gradcli.cli.inspect', 'gradcli.cli.repl', 'gradcli.cli.run', 'gradcli.cli.script', "
            "'json' if sys.argv[1] == 'table' else '') "
            "if m in sys.modules), file=sys.stderr)")
    for fmt in ("table", "json"):
        out = subprocess.run([sys.executable, "-c", code, fmt], capture_output=True, text=True, timeout=60, check=False)
        assert out.stderr.strip() == "[]"
        if fmt == "json":
            assert json.loads(out.stdout)["gradients"] == {"x": [2 / 3, 2 / 3, 2 / 3]}


def test_the_index_of_commands_names_the_module_that_registers_each():
    """COMMANDS (what main imports for a command) against the whole app, in --help's order."""
    from gradcli.cli.app import COMMANDS, app

    registered = {c.name or c.callback.__name__: c.callback.__module__ for c in app.registered_commands}
    assert registered == {name: f"gradcli.cli.{module}" for name, module in COMMANDS.items()}
    assert list(registered) == list(COMMANDS)


@pytest.mark.parametrize(("words", "message"), [
    (["grad", "x", "--x", "1", "--formt", "json"], "unknown option --formt: did you mean --format?"),
    (["grad", "--formt", "json", "x", "--x", "1"], "unknown option --formt: did you mean --format?"),
    (["grad", "x", "--x", "1", "--chek"], "unknown option --chek: did you mean --check?"),
    (["grad", "--chek", "x", "--x", "1"], "unknown option --chek: did you mean --check?"),
    (["grad", "x*weight", "--x", "1", "--wieght", "2"], "unknown option --wieght: did you mean --weight?"),
    (["jacobian", "x", "--x", "1", "--methd", "loop"], "unknown option --methd: did you mean --method?"),
    (["plot", "x", "--x", "0:1", "--hieght", "5"], "unknown option --hieght: did you mean --height?"),
    (["descend", "x**2", "--x", "1", "--wrt", "x", "--step", "3"], "unknown option --step: did you mean --steps?"),
    (["grad", "x", "--x", "1", "--zzz", "2"],
     "unknown option --zzz: not an option of gradcli grad, nor a variable of the expression (its variables: x)"),
])
def test_an_unknown_option_is_named_with_the_closest(words, message):
    run = run_cli(*words)
    assert (run.exit_code, run.stderr, run.stdout) == (2, f"error: {message}\n", "")


def test_a_variable_named_like_a_file_here_hints_to_quote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x_2").write_text("")
    # what `gradcli grad x*2 --x 1` becomes in a shell, with the file x_2 here
    run = run_cli("grad", "x_2", "--x", "1")
    assert run.exit_code == 2
    assert run.stderr == ("error: no value for x_2, which is also the name of a file in this folder: if the "
                          "expression had *, ? or [ unquoted, the shell replaced it by file names; put the "
                          "expression in quotes\n  x_2\n  ^~~\n")
    # the expression arrived with a * (quoted), or x_2 has a value: no hint
    assert "file" not in run_cli("grad", "x_2*x", "--x", "1").stderr
    assert run_cli("grad", "x_2", "--x_2", "1", "-f", "plain").stdout == "1\n"


def test_the_expression_from_standard_input():
    run = run_cli("grad", "-", "--x", "1,2", "-f", "json", input="-sum(x**2)\n")
    assert run.json()["expression"] == "-sum(x**2)" and run.json()["gradients"] == {"x": [-2.0, -4.0]}
    run = run_cli("grad", "-", "--x", "@-", input="x\n")
    assert (run.exit_code, run.stderr) == (2, ("error: the expression comes from standard input (-), so --x @- "
                                              "cannot read it too: give the expression as an argument, or that "
                                              "value from a file\n"))
    run = run_cli("grad", "-", "--x", "1", input="")
    assert (run.exit_code, run.stderr) == (2, ("error: the expression is - but standard input is empty: pipe the "
                                              "expression in, e.g. echo 'sum(x**2)' | gradcli grad - --x 1,2\n"))


def test_an_unknown_gradcli_format_is_an_error():
    run = run_cli("grad", "x", "--x", "1", env={"GRADCLI_FORMAT": "yaml"})
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == "error: GRADCLI_FORMAT='yaml' is not a format: use one of table, json, plain, csv\n"


# -- what --help says ------------------------------------------------------------------------
def helps() -> dict[str, str]:
    return {command: run_cli(*command.split(), "--help").stdout for command in ["", *ALL_COMMANDS]}


def value_forms() -> list[str]:
    """Each VALUE form in the table of docs/values.md, as written there."""
    table = [line for line in (DOCS / "values.md").read_text().splitlines() if line.startswith("| `")]
    return [form for line in table for form in re.findall(r"`([^`]+)`", line.split("|")[1])]


def examples(text: str) -> list[str]:
    """The lines of a help text's Examples section, up to the next heading."""
    if "Examples:" not in text:
        return []
    block = re.split(r"\n\s*(?:Arguments|Options|Values):", text.split("Examples:", 1)[1])[0]
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_help_fits_80_columns_and_keeps_examples_whole():
    for command, text in helps().items():
        assert max(len(line) for line in text.splitlines()) <= 80, command
        # every line of an example is a whole command: none was wrapped onto a second line
        assert all(line.startswith(f"gradcli {command}") for line in examples(text)), command
    assert sum(len(examples(text)) for text in helps().values()) >= 2 * len(ALL_COMMANDS)


@pytest.mark.parametrize("command", EXPRESSION_COMMANDS)
def test_help_says_how_to_give_values(command):
    text = run_cli(command, "--help").stdout
    assert "--NAME VALUE" in text and "-v NAME=VALUE" in text
    forms = value_forms()
    assert len(forms) >= 15
    missing = [form for form in forms if form not in text]
    assert missing == []
    assert "even when it starts with a minus sign" in text and "standard input" in text


def test_every_option_with_choices_lists_them():
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        text = run_cli(name, "--help").stdout
        for param in command.params:
            choices = getattr(param.type, "choices", None)
            if choices:
                assert "<" + "|".join(choices) + ">" in text, (name, param.name)
    assert "--method <batched|loop>" in run_cli("jacobian", "--help").stdout
