"""Python's syntax in the language and PyTorch's calling conventions, and `gradcli ops NAME`.

Trees are compared with Python's own parser (the grouping of if/else, or, and, not,
comparisons, % and //), numbers and gradients with PyTorch through the real command line
(skipped without torch), and every function's example from `gradcli ops NAME` is run.
"""

from __future__ import annotations

import ast
import shlex

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.autodiff.op import OPS
from gradcli.errors import GradcliError
from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr, unparse
from gradcli.lang.tokens import tokenize

# -- the grammar, against Python's ---------------------------------------------------------
PY_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floor_divide",
             ast.Mod: "remainder", ast.Pow: "pow", ast.MatMult: "matmul"}
PY_COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}


def python_sexpr(node: ast.AST) -> str:
    """The S-expression gradcli should build, read from Python's own tree of the same text."""
    if isinstance(node, ast.Expression):
        return python_sexpr(node.body)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return str(int(node.value)) if float(node.value).is_integer() else repr(float(node.value))
    if isinstance(node, ast.BinOp):
        return f"({PY_BINARY[type(node.op)]} {python_sexpr(node.left)} {python_sexpr(node.right)})"
    if isinstance(node, ast.UnaryOp):
        word = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not"}[type(node.op)]
        return f"({word} {python_sexpr(node.operand)})"
    if isinstance(node, ast.Compare):
        (op,), (right,) = node.ops, node.comparators
        return f"({PY_COMPARE[type(op)]} {python_sexpr(node.left)} {python_sexpr(right)})"
    if isinstance(node, ast.BoolOp):  # Python keeps a and b and c as one node: gradcli nests to the left
        word = "logical_and" if isinstance(node.op, ast.And) else "logical_or"
        out = python_sexpr(node.values[0])
        for value in node.values[1:]:
            out = f"({word} {out} {python_sexpr(value)})"
        return out
    if isinstance(node, ast.IfExp):
        return f"(where {python_sexpr(node.test)} {python_sexpr(node.body)} {python_sexpr(node.orelse)})"
    raise AssertionError(ast.dump(node))


@pytest.mark.parametrize("text", [
    "a if c else b", "a if c else b if d else e", "(a if c else b) if d else e", "a + 1 if c > 0 else b * 2",
    "x % 3 // 2", "x // 2 ** 3", "-x % 2", "x * y % z", "a - b // c",
    "not x > 0 and y < 1 or z", "a or b and c", "not a or not b", "a and b and c", "not not a",
    "a if b or c else not d", "x > 0 and x < 1 if m else y", "-x ** 2 % 3", "x @ y % 2",
])
def test_grouping_is_pythons(text):
    assert sexpr(parse(text)) == python_sexpr(ast.parse(text, mode="eval"))


@pytest.mark.parametrize("text,tree,canonical", [
    ("x[None]", "(index x None)", "x[None]"),
    ("x[..., 0]", "(index x ... 0)", "x[..., 0]"),
    ("W[[0, 2]]", "(index W (list 0 2))", "W[[0, 2]]"),
    ("x[x > 0]", "(index x (gt x 0))", "x[x > 0]"),
    ("x.shape[0]", "(index (shape x) 0)", "x.shape[0]"),
    ("len(x)", "(len x)", "len(x)"),
    ("1_000 + 0x10 + 0XfF", "(add (add 1000 16) 255)", "1_000 + 0x10 + 0XfF"),
    ("1_0.2_5e1_0", "102500000000", "1_0.2_5e1_0"),
    ("(x if c else y) ** 2", "(pow (where c x y) 2)", "(x if c else y)**2"),
    ("-(not m)", "(neg (not m))", "-(not m)"),
])
def test_new_forms_parse_and_print_back(text, tree, canonical):
    assert sexpr(parse(text)) == tree
    assert unparse(parse(text)) == canonical


