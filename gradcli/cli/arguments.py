"""How a command's words are read: the expression argument, `-` for standard input, and the
variables given as --NAME VALUE, checked against the expression's own variables.

The rule, as `--help` states it: the expression is the first word after the command that
does not start with `--` and is not the value of a `--NAME` before it, even when it starts
with a minus sign, so `gradcli grad -log(x) --x 2` differentiates -log(x). Options before
the expression are spelled long; after it any spelling works (`-o FILE`, `-v NAME=VALUE`).
`-h` in the expression's place asks for help, unless h is given a value (`--h 2`): then it
is the expression -h. A variable's value is never read as options either (`--x -inf`).
A `--` separates options from the rest as usual: `gradcli grad -f json -- -x --x 1`.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from typing import Any

from typer.core import TyperCommand

from gradcli.api.problem import variable_names
from gradcli.errors import GradcliError, closest

NAME = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")
HELP_SHORT = "-h"
GLOB_CHARACTERS = frozenset("*?[")


class ExpressionCommand(TyperCommand):
    """A command whose EXPR argument, and each variable's value, click takes as a word, never as options."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        at, values = _shielded(args, _long_options(self, ctx, valued=True), _long_options(self, ctx, valued=False))
        shielded = ([] if at is None else [at]) + values
        originals = {f"\0{n}": args[i] for n, i in enumerate(shielded)}
        marked = list(args)
        for key, i in zip(originals, shielded):
            marked[i] = key
        if at is not None:
            # first, so that click takes it as EXPR even after unknown options it keeps as they come
            marked.insert(0, marked.pop(at))
        super().parse_args(ctx, marked)
        ctx.args = [originals.get(word, word) for word in ctx.args]
        if ctx.params.get("expr") in originals:
            ctx.params["expr"] = originals[ctx.params["expr"]]
        return ctx.args


def _long_options(command: Any, ctx: Any, *, valued: bool) -> set[str]:
    """The command's --long option names that take a value (valued) or are flags (not valued)."""
    names = set()
    for p in command.get_params(ctx):
        if p.param_type_name == "option" and (not (p.is_flag or p.count)) == valued:
            names.update(o for o in [*p.opts, *p.secondary_opts] if o.startswith("--"))
    return names


def _shielded(args: list[str], valued: set[str], flags: set[str]) -> tuple[int | None, list[int]]:
    """Where in args the expression is, and the values of --NAME variables: words click must not read."""
    if "--" in args:
        return None, []  # the words are separated as usual: options, --, then the expression and variables
    found: list[int] = []
    expression = None
    i = 0
    while i < len(args):
        word = args[i]
        if word.startswith("--"):
            if "=" in word or word in flags or i + 1 == len(args):
                i += 1
            elif word in valued:
                i += 2  # the option's own value, click's to read
            elif args[i + 1].startswith("--"):
                i += 1  # a variable without a value: the message comes later
            else:
                found.append(i + 1)  # a variable's value, such as -1 or -inf
                i += 2
            continue
        if expression is None and not (word == HELP_SHORT and not _h_has_value(args)):
            expression = i
        i += 1
    if expression is None and found:
        # `--chek x --x 1`: a mistyped flag took the expression for its value; the message names it later
        expression = found.pop(0)
    return expression, found


def _h_has_value(args: list[str]) -> bool:
    """Whether args give the variable h a value, which makes `-h` the expression rather than help."""
    after_var = [b for a, b in itertools.pairwise(args) if a in ("-v", "--var")]
    return any(w == "--h" or w.startswith(("--h=", "--var=h=", "-vh=")) for w in args) or \
        any(w.startswith("h=") for w in after_var)


def stdin_readers(words: list[str], var: list[str] | None, points: str | None) -> list[str]:
    """The options among a command's words that read standard input: --x @-, -v x=@-, --points -."""
    readers = [f"{w} @-" for w, v in itertools.pairwise(words) if v == "@-" and w.startswith("--")]
    readers += [w for w in words if w.startswith("--") and w.endswith("=@-")]
    readers += [f"-v {item}" for item in var or [] if item.endswith("=@-")]
    return readers + (["--points -"] if points == "-" else [])


