"""`gradcli graph`: the engine's graph as data, and its tree, DOT, Mermaid and JSON forms.

Node values are checked by evaluating each node's own sub-expression text again, leaf
gradients against `gradcli grad` and central differences, and the DOT output is read
back with pydot, a real DOT parser.
"""

from __future__ import annotations

import re

import numpy as np
import pydot
import pytest

from gradcli.lang.parser import parse

from gradcli.api.functional import grad
from gradcli.api.problem import problem
from gradcli.analysis.graph import computation_graph
from gradcli.render.graph import dot, mermaid

# pydot's parser calls pyparsing names that newer pyparsing marks deprecated.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot.dot_parser")

VALUES = ["--x", "0.5", "--y", "3"]


def by_name(payload: dict, name: str) -> list[dict]:
    return [n for n in payload["nodes"] if n["name"] == name]


def test_a_leaf_used_twice_is_one_node_with_two_parents(cli):
    run = cli("graph", "x*y + sin(x)", *VALUES, "--format", "json")
    assert run.exit_code == 0, run.stderr
    g = run.json()
    leaves = [n for n in by_name(g, "AccumulateGrad") if n["expression"] == "x"]
    assert len(leaves) == 1
    mul, = by_name(g, "MulBackward0")
    sin, = by_name(g, "SinBackward0")
    assert sorted(leaves[0]["parents"]) == sorted([mul["id"], sin["id"]])
    assert leaves[0]["id"] in mul["inputs"] and sin["inputs"] == [leaves[0]["id"]]
    # The gradient at the leaf is the sum over both paths: y + cos(x).
    assert np.isclose(leaves[0]["grad"], 3 + np.cos(0.5))


def test_the_parser_builds_a_tree_so_repeated_calls_are_separate_nodes(cli):
    g = cli("graph", "sin(x)*sin(x)", "--x", "1", "--format", "json").json()
    assert len(by_name(g, "SinBackward0")) == 2
    x, = by_name(g, "AccumulateGrad")
    assert len(x["parents"]) == 2



def test_each_spelling_of_a_transpose_is_a_node_named_as_pytorch_names_it(cli):
    # (x.t(): TBackward0, x.transpose(0, 1) and x.mT: TransposeBackward0, x.T: PermuteBackward0, as torch's grad_fn.name())
    g = cli("graph", "sum(m.t() * m.transpose(0, 1) * m.mT * m.T)", "--m", "1,2;3,4", "--format", "json").json()
    named = {n["expression"]: n["name"] for n in g["nodes"] if n["op"] == "permute"}
    assert named == {"m.t()": "TBackward0", "m.transpose(0, 1)": "TransposeBackward0", "m.mT": "TransposeBackward0",
                     "m.T": "PermuteBackward0"}

def test_every_node_value_is_its_sub_expression_evaluated_again():
    values = {"w": np.array([1.0, -2.0]), "x": np.array([0.5, 3.0]), "b": np.array(0.25)}
    g = computation_graph(problem("sum(tanh(w*x + b)**2) / 2", values))
    assert g.output == g.nodes[-1].id
    for node in g.nodes:
        text = node.text
        used = {k: v for k, v in values.items() if re.search(rf"\b{k}\b", text)}
        expected = problem(text, used).forward()[0].data if node.op != "leaf" else values[text]
        assert np.allclose(node.value, expected), text
        assert node.shape == np.shape(expected)


def test_leaf_gradients_match_grad_and_central_differences():
    values = {"w": np.array([1.0, -2.0]), "x": np.array([0.5, 3.0])}
    expr = "mean((w*x - 1)**2) + max(w)"
    g = computation_graph(problem(expr, values))
    leaf = {n.text: n.grad for n in g.nodes if n.op == "leaf"}
    reference = grad(expr, values).gradients
    for name in values:
        assert np.allclose(leaf[name], reference[name])
    h = 1e-6
    for i in range(2):
        up, down = dict(values), dict(values)
        up["w"] = values["w"] + h * np.eye(2)[i]
        down["w"] = values["w"] - h * np.eye(2)[i]
        fd = (grad(expr, up).value - grad(expr, down).value) / (2 * h)
        assert np.isclose(leaf["w"][i], fd, atol=1e-6)


