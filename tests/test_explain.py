"""`gradcli explain`, `jacobian --explain` and the kink notes of `gradcli grad`.

The worked example's numbers are asserted step by step; every elementwise rule's words
are checked to be the engine's own rule (upstream × local = the cotangent the engine
passes); gradients and Jacobian rows are compared with `gradcli grad`/`jacobian`.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from gradcli.autodiff.engine import Tensor, call, sum_to
from gradcli.api.evaluate import evaluate
from gradcli.analysis.rule_words import GENERIC_WORDS, words_of
from gradcli.ops import OPS
from gradcli.lang.parser import parse

WORKED = ["(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4", "--wrt", "w"]


def explain_json(cli, *args):
    run = cli("explain", *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return run.json()


def phase(payload, name):
    return [s for s in payload["steps"] if s["phase"] == name]


def test_worked_example_steps(cli):
    e = explain_json(cli, *WORKED)
    forward = {s["expression"]: s["value"] for s in phase(e, "forward")}
    assert forward == {"w": 1.0, "x": 2.0, "y": 4.0, "w*x": 2.0, "w*x - y": -2.0, "(w*x - y)**2": 4.0}
    pow_, sub, mul = phase(e, "backward")
    assert (pow_["node"], sub["node"], mul["node"]) == ("PowBackward0", "SubBackward0", "MulBackward0")
    # dL/dy_pred = 2(y_pred - y) = -4 reaches the prediction w*x ...
    assert pow_["upstream"] == 1.0
    assert pow_["inputs"][0]["rule"] == "∂((w*x - y)**2)/∂(w*x - y) = 2*(w*x - y)"
    assert pow_["inputs"][0]["local"] == -4.0 and pow_["inputs"][0]["gradient"] == -4.0
    assert sub["inputs"] == [{"expression": "w*x", "rule": "∂(w*x - y)/∂(w*x) = 1", "local": 1.0,
                              "gradient": -4.0, "summed": False}]
    # ... and dy_pred/dw = x = 2 makes dL/dw = -8.
    assert mul["upstream"] == -4.0
    assert mul["inputs"] == [{"expression": "w", "rule": "∂(w*x)/∂w = x", "local": 2.0, "gradient": -8.0,
                              "summed": False}]
    assert e["gradients"] == {"w": -8.0}
    assert e["gradients"] == cli("grad", *WORKED, "--format", "json").json()["gradients"]


def test_worked_example_reads_naturally(cli):
    text = cli("explain", *WORKED).stdout
    for line in ("(w*x - y)**2 = (-2.0)**2 = 4.0", "w*x          = 1.0*2.0 = 2.0",
                 "∂((w*x - y)**2)/∂(w*x - y) = 2*(w*x - y) = -4.0", "∂L/∂(w*x) = -4.0 × 1.0 = -4.0",
                 "∂(w*x)/∂w = x = 2.0", "∂L/∂w = -4.0 × 2.0 = -8.0"):
        assert line in text, line
    assert text.rstrip().endswith("∂L/∂w = -8.0")


def test_a_leaf_reached_by_several_paths_shows_the_addition(cli):
    e = explain_json(cli, "x*x + sin(x)", "--x", "2")
    acc, = phase(e, "accumulate")
    assert sorted(acc["terms"]) == pytest.approx(sorted([2.0, 2.0, np.cos(2.0)]))
    assert acc["gradient"] == pytest.approx(4 + np.cos(2.0))
    assert sorted(acc["from"]) == ["sin(x)", "x*x", "x*x"]
    assert "∂L/∂x = " in cli("explain", "x*x + sin(x)", "--x", "2").stdout
    assert e["gradients"] == cli("grad", "x*x + sin(x)", "--x", "2", "--format", "json").json()["gradients"]


def test_backward_steps_follow_the_engine_and_end_with_grads_answer(cli):
    args = ["sum(softmax(W @ x) * y)", "--W", "1,-1;0.5,2", "--x", "0.3,-0.7", "--y", "1,2"]
    e = explain_json(cli, *args)
    reference = cli("grad", *args, "--format", "json").json()["gradients"]
    assert e["gradients"].keys() == reference.keys()
    for name in reference:
        assert np.allclose(e["gradients"][name], reference[name])
    # Every node's upstream is the sum of what its consumers passed to it.
    passed = {}
    for step in phase(e, "backward"):
        if step["expression"] in passed:
            assert np.allclose(step["upstream"], sum(np.asarray(t) for t in passed.pop(step["expression"])))
        for x in step["inputs"]:
            passed.setdefault(x["expression"], []).append(x["gradient"])


def elementwise_cases():
    for name, op in OPS.items():
        if op.words is not None and op.words.local:
            for i in range(len(op.samples)):
                yield name, i


@pytest.mark.parametrize("name,index", list(elementwise_cases()))
def test_local_rule_words_are_the_engines_rule(name, index):
    op = OPS[name]
    rule, sample = op.words, op.samples[index]
    rng = np.random.default_rng(zlib.crc32(f"rule/{name}/{index}".encode()))
    arrays = sample.draw(rng)
    inputs = [Tensor(a, requires_grad=d != "mask") for a, d in zip(arrays, sample.domains())]
    out = call(op, *inputs, **sample.params)
    g = rng.standard_normal(out.shape)
    cotangents = out.grad_fn.op.backward(out.grad_fn, Tensor(g))
    env = {a: Tensor(v) for a, v in zip(rule.args, arrays)} | {"out": Tensor(out.data)}
    for i, (formula, ct) in enumerate(zip(rule.local, cotangents)):
        if formula is None or ct is None:
            continue
        local = evaluate(parse(formula), env).data
        expected = np.broadcast_to(g * local, np.broadcast_shapes(out.shape, np.shape(ct)))
        got = np.asarray(ct.data if isinstance(ct, Tensor) else ct)
        if got.shape != inputs[i].shape:
            got = sum_to(Tensor(got), inputs[i].shape, 0).data
        if expected.shape != inputs[i].shape:  # a rule may sum a broadcast input's share itself
            expected = sum_to(Tensor(expected), inputs[i].shape, 0).data
        assert np.allclose(got, expected), (name, formula)


def test_every_public_primitive_has_its_rule_in_words():
    missing = [op.name for op in OPS.values()
               if op.public and op.is_primitive and op.differentiable and op.words is None]
    assert missing == []
    for op in OPS.values():  # words name every input, and say one thing per input
        if op.words is not None and op.arity is not None:
            assert len(op.words.args) == op.arity, op.name
            assert len(op.words.local or op.words.vjp) == op.arity, op.name


def test_words_for_any_number_of_inputs_and_for_an_operation_without_words():
    items = [Tensor(np.array([1.0, 2.0]), requires_grad=True) for _ in range(3)]
    stacked = call("stack", *items, item_ndim=1).grad_fn
    assert words_of(stacked).args == ("x0", "x1", "x2")
    assert words_of(stacked).vjp == ("g[0]", "g[1]", "g[2]")
    matrix = Tensor(np.array([[2.0, 1.0], [1.0, 3.0]]), requires_grad=True)
    cofactor = call("cofactor", matrix).grad_fn
    assert OPS["cofactor"].words is None
    assert words_of(cofactor).vjp == (GENERIC_WORDS.format(op="cofactor"),)


KINKS = [  # expression, values at the kink, values away from it, the rule named, gradients at the kink
    ("abs(x)", ["--x", "0"], ["--x", "0.5"], "sign(0) = 0", {"x": 0.0}),
    ("relu(x)", ["--x", "0"], ["--x", "-0.5"], "relu'(0) = 0", {"x": 0.0}),
    ("maximum(x, y)", ["--x", "2", "--y", "2"], ["--x", "2", "--y", "3"], "half the gradient", {"x": 0.5, "y": 0.5}),
    ("max(x)", ["--x", "1,3,3"], ["--x", "1,3,2"], "share the gradient evenly", {"x": [0.0, 0.5, 0.5]}),
    ("clip(x, 0, 1)", ["--x", "1"], ["--x", "0.5"], "gets the gradient 1 there", {"x": 1.0}),
    ("norm(x)", ["--x", "0,0"], ["--x", "0,1"], "gradient 0", {"x": [0.0, 0.0]}),
    ("x**0", ["--x", "0"], ["--x", "1"], "d/dx x**0 = 0", {"x": 0.0}),
    ("std(x)", ["--x", "2,2,2"], ["--x", "1,2,2"], "gradient 0", {"x": [0.0, 0.0, 0.0]}),
]


@pytest.mark.parametrize("expr,values,away,rule,gradients", KINKS)
def test_grad_notes_a_kink_in_one_line(cli, expr, values, away, rule, gradients):
    run = cli("grad", expr, *values, "--format", "json")
    assert run.exit_code == 0
    assert run.json()["gradients"] == gradients
    note, = [line for line in run.stderr.splitlines() if line.startswith("note: ")]
    assert note.startswith(f"note: {expr} ") and rule in note
    explained = explain_json(cli, expr, *values)
    assert explained["notes"] == [note.removeprefix("note: ")]
    assert "note:" not in cli("grad", expr, *away).stderr


def test_the_where_trap_is_recognised_and_its_rewrite_works(cli):
    e = explain_json(cli, "where(x > 0, sqrt(x), 0)", "--x", "0")
    bad = e["nonfinite"]
    assert bad["phase"] == "backward" and bad["expression"] == "sqrt(x)"
    assert "where(x > 0, sqrt(x), 0)"[slice(*bad["span"])] == "sqrt(x)"
    assert "the where trap" in bad["where_trap"]
    assert "sqrt(where(x > 0, x, 1))" in bad["where_trap"]
    assert e["gradients"] == {"x": "nan"}
    fixed = cli("grad", "where(x > 0, sqrt(where(x > 0, x, 1)), 0)", "--x", "0", "--format", "json")
    assert fixed.json()["gradients"] == {"x": 0.0}
    text = cli("explain", "where(x > 0, sqrt(x), 0)", "--x", "0").stdout.splitlines()
    caret = text.index("  where(x > 0, sqrt(x), 0)")
    assert text[caret + 1] == "               ^~~~~~~"


def test_a_nan_without_where_is_not_called_a_trap(cli):
    e = explain_json(cli, "sqrt(x) * 1", "--x", "0")
    assert e["nonfinite"]["expression"] == "sqrt(x)"
    assert "where_trap" not in e["nonfinite"]


def test_the_first_non_finite_value_is_marked(cli):
    e = explain_json(cli, "exp(log(x) * 2) + 1", "--x", "0")
    bad = e["nonfinite"]
    assert bad["phase"] == "forward" and bad["expression"] == "log(x)" and "-inf" in bad["message"]
    text = cli("explain", "exp(log(x) * 2) + 1", "--x", "0").stdout
    assert "  exp(log(x) * 2) + 1\n      ^~~~~~" in text


def test_grad_output_shows_the_rows_it_combines(cli):
    args = ["[m[0]**2, m[1]**3 * m[0]]", "--m", "2,3"]
    e = explain_json(cli, *args, "--grad-output", "1,2")
    vjp = cli("grad", *args, "--grad-output", "1,2", "--format", "json").json()["gradients"]
    assert e["gradients"] == vjp
    jac = np.array(cli("jacobian", *args, "--format", "json").json()["jacobian"]["m"])
    rows = e["rows"]
    assert [r["seed"] for r in rows] == [[1.0, 0.0], [0.0, 1.0]]
    assert np.allclose([r["gradients"]["m"] for r in rows], jac)
    assert np.allclose(1 * jac[0] + 2 * jac[1], vjp["m"])


def test_jacobian_explain_rows_are_the_jacobian(cli):
    args = ["tanh(W @ x) * x", "--W", "1,2;0,-1", "--x", "0.5,-0.25"]
    run = cli("jacobian", *args, "--explain", "--format", "json")
    assert run.exit_code == 0, run.stderr
    rows = run.json()["rows"]
    reference = cli("jacobian", *args, "--format", "json").json()["jacobian"]
    for name in ("W", "x"):
        assert np.allclose(np.stack([r["gradients"][name] for r in rows]), reference[name])
    assert [r["seed"] for r in rows] == [[1.0, 0.0], [0.0, 1.0]]
    assert all(r["steps"][0]["upstream"] == r["seed"] for r in rows)
    text = cli("jacobian", *args, "--explain").stdout
    assert "Row 0: backward([1.0, 0.0])" in text and "Row 1: backward([0.0, 1.0])" in text


def test_a_non_scalar_output_without_grad_output_says_what_to_do(cli):
    run = cli("explain", "x*2", "--x", "1,2")
    assert run.exit_code == 2
    assert "--grad-output" in run.stderr


def test_a_non_finite_value_the_result_does_not_use_is_said_to_be_unused(cli):
    e = explain_json(cli, "where(x > 0, log(x), 0)", "--x", "-1")
    assert e["value"] == 0.0 and e["gradients"] == {"x": 0.0}
    assert e["nonfinite"]["expression"] == "log(x)"
    assert "the result stays finite" in e["nonfinite"]["message"]
