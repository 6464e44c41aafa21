"""Keyword parameters that are not whole numbers: numbers (beta=0.5), words (reduction="sum"), text.

An operation says what each keyword takes in its record (Op.kinds); the call is checked
against it before the operation runs, with a message naming the parameter. Tested with
an operation defined here only: shifted(x, by=0.0, how="add"|"sub"|"real number", tag=any text).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api.evaluate import evaluate
from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import Sample, primitive, unregister
from gradcli.errors import GradcliError
from gradcli.lang.parser import parse
from gradcli.ops.common import sympy_elementwise


def _shifted(x, by=0.0, how="add", tag=""):
    step = by if how == "add" else -by if how == "sub" else by * how
    return x + step + len(tag)


@pytest.fixture
def shifted():
    op = primitive(
        name="shifted", doc="x moved by a number", signature="shifted(x, by=0, how='add', tag='')",
        family="elementwise", forward=_shifted, backward=lambda n, g: (g,), shape=lambda s, **_: s,
        sympy=sympy_elementwise(lambda sp, x, **p: x), keywords=("by", "how", "tag"), elementwise=True,
        kinds={"by": "real", "how": ("add", "sub", "real"), "tag": "text"}, samples=(Sample(((2,),)),),
    )
    yield op
    unregister(op)


def value(text: str, **env) -> np.ndarray:
    return evaluate(parse(text), {k: Tensor(v) for k, v in env.items()}).data


@pytest.mark.parametrize(("text", "want"), [
    ("shifted(x, by=0.25)", [1.25, 2.25]),
    ('shifted(x, by=0.5, how="sub")', [0.5, 1.5]),
    ("shifted(x, 1.5, how='sub')", [-0.5, 0.5]),  # the first keyword by position
    ("shifted(x, by=2, how=0.5)", [2.0, 3.0]),  # a number where a word may stand
    ('shifted(x, tag="abc")', [4.0, 5.0]),
    ('x.shifted(by=-1, how="add")', [0.0, 1.0]),
])
def test_numbers_and_words_reach_the_operation(shifted, text, want):
    np.testing.assert_array_equal(value(text, x=np.array([1.0, 2.0])), want)


@pytest.mark.parametrize(("text", "words"), [
    ('shifted(x, how="mul")', "shifted() takes how= as 'add' or 'sub' or a number, not 'mul'"),
    ('shifted(x, by="a")', "shifted() takes by= as a number, not the string 'a'"),
    ("shifted(x, by=x)", "by= takes one number"),
    ("shifted(x, by=y)", "by= takes a number, not an expression of the variables"),
    ('sum(x, axis="0")', "sum() takes axis= as a number, not the string '0'"),
    ('x + "a"', "the string 'a' has no value"),
])
def test_a_wrong_parameter_is_named(shifted, text, words):
    env = {"x": Tensor(np.array([1.0, 2.0])), "y": Tensor(np.array(1.0), requires_grad=True)}
    with pytest.raises(GradcliError) as info:
        evaluate(parse(text), env)
    assert words in info.value.message


def test_the_cli_prints_the_parameter_error_with_a_caret(cli):
    run = cli("grad", 'sum(x, dim="rows")', "--x", "1,2")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == "error: sum() takes axis= as a number, not the string 'rows'"


@pytest.mark.parametrize(("text", "words"), [
    ("x.view()", "view() is missing shape: it takes x, shape="),
    ("x.roll()", "roll() is missing shifts: it takes x, shifts=, dims="),
    ("x.movedim()", "movedim() is missing source and destination"),
    ("x.unsqueeze()", "unsqueeze() is missing axis"),
])
def test_a_required_parameter_left_out_is_named(cli, text, words):
    run = cli("grad", f"sum({text})", "--x", "1,2")
    assert run.exit_code == 2
    assert words in run.stderr.splitlines()[0]
