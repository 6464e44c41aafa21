"""The parser's one-pass shortcuts against the plain way: tokens read by one findall against a
scan token after token, and the variables, calls and order of the nodes a parse records on its
root against walks of the tree."""

from __future__ import annotations

import gc
import re
import shlex
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import expressions
from test_parser import GOLDENS, SYNTAX_ERRORS

from gradcli.api.evaluate import check_functions, variables
from gradcli.errors import GradcliError
from gradcli.lang import tokens
from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr, unparse
from gradcli.lang.tree import Expr, postorder, recorded
from gradcli.limits import LIMITS

# One token, space or comment at a time, each match starting where the last one ended.
ONE = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<number>0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*
              |(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<string>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<op>\*\*|//|\.\.\.|<=|>=|==|!=|[-+*/%@^<>()\[\],:.=;])
""", re.VERBOSE)


def scanned(source: str) -> list[tuple[str, str, int, bool]] | int:
    """(kind, text, start, starts a line outside brackets) per token, the end token last; or the
    offset of the first character no token starts with."""
    found: list[tuple[str, str, int, bool]] = []
    pos, depth, newline = 0, 0, False
    while pos < len(source):
        m = ONE.match(source, pos)
        if m is None:
            return pos
        pos = m.end()
        if m.lastgroup == "space":
            newline = newline or "\n" in m.group()
        elif m.lastgroup != "comment":
            found.append((m.lastgroup, m.group(), m.start(), newline and depth == 0 and found != []))
            newline = False
            depth = depth + (m.group() in ("(", "[")) - (depth > 0 and m.group() in (")", "]"))
    return [*found, ("end", "", len(source), False)]


def read_tokens(source: str) -> list[tuple[str, str, int, bool]] | int:
    try:
        texts, starts, lines = tokens.tokenize(source)
    except GradcliError as err:
        return err.span[0]
    return [(tokens.token_kind(t), t, s, i in lines) for i, (t, s) in enumerate(zip(texts, starts))]


TRICKY = ["", "   ", "x", "x # a comment", "x # y\n+ 1", "x #\n# z\ny", "a = 1\n  b = (2\n + a)\nb",
          "'# not a comment' + x", "x $ y", "x  $", "#", "# (\nx", "f(x,\n y)[0]\nz", ".5+5.+0x1f_ff",
          "x...y", "1e3e3", "x\t\r\n\fy", "'a' \"b\" 'c", "x;y;;", "a.b.c(1)", "x # ) ] \n)",
          "1_000.5e-3 + 0x1_F + 1__0 + 1_ + 1e+ + 1.e5 + 0x", "x\u00a0+\u2003y\u3000\x85", "'a#b' + x # c\n",
          "x  ", "x # c", "x #\n", "\n\n", "x $", "x\u2212y", "'unclosed", "f(x)[..., None]\n# end\n  "]


@pytest.mark.parametrize("source", TRICKY + [t for t, _ in GOLDENS] + [t for t, _, _ in SYNTAX_ERRORS])
def test_tokens_are_those_of_a_scan_token_after_token(source):
    assert read_tokens(source) == scanned(source)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["x", "1", ".5", "2e3", " ", "\n", "#", "(", ")", "[", "]", "'", '"', "+",
                                 "*", "**", ".", "$", "=", ";", "if", "é", "\t", "_", "e", "0x", "\u3000"]),
                max_size=20).map("".join))
def test_tokens_of_random_text_are_those_of_a_scan(source):
    assert read_tokens(source) == scanned(source)


def walked(tree: Expr) -> list[Expr]:
    """The tree's nodes in postorder, found by a walk (a copy of the root holds no record); the copy
    at the end, where the root was."""
    return postorder(tree._replace())


def walked_calls(tree: Expr) -> list[Expr]:
    """The first call node of each spelling, in postorder."""
    first: dict[tuple[str, str], Expr] = {}
    for node in walked(tree):
        if node.kind == "call":
            first.setdefault((node.value, node.text), node)
    return list(first.values())


def walked_variables(tree: Expr) -> list[str]:
    return variables(tree._replace())  # (a copy of the root holds no record: the walk decides)


def assert_recorded_as_walked(text: str) -> None:
    tree = parse(text)
    record = recorded(tree)
    if record is None:  # left to the walks: a program, or a conditional read out of postorder
        assert tree.kind == "program" or any(n.text == "if" for n in postorder(tree))
        return
    assert record.variables == walked_variables(tree) == variables(tree)
    spelled = [(n.value, n.text, n.span, n.name_span) for n in walked_calls(tree)]
    assert [(n.value, n.text, n.span, n.name_span) for n in record.calls] == spelled
    # The very nodes of the tree, in the walk's order, the root itself last.
    order, walk = postorder(tree), walked(tree)
    assert len(order) == len(walk) and order[-1] is tree
    assert all(made is found for made, found in zip(order[:-1], walk[:-1]))


RECORDED = [
    "w*x + sin(w) + pi", "x.sum(dim=0) + torch.sin(y) + F.relu(z) + np.pi", "f(g(x), k=h(y))[0].T",
    "sin(x) + torch.sin(x) + x.sin() + sin(y)", "x[1:y, ..., None] + z", "einsum('ij,j->i', A, b)",
    "(a + b) * (c - d)", "not m and x < y", "x if c else y", "f(x) = x*2\ny = f(z)\ny + w", "True + x*False",
    "max(x, 0) + len(y)", "e * E + inf", "-(a**b**c) @ d", "((x))", "(x + 1)", "-(x)", "[x][0]",
    "x.max(0).indices.T + x[::2, :y][0].sum(dim=(0,), keepdim=True)", "F.linear(x, w, None) * x.to(torch.float64)",
    "f(x, k=None)[None, ..., 1:]", "(x, (y,), ())[1]", "np.linalg.norm(x.T @ (y - 1)).mean() ** -2",
]


def documented_expressions() -> list[str]:
    """The words of the docs' `$ gradcli ...` examples that parse: the expressions among them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import update_docs

    found = []
    for path in update_docs.documents():
        for block in update_docs.console_blocks(path):
            for command in block.commands:
                if command.text.startswith("gradcli "):
                    try:
                        words = shlex.split(command.text)
                    except ValueError:  # (a here-document or a quote this reading does not follow)
                        continue
                    found += [w for w in words[2:] if not w.startswith("-") and parses(w)]
    return list(dict.fromkeys(found))


def parses(text: str) -> bool:
    try:
        parse(text)
    except GradcliError:
        return False
    return True


@pytest.mark.parametrize("text", RECORDED + [t for t, _ in GOLDENS] + [unparse(parse(t)) for t, _ in GOLDENS])
def test_a_parse_records_the_variables_calls_and_order_a_walk_finds(text):
    assert_recorded_as_walked(text)


def test_the_documented_expressions_record_what_a_walk_finds():
    documented = documented_expressions()
    assert len(documented) >= 100
    for text in documented:
        assert_recorded_as_walked(text)


@settings(max_examples=200, deadline=None)
@given(expressions(smooth=False))
def test_drawn_expressions_record_what_a_walk_finds(drawn):
    assert_recorded_as_walked(drawn.text)


@pytest.mark.parametrize("seed", range(200))
def test_random_expressions_record_what_a_walk_finds(seed):
    pytest.importorskip("torch")  # (the differential suite's expression builder imports it)
    import differential

    assert_recorded_as_walked(differential.make_case(seed, "normal").text)


def test_the_recorded_calls_raise_the_walks_error():
    for text in ("sinn(x) + coss(x)", "x + np.sinn(x)", "x.zeros() + 1"):
        tree = parse(text)
        assert recorded(tree) is not None and recorded(tree._replace()) is None
        with pytest.raises(GradcliError) as from_record:
            check_functions(tree, text)
        with pytest.raises(GradcliError) as walked:
            check_functions(tree._replace(), text)
        assert (from_record.value.message, from_record.value.span) == (walked.value.message, walked.value.span)
        assert from_record.value.span is not None


def test_a_long_sum_of_products_needs_the_depth_of_one_term(monkeypatch):
    text = " + ".join(f"sin(x*{i})*{i}" for i in range(1, 10_001))
    monkeypatch.setattr(LIMITS, "max_depth", 4)  # the sum, the right operand of +, sin's argument, x*i
    tree = parse(text)
    assert tree.value == "add" and tree.span == (0, len(text))
    assert sexpr(tree.args[1]) == "(mul (sin (mul x 10000)) 10000)"
    monkeypatch.setattr(LIMITS, "max_depth", 3)
    with pytest.raises(GradcliError, match="nested more than 3 levels"):
        parse(text)


def test_a_parsed_tree_is_freed_by_reference_counting():
    gc.collect()
    gc.disable()
    try:
        tree = parse("sin(x)*2 + y[0].sum(dim=1)")
        assert recorded(tree) is not None
        del tree
        assert gc.collect() == 0  # (nothing was left for the cyclic collector: the record holds no cycle)
    finally:
        gc.enable()


def test_a_node_is_immutable():
    node = parse("x + 1")
    with pytest.raises(AttributeError):
        node.kind = "call"
