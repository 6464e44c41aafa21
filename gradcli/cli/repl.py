"""`gradcli repl`: an interactive session of values, steps, functions and commands.

A line is one of:
  x = 1,2,3          a value (any VALUE form: randn(3), @file.npy, 1,2;3,4), drawn once
  h = tanh(W @ x)    a step (an expression: the right side is no VALUE)
  f(a, b) = a*b      a function
  sum(h)             an expression: its value is printed
  grad sum(h) --wrt x   a command, with the command line's words and options
  :format json, :vars, :ops [NAME], :help, :quit

A command runs the real command in this process, with the session's steps and functions
that the expression needs put before it as a program, and the values its variables need
given as -v NAME=VALUE; so its output, tables and errors are the command line's own.

Line editing, history and tab completion come from the standard library's readline (GNU
readline, or libedit on macOS): no dependency, and nothing that another command imports.
History is kept in $XDG_STATE_HOME/gradcli/history (~/.local/state/gradcli/history).
With standard input not a terminal, lines are read without prompts, so `gradcli repl <
session.txt` is a script; it exits 2 if any line failed.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

# The commands a session runs register themselves on the app; main loads only this one's module.
from gradcli.cli import check, derivatives, inspect, script  # noqa: F401  isort: skip
from gradcli.cli.base import DebugOpt, app, flag_spelling
from gradcli.errors import GradcliError, spelling

COMMANDS = ("grad", "jacobian", "hessian", "jvp", "derivative", "taylor", "check", "explain", "graph", "descend")
META = (":format", ":vars", ":ops", ":help", ":quit")
FORMATS = ("table", "json", "plain", "csv")
# Words a Python session answers, read as the session's own while no value or step takes the name
HABITS = {"help": ":help", "help()": ":help", "quit": ":quit", "quit()": ":quit", "exit": ":quit", "exit()": ":quit"}
ASSIGNMENT = re.compile(r"\s*([A-Za-z_]\w*)\s*=(?!=)(.*)$", re.S)
DEFINITION = re.compile(r"\s*([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)?\s*\)\s*=(?!=)(.*)$", re.S)
OPTION = re.compile(r"--?[A-Za-z]")
KEPT_LINES = 64  # expression lines whose parse and traced program a session keeps
HELP = """\
  x = 1,2,3            a value (any VALUE form: randn(3), 1,2;3,4, @file.npy)
  h = tanh(W @ x)      a step: an expression of the values
  f(a, b) = a*b + h    a function
  sum(h)               an expression: prints its value
  grad sum(h) --wrt x  a command: grad, jacobian, hessian, check, explain, graph, descend
  :format json         the format of the commands' output (table, json, plain, csv)
  :vars                the values, steps and functions
  :ops [NAME]          the functions gradcli has, or one of them
  :quit                the end (Ctrl-D too; Ctrl-C cancels the line)
  (help, quit and exit work too, while no value or step has that name)"""


def session_spelling(kind: str, name: str) -> str:
    """A name in a message as a session spells it: a value is given as `x = VALUE`, an option as --chunk."""
    return f"{name} = VALUE" if kind == "value" else flag_spelling(kind, name)


@dataclass
class Session:
    """What a session has defined: values (arrays), steps and functions (statements), a format."""

    values: dict[str, Any] = field(default_factory=dict)
    statements: dict[str, str] = field(default_factory=dict)  # name -> "h = ..." or "f(a) = ..."
    format: str | None = None
    failed: bool = False
    lines: dict[tuple, Any] = field(default_factory=dict)  # expression lines already read: their values

    # -- one line ---------------------------------------------------------------------------
    def run(self, line: str) -> None:
        text = line.strip()
        if not text or text.startswith("#"):
            return
        try:
            self._dispatch(text)
        except GradcliError as err:
            self.failed = True
            with spelling(session_spelling):
                sys.stderr.write("\n".join([f"error: {err.message}", *err.caret_lines()]) + "\n")

    def _dispatch(self, text: str) -> None:
        habit = HABITS.get(text)
        if habit is not None and text.rstrip("()") not in self.values and text.rstrip("()") not in self.statements:
            return self._meta(habit, "")
        word = text.split(None, 1)[0]
        if word.startswith(":"):
            return self._meta(word, text[len(word):].strip())
        if word in COMMANDS and (len(text) == len(word) or text[len(word)] in " \t"):
            return self._command(word, text[len(word):].strip())
        definition = DEFINITION.match(text)
        if definition:
            return self._define(definition[1], text)
        assignment = ASSIGNMENT.match(text)
        if assignment:
            return self._assign(assignment[1], assignment[2].strip(), text)
        self._print_value(text)

    def _assign(self, name: str, right: str, text: str) -> None:
        from gradcli.lang.values import parse_value

        try:
            value = parse_value(right, name, seed=len(self.values))
        except GradcliError:
            return self._define(name, text)
        self.statements.pop(name, None)
        self.values[name] = value

    def _define(self, name: str, text: str) -> None:
        from gradcli.api.evaluate import check_functions
        from gradcli.lang.parser import parse

        statement = text.strip()
        # It must parse, and name nothing gradcli has, before it joins the session.
        source = self.program(name, extra={name: statement})
        check_functions(parse(source), source)
        self.values.pop(name, None)
        self.statements[name] = statement

    # -- what a line uses --------------------------------------------------------------------
    def program(self, expr: str, extra: dict[str, str] | None = None) -> str:
        """expr with the statements it needs before it, each after those it uses."""
        from gradcli.lang.parser import parse
        from gradcli.lang.tree import postorder

        statements = {**self.statements, **(extra or {})}
        order: list[str] = []
        seen: set[str] = set()

        def uses(text: str) -> list[str]:
            return [n.value for n in postorder(parse(text)) if n.kind in ("name", "call") and n.value in statements]

        def visit(name: str) -> None:
            # (statements that use each other are each visited once; the parser then refuses the order)
            if name in seen:
                return
            seen.add(name)
            for used in uses(statements[name].split("=", 1)[1]):
                visit(used)
            order.append(name)

        for name in uses(expr):
            visit(name)
        return "\n".join([*(statements[n] for n in order), expr])

    def value_options(self, program: str) -> list[str]:
        from gradcli.api.problem import variable_names
        from gradcli.lang.numbers import plain_array

        return [f"-v{name}={plain_array(self.values[name])}" for name in variable_names(program)
                if name in self.values]

    # -- the kinds of line -------------------------------------------------------------------
    def _print_value(self, expr: str) -> None:
        from gradcli.lang.numbers import array_text

        key = (expr, tuple(self.statements.items()))
        value = self.lines.pop(key, None) or self._compile(expr)
        self.lines[key] = value  # the most recent last: the oldest goes first
        if len(self.lines) > KEPT_LINES:
            del self.lines[next(iter(self.lines))]
        typer.echo(array_text(value(self.values)))

    def _compile(self, expr: str) -> Any:
        """A function of the session's values giving expr's value: parsed once, then replayed as a
        traced program at each line that asks for it again (api/compiled.py), with the same numbers."""
        import numpy as np

        from gradcli.api.compiled import value_program
        from gradcli.api.evaluate import check_functions, evaluate, variables
        from gradcli.api.problem import Problem
        from gradcli.autodiff.engine import Tensor, no_grad
        from gradcli.lang.parser import parse

        program = self.program(expr)
        tree = parse(program)
        check_functions(tree, program)
        names = variables(tree)
        replay = value_program(Problem(program, tree, names, [], {}))

        def value(values: dict[str, Any]) -> Any:
            leaves = {n: Tensor(v) for n, v in values.items()}
            used = {n: leaves[n].data for n in names if n in leaves}
            if len(used) == len(names) and all(a.dtype == np.float64 for a in used.values()):
                try:
                    return replay(used)
                except Exception:  # noqa: BLE001 (the eager run below raises the engine's own error)
                    pass
            with no_grad():
                return evaluate(tree, leaves, source=program).data
        value.traced = replay.traced  # type: ignore[attr-defined]
        return value

    def _command(self, command: str, rest: str) -> None:
        import shlex  # (start-up: only the session's option lines need it)

        try:
            words = shlex.split(rest)
        except ValueError as err:
            raise GradcliError(f"cannot read the line: {err}", kind="syntax") from None
        cut = next((i for i, w in enumerate(words) if OPTION.match(w)), len(words))
        expr, options = " ".join(words[:cut]), words[cut:]
        if not expr:
            raise GradcliError(f"{command} needs an expression, as in {command} sum(x**2)", kind="usage")
        program = self.program(expr)
        if self.format and not any(o in ("-f", "--format") or o.startswith("--format=") for o in options):
            options += ["--format", self.format]
        run_app([command, program, *self.value_options(program), *options], self)

    def _meta(self, word: str, argument: str) -> None:
        if word == ":format":
            if argument not in FORMATS:
                raise GradcliError(f":format takes {', '.join(FORMATS)}", kind="usage")
            self.format = argument
        elif word == ":vars":
            from gradcli.lang.numbers import array_text

            for name, value in self.values.items():
                typer.echo(f"{name} = {array_text(value)}")
            for statement in self.statements.values():
                typer.echo(statement)
        elif word == ":ops":
            run_app(["ops", *([argument] if argument else [])], self)
        elif word == ":help":
            typer.echo(HELP)
        elif word == ":quit":
            raise EOFError
        else:
            raise GradcliError(f"unknown {word}: the session's words are {', '.join(META)}", kind="usage")

    # -- completion --------------------------------------------------------------------------
    def candidates(self, prefix: str, first: bool) -> list[str]:
        from gradcli.autodiff.op import FUNCTIONS

        words = [*COMMANDS, *META] if first else []
        words += [*self.values, *self.statements, *FUNCTIONS]
        return sorted({w for w in words if w.startswith(prefix)})


def run_app(args: list[str], session: Session) -> None:
    """One command of the command line, in this process; its errors are already printed."""
    try:
        status = app(args=args, prog_name="gradcli", standalone_mode=False)
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else 0
    except Exception as err:
        # click's usage errors print themselves (typer may carry its own copy of click: no import of it here)
        if type(err).__name__ == "Abort":
            status = 130
        elif callable(getattr(err, "show", None)) and hasattr(err, "exit_code"):
            err.show()
            status = err.exit_code
        else:
            raise
    if status:
        session.failed = True


# -- the loop -------------------------------------------------------------------------------
def history_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "gradcli" / "history"


def _interactive(session: Session) -> None:
    import readline
    import signal

    # Ctrl-C cancels a line even when the session was started with SIGINT ignored (as by a parent that ignores it).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    path = history_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(5000)

    def complete(prefix: str, state: int) -> str | None:
        first = not readline.get_line_buffer()[:readline.get_begidx()].strip()
        found = session.candidates(prefix, first)
        return found[state] if state < len(found) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" \t\n()[],+-*/@=<>%^'\"")
    readline.parse_and_bind("tab: complete")
    typer.echo("gradcli repl: values, steps, functions and commands; :help lists them, Ctrl-D ends.")
    try:
        while True:
            try:
                line = input("gradcli> ")
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                continue
            try:
                session.run(line)
            except KeyboardInterrupt:
                sys.stderr.write("interrupted\n")
    except EOFError:
        sys.stdout.write("\n")
    finally:
        try:
            readline.write_history_file(path)
        except OSError:
            pass


def _script(session: Session) -> None:
    try:
        for line in sys.stdin:
            session.run(line)
    except EOFError:  # :quit
        pass


@app.command(help="""An interactive session: values, steps, functions and commands, one line each.

\b
  x = 1,2,3        a value (any VALUE form)
  h = tanh(x)      a step; f(a) = a**2 defines a function
  sum(h)           prints its value
  grad sum(h)      a command with the session's values: grad, jacobian,
                   hessian, check, explain, graph, descend, with options
  :format json  :vars  :ops  :help  :quit

Line editing, history (in $XDG_STATE_HOME/gradcli/history) and tab completion come
from Python's readline. With standard input not a terminal, lines are read without
prompts: a script, exit status 2 if a line failed.

Examples:

\b
  gradcli repl
  gradcli repl < session.txt
""")
def repl(debug: DebugOpt = False) -> None:
    session = Session()
    if sys.stdin.isatty():
        _interactive(session)
    else:
        _script(session)
    if session.failed and not sys.stdin.isatty():
        raise typer.Exit(2)