@pytest.mark.parametrize("text,message,span", [
    ("x if c", "expected 'else' but found the end of the expression (to finish the 'if' at column 3)", (6, 6)),
    ("x * not y", "put 'not ...' in brackets here, as in x * (not m)", (4, 7)),
    ("a < b < c", "comparisons cannot be chained: combine masks with and, as in a < b and b < c", (6, 7)),
    ("None + x", "None has no value: it adds an axis in an index, as in x[None], and leaves out an argument of a "
                 "call, as in F.linear(x, w, None)", (0, 4)),
    ("sin(None + x)", "None has no value: it adds an axis in an index, as in x[None], and leaves out an argument of a "
                      "call, as in F.linear(x, w, None)", (4, 8)),
    ("x else y", "unexpected 'else'", (2, 6)),
    ("if + 1", "unexpected 'if'", (0, 2)),
    ("1__0", "unexpected '__0'", (1, 4)),
])
def test_syntax_errors_name_the_mistake_and_point_at_it(text, message, span):
    with pytest.raises(GradcliError) as info:
        parse(text)
    assert (info.value.message, info.value.span) == (message, span)


@pytest.mark.parametrize("text,texts,starts,lines", [
    # digits grouped by single underscores are one number; a lone trailing _ is a name of its own
    ("1_2_3 + 4_", ["1_2_3", "+", "4", "_", ""], [0, 6, 8, 9, 10], set()),
    # an exponent needs digits: 2e+ is the number 2, the name e and a plus
    ("2e+ x", ["2", "e", "+", "x", ""], [0, 1, 2, 4, 5], set()),
    (".5e-3_0*1.", [".5e-3_0", "*", "1.", ""], [0, 7, 8, 10], set()),
    # spaces and comments in any order before a token, and a comment at the very end
    ("x # one\n  # two\n\t+ y # end", ["x", "+", "y", ""], [0, 17, 19, 26], {1}),
    ("(x #a\n+ y)", ["(", "x", "+", "y", ")", ""], [0, 1, 6, 8, 9, 10], set()),
])
def test_tokens_and_where_each_starts(text, texts, starts, lines):
    assert tokenize(text) == (texts, starts, lines)


WORDS = ["+", "-", "*", "/", "//", "%", "**", "<", "==", "and", "or"]
ATOMS = st.sampled_from(["x", "y", "m", "2", "0.5", "1_000", "0x1F"])


def _combine(children):
    binary = st.tuples(children, st.sampled_from(WORDS), children)
    return st.one_of(
        binary.map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"({c})[None, ..., 0]"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(ATOMS, _combine, max_leaves=10))
def test_random_text_groups_as_python_and_prints_back(text):
    try:
        tree = parse(text)
    except GradcliError as err:
        # Chained comparisons Python reads and gradcli refuses on purpose; anything else Python refuses too.
        if "cannot be chained" not in err.message:
            with pytest.raises(SyntaxError):
                ast.parse(text, mode="eval")
        return
    assert sexpr(parse(unparse(tree))) == sexpr(tree)
    if "[" not in text and "**" not in text:  # indexing has no twin above; ** meets unary minus as Python's
        assert sexpr(tree) == python_sexpr(ast.parse(text, mode="eval"))


# -- values and gradients through the command line, against PyTorch ----------------------------
def grads(cli, expr: str, **values: str) -> tuple[object, dict]:
    args = ["grad", expr, "--format", "json"]
    for name, v in values.items():
        args += [f"--{name}", v]
    run = cli(*args)
    assert run.exit_code == 0, run.stderr
    out = run.json()
    return out["value"], {k: np.array(g, dtype=float) for k, g in out["gradients"].items()}


def torch_grads(fn, **values):
    torch = pytest.importorskip("torch")
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    out = fn(torch, **leaves)
    out.backward()
    return out.item(), {k: t.grad.numpy() for k, t in leaves.items()}


def assert_as_torch(cli, expr: str, fn, **values) -> None:
    value, got = grads(cli, expr, **{k: str(v) for k, v in values.items()})
    want_value, want = torch_grads(fn, **values)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=0)


A = [5.5, -5.5, 3.0, -3.0, 0.25, 7.0]
B = [2.0, 2.0, -1.5, 1.5, -1.0, 3.5]  # a / b whole at the 3rd, 4th and 6th entries: the jumps


def test_remainder_is_torchs_with_its_gradients_at_the_jumps_too(cli):
    assert_as_torch(cli, "sum(a % b * [1, 2, 3, 4, 5, 6])",
                    lambda t, a, b: (t.remainder(a, b) * t.arange(1.0, 7.0, dtype=t.float64)).sum(), a=A, b=B)


