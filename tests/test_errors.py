"""Every mistake a user can make, through the real CLI: exit status 2, the message on
standard error, the caret under the right sub-expression, and never a traceback.
A non-finite result is a warning instead: the command still succeeds."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli

import gradcli.api.functional
from gradcli.errors import GradcliError


def fails(*args: str, input: str | None = None) -> str:
    """Run the CLI, check it failed as a user error should, and return its stderr."""
    run = run_cli(*args, input=input)
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("error: ")
    return run.stderr


def underlined(stderr: str) -> str:
    """The text the `^~~~` line points at, checked to sit under the echoed expression."""
    lines = stderr.splitlines()
    marks = [i for i, line in enumerate(lines) if line.lstrip().startswith("^")]
    assert len(marks) == 1, stderr
    source, underline = lines[marks[0] - 1], lines[marks[0]]
    start = underline.index("^")
    return source[start:len(underline)]


def test_syntax_error_has_a_caret_under_the_column():
    err = fails("grad", "x + * y", "--x", "1", "--y", "2")
    assert "unexpected '*'" in err
    assert underlined(err) == "*"


@pytest.mark.parametrize(("expr", "message", "part"), [
    ("2x + 1", "unexpected 'x': a product needs *, as in 2*x", "x"),
    ("3 (x + 1)", "unexpected '(': a product needs *, as in 3*(...)", "("),
    ("sin x", "unexpected 'x' after 'sin': write sin(x) for a call, sin*x for a product", "x"),
    ("x 2", "unexpected '2'\n", "2"),
])
def test_juxtaposition_says_what_to_write(expr, message, part):
    err = fails("grad", expr, "--x", "1")
    assert err.startswith("error: " + message), err
    assert underlined(err) == part


def test_unclosed_parenthesis_points_past_the_end():
    err = fails("grad", "sum(x", "--x", "1,2")
    assert "expected ')'" in err and "column 4" in err
    lines = err.splitlines()
    assert lines[-2] == "  sum(x"
    assert lines[-1] == "       ^"


def test_unknown_function_names_the_closest_known_one():
    err = fails("grad", "sum(sinn(x))", "--x", "1,2")
    assert "unknown function 'sinn'" in err
    assert "did you mean 'sin'" in err
    assert underlined(err) == "sinn"


def test_unknown_function_without_a_close_name_points_at_gradcli_ops():
    err = fails("grad", "zzzqqq(x)", "--x", "1")
    assert "unknown function 'zzzqqq'" in err and "did you mean" not in err
    assert "gradcli ops" in err


def test_unknown_variable_given_a_value():
    err = fails("grad", "x*2", "--x", "1", "--y", "2")
    assert err == ("error: unknown option --y: not an option of gradcli grad, nor a variable of the expression "
                   "(its variables: x)\n")
    err = fails("grad", "x*2", "--x", "1", "-v", "y=2")
    assert "y is not a variable of the expression (its variables: x)" in err


def test_variable_with_no_value_points_at_its_first_use():
    err = fails("grad", "a*b + b", "--a", "1")
    assert "no value for b" in err and "--b VALUE" in err
    assert underlined(err) == "b"
    lines = err.splitlines()
    assert lines[-1].index("^") == lines[-2].index("b")


def test_misspelt_variable_suggests_the_given_name():
    err = fails("grad", "sum(xs)", "-v", "x=1,2")
    assert "no value for xs" in err and "did you mean x, which has a value?" in err
    # a --NAME that is not a variable is an unknown option, with the closest variable suggested
    assert fails("grad", "sum(xs)", "--x", "1,2") == "error: unknown option --x: did you mean --xs?\n"


def test_function_name_used_as_a_variable():
    err = fails("grad", "sin + x", "--x", "1")
    assert "sin is a function" in err


@pytest.mark.parametrize(("expr", "values", "shapes", "part"), [
    ("sum(A@x) + 1", ("--A", "1,2;3,4", "--x", "1,2,3"), ("(2, 2)", "(3,)"), "A@x"),
    ("sum(x + y*2)", ("--x", "1,2", "--y", "1,2,3"), ("(2,)", "(3,)"), "x + y*2"),
    ("sum(exp(x) * m)", ("--x", "1,2,3", "--m", "1,2;3,4"), ("(3,)", "(2, 2)"), "exp(x) * m"),
])
def test_shapes_that_do_not_fit_name_both_with_a_caret(expr, values, shapes, part):
    err = fails("grad", expr, *values)
    first_line = err.splitlines()[0]
    for shape in shapes:
        assert shape in first_line
    assert underlined(err) == part


@pytest.mark.parametrize(("value", "words"), [
    ("1,a", "'a' is not a number"),
    ("1,2;3", "rows have different lengths"),
    ("[1, [2]]", "not a rectangular array"),
    ("[1, \"a\"]", "not a number"),
    ("[1, 2", "not valid JSON"),
    ("zeros(a)", "not a number"),
    ("ones(-2)", "whole numbers"),
    ("frobnicate(3)", "unknown constructor"),
    ("1,,2", "an entry is empty"),
    ("1 2 3", "'1 2 3' is not a number: separate entries with commas, as in 1,2,3"),
    ("1 a", "'1 a' is not a number\n"),
    ("", "empty"),
])
def test_bad_value_names_the_variable(value, words):
    err = fails("grad", "sum(weights)", "--weights", value)
    assert err.startswith("error: --weights: ")
    assert words in err


def test_bad_grad_output_names_the_option():
    err = fails("grad", "x*2", "--x", "1,2", "--grad-output", "1,b")
    assert "--grad-output" in err and "'b' is not a number" in err


def test_wrt_naming_a_variable_the_expression_lacks():
    err = fails("grad", "x*y", "--x", "1", "--y", "2", "--wrt", "z")
    assert "--wrt names 'z'" in err and "its variables: x, y" in err


def test_grad_of_a_non_scalar_names_the_shape_and_both_ways_on():
    err = fails("grad", "x*2", "--x", "1,2,3")
    assert "shape (3,)" in err
    assert "--grad-output" in err
    assert "gradcli jacobian" in err


def test_hessian_of_a_non_scalar():
    err = fails("hessian", "x*x", "--x", "1,2")
    assert "shape (2,)" in err and "scalar" in err


def test_grad_output_of_the_wrong_shape():
    err = fails("grad", "x*2", "--x", "1,2,3", "--grad-output", "1,2")
    assert "(2,)" in err and "(3,)" in err


@pytest.mark.parametrize(("expr", "words", "part"), [
    ("x[5]", "index 5 is out of range for axis 0 of size 3", "x[5]"),
    ("x[-4] + 1", "index -4 is out of range", "x[-4]"),
    ("m[0, 2]", "index 2 is out of range for axis 1 of size 2", "m[0, 2]"),
    ("x[0, 0]", "too many indices", "x[0, 0]"),
    ("x[0.5]", "whole number", "x[0.5]"),
])
def test_out_of_range_index(expr, words, part):
    values = ("--m", "1,2;3,4") if "m" in expr else ("--x", "1,2,3")
    err = fails("grad", f"sum({expr})", *values)
    assert words in err
    assert underlined(err) == part


@pytest.mark.parametrize("expr", ["sum(x, axis=3)", "softmax(x, axis=-2)[0]", "mean(x, axis=1)"])
def test_out_of_range_axis(expr):
    err = fails("grad", expr, "--x", "1,2,3")
    assert "out of range" in err and "axis" in err
    assert underlined(err) == expr.split("[")[0]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npy"
    err = fails("grad", "sum(x)", "--x", f"@{path}")
    assert "--x:" in err and "does not exist" in err and str(path) in err


def test_folder_instead_of_a_file(tmp_path):
    err = fails("grad", "sum(x)", "--x", f"@{tmp_path}/")
    assert "--x:" in err


def test_unreadable_files(tmp_path):
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not an npy file at all")
    assert "is not a .npy file" in fails("grad", "sum(x)", "--x", f"@{garbage}")

    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    err = fails("grad", "sum(x)", "--x", f"@{pickled}")
    assert "pickles are never loaded" in err

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert "cannot be read" in fails("grad", "sum(x)", "--x", f"@{binary}")

    text = tmp_path / "values.txt.gz"
    text.write_text("1,2")
    assert "use a .npy, .csv or .json file" in fails("grad", "sum(x)", "--x", f"@{text}")


def test_usage_mistakes_exit_2():
    assert "unexpected argument" in fails("grad", "x", "1")
    assert "needs a value" in fails("grad", "x", "--x")
    assert "given two values" in fails("grad", "x", "--x", "1", "--x", "2")
    assert "NAME=VALUE" in fails("grad", "x", "-v", "x")


def test_unknown_option_value_is_exit_2_from_the_option_parser():
    run = run_cli("grad", "x", "--x", "1", "--format", "yaml")
    assert run.exit_code == 2
    assert "Traceback" not in run.stderr


def test_debug_shows_the_traceback_and_keeps_the_exit_status(monkeypatch):
    # --debug once let Python end the run, with status 1 for every error: now 2 stays 2 and 1 stays 1
    run = run_cli("grad", "sinn(x)", "--x", "1", "--debug")
    assert run.exit_code == 2
    assert run.stderr.startswith("Traceback (most recent call last):\n")
    assert run.stderr.endswith("error: unknown function 'sinn': did you mean 'sin'? (gradcli ops lists them all)\n"
                               "  sinn(x)\n  ^~~~\n")

    def check_failed(*args, **kwargs):
        raise GradcliError("the gradients disagree", kind="check")

    monkeypatch.setattr(gradcli.api.functional, "grad", check_failed)
    run = run_cli("grad", "x", "--x", "1", "--debug")
    assert run.exit_code == 1
    assert "Traceback" in run.stderr and run.stderr.endswith("error: the gradients disagree\n")


def test_interrupt_exits_130(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gradcli.api.functional, "grad", interrupted)
    run = run_cli("grad", "x", "--x", "1")
    assert run.exit_code == 130
    assert "Traceback" not in run.stderr


def test_a_failed_check_exits_1(monkeypatch):
    def check_failed(*args, **kwargs):
        raise GradcliError("the gradients disagree", kind="check")

    monkeypatch.setattr(gradcli.api.functional, "grad", check_failed)
    run = run_cli("grad", "x", "--x", "1")
    assert run.exit_code == 1
    assert run.stderr == "error: the gradients disagree\n"


def test_nonfinite_gradient_warns_with_a_caret_and_succeeds():
    run = run_cli("grad", "sum(sqrt(x)) + 1", "--x", "0,4", "--format", "json")
    assert run.exit_code == 0
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("warning: the gradient became inf")
    assert underlined(run.stderr) == "sqrt(x)"
    out = run.json()
    assert out["gradients"]["x"] == ["inf", 0.25]


def test_nonfinite_value_points_at_the_first_sub_expression():
    # log(0) is -inf first; the product with 0 then makes nan, which is not where it began
    run = run_cli("grad", "sum(log(x) * 0)", "--x", "0,1", "--format", "json")
    assert run.exit_code == 0
    assert run.stderr.startswith("warning: the value became -inf")
    assert underlined(run.stderr) == "log(x)"
    assert run.json()["value"] == "nan"


def test_nonfinite_warning_for_a_jacobian():
    run = run_cli("jacobian", "x / y", "--x", "1,2", "--y", "0,1", "--format", "json")
    assert run.exit_code == 0
    assert "warning: the value became inf" in run.stderr
    assert underlined(run.stderr) == "x / y"


@pytest.mark.parametrize("args,message", [
    (["check", "x**2", "--x", "1", "--atol", "-1", "--rtol", "0"], "--atol must be a finite number >= 0"),
    (["check", "x**2", "--x", "1", "--rtol", "nan"], "--rtol must be a finite number >= 0"),
    (["grad", "x**2", "--x", "1", "--symbolic", "--output", "never-written.json"], "do not write --output files"),
    (["graph", "x*y", "--x", "1,2", "--grad-output", "1,2"], "--grad-output needs the values of every variable"),
])
def test_options_that_would_be_ignored_or_meaningless_are_usage_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = run_cli(*args)
    assert run.exit_code == 2, run.stdout
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "never-written.json").exists()


def test_points_with_an_unknown_method_or_a_file_that_is_not_text(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y\n1,2\n")
    run = run_cli("jacobian", "x*y", "--points", str(points), "--method", "foo")
    assert run.exit_code == 2
    assert "Invalid value for '--method': 'foo' is not one of 'batched', 'loop'." in run.stderr
    binary = tmp_path / "bad.csv"
    binary.write_bytes(b"\xff\xfe\n")
    run = run_cli("grad", "x", "--points", str(binary))
    assert run.exit_code == 2 and f"cannot read {str(binary)!r}" in run.stderr and "Traceback" not in run.stderr


# -- hints for unknown names: an exact rewrite, a typo's closest name, or nothing -------------
@pytest.mark.parametrize(("call", "hint"), [
    ("ln(x)", ": write ln(x) as log(x)"),
    ("sinn(x)", ": did you mean 'sin'?"),
    ("Tanh(x)", ": did you mean 'tanh'?"),
    ("sigmiod(x)", ": did you mean 'sigmoid'?"),
    ("log_sofmax(x)", ": did you mean 'log_softmax'?"),
    # far from every name, or a typo only by a digit: no guess
    ("log3(x)", ""),
    ("expm3(x)", ""),
    ("expm2(x)", ": did you mean 'exp2'?"),  # a letter too many, the same digit
])
def test_unknown_function_hint(call, hint):
    name = call[:call.index("(")]
    err = fails("grad", f"sum({call})", "--x", "1,2")
    assert err.splitlines()[0] == f"error: unknown function {name!r}{hint} (gradcli ops lists them all)"
    assert underlined(err) == name


@pytest.mark.parametrize(("expr", "given", "missing", "hint"), [
    ("x1 + x3", ("--x1", "1", "--x2", "2"), "x3", ""),  # x3 is not a typo of x2: the digits differ
    ("x + y", ("--x", "1", "--z", "2"), "y", ""),  # one letter for another is no typo
    ("X + y", ("--x", "1", "--y", "2"), "X", " (did you mean x, which has a value?)"),
    ("sum(weigths)", ("--weights", "1", "--bias", "2"), "weigths", " (did you mean weights, which has a value?)"),
    ("x * NaN", ("--x", "1"), "NaN", " (did you mean the constant nan?)"),
    ("x * Infinity", ("--x", "1"), "Infinity", " (did you mean the constant inf?)"),
])
def test_unknown_variable_hint(expr, given, missing, hint):
    # The command line refuses a value for a name the expression lacks (an unknown option);
    # the library takes such values, and its message points at the likely typo.
    values = {name.lstrip("-"): float(value) for name, value in zip(given[0::2], given[1::2])}
    with pytest.raises(GradcliError) as info:
        gradcli.api.functional.grad(expr, values)
    assert info.value.message == f"no value for {missing}: give {missing}=VALUE{hint}"


def test_every_rewrite_is_exact():
    """Each rewrite in the hint table computes what the function it replaces computes."""
    from gradcli.api.evaluate import variables
    from gradcli.api.problem import problem
    from gradcli.autodiff.op import FUNCTIONS
    from gradcli.lang.hints import REWRITES
    from gradcli.lang.parser import parse

    x = np.array([0.3, 1.7, -2.5, 4.0])
    y = np.array([-0.4, 2.0, 0.5, 0.0])
    references = {"ln": np.log(np.abs(x))}
    assert set(references) == set(REWRITES)
    for name, (_, rewrite, *_) in REWRITES.items():
        assert name not in FUNCTIONS  # a name gradcli has is an alias on its record, not a rewrite
        positive = name == "ln"
        inputs = {"x": np.abs(x) if positive else x, "y": y, "a": x, "b": y}
        got, _ = problem(rewrite, {n: inputs[n] for n in variables(parse(rewrite))}).forward()
        np.testing.assert_allclose(got.data, references[name], rtol=1e-14, atol=1e-15, err_msg=name)


@pytest.mark.parametrize(("typed", "known", "found"), [
    ("formt", ["format", "force", "points"], "format"),   # one letter missing
    ("chek", ["check", "chunk"], "check"),
    ("snih", ["sinh", "sign"], "sinh"),                   # two neighbours swapped is one edit
    ("softmxa", ["softmax", "sum"], "softmax"),           # two edits in a longer name
    ("SIN", ["sin", "sinh"], "sin"),                      # case alone
    ("sqr", ["sqrt", "sum"], "sqrt"),
    ("round", ["prod", "trace"], None),
    ("hardtanh", ["arctan", "tanh"], None),
    ("log10", ["log1p", "log"], None),                    # the digits differ
    ("ab", ["cd", "xy"], None),                           # every letter changed
    ("y", ["x"], None),
])
def test_closest_counts_only_typos(typed, known, found):
    from gradcli.errors import closest
    assert closest(typed, known) == found


@pytest.mark.parametrize(("expr", "part"), [("sum(x.t())", "t"), ("sum(t(x))", "t(x)"),
                                           ("sum(torch.t(x))", "torch.t(x)")])
def test_t_of_more_than_two_axes_is_refused_as_in_torch(expr, part):
    # torch.t: "t() expects a tensor with <= 2 dimensions, but self is 3D"; x.T and x.mT say which axes
    err = fails("grad", expr, "--x", "[[[1,2],[3,4]]]")
    assert "t() takes a tensor of at most 2 dimensions" in err and "not 3" in err
    assert underlined(err) == part


def test_t_of_a_matrix_a_vector_and_a_number():
    # d/dx sum(x.t() * w) = w.t(); a vector or a number is its own t()
    m, w = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 10.0], [100.0, 1000.0]])
    r = gradcli.api.functional.grad("sum(x.t() * w)", {"x": m, "w": w}, wrt="x")
    np.testing.assert_array_equal(r.gradients["x"], w.T)
    for x, v in ((np.array([1.0, 2.0]), np.array([3.0, 5.0])), (np.array(2.0), np.array(7.0))):
        r = gradcli.api.functional.grad("sum(x.t() * v)", {"x": x, "v": v}, wrt="x")
        np.testing.assert_array_equal(r.gradients["x"], v)
