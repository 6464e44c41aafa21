"""Memory reuse never changes a number, and never touches an array anyone else can read.

Reuse is decided in the engine alone (autodiff/call.py and autodiff/backward.py): these
tests feed every rule of the registry a cotangent the backward pass owns, so that each
rule's result may be written into it, and compare every gradient bit for bit with the same
pass with reuse turned off. The property test over random expressions (reuse on against
off) is in test_random_expressions.py; fast paths that reuse memory in test_fast_paths.py.
"""

from __future__ import annotations

import sys
import threading
import types
import zlib
from contextlib import nullcontext

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.autodiff import backward as backward_module
from gradcli.autodiff import call as call_module
from gradcli.autodiff.engine import (Tensor, call, enable_grad, is_grad_enabled, no_grad, run_backward,
                                     without_donation)
from gradcli.ops import OPS

CASES = [(name, i) for name, op in OPS.items() if op.differentiable for i in range(len(op.samples))]


def _pass(name: str, index: int, *, batch: tuple[int, ...], donate: bool, create_graph: bool = False):
    """(inputs, gradients) of one backward pass through op's sample, seeded by a temporary."""
    op = OPS[name]
    sample = op.samples[index]
    rng = np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))
    arrays = sample.draw(rng)
    leaves = [Tensor(a, requires_grad=d != "mask") for a, d in zip(arrays, sample.domains())]
    with nullcontext() if donate else without_donation(), np.errstate(all="ignore"):
        out = call(op, *leaves, **sample.params)
        # The seed is a temporary: nothing but the pass holds it, so rules may write into it.
        found = run_backward([(out, Tensor(rng.standard_normal(batch + out.shape)))],
                             create_graph=create_graph, retain_graph=create_graph)
    by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
    return arrays, [by_leaf.get(id(leaf)) for leaf in leaves]


@pytest.mark.parametrize("batch", [(), (2,)], ids=["vjp", "batched"])
@pytest.mark.parametrize("name, index", CASES)
def test_every_rule_gives_the_same_bits_with_reuse(name, index, batch):
    arrays, reused = _pass(name, index, batch=batch, donate=True)
    kept, plain = _pass(name, index, batch=batch, donate=False)
    for got, expected in zip(reused, plain):
        assert (got is None) == (expected is None)
        if got is not None:
            np.testing.assert_array_equal(got, expected)  # bit for bit, nan for nan
            assert got.flags.writeable and not any(np.shares_memory(got, a) for a in arrays)
    for a, before in zip(arrays, kept):  # the caller's arrays are never written into
        np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("name, index", CASES)
def test_a_recorded_pass_gives_the_same_bits_with_reuse(name, index):
    # With create_graph the rules build a graph: reuse is limited to what no node keeps.
    _, reused = _pass(name, index, batch=(), donate=True, create_graph=True)
    _, plain = _pass(name, index, batch=(), donate=False, create_graph=True)
    for got, expected in zip(reused, plain):
        if got is not None:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["neg", "exp", "log", "sin", "tanh", "sigmoid"])
def test_a_rule_that_reads_its_cotangent_once_writes_into_it(name):
    # The comparison above is not vacuous: here the gradient lands in the seed's own array.
    x = Tensor(np.linspace(0.5, 1.5, 7), requires_grad=True)
    out = call(name, x)
    seed = np.full(7, 0.25)
    address = seed.ctypes.data
    expected = seed * (OPS[name].forward(x.data + 1e-7) - OPS[name].forward(x.data - 1e-7)) / 2e-7
    (ct,) = run_backward([(out, Tensor(seed))]).values()
    assert ct.data.ctypes.data != address  # the caller still holds `seed`: never written into
    (ct,) = run_backward([(call(name, x), Tensor(np.full(7, 0.25)))]).values()
    np.testing.assert_allclose(ct.data, expected, rtol=1e-6)
    del seed
    box = [np.full(7, 0.25)]
    address = box[0].ctypes.data
    (ct,) = run_backward([(call(name, x), Tensor(box.pop()))]).values()
    assert ct.data.ctypes.data == address


