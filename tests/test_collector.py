"""The cyclic garbage collector is paused over the parse, the walk and the backward pass, and
left as it was found: on after, or off when the caller had turned it off. The command keeps
it off while it loads, then on for its work, with what loading made left out of its walks."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from gradcli.api.evaluate import evaluate
from gradcli.autodiff.engine import Tensor, run_backward
from gradcli.collector import collection_paused
from gradcli.lang import parser
from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_walk_and_the_backward_pass_run_with_the_collector_off_and_turn_it_on_again(collector_on):
    seen = []
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    out = evaluate(parse("sum(sin(x)*x)"), {"x": x}, on_node=lambda node, value: seen.append(gc.isenabled()))
    assert seen and not any(seen)
    assert gc.isenabled()
    found = run_backward([(out, Tensor(np.ones(())))])
    assert gc.isenabled()
    (ct,) = found.values()
    np.testing.assert_allclose(ct.data, np.cos(x.data) * x.data + np.sin(x.data), rtol=1e-15)


def test_the_parser_runs_with_the_collector_off(collector_on, monkeypatch):
    seen = []
    real = parser.tokenize
    monkeypatch.setattr(parser, "tokenize", lambda source: seen.append(gc.isenabled()) or real(source))
    assert sexpr(parse("-x**2")) == "(neg (pow x 2))"
    assert seen == [False] and gc.isenabled()


def test_an_error_inside_turns_the_collector_on_again(collector_on):
    with pytest.raises(Exception, match="unexpected character"):
        parse("x $ 2")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    was = gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        parse("sin(x) + 1")
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_the_command_loads_with_the_collector_off_and_runs_with_it_on(tmp_path):
    """A file run by `gradcli run` sees the collector on, as under `python FILE`, and the objects
    start-up made frozen out of its walks (the collector was off while they were made)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    listing = tmp_path / "probe.py"
    listing.write_text("import gc\nprint(gc.isenabled(), gc.get_freeze_count() > 1000)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for argv in (["run", str(listing)], ["run", "--explain", str(listing)]):  # (the fast path, and the app's)
        done = subprocess.run([sys.executable, "-m", "gradcli", *argv], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=60)
        assert (done.returncode, done.stdout) == (0, "True True\n"), done.stderr


class _Cell:
    """An object that can take part in a reference cycle, and be watched by a weak reference."""

    def __init__(self):
        self.other = None


def test_many_objects_that_outlive_a_pause_go_to_the_oldest_generation_unwalked(collector_on):
    """The tree a result keeps would otherwise be walked by the first young collection after the work."""
    if gc.get_freeze_count():
        pytest.skip("this process froze objects: the pause leaves the generations alone (see the next test)")
    with collection_paused():
        kept = [_Cell() for _ in range(30_000)]
    assert gc.get_count()[0] < 1000
    assert any(o is kept[-1] for o in gc.get_objects(2))


def test_cycles_made_in_a_pause_are_still_collected_and_frozen_objects_stay_frozen(collector_on):
    import weakref

    frozen_before = gc.get_freeze_count()
    with collection_paused():
        kept = [_Cell() for _ in range(30_000)]
        a, b = _Cell(), _Cell()
        a.other, b.other = b, a
        watch = weakref.ref(a)
    del a, b
    assert watch() is not None  # (a cycle: reference counting alone does not free it)
    gc.collect()
    assert watch() is None and len(kept) == 30_000
    assert gc.get_freeze_count() == frozen_before
