"""The expression language: S-expression goldens for every construct, the unparse round
trip, and the span of each syntax error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.errors import GradcliError
from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr, unparse
from gradcli.lang.tree import postorder

GOLDENS = [
    # numbers, names, constants
    ("2", "2"), ("2.5", "2.5"), (".5", "0.5"), ("1e-3", "0.001"), ("3E2", "300"), ("pi", "pi"), ("e", "e"),
    ("x_1", "x_1"),
    # power: right-associative, binds tighter than unary minus, two spellings
    ("2^3^2", "(pow 2 (pow 3 2))"),
    ("2**3**2", "(pow 2 (pow 3 2))"),
    ("-x**2", "(neg (pow x 2))"),
    ("-x^2", "(neg (pow x 2))"),
    ("(-x)**2", "(pow (neg x) 2)"),
    ("x**-2", "(pow x (neg 2))"),
    ("x**-y**2", "(pow x (neg (pow y 2)))"),
    ("2*-x", "(mul 2 (neg x))"),
    ("+x", "(pos x)"),
    ("--x", "(neg (neg x))"),
    # additive and multiplicative levels, left-associative
    ("a+b*c", "(add a (mul b c))"),
    ("a*b+c", "(add (mul a b) c)"),
    ("a-b-c", "(sub (sub a b) c)"),
    ("a/b/c", "(div (div a b) c)"),
    ("a/b*c", "(mul (div a b) c)"),
    ("x@A@x", "(matmul (matmul x A) x)"),
    ("a@b*c", "(mul (matmul a b) c)"),
    ("a+b@c", "(add a (matmul b c))"),
    ("(a+b)*c", "(mul (add a b) c)"),
    ("-a*b", "(mul (neg a) b)"),
    # comparisons are the loosest level
    ("a<b", "(lt a b)"), ("a<=b", "(le a b)"), ("a>b", "(gt a b)"), ("a>=b", "(ge a b)"),
    ("a==b", "(eq a b)"), ("a!=b", "(ne a b)"),
    ("a+1 < b*2", "(lt (add a 1) (mul b 2))"),
    ("(x > 0) == (y > 0)", "(eq (gt x 0) (gt y 0))"),
    ("(a < b) < c", "(lt (lt a b) c)"),
    # indexing and slicing
    ("x[0]", "(index x 0)"),
    ("x[-1]", "(index x (neg 1))"),
    ("m[0, 1]", "(index m 0 1)"),
    ("m[:, 0]", "(index m (slice _ _ _) 0)"),
    ("x[1:]", "(index x (slice 1 _ _))"),
    ("x[:2]", "(index x (slice _ 2 _))"),
    ("x[::2]", "(index x (slice _ _ 2))"),
    ("x[1:3:2]", "(index x (slice 1 3 2))"),
    ("x[0][1]", "(index (index x 0) 1)"),
    ("x[i+1]", "(index x (add i 1))"),
    ("-x[0]**2", "(neg (pow (index x 0) 2))"),
    # transpose binds tightest
    ("x.T", "(T x)"),
    ("m.T.T", "(T (T m))"),
    ("(a+b).T", "(T (add a b))"),
    ("A.T@x", "(matmul (T A) x)"),
    ("-m.T", "(neg (T m))"),
    ("m[0].T", "(T (index m 0))"),
    # list literals
    ("[a, b]", "(list a b)"),
    ("[a, b,]", "(list a b)"),
    ("[[1, 2], [3, 4]]", "(list (list 1 2) (list 3 4))"),
    ("[m[0]**2 + 3*m[1], m[1]**2]", "(list (add (pow (index m 0) 2) (mul 3 (index m 1))) (pow (index m 1) 2))"),
    ("[a, b][0]", "(index (list a b) 0)"),
    # calls, keywords, tuples for shapes
    ("sin(x)", "(sin x)"),
    ("pow(a, b)", "(pow a b)"),
    ("where(x > 0, x, 0)", "(where (gt x 0) x 0)"),
    ("sum(x, axis=0)", "(sum x axis=0)"),
    ("softmax(z, axis=-1)", "(softmax z axis=(neg 1))"),
    ("sum(x, axis=(0, 1))", "(sum x axis=(tuple 0 1))"),
    ("ones(2, 3)", "(ones 2 3)"),
    ("zeros((2, 3))", "(zeros (tuple 2 3))"),
    ("exp(-x**2)", "(exp (neg (pow x 2)))"),
    ("sum(x)**2", "(pow (sum x) 2)"),
    ("(x)", "x"),
    ("  x  +  1 ", "(add x 1)"),
]


@pytest.mark.parametrize(("text", "expected"), GOLDENS, ids=[t for t, _ in GOLDENS])
def test_golden(text, expected):
    assert sexpr(parse(text)) == expected


def test_power_value_is_right_associative():
    from gradcli import grad

    # 2^3^2 is 2^9 = 512, not 8^2 = 64
    assert grad("x^3^2", {"x": 2.0}).value == 512.0
    assert grad("-x**2", {"x": 3.0}).value == -9.0


@pytest.mark.parametrize(("text", "canonical"), [
    ("-x**2", "-(x**2)"),
    ("2^3^2", "2**3**2"),
    ("(2^3)^2", "(2**3)**2"),
    ("a-(b-c)", "a - (b - c)"),
    ("(a-b)-c", "a - b - c"),
    ("a/(b*c)", "a/(b*c)"),
    ("(a+b).T", "(a + b).T"),
    ("sum(x,axis=0)", "sum(x, axis=0)"),
    ("m[:,0]", "m[:, 0]"),
    ("(x>0)==(y>0)", "(x > 0) == (y > 0)"),
    ("(a<b)<c", "(a < b) < c"),
    ("(2).T", "(2).T"),
])
def test_unparse_is_parenthesised_where_precedence_matters(text, canonical):
    assert unparse(parse(text)) == canonical


@pytest.mark.parametrize("text", [t for t, _ in GOLDENS])
def test_unparse_round_trip_goldens(text):
    tree = parse(text)
    assert sexpr(parse(unparse(tree))) == sexpr(tree)


ATOMS = st.sampled_from(["x", "y", "m", "2", "0.5", "1e-3", "pi", "3"])


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "@", "**", "^", "<", "==", "!="]), children)
    return st.one_of(
        binary.map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"({c})[0]"),
        children.map(lambda c: f"({c}).T"),
        children.map(lambda c: f"sum({c}, axis=-1)"),
        st.tuples(children, children).map(lambda t: f"[{t[0]}, {t[1]}]"),
        st.tuples(children, children).map(lambda t: f"maximum({t[0]}, {t[1]})"),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(ATOMS, _combine, max_leaves=12))
def test_unparse_round_trip_random(text):
    try:
        tree = parse(text)
    except GradcliError as err:
        # Random text may chain comparisons, which the language refuses on purpose.
        assert "cannot be chained" in err.message
        return
    again = parse(unparse(tree))
    assert sexpr(again) == sexpr(tree)
    assert unparse(again) == unparse(tree)


def test_spans_are_character_offsets_of_sub_expressions():
    text = "sum(x) + y*2"
    tree = parse(text)
    spans = {sexpr(node): text[node.span[0]:node.span[1]] for node in postorder(tree)}
    assert spans["(sum x)"] == "sum(x)"
    assert spans["(mul y 2)"] == "y*2"
    assert spans["(add (sum x) (mul y 2))"] == text


def test_spans_count_characters_not_bytes():
    with pytest.raises(GradcliError) as info:
        parse("x·y + z × 2")
    # '·' is 2 bytes in UTF-8; the span still counts it as one character
    assert info.value.span == (1, 2)
    with pytest.raises(GradcliError) as info:
        parse("x*y + z × 2")
    assert info.value.span == (8, 9)
    assert "did you mean '*'" in info.value.message


def test_a_long_flat_sum_parses_without_recursion():
    text = "+".join(["x"] * 100_000)
    tree = parse(text)
    assert sum(1 for node in postorder(tree) if node.kind == "name") == 100_000


def test_deep_nesting_is_a_limit_error_not_a_crash():
    with pytest.raises(GradcliError) as info:
        parse("(" * 5000 + "x" + ")" * 5000)
    assert info.value.kind == "limit"
    assert "nested" in info.value.message


SYNTAX_ERRORS = [
    # text, words the message holds, span (0-based, half-open)
    ("", "empty", (0, 0)),
    ("1+", "ends too early", (2, 2)),
    ("sum(x", "expected ')'", (5, 5)),
    ("(1", "column 1", (2, 2)),
    ("x[0", "expected ']'", (3, 3)),
    ("1)", "unmatched ')'", (1, 2)),
    ("x]", "unmatched ']'", (1, 2)),
    ("2 3", "unexpected '3'", (2, 3)),
    ("x $ y", "unexpected character '$'", (2, 3)),
    ("x−1", "did you mean '-'", (1, 2)),
    ("'a", "no closing '", (0, 1)),
    ('f(x, reduction="sum)', 'no closing "', (15, 16)),
    ("a<b<c", "cannot be chained", (3, 4)),
    ("x.y", "only .T", (2, 3)),
    ("x.", "expected a name", (2, 2)),
    ("x + 1 = 2", "use ==", (6, 7)),
    ("a = b", "a program ends with the expression it computes", (0, 5)),
    ("f(x=1, 2)", "positional argument cannot follow", (7, 8)),
    ("f(x=1, x=2)", "given twice", (7, 8)),
    ("[]", "empty list", (0, 2)),
    ("x +* y", "unexpected '*'", (3, 4)),
]


@pytest.mark.parametrize(("text", "words", "span"), SYNTAX_ERRORS, ids=[t or "<empty>" for t, _, _ in SYNTAX_ERRORS])
def test_syntax_error_message_and_span(text, words, span):
    with pytest.raises(GradcliError) as info:
        parse(text)
    err = info.value
    assert err.kind == "syntax"
    assert words in err.message
    assert err.span == span
    assert err.source == text


def test_caret_lines_underline_the_span():
    with pytest.raises(GradcliError) as info:
        parse("x + (y * 2")
    line, underline = info.value.caret_lines()
    assert line == "  x + (y * 2"
    # the caret sits just past the end, where ')' was expected
    assert underline == "  " + " " * 10 + "^"


@pytest.mark.parametrize(("text", "canonical"), [
    ('mse_loss(x, y, reduction="sum")', '(mse_loss x y reduction="sum")'),
    ("einsum('ij,j->i', A, x)", '(einsum "ij,j->i" A x)'),
    ('''f("it's")''', '''(f "it's")'''),
    ("""f('say "a"')""", """(f 'say "a"')"""),
])
def test_strings_read_as_written_and_print_back(text, canonical):
    tree = parse(text)
    assert sexpr(tree) == canonical
    assert sexpr(parse(unparse(tree))) == canonical