def test_floor_division_is_torchs_and_passes_no_gradient(cli):
    value, got = grads(cli, "sum(a // b) + sum(a)", a=str(A), b=str(B))
    torch = pytest.importorskip("torch")
    assert value == torch.floor_divide(torch.tensor(A), torch.tensor(B)).sum().item() + sum(A)
    np.testing.assert_array_equal(got["a"], np.ones(6))
    np.testing.assert_array_equal(got["b"], np.zeros(6))


def test_a_conditional_is_where_and_masks_each_branchs_gradient(cli):
    x = [-2.0, -0.5, 0.0, 1.5, 3.0]
    assert_as_torch(cli, "sum(x**3 if x > 0 else -x * 2)",
                    lambda t, x: t.where(x > 0, x ** 3, -x * 2).sum(), x=x)
    assert_as_torch(cli, "sum(x if x < -1 else x**2 if x < 1 else 3*x)",
                    lambda t, x: t.where(x < -1, x, t.where(x < 1, x ** 2, 3 * x)).sum(), x=x)


def test_the_where_trap_of_a_conditional_is_explained(cli):
    run = cli("explain", "sum(sqrt(x) if x > 0 else 0*x)", "--x", "[0, 4]")
    assert run.exit_code == 0
    assert "the where trap" in run.stdout and "sqrt(x)" in run.stdout
    _, got = grads(cli, "sum(sqrt(x) if x > 0 else 0*x)", x="[0, 4]")
    assert np.isnan(got["x"][0]) and got["x"][1] == 0.25  # as torch.where gives: nan from 0 * inf


def test_and_or_not_combine_masks(cli):
    x = "[-2, -0.5, 0, 0.5, 2]"
    for expr, mask in [("x > -1 and x < 1", [0, 1, 1, 1, 0]), ("x < -1 or x > 1", [1, 0, 0, 0, 1]),
                       ("not x > 0", [1, 1, 1, 0, 0]), ("not x", [0, 0, 1, 0, 0]),
                       ("x < 0 or x > 0 and x < 1", [1, 1, 0, 1, 0])]:
        value, got = grads(cli, f"sum(x * ({expr}) * [1, 10, 100, 1000, 10000])", x=x)
        np.testing.assert_array_equal(got["x"], np.array(mask) * [1, 10, 100, 1000, 10000], err_msg=expr)


def test_python_number_literals(cli):
    value, got = grads(cli, "1_000 * x + 0x10 + 1_0.5", x="2")
    assert value == 2026.5 and got["x"] == 1000.0
    assert parse("0x" + "F" * 300).value == float("inf") == parse("1" * 400).value  # overflows as 1e999 does


def test_a_new_axis_and_an_ellipsis_as_numpy(cli):
    w = np.arange(24.0).reshape(2, 3, 4) / 10
    assert_as_torch(cli, "sum(W[..., 1] * W[None, 0, :, 2:3].T[..., 0, 0])",
                    lambda t, W: (W[..., 1] * W[None, 0, :, 2:3].permute(2, 1, 0)[..., 0, 0]).sum(), W=w.tolist())
    run = cli("jacobian", "x[None, :, None]", "--x", "[1, 2]", "--format", "json")
    assert np.array(run.json()["value"]).shape == (1, 2, 1)


def test_an_array_of_indices_scatters_back_and_adds_repeats(cli):
    w = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
    assert_as_torch(cli, "sum(W[[0, 2, 2, -1]] ** 2)", lambda t, W: (W[[0, 2, 2, -1]] ** 2).sum(), W=w)
    assert_as_torch(cli, "sum(W[:, [1, 1]] @ [1, 2])",
                    lambda t, W: (W[:, [1, 1]] @ t.tensor([1.0, 2.0], dtype=t.float64)).sum(), W=w)
    assert_as_torch(cli, "sum(W[[[0, 1], [1, 1]]] ** 3)", lambda t, W: (W[t.tensor([[0, 1], [1, 1]])] ** 3).sum(), W=w)