def test_intermediate_gradients_are_the_chain_rule_by_hand(cli):
    g = cli("graph", "(w*x - y)**2", "--w", "1", "--x", "2", "--y", "4", "--format", "json").json()
    grads = {n["expression"]: n["grad"] for n in g["nodes"]}
    # L = (u - y)**2 with u = w*x = 2: dL/du = 2(u - y) = -4, dL/dw = -4 * x = -8.
    assert grads == {"w": -8.0, "x": -4.0, "w*x": -4.0, "y": 4.0, "w*x - y": -4.0, "(w*x - y)**2": 1.0}
    names = {n["expression"]: n["name"] for n in g["nodes"]}
    assert names["(w*x - y)**2"] == "PowBackward0" and names["w"] == "AccumulateGrad"
    span = next(n["span"] for n in g["nodes"] if n["expression"] == "w*x - y")
    assert "(w*x - y)**2"[span[0]:span[1]] == "w*x - y"


def test_dot_output_is_read_back_by_a_dot_parser(cli):
    run = cli("graph", "x*y + sin(x)", *VALUES, "--format", "dot")
    assert run.exit_code == 0
    parsed, = pydot.graph_from_dot_data(run.stdout)
    nodes = {n.get_name(): n for n in parsed.get_nodes() if n.get_name() != "node"}  # "node" holds defaults
    edges = sorted((e.get_source(), e.get_destination()) for e in parsed.get_edges())
    g = cli("graph", "x*y + sin(x)", *VALUES, "--format", "json").json()
    assert set(nodes) == {f"n{n['id']}" for n in g["nodes"]}
    assert edges == sorted((f"n{i}", f"n{n['id']}") for n in g["nodes"] for i in n["inputs"] if i is not None)
    for n in g["nodes"]:
        label = nodes[f"n{n['id']}"].get_label().strip('"')
        assert label.split("\\n")[:2] == [n["name"], n["expression"]]


def test_dot_quotes_and_backslashes_survive():
    g = computation_graph(problem("x", {"x": 1.0}))
    g.nodes[0].text = 'a "quoted" \\ text'
    parsed, = pydot.graph_from_dot_data(dot(g))
    label = parsed.get_node("n0")[0].get_label()
    assert 'a \\"quoted\\" \\\\ text' in label


def test_mermaid_has_one_line_per_node_and_per_edge(cli):
    text = cli("graph", "x*y + sin(x)", *VALUES, "--format", "mermaid").stdout
    g = cli("graph", "x*y + sin(x)", *VALUES, "--format", "json").json()
    lines = text.strip().splitlines()
    assert lines[0] == "flowchart BT"
    declared = [re.match(r"\s+n(\d+)[\[(]", line) for line in lines[1:]]
    assert sorted(int(m.group(1)) for m in declared if m) == [n["id"] for n in g["nodes"]]
    edges = sorted(re.findall(r"n(\d+) --> n(\d+)", text))
    assert edges == sorted((str(i), str(n["id"])) for n in g["nodes"] for i in n["inputs"] if i is not None)
    assert '"' not in "".join(line.split('"', 1)[1].rsplit('"', 1)[0] for line in lines[1:] if '"' in line)


def test_mermaid_escapes_what_would_end_a_label():
    g = computation_graph(problem("x", {"x": 1.0}))
    g.nodes[0].text = 'a "b" <c>'
    assert '#quot;b#quot; #lt;c#gt;' in mermaid(g)