def test_a_square_writes_both_of_its_products_into_the_cotangent():
    # x**2 reads g once, (g x) 2: the first product takes the seed's array, and the rule's name
    # for g lets go of it so that the doubling is written there too.
    x = Tensor(np.linspace(0.5, 1.5, 7), requires_grad=True)
    box = [np.full(7, 0.25)]
    address = box[0].ctypes.data
    (ct,) = run_backward([(call("pow", x, 2.0), Tensor(box.pop()))]).values()
    assert ct.data.ctypes.data == address
    np.testing.assert_array_equal(ct.data, 0.25 * x.data * 2.0)


def test_a_rule_reading_its_cotangent_twice_keeps_it():
    # div reads g for both inputs: the first quotient must not overwrite it (d/dy here).
    x, y = np.array([0.3, 1.2]), np.array([0.7, -1.5])
    got = functional.grad("sum(exp(x/y))", {"x": x, "y": y}).gradients
    np.testing.assert_allclose(got["x"], np.exp(x / y) / y, rtol=1e-15)
    np.testing.assert_allclose(got["y"], -x / y**2 * np.exp(x / y), rtol=1e-15)


@pytest.mark.parametrize("rule, once", [
    (lambda n, g: (g * n.ans,), True),
    (lambda n, g: (g / n.y if n.needs[0] else None, -(g * n.x) if n.needs[1] else None), False),
    (lambda n, g: (g if n.needs[0] else -g,), True),  # one read on each branch
    (lambda n, g: ([g * k for k in (1, 2)],), False),  # a closure over g
    (lambda n, g: (n.f(g), n.f(g)), False),
])
def test_reads_once_counts_reads_on_every_path(rule, once):
    assert backward_module.reads_once(rule) is once


def test_reuse_is_off_where_temporaries_cannot_be_told_apart(monkeypatch):
    x = np.linspace(0.5, 1.5, 5)
    reused = functional.grad("sum(sin(exp(-x**2)) * x)", {"x": x}).gradients["x"]
    # Another Python whose reference counts say nothing: every count reads the same.
    fake = types.SimpleNamespace(getrefcount=lambda obj: 2)
    monkeypatch.setattr(call_module, "sys", fake)
    monkeypatch.setattr(call_module, "_temporary", {})
    for module, name in ((backward_module, "_owned"), (backward_module, "_given")):
        monkeypatch.setattr(module, name, None)
    got = functional.grad("sum(sin(exp(-x**2)) * x)", {"x": x}).gradients["x"]
    e = np.exp(-x * x)
    np.testing.assert_allclose(got, np.cos(e) * e * (-2 * x) * x + np.sin(e), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got, reused)
    assert call_module.temporary_holders() == (0, 0)
    box = [call("exp", Tensor(x))]
    address = box[0].data.ctypes.data
    assert (-box.pop()).data.ctypes.data != address


def test_reuse_is_on_in_this_python():
    for entry in (call_module.OPERATOR, call_module.FUNCTION):
        assert call_module.temporary_holders(entry) != (0, 0) or not hasattr(sys, "getrefcount")


def test_grad_mode_belongs_to_each_thread():
    # As PyTorch's: no_grad() in one thread leaves another thread's graph recording.
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with no_grad():
            inside.set()
            done.wait(10)
            seen["quiet"] = (is_grad_enabled(), (Tensor(1.0, requires_grad=True) * 2.0).grad_fn)

    def recording():
        inside.wait(10)
        seen["recording"] = (is_grad_enabled(), (Tensor(1.0, requires_grad=True) * 2.0).grad_fn)
        done.set()

    threads = [threading.Thread(target=quiet), threading.Thread(target=recording)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["quiet"] == (False, None)
    enabled, node = seen["recording"]
    assert enabled and node is not None and node.name == "MulBackward0"
    with enable_grad():
        assert is_grad_enabled()
