"""Messages in the library's words, flags at the command line: a library caller of
jacobian(..., chunk=0) reads `chunk`, the command line reads `--chunk`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import run_cli

import gradcli
from gradcli.api.batch import Batch, run
from gradcli.api.points import BadRow
from gradcli.errors import GradcliError, param, spelled, spelling, value_hint, variable
from gradcli.lang.values import parse_value

PACKAGE = Path(gradcli.__file__).parent
EDGE = ("cli", "render")  # the layers that speak to a command-line user
FLAG = re.compile(r"--[A-Za-z]")


def core_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] not in EDGE and p.name != "__main__.py")


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings (they may describe the CLI)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def literal_text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with each placeholder as `X`, so `--{name}` reads as a flag."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "X" for part in node.values)
    return None


def flag_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal, docstrings aside, that names a flag."""
    tree = ast.parse(source)
    # An f-string is read whole, so its literal parts are not read again on their own.
    skip = docstrings(tree) | {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                               for part in node.values}
    found = []
    for node in ast.walk(tree):
        text = literal_text(node)
        if id(node) not in skip and text is not None and FLAG.search(text):
            found.append((node.lineno, text))
    return sorted(found)


def test_no_core_message_names_a_flag():
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
             for path in core_modules() for line, text in flag_literals(path.read_text(encoding="utf-8"))]
    assert not found, "core strings naming a command-line flag (mark the name with param/variable/value_hint):\n" \
        + "\n".join(found)


def test_the_walk_sees_flags_in_strings_and_f_strings():
    source = ('"""Docstring: --check is fine here."""\n'
              'def f(n):\n'
              '    raise ValueError("--chunk must be at least 1")\n'
              'def g(n):\n'
              '    raise ValueError(f"no value: give --{n} VALUE")\n')
    assert flag_literals(source) == [(3, "--chunk must be at least 1"), (5, "no value: give --X VALUE")]


def test_marked_names_are_spelled_by_the_reader():
    words = f"{param('grad_output')} and {variable('my_x')}: give {value_hint('y')}"
    assert spelled(words) == "grad_output and my_x: give y=VALUE"
    with spelling(lambda kind, name: f"<{kind} {name}>"):
        assert spelled(words) == "<param grad_output> and <variable my_x>: give <value y>"
    err = GradcliError(words)
    assert (err.param, err.variable) == ("grad_output", None)  # the first name marked
    assert str(err) == err.args[0] == "grad_output and my_x: give y=VALUE"


def library_message(call) -> GradcliError:
    with pytest.raises(GradcliError) as info:
        call()
    return info.value


def cli_message(*args: str) -> str:
    run = run_cli(*args)
    assert run.exit_code == 2, run
    return run.stderr.splitlines()[0]


def test_chunk():
    err = library_message(lambda: gradcli.jacobian("x*2", {"x": [1.0, 2.0]}, chunk=0))
    assert err.message == "chunk must be at least 1" and err.param == "chunk"
    assert cli_message("jacobian", "x*2", "--x", "1,2", "--chunk", "0") == "error: --chunk must be at least 1"
    debug = run_cli("jacobian", "x*2", "--x", "1,2", "--chunk", "0", "--debug")  # the traceback names it too
    assert debug.exit_code == 2
    assert "gradcli.errors.GradcliError: --chunk must be at least 1\n" in debug.stderr
    assert debug.stderr.endswith("error: --chunk must be at least 1\n")


def test_grad_output():
    err = library_message(lambda: gradcli.grad("x*2", {"x": [1.0, 2.0]}, grad_output=[1.0, 2.0, 3.0]))
    assert err.message == "grad_output has shape (3,) but the output has shape (2,): they must match"
    assert err.param == "grad_output"
    assert cli_message("grad", "x*2", "--x", "1,2", "--grad-output", "1,2,3") == \
        "error: --grad-output has shape (3,) but the output has shape (2,): they must match"


def test_a_variables_bad_value():
    err = library_message(lambda: parse_value("1,a", "x"))
    assert err.message == "x: 'a' is not a number" and err.variable == "x"
    assert cli_message("grad", "sum(x)", "--x", "1,a") == "error: --x: 'a' is not a number"
    # A variable name keeps its underscores as an option; a parameter's become dashes.
    assert cli_message("grad", "my_x", "--my_x", "a") == "error: --my_x: 'a' is not a number"


def test_wrt():
    err = library_message(lambda: gradcli.grad("x*y", {"x": 1.0, "y": 2.0}, wrt="z"))
    assert err.message == "wrt names 'z', which is not a variable of the expression (its variables: x, y)"
    assert err.param == "wrt"
    assert cli_message("grad", "x*y", "--x", "1", "--y", "2", "--wrt", "z") == \
        "error: --wrt names 'z', which is not a variable of the expression (its variables: x, y)"


def test_missing_values():
    err = library_message(lambda: gradcli.grad("x*y+z", {"x": 1.0}))
    assert err.message == "no value for y, z: give y=VALUE z=VALUE" and err.variable == "y"
    assert cli_message("grad", "x*y+z", "--x", "1") == "error: no value for y, z: give --y VALUE --z VALUE"


def test_a_bad_row_of_points(tmp_path):
    path = tmp_path / "points.jsonl"
    path.write_text('{"x": "a"}\n{"x": 2}\n')
    rows = list(run(Batch("grad", "sum(x*2)", {}, None), str(path)))
    assert isinstance(rows[0], BadRow) and rows[0].message == "line 1: x: 'a' is not a number"
    assert float(rows[1].gradients["x"][0]) == 2.0
    stderr = run_cli("grad", "sum(x*2)", "--points", str(path), "--on-error", "skip").stderr
    assert stderr.splitlines()[0] == "warning: line 1: --x: 'a' is not a number (skipped)"
