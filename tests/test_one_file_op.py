"""An operation defined in one place gets everything the registry gives, with no other file touched.

Two operations are defined here only: cube(x), elementwise with a kink-free rule, and
l1(x) = sum(abs(x)), a reduction with a kink wherever an entry is 0. Registered by a
fixture (and removed afterwards, so no other test sees them), they get the parser,
`gradcli ops`, SymPy (`gradcli check` three ways), their words in `explain`, a kink note,
the fast paths an elementwise operation takes (diagonal Jacobians, vectorised points), the
method and prefixed spellings (x.cube(), torch.l1(x)) and the registry-wide derivative
checks of tests/test_ops.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from opchecks import check_every_sample_and_kink

from gradcli.api import functional
from gradcli.api.batch import Batch, Point, Results
from gradcli.api.evaluate import evaluate
from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import FUNCTIONS, OPS, Kink, KinkCheck, Sample, Words, primitive, register, unregister
from gradcli.lang.parser import parse
from gradcli.ops.common import F, same_shape, sympy_elementwise

L1_NOTE = ("has an entry at 0{where}, where it has no derivative: gradcli uses sign(0) = 0 there (as PyTorch's "
           "abs); any value in [-1, 1] is a subgradient")


def _l1_backward(n, g):
    # g holds one number per (batch) output: give it the input's axes, as ones, to scale sign(x).
    g = F.reshape(g, src=(), dst=(1,) * len(n.in_shapes[0]))
    return (g * F.sign(n.x),)


def _l1_sympy(sp, x):
    out = np.empty((), dtype=object)
    out[()] = sp.Add(*(sp.Abs(v) for v in x.ravel()))
    return out


@pytest.fixture
def defined_here():
    cube = primitive(
        name="cube", doc="x to the third power", signature="cube(x)", family="elementwise",
        forward=lambda x: x * x * x, backward=lambda n, g: (g * (n.x * n.x * 3.0),), shape=same_shape,
        sympy=sympy_elementwise(lambda sp, x: x ** 3), elementwise=True, words=Words(("x",), ("3*x**2",)),
        samples=(Sample(((),)), Sample(((3,),)), Sample(((2, 3),))),
    )
    l1 = primitive(
        name="l1", doc="sum of the absolute values of the entries", signature="l1(x)", family="reduction",
        forward=lambda x: np.sum(np.abs(x)), backward=_l1_backward, shape=lambda s: (), sympy=_l1_sympy,
        words=Words(("x",), vjp=("g × the sign of each entry of {x}",)),
        kinks=(Kink(([0.0, 2.0, -1.0],), ([0.0, 1.0, -1.0],), note="sign(0) = 0, as abs"),),
        kink_check=KinkCheck(lambda node: np.asarray(node.saved[0].data == 0), L1_NOTE),
        samples=(Sample(((3,),), "nonzero"), Sample(((2, 3),), "nonzero")),
    )
    yield cube, l1
    unregister(cube)
    unregister(l1)


def test_the_registry_forgets_them_afterwards(defined_here):
    cube, l1 = defined_here
    unregister(cube)
    unregister(l1)
    assert "cube" not in OPS and "cube" not in FUNCTIONS and "l1" not in OPS
    with pytest.raises(ValueError, match="not registered"):
        unregister(cube)
    register(cube)  # again, for the fixture to remove
    register(l1)


def test_the_parser_calls_them(defined_here):
    x = np.array([0.5, -2.0, 3.0])
    value = evaluate(parse("cube(x) + l1(x)"), {"x": Tensor(x)}).data
    np.testing.assert_array_equal(value, [0.125 + 5.5, -8.0 + 5.5, 27.0 + 5.5])


def test_they_are_methods_and_take_pytorch_and_numpy_prefixes(defined_here):
    x = np.array([0.5, -2.0, 3.0])
    value = evaluate(parse("(x * 2).cube() + torch.l1(x) - np.cube(x)"), {"x": Tensor(x)}).data
    np.testing.assert_array_equal(value, 7.0 * x ** 3 + 5.5)


def test_gradcli_ops_lists_them(defined_here, cli):
    entries = {e.get("name"): e for e in cli("ops", "--format", "json").json()}
    assert entries["cube"]["doc"] == "x to the third power" and entries["cube"]["family"] == "elementwise"
    assert entries["l1"]["signature"] == "l1(x)" and entries["l1"]["family"] == "reduction"
    assert "cube(x)" in cli("ops").stdout


def test_check_agrees_three_ways(defined_here, cli):
    run = cli("check", "sum(cube(x)) + l1(x*y)", "--x", "0.5,-1.2,2", "--y", "1.5", "--format", "json")
    assert run.exit_code == 0, run.stderr
    check = run.json()["check"]
    assert check["ok"] and check["sympy"]["compared"] == 4 and check["finite_difference"]["compared"] == 4
    x = np.array([0.5, -1.2, 2.0])
    assert np.allclose(run.json()["gradients"]["x"], 3 * x ** 2 + 1.5 * np.sign(x), rtol=1e-15, atol=0)


def test_explain_says_their_rules(defined_here, cli):
    run = cli("explain", "l1(cube(x))", "--x", "0.5,-2", "--format", "json")
    assert run.exit_code == 0, run.stderr
    steps = {s["op"]: s for s in run.json()["steps"] if s["phase"] == "backward"}
    (l1_input,) = steps["l1"]["inputs"]
    assert l1_input["rule"] == "∂L/∂(cube(x)) = g × the sign of each entry of (cube(x))"
    (cube_input,) = steps["cube"]["inputs"]
    assert cube_input["rule"] == "∂(cube(x))/∂x = 3*x**2"
    assert cube_input["local"] == [0.75, 12.0]
    assert cube_input["gradient"] == [0.75, -12.0]


def test_a_kink_is_noted(defined_here, cli):
    run = cli("grad", "l1(x)", "--x", "0,2,-1", "--format", "json")
    assert run.json()["gradients"] == {"x": [0.0, 1.0, -1.0]}
    notes = [line for line in run.stderr.splitlines() if line.startswith("note: ")]
    assert notes == ["note: l1(x) " + L1_NOTE.format(where=" (at 1 of 3 entries)")]
    assert "note:" not in cli("grad", "l1(x)", "--x", "1,2,-1").stderr


def test_an_elementwise_jacobian_takes_the_diagonal_path(defined_here, monkeypatch):
    x = np.array([0.5, -2.0, 3.0])
    loop = functional.jacobian("cube(x) * x", {"x": x}, method="loop").jacobian["x"]
    monkeypatch.setattr(functional, "_basis_pass", lambda *a: pytest.fail("basis pass for a diagonal Jacobian"))
    diagonal = functional.jacobian("cube(x) * x", {"x": x}).jacobian["x"]
    np.testing.assert_array_equal(diagonal, np.diag(4 * x ** 3))
    np.testing.assert_array_equal(diagonal, loop)


def test_points_of_an_elementwise_expression_are_vectorised(defined_here):
    points = [Point(i, {"x": float(v)}) for i, v in enumerate([0.5, -2.0, 3.0], 2)]
    batch = Batch("grad", "cube(x) + x", {}, None)
    assert batch.vectorise
    (together,) = batch.compute(points)
    assert isinstance(together, Results)
    np.testing.assert_array_equal(together.gradients["x"], [1.75, 13.0, 28.0])
    # a reduction whose record gives no batching rule: run at each point in turn within the one pass
    looped = Batch("grad", "l1(x)", {}, None)
    assert looped.vectorise
    (r,) = looped.compute([Point(2, {"x": np.array([1.0, -2.0])}), Point(3, {"x": np.array([-3.0, 0.5])})])
    np.testing.assert_array_equal(r.value, [3.0, 3.5])
    np.testing.assert_array_equal(r.gradients["x"], [[1.0, -1.0], [-1.0, 1.0]])


@pytest.mark.parametrize("name", ["cube", "l1"])
def test_the_registry_checks_hold(defined_here, name):
    check_every_sample_and_kink(name)


def test_an_incomplete_operation_is_refused_when_it_is_defined():
    kinked = dict(name="l1_unnoted", doc="sum(abs(x))", signature="l1_unnoted(x)", family="reduction",
                  forward=lambda x: np.sum(np.abs(x)), backward=_l1_backward, shape=lambda s: (), sympy=_l1_sympy,
                  samples=(Sample(((3,),), "nonzero"),), kinks=(Kink(([0.0],), ([0.0],)),))
    with pytest.raises(ValueError, match="documents a kink but has no kink_check"):
        primitive(**kinked)
    with pytest.raises(ValueError, match="documents no kink it fires at"):
        primitive(**{**kinked, "kinks": (), "kink_check": KinkCheck(lambda node: None, "")})
    with pytest.raises(ValueError, match="declares no test samples"):
        primitive(**{**kinked, "kinks": (), "samples": (), "public": False})
    with pytest.raises(ValueError, match="unknown sample domain 'negative'"):
        Sample(((3,),), "negative")
    with pytest.raises(ValueError, match="a plain ufunc forward is elementwise"):
        primitive(**{**kinked, "kinks": (), "forward": np.abs, "elementwise": False})
    assert "l1_unnoted" not in OPS