def test_a_mask_selects_a_vector_and_scatters_back(cli):
    x = [[-1.0, 2.0, 0.5], [3.0, -4.0, 0.0]]
    assert_as_torch(cli, "sum(x[x > 0] ** 2) + len(x[x > 0])", lambda t, x: (x[x > 0] ** 2).sum() + 3, x=x)
    assert_as_torch(cli, "sum(x[x[:, 0] > 0] ** 3)", lambda t, x: (x[x[:, 0] > 0] ** 3).sum(), x=x)
    assert_as_torch(cli, "sum(x[(x > 0) and (x < 3)] * 10)", lambda t, x: (x[(x > 0) & (x < 3)] * 10).sum(), x=x)


def test_second_derivatives_through_indices_and_masks(cli):
    torch = pytest.importorskip("torch")
    w = [0.5, -1.0, 2.0]
    run = cli("hessian", "sum(w[[0, 2, 2]] ** 3) + sum(w[w > 0] ** 2)", "--w", str(w), "--format", "json")
    got = np.array(run.json()["hessian"]["w"]["w"])
    want = torch.autograd.functional.hessian(
        lambda w: (w[[0, 2, 2]] ** 3).sum() + (w[w > 0] ** 2).sum(), torch.tensor(w, dtype=torch.float64))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)


def test_len_and_shape_are_constants(cli):
    value, got = grads(cli, "len(W) * sum(W) + W.shape[1] * W.shape[-1] + sum(zeros(W.shape))",
                       W="[[1, 2, 3], [4, 5, 6]]")
    assert value == 2 * 21 + 3 * 3 and np.all(got["W"] == 2.0)


def assert_refused(cli, expr: str, message: str, span: tuple[int, int], x: str) -> None:
    """The command exits 2 with the message, and its caret line underlines span of expr."""
    run = cli("grad", expr, "--x", x)
    assert run.exit_code == 2
    first, echoed, carets = run.stderr.splitlines()[:3]
    assert first == f"error: {message}" and echoed == f"  {expr}"
    start = carets.index("^") - 2
    assert (start, start + len(carets.strip())) == span


@pytest.mark.parametrize("expr,message,span", [
    ("len(2) + sum(x)", "len() of a number: it has no axis (len(x) is x.shape[0])", (0, 6)),
    ("torch.max(x).values", ".values takes apart what torch.max(x, dim) or x.max(dim) gives (min too), the pair "
     "(values, indices), as in PyTorch; this value has no .values", (0, 19)),
    ("sum(x.shape)", "a tuple or slice cannot be used as a value here", (0, 12)),
    ("sum(x[[0.5]])", "an array of indices must hold whole numbers (a mask is written as one: x[x > 0])", (6, 11)),
    ("sum(x[[0, 3]])", "index 3 is out of range for axis 0 of size 3", (6, 12)),
    ("sum(x[..., ...])", "an index can have only one '...'", (4, 15)),
    ("sum(x[x > 0, 0])", "too many indices (2) for a value of shape (3,)", (4, 15)),
    ("sum(x[x[:2] > 0])", "a mask of shape (2,) cannot select from a value of shape (3,): its shape must be (3,)",
     (6, 15)),
])
def test_index_errors_say_what_is_wrong(cli, expr, message, span):
    assert_refused(cli, expr, message, span, x="[1, 2, 3]")


# -- calling conventions ---------------------------------------------------------------------
def test_max_and_min_of_two_arrays_are_maximum_and_minimum(cli):
    a, b = [1.0, 5.0, -2.0], [3.0, 5.0, -4.0]
    assert_as_torch(cli, "sum(max(a, b) * [1, 2, 3]) + sum(torch.min(a, b))",
                    lambda t, a, b: (t.max(a, b) * t.tensor([1.0, 2.0, 3.0], dtype=t.float64)).sum()
                    + t.min(a, b).sum(), a=a, b=b)


def test_max_with_dim_gives_torchs_values_and_a_number_is_an_axis(cli):
    w = [[1.0, 7.0, 3.0], [4.0, 2.0, 6.0]]
    assert_as_torch(cli, "sum(W.max(dim=0) * [1, 2, 3]) + sum(max(W, 1) * [10, 20]) + sum(torch.min(W, -1))",
                    lambda t, W: (t.max(W, dim=0).values * t.tensor([1.0, 2.0, 3.0], dtype=t.float64)).sum()
                    + (t.max(W, 1).values * t.tensor([10.0, 20.0], dtype=t.float64)).sum()
                    + t.min(W, -1).values.sum(), W=w)


