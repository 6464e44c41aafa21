"""The tutorial listings (../shared/tutorials beside the repository) run through the real `gradcli run`
and print what PyTorch 2.13 printed for them, line by line, as that folder's README says: object
addresses written 0x..., and the lines a NAME.random file lists compared for their layout only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT.parent / "shared" / "tutorials"
LISTINGS = sorted(TUTORIALS.glob("*.py")) if TUTORIALS.is_dir() else []
ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
NUMBER = re.compile(r"\s*(?<![\w.])[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)(?![\w.])\s*")


def random_lines(listing: Path) -> set[int]:
    """The 1-based output lines whose numbers come from random draws (NAME.random; # starts a comment)."""
    path = listing.with_suffix(".random")
    if not path.exists():
        return set()
    return {int(text) for line in path.read_text().splitlines() if (text := line.split("#")[0].strip())}


def layout(line: str) -> str:
    return NUMBER.sub("#", line)


def run_listing(listing: Path, folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gradcli", "run", str(listing)], check=False, cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not LISTINGS, reason=f"the tutorial listings are not here ({TUTORIALS} is absent)")
@pytest.mark.parametrize("listing", LISTINGS, ids=[p.stem for p in LISTINGS])
def test_listing_prints_what_pytorch_printed(listing: Path, tmp_path: Path):
    done = run_listing(listing, tmp_path)
    assert done.returncode == 0, done.stderr
    got = ADDRESS.sub("0x...", done.stdout).splitlines()
    expected = listing.with_suffix(".out").read_text().splitlines()
    assert len(got) == len(expected), done.stdout
    drawn = random_lines(listing)
    for number, (line, want) in enumerate(zip(got, expected), start=1):
        if number in drawn:
            assert layout(line) == layout(want), f"line {number}"
        else:
            assert line == want, f"line {number}"


def test_the_layout_comparison_ignores_numbers_only():
    assert layout("tensor([[0.2661, -0.1179],") == layout("tensor([[1.0000, 2.5000],")
    assert layout("tensor(1024.)") == layout("tensor(-3.5000e-05)")
    assert layout("tensor([1., 2.])") != layout("tensor([1., 2., 3.])")
    assert layout("tensor(1., dtype=torch.float64)") != layout("tensor(1.)")
    assert layout("<AddBackward0>") == "<AddBackward0>"


def test_a_listing_that_differs_fails_the_comparison(tmp_path: Path):
    """The comparison can fail: a listing printing one different number does not match."""
    listing = tmp_path / "x.py"
    listing.write_text("import torch\nprint(torch.tensor([0.6667, 0.6668, 0.6667]))\n")
    done = run_listing(listing, tmp_path)
    assert done.stdout.splitlines() == ["tensor([0.6667, 0.6668, 0.6667])"]
    if LISTINGS:
        expected = (TUTORIALS / "000-mean-backward.out").read_text().splitlines()
        assert done.stdout.splitlines() != expected
