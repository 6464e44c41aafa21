"""Every form a VALUE can take (numbers, lists, matrices, JSON, constructors, files,
standard input), and the values that are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli

from gradcli.errors import GradcliError
from gradcli.lang.values import parse_value


@pytest.mark.parametrize(("text", "expected"), [
    ("2", np.array(2.0)),
    ("-1.5", np.array(-1.5)),
    ("1e-3", np.array(0.001)),
    (".5", np.array(0.5)),
    ("1,2,3", np.array([1.0, 2.0, 3.0])),
    (" 1 , 2 ,3 ", np.array([1.0, 2.0, 3.0])),
    ("1,2;3,4", np.array([[1.0, 2.0], [3.0, 4.0]])),
    ("1;2", np.array([[1.0], [2.0]])),
    ("[[2,3]]", np.array([[2.0, 3.0]])),
    # as Python and PyTorch write lists: 1. and .5, tuples, a comma before the closing bracket
    ("[[1., 2.], [3., .5]]", np.array([[1.0, 2.0], [3.0, 0.5]])),
    ("((1., -2e-1), (+3, inf),)", np.array([[1.0, -0.2], [3.0, np.inf]])),
    ("(5.)", np.array(5.0)),  # brackets around one item group it, as in Python; (5.,) is a tuple
    ("(5.,)", np.array([5.0])),
    ("[(1.), (2.)]", np.array([1.0, 2.0])),
    ("[1, 2.5]", np.array([1.0, 2.5])),
    ("[[[1,2],[3,4]],[[5,6],[7,8]]]", np.arange(1.0, 9.0).reshape(2, 2, 2)),
    ("7", np.array(7.0)),
    ("zeros(2,3)", np.zeros((2, 3))),
    ("ones(3)", np.ones(3)),
    ("eye(3)", np.eye(3)),
    ("eye(2, 3)", np.eye(2, 3)),
    ("linspace(0,1,5)", np.array([0.0, 0.25, 0.5, 0.75, 1.0])),
    ("arange(5)", np.array([0.0, 1.0, 2.0, 3.0, 4.0])),
    ("arange(1, 2, 0.25)", np.array([1.0, 1.25, 1.5, 1.75])),
    ("full(2, 2, 7)", np.full((2, 2), 7.0)),
])
def test_value_forms(text, expected):
    got = parse_value(text, "x")
    assert got.dtype == np.float64
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_integers_are_promoted_to_float64():
    for text in ("3", "1,2", "[[1,2]]", "arange(3)"):
        assert parse_value(text, "x").dtype == np.float64
    # float64 arithmetic from the start: 2**64 is exact, not an integer overflow
    out = run_cli("grad", "x**64", "--x", "2", "--format", "json").json()
    assert out["value"] == 2.0**64


@pytest.mark.parametrize("kind", ["rand", "randn"])
def test_random_values_repeat_with_the_seed(kind):
    a = parse_value(f"{kind}(4,3)", "w", seed=7)
    b = parse_value(f"{kind}(4,3)", "w", seed=7)
    c = parse_value(f"{kind}(4,3)", "w", seed=8)
    assert a.shape == (4, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_values_have_their_distributions():
    uniform = parse_value("rand(20000)", "u")
    normal = parse_value("randn(20000)", "n")
    assert 0.0 <= uniform.min() and uniform.max() < 1.0
    assert abs(uniform.mean() - 0.5) < 0.01
    assert abs(normal.mean()) < 0.03 and abs(normal.std() - 1.0) < 0.03


def test_each_variable_draws_its_own_numbers_whatever_the_order():
    def run(*args):
        return run_cli("grad", "sum(a) + sum(b)", *args, "--format", "json").json()["value"]

    first = run("--a", "randn(5)", "--b", "randn(5)", "--seed", "3")
    swapped = run("--b", "randn(5)", "--seed", "3", "--a", "randn(5)")
    assert first == swapped
    assert parse_value("randn(5)", "a").tolist() != parse_value("randn(5)", "b").tolist()


def test_seed_option_reaches_the_values():
    def value(seed):
        return run_cli("grad", "sum(w)", "--w", "randn(3)", "--seed", seed, "--format", "json").json()["value"]

    assert value("1") == value("1")
    assert value("1") != value("2")
    assert value("1") == pytest.approx(parse_value("randn(3)", "w", seed=1).sum(), rel=1e-15)


def test_npy_file(tmp_path):
    data = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.save(tmp_path / "m.npy", data)
    got = parse_value(f"@{tmp_path / 'm.npy'}", "m")
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, data)


def test_csv_file(tmp_path):
    (tmp_path / "m.csv").write_text("# a comment\n1, 2, 3\n4, 5, 6\n\n")
    np.testing.assert_array_equal(parse_value(f"@{tmp_path / 'm.csv'}", "m"), [[1, 2, 3], [4, 5, 6]])
    (tmp_path / "row.csv").write_text("1,2,3\n")
    assert parse_value(f"@{tmp_path / 'row.csv'}", "m").shape == (3,)
    (tmp_path / "column.csv").write_text("1\n2\n3\n")
    assert parse_value(f"@{tmp_path / 'column.csv'}", "m").shape == (3,)
    (tmp_path / "one.csv").write_text("4.5\n")
    assert parse_value(f"@{tmp_path / 'one.csv'}", "m").shape == ()


def test_json_file(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps([[1, 2], [3, 4.5]]))
    np.testing.assert_array_equal(parse_value(f"@{tmp_path / 'm.json'}", "m"), [[1, 2], [3, 4.5]])


def test_files_through_the_cli(tmp_path):
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0, 3.0]))
    (tmp_path / "A.csv").write_text("1,2,3\n4,5,6\n")
    out = run_cli("grad", "sum(A @ x)", "--x", f"@{tmp_path / 'x.npy'}", "--A", f"@{tmp_path / 'A.csv'}",
                  "--format", "json").json()
    assert out["value"] == 14.0 + 32.0
    assert out["gradients"]["x"] == [5.0, 7.0, 9.0]
    assert out["gradients"]["A"] == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]


@pytest.mark.parametrize(("stdin", "expected"), [
    ("[1, 2, 3]\n", [1.0, 2.0, 3.0]),
    ("1,2,3\n", [1.0, 2.0, 3.0]),
    ("1,2\n3,4\n", [[1.0, 2.0], [3.0, 4.0]]),
    ("5\n", 5.0),
])
def test_standard_input(stdin, expected):
    out = run_cli("grad", "sum(x*x)", "--x", "@-", "--format", "json", input=stdin).json()
    expected = np.asarray(expected)
    assert out["shape"] == []
    assert out["value"] == pytest.approx(float(np.sum(expected**2)))
    np.testing.assert_array_equal(out["gradients"]["x"], 2 * expected)


def test_equals_and_var_spellings():
    a = run_cli("grad", "x*y", "--x=2", "-v", "y=3", "--format", "json").json()
    b = run_cli("grad", "x*y", "--var", "x=2", "--y", "3", "--format", "json").json()
    assert a == b
    assert a["gradients"] == {"x": 3.0, "y": 2.0}


def test_a_variable_named_like_an_option_via_var():
    out = run_cli("grad", "seed * 2", "-v", "seed=1.5", "--format", "json").json()
    assert out["value"] == 3.0 and out["gradients"]["seed"] == 2.0


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"),
    ("abc", "'abc' is not a number"),
    ("1,2,", "an entry is empty"),
    ("1_000", "not a number"),
    ("0x10", "not a number"),
    ("1,2;3", "different lengths"),
    ("[1, [2]]", "rectangular"),
    ("[true]", "not a number"),
    ('["1.5"]', 'the value holds "1.5", which is not a number'),  # only nan and inf are strings
    ('["nan1"]', 'the value holds "nan1", which is not a number'),
    ("nanx", "'nanx' is not a number"),
    ("[1, 2", "not valid JSON"),
    ("(1, 2", "nor a list of numbers as Python writes one"),
    ("[1, 2)", "nor a list of numbers as Python writes one"),
    ("[1 2.]", "nor a list of numbers as Python writes one"),
    ("[1., x]", "nor a list of numbers as Python writes one"),
    ("[1.] + 1", "nor a list of numbers as Python writes one"),
    ("[1.,, 2.]", "nor a list of numbers as Python writes one"),
    ("zeros(2.5)", "whole numbers"),
    ("eye(1,2,3)", "whole numbers"),
    ("linspace(0, 1, 0)", "whole number"),
    ("arange(0, 1, 0)", "arange(stop)"),
    ("evil(1)", "unknown constructor"),
    ("zeros(100000, 100000)", "10,000,000,000 entries is over the limit"),
    ("arange(1e300)", "1e+300 entries is over the limit"),
    ("@missing.json", "does not exist"),
])
def test_bad_values_name_the_variable(text, words):
    with pytest.raises(GradcliError) as info:
        parse_value(text, "theta")
    assert info.value.message.startswith("theta: ") and info.value.variable == "theta"
    assert words in info.value.message


def test_npy_with_pickles_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([[1], "a"], dtype=object), allow_pickle=True)
    with pytest.raises(GradcliError, match="pickles are never loaded"):
        parse_value(f"@{path}", "x")


def test_npy_of_strings_is_refused(tmp_path):
    path = tmp_path / "words.npy"
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(GradcliError, match="not numbers"):
        parse_value(f"@{path}", "x")
