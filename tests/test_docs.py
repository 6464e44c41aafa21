"""The docs cannot drift: every console example runs and matches, and docs/cli.md is the app's help.

The examples run as tools/update_docs.py runs them (80 columns, no terminal, this tree's
gradcli); a mismatch shows the pasted and the fresh output and says how to re-paste.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import cli_reference  # noqa: E402
import update_docs  # noqa: E402

DOCUMENTS = [p for p in update_docs.documents() if p.exists()]
BLOCKS = [block for path in DOCUMENTS for block in update_docs.console_blocks(path)]
REPASTE = "re-paste with `python tools/update_docs.py`, then read the diff"


def test_the_documents_exist_and_hold_examples():
    names = {p.relative_to(ROOT).as_posix() for p in DOCUMENTS}
    for expected in ("README.md", "CHANGELOG.md", "docs/guide.md", "docs/language.md", "docs/values.md",
                     "docs/checking.md", "docs/python-api.md", "docs/output.md", "docs/scripts.md",
                     "docs/limits.md", "docs/performance.md", "docs/cli.md"):
        assert expected in names
    readme = [b for b in BLOCKS if b.path.name == "README.md"]
    assert len(readme) >= 8 and sum(len(b.commands) for b in BLOCKS) >= 50


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 300


@pytest.fixture(scope="session")
def block_runs(request):
    """The selected blocks, started a few at a time (each command is a process): name -> future."""
    selected = [item.callspec.params["block"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_example_output_matches_a_run"]
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1))
    yield {block.name: pool.submit(update_docs.run_block, block) for block in selected}
    pool.shutdown(cancel_futures=True)   # after -x, the blocks not yet started never start


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_example_output_matches_a_run(block, block_runs):
    outcomes = block_runs[block.name].result()
    problems = update_docs.mismatches(block, outcomes)
    assert not problems, f"{block.name}: {REPASTE}\n\n" + "\n\n".join(problems)


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_no_gradcli_example_outside_a_console_block(path):
    # An example in an indented or ```sh block would never be run.
    assert update_docs.stray_prompts(path) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_relative_links_point_at_files(path):
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_cli_reference_is_generated_from_the_app():
    written = cli_reference.TARGET.read_text(encoding="utf-8")
    assert written == cli_reference.reference(), (
        "docs/cli.md differs from the application's help: run `python tools/cli_reference.py`")


def test_cli_reference_covers_every_command_and_option():
    from typer.main import get_command

    from gradcli.cli.app import app

    text = cli_reference.reference()
    group = get_command(app)
    for name, command in group.commands.items():
        assert f"## gradcli {name}\n" in text
        section = text.split(f"## gradcli {name}\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert opt in section, f"{name}: {opt} missing from docs/cli.md"


# -- the checker itself: it must fail on a wrong output and pass a right one ------------------

def _block_from(tmp_path: Path, markdown: str) -> update_docs.Block:
    page = tmp_path / "page.md"
    page.write_text(markdown, encoding="utf-8")
    [block] = update_docs.console_blocks(page)
    return block


def test_checker_tells_a_wrong_output_from_a_right_one(tmp_path):
    right = _block_from(tmp_path, '```console\n$ gradcli grad "x*y" --x 2 --y 3 -f plain\n3\n2\n```\n')
    assert update_docs.mismatches(right, update_docs.run_block(right)) == []
    wrong = _block_from(tmp_path, '```console\n$ gradcli grad "x*y" --x 2 --y 3 -f plain\n3\n2.5\n```\n')
    [problem] = update_docs.mismatches(wrong, update_docs.run_block(wrong))
    assert "--- pasted\n3\n2.5\n--- run\n3\n2" in problem


def test_checker_runs_at_80_columns_with_stderr_in_order(tmp_path):
    block = _block_from(tmp_path, '```console\n$ gradcli grad "sum(sqrt(x))" --x 0,4 -f plain; echo "exit $?"\n```\n')
    [outcome] = update_docs.run_block(block)
    assert outcome.output == ["warning: the gradient became inf here (SqrtBackward0)", "  sum(sqrt(x))",
                              "      ^~~~~~~", "inf,0.25", "exit 0"]
    wide = _block_from(tmp_path, '```console\n$ gradcli ops\n```\n')
    [outcome] = update_docs.run_block(wide)
    assert max(len(line) for line in outcome.output) == 80


def test_output_varies_blocks_must_still_succeed(tmp_path):
    block = _block_from(tmp_path, '<!-- output varies -->\n```console\n$ gradcli grad "sinn(x)" --x 1\nanything\n```\n')
    assert block.output_varies
    [problem] = update_docs.mismatches(block, update_docs.run_block(block))
    assert "exited 2" in problem


def test_code_excerpts_in_the_architecture_page_are_the_source():
    """A ```python block there quotes gradcli's code: it must still be in the source, verbatim."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    excerpts = [block.split("\n", 1)[1] for block in text.split("```python")[1:]]
    excerpts = [e[: e.index("```")] for e in excerpts]
    source = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "gradcli").rglob("*.py"))
    assert excerpts and all(e in source for e in excerpts), excerpts
