"""The documented differences from PyTorch (docs/differences.md): gradcli's answer pinned, one test each.

Each test is named after its entry (test_<entry with _>), and tests/test_differential.py
checks that the table, these tests and the torch variants name the same entries.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import gradcli

DOC = Path(__file__).resolve().parents[1] / "docs" / "differences.md"


def documented_entries() -> list[str]:
    return re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(), flags=re.MULTILINE)


def test_det_singular():
    r = gradcli.grad("det(A)", {"A": [[1.0, 2.0], [2.0, 4.0]]})
    assert r.value == 0.0
    np.testing.assert_allclose(r.gradients["A"], [[4.0, -2.0], [-2.0, 1.0]], rtol=1e-14, atol=1e-14)


def test_clip_equal_bounds():
    for x, expected in ((-3.0, (0.0, 1.0, 0.0)), (3.0, (0.0, 0.0, 1.0)), (1.0, (1.0, 0.0, 0.0))):
        r = gradcli.grad("clip(x, lo, hi)", {"x": x, "lo": 1.0, "hi": 1.0})
        assert (float(r.gradients["x"]), float(r.gradients["lo"]), float(r.gradients["hi"])) == expected, x
        assert r.value == 1.0


def test_pow_zero_exponent():
    h = gradcli.hessian("a ** b", {"a": 0.5, "b": 0.0}).hessian
    assert h["a"]["b"] == 2.0 and h["b"]["a"] == 2.0  # 1/a both ways
    assert gradcli.grad("a ** b", {"a": 0.5, "b": 0.0}).gradients["a"] == 0.0


def test_pow_negative_infinity():
    assert gradcli.grad("sum(x ** -1.5)", {"x": [-np.inf]}).value == 0.0
    gradient = gradcli.grad("sum(x ** -0.5)", {"x": [-np.inf]}).gradients["x"]  # -0.5 * (-inf) ** -1.5
    assert gradient.tobytes() == np.array([-0.0]).tobytes()
    # x**-0.5 and x**0.5 themselves are 1/sqrt(x) and sqrt(x), as torch computes them: nan, and so is
    # the gradient of x**0.5 (0.5 / sqrt(x))
    assert np.isnan(gradcli.grad("sum(x ** -0.5)", {"x": [-np.inf]}).value)
    assert np.isnan(gradcli.grad("sum(x ** 0.5)", {"x": [-np.inf]}).gradients["x"]).all()


def test_softplus_threshold():
    r = gradcli.hessian("softplus(x)", {"x": 25.0})
    sigmoid = 1 / (1 + np.exp(-25.0))
    np.testing.assert_allclose(r.gradients["x"], sigmoid, rtol=1e-15)
    assert r.gradients["x"] != 1.0
    np.testing.assert_allclose(r.hessian["x"]["x"], sigmoid * (1 - sigmoid), rtol=1e-6)


def test_std_whole_array():
    r = gradcli.grad("std(x)", {"x": [0.1, 0.1, 0.1]})
    assert r.value == 0.0
    np.testing.assert_array_equal(r.gradients["x"], [0.0, 0.0, 0.0])


def test_var_no_dof():
    for values in ({"x": 2.0}, {"x": [2.0]}):
        r = gradcli.hessian("x.var()", values)
        assert np.isnan(r.value) and np.all(np.isnan(r.gradients["x"])) and np.all(np.isnan(r.hessian["x"]["x"]))


def test_logsumexp_softmax():
    r = gradcli.grad("logsumexp(x)", {"x": [-1.34e67, -1e308, -1.34e67]})
    np.testing.assert_array_equal(r.gradients["x"], [0.5, 0.0, 0.5])


def test_extreme_nan():
    for fn in ("max", "min"):
        r = gradcli.grad(f"sum({fn}(W, axis=1))", {"W": [[np.nan, 1.0, 2.0], [np.nan, np.nan, 1.0]]})
        np.testing.assert_array_equal(r.gradients["W"], [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
        r = gradcli.grad(f"{fn}(x)", {"x": [np.nan, 1.0, 2.0]})
        np.testing.assert_array_equal(r.gradients["x"], [1.0, 0.0, 0.0])


def test_prod_nonfinite():
    r = gradcli.grad("prod(x)", {"x": [2.0, np.inf]})
    np.testing.assert_array_equal(r.gradients["x"], [np.inf, 2.0])


def test_det_nonfinite():
    r = gradcli.grad("det(A)", {"A": [[1.0, np.inf], [2.0, 4.0]]})
    assert np.all(np.isnan(r.gradients["A"]))


def test_det_nonfinite_logdet():
    for text in ("logdet(A)", "slogdet(A)[1]"):
        r = gradcli.grad(text, {"A": [[1.0, np.inf], [2.0, 4.0]]})
        assert np.all(np.isnan(r.gradients["A"]))


def test_symmetric_part():
    a = np.array([[4.0, 1.0], [3.0, 5.0]])  # torch reads the lower triangle: [[4, 3], [3, 5]]
    sym = np.array([[4.0, 2.0], [2.0, 5.0]])
    np.testing.assert_allclose(gradcli.grad("sum(eigvalsh(A))", {"A": a}).value, 9.0, rtol=1e-15)
    np.testing.assert_allclose(gradcli.grad("eigvalsh(A)[0]", {"A": a}).value, np.linalg.eigvalsh(sym)[0], rtol=1e-14)
    np.testing.assert_allclose(gradcli.grad("cholesky(A)[1, 0]", {"A": a}).value, 1.0, rtol=1e-15)  # 2 / sqrt(4)


def test_svdvals_rank_deficient():
    a = np.array([[2.0, -2.0], [1.0, -1.0], [1.0, -1.0]])
    u, _, vh = np.linalg.svd(a.T)  # numpy's choice, through the transpose
    r = gradcli.grad("svdvals(A)[1]", {"A": a})
    np.testing.assert_allclose(r.gradients["A"], np.outer(vh[1], u[:, 1]), atol=1e-15)


def test_cross_rounding():
    a = [[-1.2245272076063445, -0.026826622837420915, -1.077527402395413]]
    assert np.all(gradcli.grad("sum(cross(a, a))", {"a": a}).value == 0.0)
    assert gradcli.grad("sum(cross(a, a) == 0)", {"a": a}).value == 3.0


def test_hardsigmoid_sixth():
    r = gradcli.grad("sum(hardsigmoid(x))", {"x": [0.5, -2.9, 3.0]})
    assert r.gradients["x"].tolist() == [1 / 6, 1 / 6, 0.0]


def test_norm_composite_rule():
    # Equal entries normalize to exactly 0 (the composite's x - mean is 0), where torch's fused kernel leaves -1.8e-15.
    x = [[-np.pi / 2], [-np.pi / 2], [-np.pi / 2]]
    r = gradcli.grad("F.batch_norm(x, training=True).pow(2).sum() + F.batch_norm(x, training=True).sum()", {"x": x})
    assert r.value == 0.0
    assert r.gradients["x"].tolist() == [[0.0], [0.0], [0.0]]


def test_every_documented_entry_has_its_test():
    tests = {name for name in globals() if name.startswith("test_")}
    entries = documented_entries()
    assert len(entries) >= 6
    assert sorted(e for e in entries if "test_" + e.replace("-", "_") not in tests) == []


def test_nll_other_classes():
    h = gradcli.hessian("nll_loss([logaddexp(v, v), v, w], 1, reduction='sum')", {"v": -np.inf, "w": 0.5}).hessian
    assert h["w"]["v"] == 0.0 and h["v"]["w"] == 0.0