def test_max_with_dim_taken_apart_as_torchs_pair(cli):
    # torch.max(W, 0)[0] is the values (it was values[0], a row of them: 4 where torch gives 9);
    # [1] and .indices are the indices, constants.
    w = [[1.0, 7.0, 3.0], [4.0, 2.0, 6.0]]
    assert_as_torch(cli, "sum(torch.max(W, 0)[0] * [1, 2, 3]) + W.max(dim=1).values.sum() * W.min(1)[1].sum()"
                    " + sum(torch.min(W, -1, keepdim=True).values) + W.max(dim=1)[0][1] + sum(W.max(0)[-1])",
                    lambda t, W: (t.max(W, 0)[0] * t.tensor([1.0, 2.0, 3.0], dtype=t.float64)).sum()
                    + W.max(dim=1).values.sum() * W.min(1)[1].sum() + t.min(W, -1, keepdim=True).values.sum()
                    + W.max(dim=1)[0][1] + W.max(0)[-1].sum(), W=w)
    value, _ = grads(cli, "sum(W.max(0).indices * [1, 10, 100]) + sum(W.argmin(1))", W=str(w))
    assert value == 1 * 1 + 0 * 10 + 1 * 100 + 0 + 1


def test_gather_takes_torchs_argument_order_and_picks_each_rows_class(cli):
    # torch.gather(x, dim, index): the dim between the inputs, by position or by name, either order.
    w = [[1.0, 7.0, 3.0], [4.0, 2.0, 6.0]]
    index = "torch.tensor([[0, 0], [2, 1]])"
    assert_as_torch(cli, f"sum(torch.gather(W, 1, {index}) * [[1, 2], [3, 4]]) + W.gather(0, tensor([[1, 0, 1]])).sum()"
                    f" + torch.gather(W, index={index}, dim=1).sum() + gather(W, {index}, dim=-1)[1, 0]",
                    lambda t, W: (t.gather(W, 1, t.tensor([[0, 0], [2, 1]])) * t.tensor([[1.0, 2], [3, 4]],
                                                                                      dtype=t.float64)).sum()
                    + W.gather(0, t.tensor([[1, 0, 1]])).sum() + t.gather(W, 1, t.tensor([[0, 0], [2, 1]])).sum()
                    + t.gather(W, -1, t.tensor([[0, 0], [2, 1]]))[1, 0], W=w)
    # The negative log-likelihood written with gather is cross_entropy, in value and gradient.
    z = [[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]]
    picked = grads(cli, "-(F.log_softmax(z, dim=1).gather(1, t[:, None])).mean()", z=str(z), t="2,0")
    whole = grads(cli, "F.cross_entropy(z, t)", z=str(z), t="2,0")
    np.testing.assert_allclose(picked[0], whole[0], rtol=1e-15)
    np.testing.assert_allclose(picked[1]["z"], whole[1]["z"], rtol=1e-15)
    assert picked[1]["t"].tolist() == [0.0, 0.0]


def test_linear_is_torchs_with_a_bias_and_without(cli):
    x, w, b = [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], [0.1, -0.2]
    assert_as_torch(cli, "sum(F.linear(x, W, b) * [[1, 2], [3, 4]]) + sum(torch.nn.functional.linear(x, W) ** 2)",
                    lambda t, x, W, b: (t.nn.functional.linear(x, W, b) * t.tensor([[1.0, 2], [3, 4]],
                                                                                    dtype=t.float64)).sum()
                    + (t.nn.functional.linear(x, W) ** 2).sum(), x=x, W=w, b=b)


@pytest.mark.parametrize("expr,message,span", [
    ("sum(softmax(x, 0, axis=0))", "softmax() got two values for axis", (4, 25)),
    ("sum(clip(x, 0, 1, 2))", "clip() takes 3 arguments (x, min, max), not 4", (4, 20)),
    ("sum(where(x > 0, x))", "where() is missing b: it takes cond, a, b", (4, 19)),
    ("mse_loss(x)", "mse_loss() is missing target: it takes input, target, reduction=", (0, 11)),
    ("sum(x, 0, 1)", "sum() takes 2 arguments (x, axis), not 3; give keepdims by name, as keepdims=...", (0, 12)),
    ("x.sum(axis=0, dim=0)", "sum() got two values for axis (as dim too)", (2, 5)),
    ("sum(sin(x, 2))", "sin() takes 1 argument (x), not 2", (4, 13)),
])
def test_arguments_are_checked_against_one_signature(cli, expr, message, span):
    assert_refused(cli, expr, message, span, x="[1, 2]")


