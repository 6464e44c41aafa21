"""The fused replay (autodiff/fused.py) gives the plain replay's and the eager engine's numbers bit for bit.

Sizes here are small: the tests lower the size from which a program fuses and the block
size, so that a few thousand entries make many blocks (and odd last blocks). Every
comparison is np.array_equal with nan equal to nan, the same dtype and shape.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.api.compiled import gradient_program
from gradcli.api.problem import problem
from gradcli.autodiff import fused
from gradcli.autodiff.engine import Tensor, call, run_backward
from gradcli.autodiff.op import Sample
from gradcli.autodiff.trace import Traced
from gradcli.ops import OPS

DTYPES = (np.float64, np.float32)
SIZES = [*range(1, 20), 127, 128, 129, 255, 256, 257, 1000, 1001, 4095, 4097,
         *[2**k + d for k in (12, 15, 17, 20) for d in (-1, 0, 1)], 10**5 + 7, 10**6 + 3]


def same(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want, equal_nan=True)


def bits(a) -> bytes:
    """The bytes of a number: tells 0.0 from -0.0 and one nan from another."""
    return np.asarray(a).tobytes()


@pytest.fixture
def small_blocks(monkeypatch):
    """Programs over 64 entries or more fuse, in blocks of at most 256 entries."""
    monkeypatch.setattr(fused, "FUSE_ENTRIES", 64)
    monkeypatch.setattr(fused, "BLOCK", 256)


@pytest.fixture(params=["1", "2"], ids=["one thread", "two threads"])
def threads(request, monkeypatch):
    monkeypatch.setenv("GRADCLI_THREADS", request.param)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("most", [128, 256, 1 << 13])
def test_block_sums_added_along_the_tree_are_np_sum(dtype, most):
    rng = np.random.default_rng(most)
    for n in SIZES:
        # Magnitudes over six decades, so that the order of the additions shows in the last bits.
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype)
        blocks, tree = fused.pairwise_blocks(n, most)
        assert blocks[0][0] == 0 and blocks[-1][1] == n
        assert all(hi == lo for (_, hi), (lo, _) in zip(blocks, blocks[1:]))
        assert all(hi - lo <= max(most, 128) for lo, hi in blocks)
        sums = [np.add.reduce(a[lo:hi], initial=-0.0) for lo, hi in blocks]
        total = a.dtype.type(0.0) + fused._added(tree, sums)
        assert bits(total) == bits(np.sum(a)), (n, most)


@pytest.mark.parametrize("values", [[-0.0] * 9, [-0.0], [np.inf, -np.inf, 1.0] * 50, [np.nan] + [1.0] * 200])
def test_block_sums_keep_signed_zeros_and_non_finite_entries(values):
    a = np.array(values)
    blocks, tree = fused.pairwise_blocks(a.size, 128)
    with np.errstate(invalid="ignore"):  # (inf - inf)
        total = np.float64(0.0) + fused._added(tree, [np.add.reduce(a[lo:hi], initial=-0.0) for lo, hi in blocks])
        assert bits(total) == bits(np.sum(a))


def _program(text, values, dtype):
    """(gradient program that fuses, one that does not): each called once, so each holds its program."""
    p = problem(text, values, dtype=dtype)
    fusing = gradient_program(p)
    fusing(values)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(fused, "FUSE_ENTRIES", 1 << 62)
        plain = gradient_program(p)
        plain(values)
    return fusing, plain


EXPRESSIONS = [
    ("sum(sin(x)*exp(-x**2))", {"x": (4097,)}),
    ("mean((w*x - y)**2)", {"w": (), "x": (3001,), "y": (3001,)}),
    ("sum((x - mean(x))**2 * y)", {"x": (1000,), "y": (1000,)}),  # a sum read by a later phase
    ("sum(exp(-x) / (1 + x**2))", {"x": (40, 50)}),  # a matrix: every entry summed
    ("sum(x * y)", {"x": (100, 30), "y": (30,)}),  # a broadcast the fuser leaves to numpy (the sum fuses)
]


@pytest.mark.usefixtures("small_blocks", "threads")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("text,shapes", EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_fused_replay_is_the_plain_replay_and_the_eager_engine(text, shapes, dtype):
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    draw = lambda: {n: rng.standard_normal(s).astype(dtype) for n, s in shapes.items()}  # noqa: E731
    fusing, plain = _program(text, draw(), dtype)
    program = next(iter(fusing.traced.programs.values()))
    assert isinstance(program, fused.Fused)
    for values in (draw(), draw()):
        got_value, got = fusing(values)
        plain_value, from_plain = plain(values)
        eager = functional.grad(text, values, dtype=dtype)
        assert same(got_value, plain_value) and bits(got_value) == bits(eager.value)
        for name in got:
            assert same(got[name], from_plain[name]) and same(got[name], np.asarray(eager.gradients[name]))
    assert fusing.traced.replayed == 2


@pytest.mark.usefixtures("small_blocks")
def test_an_input_that_is_not_contiguous_gives_the_same_numbers():
    x = np.random.default_rng(3).standard_normal(2001)
    fusing, plain = _program("sum(sin(x)*exp(-x**2))", {"x": x[::2]}, np.float64)
    (v1, g1), (v2, g2) = fusing({"x": x[1::2]}), plain({"x": x[1::2].copy()})
    assert bits(v1) == bits(v2) and same(g1["x"], g2["x"])


def _elementwise():
    return [name for name, op in OPS.items() if op.ufunc is not None and op.is_primitive and op.differentiable]


def _chain(op):
    """values -> [sum(op(inputs)**2 * first input), its gradients]: a forward and backward chain of
    elementwise steps ending in a sum, as a program records it."""
    def eager(values: dict) -> list:
        leaves = [Tensor(v, requires_grad=True) for v in values.values()]
        out = call(op, *leaves)
        loss = call(OPS["sum"], call(OPS["mul"], call(OPS["mul"], out, out), leaves[0]))
        found = run_backward([(loss, Tensor(np.ones_like(loss.data)))])
        by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
        return [loss.data, *(by_leaf.get(id(leaf)) for leaf in leaves)]
    return eager


@pytest.mark.usefixtures("small_blocks", "threads")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_every_elementwise_operation_fuses_bit_identical(dtype):
    fused_programs = 0
    for name in _elementwise():
        op = OPS[name]
        sample = op.samples[0]
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        large = Sample(tuple((1500,) for _ in sample.shapes), sample.domain, sample.params)
        draws = [[np.asarray(a, dtype) for a in large.draw(rng)] for _ in range(3)]
        with pytest.MonkeyPatch.context() as m:
            m.setattr(fused, "FUSE_ENTRIES", 1 << 62)
            plain = Traced(_chain(op))
            plain({f"a{i}": a for i, a in enumerate(draws[0])})
        traced = Traced(_chain(op))
        traced({f"a{i}": a for i, a in enumerate(draws[0])})
        fused_programs += isinstance(next(iter(traced.programs.values())), fused.Fused)
        for arrays in draws[1:]:
            values = {f"a{i}": a for i, a in enumerate(arrays)}
            with np.errstate(all="ignore"):
                got, from_plain = traced(values), plain(values)
                want = _chain(op)({n: v.copy() for n, v in values.items()})
            for g, p, w in zip(got, from_plain, want):
                assert (g is None) == (w is None), name
                assert g is None or (same(g, w) and same(p, w)), name
        assert traced.replayed == 2, name
    assert fused_programs >= len(_elementwise()) - 4  # (a few record a guard over the whole array)


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_inner_is_the_pairwise_sum_of_the_products(dtype):
    rng = np.random.default_rng(11)
    for n in [1, 7, 128, 129, 4097, 2**15 + 1, 2**17 - 1, 10**6 + 3]:
        a, b = ((rng.standard_normal(2 * n) * 10.0 ** rng.integers(-3, 4, 2 * n)).astype(dtype) for _ in "ab")
        for x, y in ((a[:n], b[:n]), (a[::2], b[1::2])):  # contiguous, and strided
            got = fused.inner(x, y)
            assert got.dtype == dtype and got.shape == () and bits(got) == bits(np.add.reduce(x * y)), n


def test_a_long_vector_dot_is_the_pairwise_sum_and_a_short_one_blas():
    rng = np.random.default_rng(5)
    for n in (fused.FUSE_ENTRIES, 10**5 + 3):
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        value = functional.grad("x @ y", {"x": x, "y": y}).value
        assert bits(value) == bits(np.add.reduce(x * y))
        assert abs(float(value) - math.fsum(x * y)) <= 1e-12 * np.sqrt(n)
    x, y = rng.standard_normal(100), rng.standard_normal(100)
    assert bits(functional.grad("x @ y", {"x": x, "y": y}).value) == bits(np.dot(x, y))


def test_a_scalar_factors_gradient_fuses_with_the_forward():
    """mean((w*x - y)**2) with w a number: w's gradient (the sum of g * x) is computed in the
    forward's blocks, so the program writes no large array at full size."""
    n = fused.FUSE_ENTRIES * 3 + 5
    rng = np.random.default_rng(2)
    values = {"w": np.float64(0.5), "x": rng.standard_normal(n), "y": rng.standard_normal(n)}
    program = gradient_program(problem("mean((w*x - y)**2)", values, wrt=["w"]))
    program(values)
    fused_program = next(iter(program.traced.programs.values()))
    phases = [item for item in fused_program.schedule if isinstance(item, fused.Phase)]
    assert len(phases) == 1 and not phases[0].full
    assert [kind for kind, *_ in phases[0].steps].count("inner") == 1
    value, gradients = program(values)
    eager = functional.grad("mean((w*x - y)**2)", values, wrt="w")
    assert bits(value) == bits(eager.value) and bits(gradients["w"]) == bits(eager.gradients["w"])
    r = 0.5 * values["x"] - values["y"]
    assert abs(float(gradients["w"]) - 2 * math.fsum(r * values["x"]) / n) < 1e-12


@pytest.mark.usefixtures("small_blocks")
def test_sinexp_phase_repeats_no_step_and_copies_nothing():
    """The exp rule's g * exp(u) is the forward's sin(x) * exp(-x**2) again: recorded once. The
    gradient's copy (the caller's own array) is written by the step that makes it."""
    fusing, plain = _program("sum(sin(x)*exp(-x**2))", {"x": np.linspace(-2, 2, 4097)}, np.float64)
    program = next(iter(fusing.traced.programs.values()))
    (phase,) = [item for item in program.schedule if isinstance(item, fused.Phase)]
    kinds = [(kind, fn, ins) for kind, fn, ins, _out in phase.steps]
    assert len(kinds) == len(set(kinds)) and all(kind != "copy" for kind, *_ in kinds)
    assert [fn.__name__ for kind, fn, *_ in kinds if kind == "ufunc"].count("multiply") == 4
    x = np.random.default_rng(4).standard_normal(4097)
    (v1, g1), (v2, g2) = fusing({"x": x}), plain({"x": x})
    assert bits(v1) == bits(v2) and same(g1["x"], g2["x"]) and g1["x"] is not x
