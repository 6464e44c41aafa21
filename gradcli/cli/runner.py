"""Running a user's PyTorch autograd file as `python FILE.py` would, with `import torch` answered by
gradcli.torch: the work of `gradcli run`, without the command line's parsing (cli/run.py has the command).

This is the one place that installs the torch import hook (for the run only): `torch` and the
submodules gradcli.torch has are entries of sys.modules; any other `torch.*` import is refused as an
unsupported feature. The user's errors show their own traceback (exit 1); an unsupported feature is
a one-line message (exit 2). It imports no command-line library, so that `gradcli run FILE` can start
without the other commands (gradcli/__main__.py).
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from typing import Any

# `gradcli run` options that the command line reads; with none of them, __main__ runs the file directly.
RUN_OPTIONS = ("--explain", "--graph", "--help", "-h")


STDIN = "<stdin>"  # the file name of code read from standard input (`gradcli run -`), as Python's
# torch's modules and the gradcli.torch modules that stand for them
MODULES = {"torch": "gradcli.torch", "torch.autograd": "gradcli.torch.autograd",
           "torch.autograd.functional": "gradcli.torch.autograd.functional",
           "torch.autograd.function": "gradcli.torch.autograd.function",
           "torch.nn": "gradcli.torch.nn", "torch.nn.functional": "gradcli.torch.nn.functional",
           "torch.optim": "gradcli.torch.optim"}


class _RefuseOtherTorch(MetaPathFinder):
    """`import torch.utils.data` and the like: a feature gradcli.torch does not have."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.startswith("torch.") and fullname not in MODULES:
            from gradcli.torch.core import unsupported

            raise unsupported(f"the module {fullname}")


@contextmanager
def torch_answered(file: str, args: list[str]) -> Iterator[None]:
    """sys.modules, sys.path and sys.argv as `python file args` would see them, with torch from gradcli."""
    saved_modules = {name: sys.modules.get(name) for name in MODULES}
    saved_argv, saved_path = sys.argv, list(sys.path)
    folder = os.getcwd() if file == STDIN else os.path.dirname(os.path.abspath(file))
    finder = _RefuseOtherTorch()
    for name, ours in MODULES.items():
        sys.modules[name] = importlib.import_module(ours)
    sys.meta_path.insert(0, finder)
    sys.argv = ["-" if file == STDIN else file, *args]
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.argv, sys.path[:] = saved_argv, saved_path
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def user_traceback(err: BaseException, file: str) -> str:
    """The traceback Python prints for err, from the first frame in the user's file on."""
    tb = err.__traceback__
    target = os.path.abspath(file)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    # (no frame of the file: a syntax error in it, which Python shows without a traceback)
    return "".join(traceback.format_exception(type(err), err, tb))


@contextmanager
def reporting(file: str, explain: bool, graph: str | None, source: str | None = None) -> Iterator[None]:
    """While the file runs: each backward pass explained and/or drawn (run_report.py); nothing when neither."""
    if not explain and graph is None:
        yield
        return
    from gradcli.cli.run_report import BackwardReports
    from gradcli.torch import core

    if source is None:
        with open(file, encoding="utf-8") as fh:
            source = fh.read()
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    hook = BackwardReports(file, source, explain, graph, _report_line)
    core.TRACE.file, core.TRACE.starts, core.TRACE.values = file, starts + [len(source) + 1], {}
    core.BACKWARD_HOOKS.append(hook)
    try:
        yield
    finally:
        core.BACKWARD_HOOKS.remove(hook)
        core.TRACE.file, core.TRACE.values = None, {}


def _report_line(text: str) -> None:
    """print text; when the reader of the output has gone (`| head`), stop quietly, as a command does."""
    try:
        print(text)
    except BrokenPipeError:
        # (the interpreter's last flush would fail again: standard output goes nowhere from here)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def run_file(file: str, args: list[str], explain: bool = False, graph: str | None = None) -> int:
    """Run file as __main__ with torch answered; the exit status `python file` would give (2: unsupported)."""
    from gradcli.torch.core import Unsupported

    stdin = file == "-"
    source = sys.stdin.read() if stdin else None
    file = STDIN if stdin else os.path.abspath(file)
    with torch_answered(file, args), reporting(file, explain, graph, source):
        try:
            if stdin:  # as `python -` runs standard input
                exec(compile(source, file, "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
            else:
                runpy.run_path(file, run_name="__main__")
        except SystemExit as done:
            code = done.code
            if code is None or isinstance(code, int):
                return code or 0
            print(code, file=sys.stderr)
            return 1
        except Unsupported as err:
            sys.stderr.write(f"gradcli run: {err}\n{_where(err, file)}")
            return 2
        except Exception as err:
            sys.stderr.write(user_traceback(err, file))
            return 1
    return 0


def _where(err: BaseException, file: str) -> str:
    """`  at FILE:LINE` for the user's line that reached an unsupported feature."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if os.path.abspath(f.filename) == os.path.abspath(file)]
    return f"  at {frames[-1].filename}:{frames[-1].lineno}\n" if frames else ""




def run(file: str, args: list[str], explain: bool = False, graph: str | None = None) -> int:
    """The exit status of running file with args (2 when there is no such file)."""
    if file != "-" and not os.path.isfile(file):
        sys.stderr.write(f"error: no such file: {file}\n")
        return 2
    sys.stdout.flush()
    return run_file(file, args, explain, graph)