def read_expression(expr: str, readers: list[str]) -> str:
    """The expression (or program); `-` or `@-` reads it from standard input, which then none of
    readers may read, and `@FILE` from a file."""
    if expr.startswith("@") and expr != "@-":
        return read_program_file(expr[1:])
    if expr not in ("-", "@-"):
        return expr
    if readers:
        raise GradcliError(f"the expression comes from standard input (-), so {readers[0]} cannot read it "
                           f"too: give the expression as an argument, or that value from a file", kind="usage")
    text = sys.stdin.read().strip()
    if not text:
        raise GradcliError("the expression is - but standard input is empty: pipe the expression in, e.g. "
                           "echo 'sum(x**2)' | gradcli grad - --x 1,2", kind="usage")
    return text


def read_program_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as err:
        raise GradcliError(f"cannot read the program @{path}: {err.strerror}", kind="file") from None
    if not text.strip():
        raise GradcliError(f"the program @{path} is empty", kind="file")
    return text


def variable_texts(ctx: Any, expr: str, var: list[str] | None) -> dict[str, str]:
    """NAME -> VALUE text from the words after the command's options (--NAME VALUE, --NAME=VALUE) and -v NAME=VALUE.

    A --NAME that is neither an option nor a variable of expr is an unknown option, with the
    closest option or variable suggested; its value is never read."""
    names = variable_names(expr)
    extra = list(ctx.args)
    _refuse_globbed(expr, names, extra, var or [])
    out: dict[str, str] = {}

    def put(name: str, value: str, shown: str) -> None:
        if not NAME.match(name):
            raise GradcliError(f"{shown}: {name!r} is not a variable name (letters, digits and _)", kind="usage")
        if name in out:
            raise GradcliError(f"{name} is given two values", kind="usage")
        out[name] = value

    i = 0
    while i < len(extra):
        word = extra[i]
        if not word.startswith("--") or len(word) == 2:
            raise GradcliError(f"unexpected argument {word!r}: the expression comes first, then --NAME VALUE "
                               f"for each variable (quote the expression if it has spaces)", kind="usage")
        name, eq, value = word[2:].partition("=")
        if name not in names and name in program_names(expr):
            raise GradcliError(f"{word.partition('=')[0]}: {name} is a step or function of the program, computed "
                               f"there: it takes no value", kind="usage")
        if name not in names:
            raise _unknown_option(ctx, word.partition("=")[0], names)
        if not eq:
            if i + 1 >= len(extra):
                raise GradcliError(f"{word} needs a value, e.g. {word} 1,2,3", kind="usage")
            value = extra[i + 1]
            i += 1
        put(name, value, word)
        i += 1
    for item in var or []:
        name, eq, value = item.partition("=")
        if not eq:
            raise GradcliError(f"-v {item!r}: write NAME=VALUE", kind="usage")
        put(name.strip(), value, f"-v {item}")
    return out


def program_names(expr: str) -> list[str]:
    """The steps and functions a program defines (none for an expression)."""
    from gradcli.lang.parser import parse
    from gradcli.lang.tree import defined_name

    tree = parse(expr)
    return [defined_name(s) for s in tree.args] if tree.kind == "program" else []


def _unknown_option(ctx: Any, word: str, names: list[str]) -> GradcliError:
    options = sorted(_long_options(ctx.command, ctx, valued=True) | _long_options(ctx.command, ctx, valued=False))
    near = closest(word[2:], [*(o[2:] for o in options), *names])
    if near:
        return GradcliError(f"unknown option {word}: did you mean --{near}?", kind="usage")
    return GradcliError(f"unknown option {word}: not an option of {ctx.command_path}, nor a variable of the "
                        f"expression (its variables: {', '.join(names) or 'none'})", kind="usage")


def _refuse_globbed(expr: str, names: list[str], extra: list[str], var: list[str]) -> None:
    """A variable without a value that is also a file here, in an expression with no * ? [: the shell's doing."""
    if GLOB_CHARACTERS & set(expr):
        return
    given = {w[2:].partition("=")[0] for w in extra if w.startswith("--")} | {v.partition("=")[0] for v in var}
    for name in names:
        if name not in given and os.path.isfile(name):
            raise GradcliError(f"no value for {name}, which is also the name of a file in this folder: if the "
                               f"expression had *, ? or [ unquoted, the shell replaced it by file names; put "
                               f"the expression in quotes", kind="usage", span=(0, len(expr)), source=expr)