def test_json_nodes_carry_every_field(cli):
    g = cli("graph", "sum(W @ x)", "--W", "1,2;3,4", "--x", "1,1", "--wrt", "x", "--format", "json").json()
    assert g["expression"] == "sum(W @ x)" and g["value"] == 10.0
    assert [n["id"] for n in g["nodes"]] == list(range(len(g["nodes"])))
    for n in g["nodes"]:
        assert set(n) == {"id", "name", "op", "span", "expression", "shape", "inputs", "parents", "value", "grad"}
    out = g["nodes"][g["output"]]
    assert out["name"] == "SumBackward0" and out["parents"] == []
    x, = by_name(g, "AccumulateGrad")
    assert x["expression"] == "x" and x["grad"] == [4.0, 6.0]  # sum(W @ x) -> Wᵀ·1
    # W does not require grad: the matmul node has no edge for it, as next_functions has None.
    mv = next(n for n in g["nodes"] if n["expression"] == "W @ x")
    assert mv["inputs"] == [None, x["id"]]


def test_a_non_scalar_output_needs_grad_output_for_gradients(cli):
    g = cli("graph", "x*2", "--x", "1,2", "--format", "json").json()
    assert all(n["grad"] is None for n in g["nodes"])
    g = cli("graph", "x*2", "--x", "1,2", "--grad-output", "1,3", "--format", "json").json()
    assert by_name(g, "AccumulateGrad")[0]["grad"] == [2.0, 6.0]


def test_the_tree_on_the_terminal(cli):
    run = cli("graph", "x*x + y", "--x", "3", "--y", "1")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0].startswith("#3 AddBackward0  x*x + y")
    assert "grad 6.0" in lines[2] and "shown above" in lines[3]


def test_an_output_no_variable_reaches_is_said_plainly(cli):
    run = cli("graph", "detach(x) * 2", "--x", "3")
    assert run.exit_code == 0
    assert "no variable with a gradient reaches the output" in run.stdout


def test_long_sub_expressions_are_shortened_in_labels_but_not_in_json(cli):
    expr = "+".join(["x"] * 200)
    parsed, = pydot.graph_from_dot_data(cli("graph", expr, "--x", "1", "--format", "dot").stdout)
    root = parsed.get_node("n199")[0].get_label().strip('"').split("\\n")
    assert len(root[1]) == 59 and "…" in root[1]
    assert cli("graph", expr, "--x", "1", "--format", "json").json()["nodes"][-1]["expression"] == expr


def test_without_values_the_graph_shows_its_structure_only(cli):
    g = cli("graph", "sin(x)*y + x", "--format", "json").json()
    assert [n["name"] for n in g["nodes"]] == ["AccumulateGrad", "SinBackward0", "AccumulateGrad",
                                               "MulBackward0", "AddBackward0"]
    assert all(n["value"] is None and n["grad"] is None and n["shape"] is None for n in g["nodes"])
    x = g["nodes"][0]
    assert x["expression"] == "x" and sorted(x["parents"]) == [1, 4]
    tree = cli("graph", "sin(x)*y + x").stdout
    assert "SinBackward0  sin(x)\n" in tree and "value" not in tree


def test_without_values_a_shape_dependent_graph_asks_for_them(cli):
    run = cli("graph", "x[1]*2")
    assert run.exit_code == 2
    assert "give --x VALUE, the graph depends on their shapes" in run.stderr
    assert run.stderr.splitlines()[1:] == ["  x[1]*2", "  ^~~~"]


@pytest.mark.parametrize("source,text", [
    ("(w*x - y)**2", "(w*x - y)**2"),
    ("2*(x+1)", "2*(x+1)"),
    ("((a+b))*c", "((a+b))*c"),
    ("x[0]*(y)", "x[0]*(y)"),
    ("-(x).T", "-(x).T"),
])
def test_the_root_span_reaches_the_brackets_of_its_operands(source, text):
    root = parse(source)
    assert source[root.span[0]:root.span[1]] == text
