"""The console examples of README.md and docs/*.md: find them, run them, compare or rewrite their output.

A console example is a fenced block opened with ```console. Each line that starts with "$ "
is a command; the lines after it, up to the next "$ ", are what it prints: standard output
and standard error as one stream, in the order they were written. Two marks, as HTML
comments on the lines just before the fence, change how a block runs:

    <!-- output varies -->    (timings) every command must succeed; its output is not compared
    <!-- setup: COMMAND -->   a shell command run first and not shown (to make a large file)

A ```python block is run too when the fenced block after it is marked as its output:

    <!-- output of the python above -->

Each block runs in a fresh temporary folder holding a copy of docs/examples/, each command
through `bash -c`, with `gradcli` and `python` on PATH meaning this tree's code run by this
interpreter, at 80 columns and with no terminal, as through a pipe. Trailing spaces and
trailing blank lines are not compared, since editors strip them.

    python tools/update_docs.py           rewrite every pasted output from a real run
    python tools/update_docs.py --check   only list the examples whose output differs

After rewriting, read `git diff`: a changed output is a changed behaviour.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
PROMPT = "$ "
TIMEOUT_S = 300
FENCE = re.compile(r"^```(\w*)\s*$")
SETUP = re.compile(r"^<!--\s*setup:\s*(.*?)\s*-->\s*$")
VARIES = re.compile(r"^<!--\s*output varies\s*-->\s*$")
PYTHON_OUTPUT = re.compile(r"^<!--\s*output of the python above\s*-->\s*$")


@dataclass
class Command:
    text: str
    expected: list[str]


@dataclass
class Block:
    path: Path
    line: int                     # 1-based line of the opening fence
    end: int                      # 1-based line of the closing fence
    commands: list[Command]
    setup: list[str] = field(default_factory=list)
    output_varies: bool = False
    python_example: bool = False    # the body is only the output of `python example.py`

    @property
    def name(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line}"


def documents() -> list[Path]:
    """README.md, CHANGELOG.md and every Markdown file under docs/."""
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def console_blocks(path: Path) -> list[Block]:
    """The ```console blocks of one Markdown file, with their marks, and its Python examples.

    A Python example becomes a block whose set-up writes the code to example.py and whose
    one command, `python example.py`, is expected to print the marked block's text.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    python: list[str] = []
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        close = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if opened.group(1) == "python":
            python = lines[i + 1:close]
        elif i > 0 and PYTHON_OUTPUT.match(lines[i - 1]):
            code = "\n".join(python) + "\n"
            blocks.append(Block(path, i + 1, close + 1, [Command("python example.py", lines[i + 1:close])],
                                setup=[f"cat > example.py <<'END_OF_EXAMPLE'\n{code}END_OF_EXAMPLE"],
                                python_example=True))
        elif opened.group(1) == "console":
            block = Block(path, i + 1, close + 1, parse_commands(lines[i + 1:close]))
            above = i - 1
            while above >= 0 and (SETUP.match(lines[above]) or VARIES.match(lines[above])):
                if setup := SETUP.match(lines[above]):
                    block.setup.insert(0, setup.group(1))
                else:
                    block.output_varies = True
                above -= 1
            blocks.append(block)
        i = close + 1
    return blocks


def parse_commands(body: list[str]) -> list[Command]:
    if body and not body[0].startswith(PROMPT):
        raise ValueError(f"a console block starts with a '$ ' command, not {body[0]!r}")
    commands: list[Command] = []
    for line in body:
        if line.startswith(PROMPT):
            commands.append(Command(line[len(PROMPT):], []))
        else:
            commands[-1].expected.append(line)
    return commands


def stray_prompts(path: Path) -> list[int]:
    """Lines outside ```console blocks that look like a `$ gradcli` example (and so would not run)."""
    stray, fenced = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if opened := FENCE.match(line):
            fenced = None if fenced is not None else opened.group(1)
        elif fenced != "console" and line.lstrip().startswith("$ ") and "gradcli" in line:
            stray.append(number)
    return stray


def normalised(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def environment(bin_dir: Path) -> dict[str, str]:
    """This tree's gradcli first on PATH, 80 columns, no colour forced, no user defaults."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GRADCLI_") and k not in ("FORCE_COLOR", "NO_COLOR", "LINES", "TERM")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="80", PYTHONUTF8="1",
               PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""))
    return env


def tool_dir(into: Path) -> Path:
    """A folder with `gradcli` (this tree's, `python -m gradcli`) and `python` (this interpreter)."""
    bin_dir = into / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gradcli"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gradcli "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "python").symlink_to(sys.executable)
    return bin_dir


@dataclass
class Outcome:
    command: Command
    output: list[str]
    status: int


def run_block(block: Block) -> list[Outcome]:
    """Run a block's set-up, then each command, in a fresh folder; the output of each command."""
    with tempfile.TemporaryDirectory(prefix="gradcli-docs-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        if EXAMPLES.is_dir():
            shutil.copytree(EXAMPLES, work)
        else:
            work.mkdir()
        env = environment(tool_dir(tmp_path))

        def bash(command: str) -> subprocess.CompletedProcess:
            return subprocess.run(["bash", "-c", command], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT_S)

        for setup in block.setup:
            done = bash(setup)
            if done.returncode:
                raise RuntimeError(f"{block.name}: set-up {setup!r} failed:\n{done.stdout.decode()}")
        outcomes = []
        for command in block.commands:
            done = bash(command.text)
            outcomes.append(Outcome(command, normalised(done.stdout.decode("utf-8")), done.returncode))
        return outcomes


def mismatches(block: Block, outcomes: list[Outcome]) -> list[str]:
    """What differs between the pasted output and the run, as readable messages (empty: all match)."""
    problems = []
    for outcome in outcomes:
        if block.output_varies:
            if outcome.status:
                problems.append(f"$ {outcome.command.text}\nexited {outcome.status}:\n" + "\n".join(outcome.output))
        elif outcome.output != normalised("\n".join(outcome.command.expected)):
            problems.append(f"$ {outcome.command.text}\n--- pasted\n" + "\n".join(outcome.command.expected)
                            + "\n--- run\n" + "\n".join(outcome.output))
    return problems


def rewrite(path: Path) -> int:
    """Replace the output of every console block of a file by a fresh run; the number of blocks changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = 0
    for block in reversed(console_blocks(path)):   # from the end, so earlier line numbers hold
        if block.output_varies:
            continue
        body = []
        for outcome in run_block(block):
            body += outcome.output if block.python_example else [PROMPT + outcome.command.text, *outcome.output]
        if body != lines[block.line:block.end - 1]:
            lines[block.line:block.end - 1] = body
            changed += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, change nothing")
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md, CHANGELOG.md, docs/*.md)")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.files] or [p for p in documents() if p.exists()]
    failed = 0
    for path in paths:
        if args.check:
            for block in console_blocks(path):
                for problem in mismatches(block, run_block(block)):
                    failed += 1
                    print(f"{block.name}:\n{problem}\n")
        else:
            print(f"{path.relative_to(ROOT)}: {rewrite(path)} block(s) rewritten")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
