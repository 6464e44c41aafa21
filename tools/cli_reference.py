"""docs/cli.md, the CLI reference, generated from the typer application: every command's --help.

    python tools/cli_reference.py           write docs/cli.md
    python tools/cli_reference.py --check   exit 1 if docs/cli.md differs from the application

The help is rendered at 80 columns by the click that typer carries (typer 0.28 vendors its
own, so no separate click is needed or read), so the file does not depend on the terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from typer.main import get_command  # noqa: E402  (after the path, so this tree's gradcli is the one read)

from gradcli.cli.app import app  # noqa: E402

TARGET = ROOT / "docs" / "cli.md"
WIDTH = 80
HEADER = """# CLI reference

Every command's `--help`, generated from the application by `python tools/cli_reference.py`
(do not edit by hand: a test fails when this file and the application differ). Variables
are given as `--NAME VALUE`, `--NAME=VALUE` or `-v NAME=VALUE` after the expression; see
[values](values.md).
"""


def help_text(command: Any, ctx: Any) -> str:
    return command.get_help(ctx).rstrip()


def reference() -> str:
    """The Markdown of docs/cli.md: the application's help, then each command's, in --help order."""
    group = get_command(app)
    root = group.context_class(group, info_name="gradcli", terminal_width=WIDTH, max_content_width=WIDTH)
    sections = [HEADER, "## gradcli\n\n```text\n" + help_text(group, root) + "\n```\n"]
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        ctx = command.context_class(command, info_name=name, parent=root, terminal_width=WIDTH, max_content_width=WIDTH)
        sections.append(f"## gradcli {name}\n\n```text\n{help_text(command, ctx)}\n```\n")
    return "\n".join(sections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/cli.md, write nothing")
    args = parser.parse_args()
    text = reference()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} differs from the application: run python tools/cli_reference.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
