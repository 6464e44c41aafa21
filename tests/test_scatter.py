"""The index, scatter and stacking functions (gradcli/ops/scatter.py) against torch: index_select, take, narrow,
scatter (src and value), scatter_add, index_add, index_fill, repeat_interleave, hstack, vstack/row_stack, dstack,
column_stack, atleast_1d/2d/3d, ravel, numel and count_nonzero, written as PyTorch code writes them, with
repeated indices where torch defines the result; values, gradients and Hessians in float64, float32, refusals
and the command line.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import run_cli
from test_arithmetic import _agree, _disagreements, extras_alone  # noqa: F401  (a fixture)

from gradcli.api import functional
from gradcli.errors import GradcliError

torch = pytest.importorskip("torch")

X = np.array([[0.3, -1.2, 2.0], [1.5, 0.0, -0.4], [-0.7, 0.9, np.inf], [0.25, np.nan, -3.0]])
S = np.array([[2.0, -1.0, 0.5], [4.0, 3.0, -2.5]])


def _long(values):
    return torch.tensor(values, dtype=torch.long)


CASES = [
    ("x.index_select(0, torch.tensor([2, 0, 2])) * 2", lambda x, s: x.index_select(0, _long([2, 0, 2])) * 2),
    ("torch.index_select(x, -1, torch.tensor([1]))", lambda x, s: torch.index_select(x, -1, _long([1]))),
    ("torch.index_select(x, dim=1, index=torch.tensor(2))", lambda x, s: torch.index_select(x, 1, _long(2))),
    ("torch.take(x, torch.tensor([[0, 11], [-1, 4]])) * torch.take(s, torch.tensor([[5, 5], [0, -6]]))",
     lambda x, s: torch.take(x, _long([[0, 11], [-1, 4]])) * torch.take(s, _long([[5, 5], [0, -6]]))),
    ("torch.narrow(x, 0, 1, 2) + x.narrow(1, -3, 3)[2:]", lambda x, s: torch.narrow(x, 0, 1, 2) + x.narrow(1, -3, 3)[2:]),
    ("x.scatter(0, torch.tensor([[1, 0, 3], [2, 3, 0]]), s)", lambda x, s: x.scatter(0, _long([[1, 0, 3], [2, 3, 0]]), s)),
    ("torch.scatter(x, 1, torch.tensor([[2], [0], [1], [1]]), s.reshape(6, 1)[:4])",
     lambda x, s: torch.scatter(x, 1, _long([[2], [0], [1], [1]]), s.reshape(6, 1)[:4])),
    ("x.scatter(1, torch.tensor([[0, 2], [1, 0]]), value=-2.5) * s.sum()",
     lambda x, s: x.scatter(1, _long([[0, 2], [1, 0]]), value=-2.5) * s.sum()),
    # repeated positions: scatter_add and index_add add each
    ("x.scatter_add(0, torch.tensor([[1, 1, 0], [1, 3, 0]]), s)",
     lambda x, s: x.scatter_add(0, _long([[1, 1, 0], [1, 3, 0]]), s)),
    ("torch.scatter_add(x, -1, torch.tensor([[2, 2], [0, 2]]), s[:, 1:])",
     lambda x, s: torch.scatter_add(x, -1, _long([[2, 2], [0, 2]]), s[:, 1:])),
    ("x.index_add(0, torch.tensor([3, 3]), s)", lambda x, s: x.index_add(0, _long([3, 3]), s)),
    ("torch.index_add(x, 1, torch.tensor([2, 0, 2]), s.T.T[:, [1, 0, 2]].repeat(2, 1), alpha=-0.5)",
     lambda x, s: torch.index_add(x, 1, _long([2, 0, 2]), s[:, [1, 0, 2]].repeat(2, 1), alpha=-0.5)),
    ("x.index_fill(1, torch.tensor([0, 2, 0]), s[1, 1])", lambda x, s: x.index_fill(1, _long([0, 2, 0]), s[1, 1])),
    ("torch.index_fill(x, 0, torch.tensor([1]), -1.0) * s.sum()",
     lambda x, s: torch.index_fill(x, 0, _long([1]), -1.0) * s.sum()),
    ("s.repeat_interleave(2) * x[0, 0]", lambda x, s: s.repeat_interleave(2) * x[0, 0]),
    ("torch.repeat_interleave(x, torch.tensor([1, 0, 3]), dim=1)",
     lambda x, s: torch.repeat_interleave(x, _long([1, 0, 3]), dim=1)),
    ("x.repeat_interleave(torch.tensor([2, 1, 0, 1]), 0)", lambda x, s: x.repeat_interleave(_long([2, 1, 0, 1]), 0)),
]


def _finite(values):
    return {k: np.nan_to_num(v, nan=0.7, posinf=1.3) for k, v in values.items()}


def _both(text, fn):
    """text and fn with s in them where they read x alone (s is finite: 0 * its sum is 0)."""
    if re.search(r"\bs\b", text):
        return text, fn
    return f"{text} + 0 * s.sum()", lambda x, s: fn(x, s) + 0 * s.sum()


CASES = [(*_both(text, fn),) for text, fn in CASES]


@pytest.mark.parametrize("text, fn", CASES, ids=[c[0] for c in CASES])
def test_values_gradients_and_hessians_are_torchs(text, fn):
    _agree(text, fn, {"x": X, "s": S}, rtol=1e-15)
    # second order where the entries are finite (a Hessian of a linear map is zeros, unless a product has
    # made it quadratic)
    _agree(f"({text}) * ({text})", lambda x, s: fn(x, s) * fn(x, s), _finite({"x": X, "s": S}), rtol=1e-14)


@pytest.mark.parametrize("text, fn", CASES, ids=[c[0] for c in CASES])
def test_float32_is_torchs_float32(text, fn):
    _agree(text, fn, {"x": X, "s": S}, dtype="float32", rtol=1e-6)


STACKS = [
    ("torch.hstack([a, b])", lambda a, b: torch.hstack([a, b]), (3,), (2,)),
    ("torch.hstack((a, b, a))", lambda a, b: torch.hstack((a, b, a)), (2, 1), (2, 3)),
    ("torch.hstack([a, b])", lambda a, b: torch.hstack([a, b]), (), (2,)),
    ("torch.vstack([a, b])", lambda a, b: torch.vstack([a, b]), (3,), (2, 3)),
    ("torch.row_stack((a, b))", lambda a, b: torch.vstack((a, b)), (), ()),
    ("torch.dstack([a, b])", lambda a, b: torch.dstack([a, b]), (3,), (3,)),
    ("torch.dstack([a, b])", lambda a, b: torch.dstack([a, b]), (2, 3), (2, 3, 2)),
    ("torch.column_stack([a, b, a])", lambda a, b: torch.column_stack([a, b, a]), (2,), (2, 3)),
    ("torch.column_stack([a, b])", lambda a, b: torch.column_stack([a, b]), (), ()),
    ("torch.atleast_1d(a) * torch.atleast_2d(b)", lambda a, b: torch.atleast_1d(a) * torch.atleast_2d(b), (), (3,)),
    ("torch.atleast_3d(a) * b.atleast_3d()", lambda a, b: torch.atleast_3d(a) * torch.atleast_3d(b), (2, 3), ()),
    ("torch.atleast_3d(a) + torch.atleast_2d(b)", lambda a, b: torch.atleast_3d(a) + torch.atleast_2d(b), (3,), (2, 1, 3)),
    ("torch.ravel(a) * b.ravel().sum()", lambda a, b: torch.ravel(a) * b.ravel().sum(), (2, 3), (3, 1)),
]


@pytest.mark.parametrize("text, fn, a, b", STACKS, ids=[f"{c[0]} {c[2]} {c[3]}" for c in STACKS])
def test_stacking_is_torchs(text, fn, a, b):
    rng = np.random.default_rng(len(text) + len(a) + len(b))
    values = {"a": rng.standard_normal(a), "b": rng.standard_normal(b)}
    _agree(text, fn, values, rtol=0)
    _agree(f"({text}) ** 2", lambda a, b: fn(a, b) ** 2, values, rtol=1e-15)


def test_numel_and_count_nonzero_are_constants():
    x = np.array([[0.0, 1.5, np.nan], [-0.0, 0.0, 2.0]])
    r = functional.grad("sum(x * torch.numel(x) + x * torch.count_nonzero(x) + x * x.count_nonzero(dim=1)[0])",
                        {"x": x})
    t = torch.tensor(x)
    assert torch.numel(t) == 6 and int(torch.count_nonzero(t)) == 3
    want = t * 6 + t * torch.count_nonzero(t) + t * t.count_nonzero(dim=1)[0]
    assert np.isnan(r.value) and np.isnan(float(want.sum()))
    np.testing.assert_array_equal(r.gradients["x"], np.full((2, 3), 6.0 + 3 + 2))
    counts = functional.jacobian("torch.count_nonzero(x, dim=(0, 1)) + count_nonzero(x, 0)", {"x": x}).value
    np.testing.assert_array_equal(counts, (torch.count_nonzero(t, dim=(0, 1)) + torch.count_nonzero(t, 0)).numpy())


@pytest.mark.parametrize("text, message", [
    ("x.index_select(0, torch.tensor([4]))", "out of bounds"),
    ("x.index_select(0, torch.tensor([[0]]))", "one axis"),
    ("torch.take(x, torch.tensor([12]))", "out of range"),
    ("torch.take(x, torch.tensor([0.5]))", "whole numbers"),
    ("torch.narrow(x, 0, 3, 2)", "do not fit"),
    ("x.scatter(0, torch.tensor([0, 1]), s)", "as many axes"),
    ("x.scatter(0, torch.tensor([[0, 1, 2, 3]]), s)", "longer than x"),
    ("x.scatter_add(0, torch.tensor([[0, 1, 2]]), s[:, :2])", "at least as long"),
    ("x.index_add(0, torch.tensor([0]), s)", "shape"),
    ("x.repeat_interleave(torch.tensor([1, 2]), dim=0)", "one count or 4"),
    ("torch.hstack([x, s[:, :1]])", "one shape"),
])
def test_refusals_say_why(text, message):
    with pytest.raises(GradcliError, match=message):
        functional.grad(f"sum({text})", {"x": X, "s": S} if re.search(r"\bs\b", text) else {"x": X})


def test_scatter_with_a_repeated_position_writes_the_last_source():
    """PyTorch leaves the result undefined there; gradcli writes the last in the index's row-major order, and only
    that source gets the gradient."""
    r = functional.grad("sum(x.scatter(0, torch.tensor([[1, 1]]), s[:1, :2]) * torch.tensor([[1., 2.], [3., 4.]]))",
                        {"x": np.zeros((2, 2)), "s": S})
    assert float(r.value) == pytest.approx(3.0 * 2.0 + 4.0 * -1.0)
    np.testing.assert_array_equal(r.gradients["x"], [[1.0, 2.0], [0.0, 0.0]])
    np.testing.assert_array_equal(r.gradients["s"][0, :2], [3.0, 4.0])


def test_command_line_scatter_add_and_hstack():
    text = "torch.hstack([x.scatter_add(0, torch.tensor([1, 1, 0]), y), y]).pow(2).sum()"
    out = run_cli("grad", text, "--x", "[1, 2]", "--y", "[0.5, -1, 3]", "-f", "json")
    assert out.exit_code == 0, out.stderr
    payload = json.loads(out.stdout)
    x, y = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in ([1.0, 2.0], [0.5, -1.0, 3.0]))
    f = torch.hstack([x.scatter_add(0, _long([1, 1, 0]), y), y]).pow(2).sum()
    f.backward()
    assert payload["value"] == pytest.approx(f.item(), rel=1e-15)
    assert payload["gradients"]["x"] == pytest.approx(x.grad.tolist(), rel=1e-15)
    assert payload["gradients"]["y"] == pytest.approx(y.grad.tolist(), rel=1e-15)


SCATTER_NAMES = {"index_select", "take_flat", "narrow", "scatter", "scatter_add", "index_add", "index_fill",
                 "repeat_interleave", "hstack", "vstack", "dstack", "column_stack", "atleast_1d", "atleast_2d",
                 "atleast_3d", "ravel", "numel", "count_nonzero"}


@pytest.mark.parametrize("stream", ["random", "integer", "kink", "nonfinite", "large"])
def test_differential_cases_of_the_family_agree_with_torch(extras_alone, stream):  # noqa: F811
    found, seen = _disagreements(extras_alone, SCATTER_NAMES, 120, (stream,))
    assert not found, "\n".join(found[:6])
    assert len(seen) >= 12