# -- gradcli ops NAME ------------------------------------------------------------------------
PUBLIC = sorted(op.name for op in OPS.values() if op.public)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_function_describes_itself_with_an_example_that_runs(cli, name):
    run = cli("ops", name, "--format", "json")
    assert run.exit_code == 0, run.stderr
    entry = run.json()
    assert entry["name"] == name and entry["doc"] == OPS[name].doc and entry["derivative"]
    words = shlex.split(entry["example"])
    assert words[0] == "gradcli"
    example = cli(*words[1:], "--format", "json")
    assert example.exit_code == 0, (entry["example"], example.stderr)
    assert np.all(np.isfinite(example.json()["gradients"][words[3][2:]]))


def test_ops_name_shows_the_derivative_kinks_and_example_in_words(cli):
    run = cli("ops", "%")
    assert run.exit_code == 0
    lines = [line.strip() for line in run.stdout.splitlines()]
    assert lines[0] == "a % b   also remainder, mod, .remainder()"
    assert "d/da = 1" in lines and "d/db = -floor(a/b)" in lines
    assert any(line.startswith("at a = -3, b = 1.5: a gets 1, b gets 2") for line in lines)
    assert any(line.startswith('gradcli grad "sum(a % b)" --a') for line in lines)
    alias = cli("ops", "clamp", "--format", "json").json()
    assert alias["name"] == "clip" and alias["kinks"][0]["gradients"] == {"x": 1.0, "lo": 0.0, "hi": 0.0}


def test_ops_name_suggests_a_close_name(cli):
    run = cli("ops", "sofmax")
    assert run.exit_code == 2
    assert "error: no function or operator 'sofmax': did you mean 'softmax'?" in run.stderr


def test_none_leaves_out_an_argument_as_pytorchs_default(cli):
    """F.linear(x, w, None), torch.clamp(x, None, 2.5), F.batch_norm(x, None, None, training=True), eps=None:
    PyTorch's None where it is the default. Reference: torch 2.13, float64."""
    expr = ("F.linear(x, w, None).sum() + F.batch_norm(x, None, None, training=True).pow(2).sum() + "
            "torch.clamp(x, None, 2.5).sum() + F.layer_norm(x, (2,), None, None, eps=None).sum() + "
            "torch.nan_to_num(x, posinf=None).sum() + x.sum(None)")
    assert unparse(parse(expr)) == expr
    run = cli("grad", expr, "--x", "[[1, 2], [3, 4.5]]", "--w", "[[1, 0], [2, 1]]", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    # torch: value 51.499969... (batch_norm of two rows: each column normalizes to -1, 1; layer_norm's rows
    # normalize to -1, 1 with eps 1e-5 taking a little), x.grad [[5.99998, 3.99999], [5.00002, 3.00001]]
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1, 2], [3, 4.5]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[1, 0], [2, 1]], dtype=torch.float64, requires_grad=True)
    F = torch.nn.functional
    y = (F.linear(x, w, None).sum() + F.batch_norm(x, None, None, training=True).pow(2).sum()
         + torch.clamp(x, None, 2.5).sum() + F.layer_norm(x, (2,), None, None).sum()
         + torch.nan_to_num(x, posinf=None).sum() + x.sum(None))
    y.backward()
    assert out["value"] == pytest.approx(y.item(), rel=1e-14)
    np.testing.assert_allclose(out["gradients"]["x"], x.grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(out["gradients"]["w"], w.grad.numpy(), rtol=1e-14)


def test_none_for_a_required_input_says_it_is_missing(cli):
    run = cli("grad", "F.linear(x, None)", "--x", "[1, 2]")
    assert run.exit_code == 2
    assert "linear() is missing weight: it takes x, weight, bias" in run.stderr
