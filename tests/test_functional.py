"""gradcli.grad / jacobian / hessian against independent references: central finite
differences of the same function written in numpy here, closed forms, and the
conventions at non-differentiable points."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli

RNG = np.random.default_rng(20240601)


def central_gradient(f, values: dict, name: str, h: float = 1e-6) -> np.ndarray:
    """d f / d values[name] by central differences; f takes the values dict."""
    base = {k: np.array(v, dtype=np.float64) for k, v in values.items()}
    x = base[name]
    out = np.zeros(x.shape + np.shape(f(base)))
    for index in np.ndindex(x.shape):
        plus = {**base, name: x.copy()}
        minus = {**base, name: x.copy()}
        plus[name][index] += h
        minus[name][index] -= h
        out[index] = (np.asarray(f(plus)) - np.asarray(f(minus))) / (2 * h)
    return out


def central_jacobian(f, values: dict, name: str) -> np.ndarray:
    """J[i..., j...] = d f_i / d x_j: output axes first, as gradcli (and torch) lay it out."""
    per_input = central_gradient(f, values, name)  # x.shape + out.shape
    x_ndim = np.ndim(values[name])
    return np.moveaxis(per_input, tuple(range(x_ndim)), tuple(range(per_input.ndim - x_ndim, per_input.ndim)))


SCALAR_CASES = [
    # expression, the same function in numpy, values
    ("mean(2*x)", lambda v: np.mean(2 * v["x"]), {"x": [1.0, 2.0, 3.0]}),
    ("sum(sin(x) * exp(-x**2))", lambda v: np.sum(np.sin(v["x"]) * np.exp(-v["x"] ** 2)), {"x": RNG.normal(size=4)}),
    ("x @ A @ x", lambda v: v["x"] @ v["A"] @ v["x"], {"x": [1.0, 2.0], "A": [[1.0, 2.0], [3.0, 4.0]]}),
    ("logsumexp(W @ x + b)", lambda v: np.log(np.sum(np.exp(v["W"] @ v["x"] + v["b"]))),
     {"W": RNG.normal(size=(3, 2)), "x": RNG.normal(size=2), "b": RNG.normal(size=3)}),
    ("sum(tanh(m) / (1 + m**2))", lambda v: np.sum(np.tanh(v["m"]) / (1 + v["m"] ** 2)), {"m": RNG.normal(size=(2, 3))}),
    ("norm(x - y)", lambda v: np.linalg.norm(v["x"] - v["y"]), {"x": [1.0, 2.0, 3.0], "y": [0.5, -1.0, 2.0]}),
    ("det(A) + trace(inv(A))", lambda v: np.linalg.det(v["A"]) + np.trace(np.linalg.inv(v["A"])),
     {"A": [[2.0, 0.5], [0.3, 1.5]]}),
    ("std(x) * var(x)", lambda v: np.std(v["x"]) * np.var(v["x"]), {"x": [0.1, 1.5, -2.0, 0.7]}),
    ("sum(softmax(z) * y)", lambda v: np.sum(np.exp(v["z"]) / np.sum(np.exp(v["z"])) * v["y"]),
     {"z": [0.2, -1.0, 2.0], "y": [1.0, 2.0, 3.0]}),
    ("binary_cross_entropy_with_logits(z, y)",
     lambda v: np.mean(np.maximum(v["z"], 0) - v["z"] * v["y"] + np.log1p(np.exp(-np.abs(v["z"])))),
     {"z": [0.3, -2.0, 4.0], "y": [1.0, 0.0, 1.0]}),
    ("mse_loss(w * x, y)", lambda v: np.mean((v["w"] * v["x"] - v["y"]) ** 2),
     {"w": 0.7, "x": [1.0, 2.0, 3.0], "y": [1.0, 1.0, 2.0]}),
    ("prod(x) + sum(x[1:] * x[:-1])", lambda v: np.prod(v["x"]) + np.sum(v["x"][1:] * v["x"][:-1]),
     {"x": [1.5, -0.5, 2.0, 0.8]}),
    ("sum(mean(m, axis=0) ** 2) + max(m[:, 1])",
     lambda v: np.sum(np.mean(v["m"], axis=0) ** 2) + np.max(v["m"][:, 1]), {"m": [[1.0, 2.0], [3.0, -4.0]]}),
    ("2^x^2", lambda v: 2.0 ** (v["x"] ** 2), {"x": 0.9}),
]


@pytest.mark.parametrize(("expr", "f", "values"), SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
def test_grad_matches_central_differences(expr, f, values):
    r = gradcli.grad(expr, values)
    assert r.value == pytest.approx(f({k: np.asarray(v, dtype=float) for k, v in values.items()}), rel=1e-12)
    for name in values:
        assert r.gradients[name].shape == np.shape(values[name])
        np.testing.assert_allclose(r.gradients[name], central_gradient(f, values, name), rtol=1e-6, atol=1e-8)


def test_grad_closed_form():
    r = gradcli.grad("mean(2*x)", {"x": [1, 2, 3]})
    assert r.value == 4.0
    np.testing.assert_array_equal(r.gradients["x"], [2 / 3] * 3)
    r = gradcli.grad("x @ A @ x", {"x": [1.0, 2.0], "A": [[1.0, 2.0], [3.0, 4.0]]}, wrt="x")
    A, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 2.0])
    np.testing.assert_array_equal(r.gradients["x"], (A + A.T) @ x)
    assert list(r.gradients) == ["x"]


def test_wrt_keeps_the_others_constant_and_its_order():
    r = gradcli.grad("(w*x - y)**2", {"w": 1.0, "x": 2.0, "y": 4.0}, wrt=["y", "w"])
    assert list(r.gradients) == ["y", "w"]
    assert r.gradients["w"] == 2 * (2.0 - 4.0) * 2.0
    assert r.gradients["y"] == -2 * (2.0 - 4.0)


def test_broadcasting_gradients_are_summed_to_each_shape():
    values = {"m": RNG.normal(size=(3, 4)), "row": RNG.normal(size=4), "col": RNG.normal(size=(3, 1)), "s": 1.7}
    expr = "sum(exp(m * row + col) * s)"

    def f(v):
        return np.sum(np.exp(v["m"] * v["row"] + v["col"]) * v["s"])

    r = gradcli.grad(expr, values)
    for name, value in values.items():
        assert r.gradients[name].shape == np.shape(value)
        np.testing.assert_allclose(r.gradients[name], central_gradient(f, values, name), rtol=1e-6)


def test_vjp_with_grad_output_is_v_transpose_j():
    values = {"x": [0.5, -1.0, 2.0]}
    v = np.array([1.0, -2.0, 0.5])
    r = gradcli.grad("x * sin(x)", values, grad_output=v)
    assert r.kind == "vjp"
    jac = central_jacobian(lambda vals: vals["x"] * np.sin(vals["x"]), values, "x")
    np.testing.assert_allclose(r.gradients["x"], v @ jac, rtol=1e-7)


VECTOR_CASES = [
    ("[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]", lambda v: np.array([v["m"][0] ** 2 + 3 * v["m"][1],
                                                                   v["m"][1] ** 2 + 2 * v["m"][0]]), {"m": [2.0, 3.0]}),
    ("tanh(W @ x)", lambda v: np.tanh(v["W"] @ v["x"]), {"W": RNG.normal(size=(3, 2)), "x": RNG.normal(size=2)}),
    ("softmax(m, axis=0)", lambda v: np.exp(v["m"]) / np.sum(np.exp(v["m"]), axis=0), {"m": RNG.normal(size=(3, 2))}),
    ("outer(x, y) * 2", lambda v: np.outer(v["x"], v["y"]) * 2, {"x": [1.0, 2.0], "y": [3.0, 4.0, 5.0]}),
    ("m.T @ m", lambda v: v["m"].T @ v["m"], {"m": RNG.normal(size=(2, 3))}),
    ("x[::2] * y", lambda v: v["x"][::2] * v["y"], {"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": 2.5}),
]


@pytest.mark.parametrize(("expr", "f", "values"), VECTOR_CASES, ids=[c[0] for c in VECTOR_CASES])
def test_jacobian_matches_central_differences(expr, f, values):
    r = gradcli.jacobian(expr, values)
    out = f({k: np.asarray(v, dtype=float) for k, v in values.items()})
    np.testing.assert_allclose(r.value, out, rtol=1e-12)
    for name in values:
        assert r.jacobian[name].shape == out.shape + np.shape(values[name])
        np.testing.assert_allclose(r.jacobian[name], central_jacobian(f, values, name), rtol=1e-6, atol=1e-9)


def test_jacobian_closed_form():
    r = gradcli.jacobian("[m[0]**2 + 3*m[1], m[1]**2 + 2*m[0]]", {"m": [2.0, 3.0]})
    np.testing.assert_array_equal(r.value, [13.0, 13.0])
    np.testing.assert_array_equal(r.jacobian["m"], [[4.0, 3.0], [2.0, 6.0]])


@pytest.mark.parametrize(("expr", "f", "values"), VECTOR_CASES, ids=[c[0] for c in VECTOR_CASES])
@pytest.mark.parametrize("chunk", [None, 1, 2])
def test_jacobian_batched_agrees_with_the_loop(expr, f, values, chunk):
    batched = gradcli.jacobian(expr, values, method="batched", chunk=chunk)
    loop = gradcli.jacobian(expr, values, method="loop")
    for name in values:
        np.testing.assert_allclose(batched.jacobian[name], loop.jacobian[name], rtol=1e-14, atol=1e-15)


def test_jacobian_of_a_scalar_is_the_gradient():
    values = {"x": [0.3, 0.4]}
    assert gradcli.jacobian("norm(x)", values).jacobian["x"].tolist() == pytest.approx([0.6, 0.8])


HESSIAN_CASES = [
    ("x @ A @ x", {"x": [1.0, 2.0], "A": [[1.0, 2.0], [3.0, 4.0]]}),
    ("sum(sin(x)) * y**2", {"x": [0.5, 1.0], "y": 3.0}),
    ("logsumexp(W @ x)", {"W": RNG.normal(size=(3, 2)), "x": RNG.normal(size=2)}),
    ("sum(m * m * m) + det(m)", {"m": [[1.0, 2.0], [0.5, 3.0]]}),
    ("norm(x) * mean(exp(x))", {"x": [0.3, -0.2, 0.9]}),
]


@pytest.mark.parametrize(("expr", "values"), HESSIAN_CASES, ids=[c[0] for c in HESSIAN_CASES])
def test_hessian_blocks_match_differences_of_the_gradient(expr, values):
    r = gradcli.hessian(expr, values)
    names = list(values)
    for a in names:
        def gradient_a(vals, a=a):
            return gradcli.grad(expr, vals).gradients[a]

        for b in names:
            block = r.hessian[a][b]
            assert block.shape == np.shape(values[a]) + np.shape(values[b])
            # H[a][b][i, j] = d/db_j (df/da_i)
            np.testing.assert_allclose(block, central_jacobian(gradient_a, values, b), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(r.gradients[a], gradcli.grad(expr, values).gradients[a], rtol=1e-14)


def test_hessian_closed_forms():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    r = gradcli.hessian("x @ A @ x", {"x": [1.0, 2.0], "A": A}, wrt="x")
    assert r.value == 27.0
    np.testing.assert_array_equal(r.hessian["x"]["x"], A + A.T)
    r = gradcli.hessian("x**3 * y", {"x": 2.0, "y": 5.0})
    assert r.hessian["x"]["x"] == 6 * 2.0 * 5.0
    assert r.hessian["x"]["y"] == r.hessian["y"]["x"] == 3 * 2.0**2
    assert r.hessian["y"]["y"] == 0.0


def test_hessian_batched_agrees_with_the_loop():
    expr, values = HESSIAN_CASES[2]
    batched = gradcli.hessian(expr, values)
    loop = gradcli.hessian(expr, values, method="loop")
    for a in values:
        for b in values:
            np.testing.assert_allclose(batched.hessian[a][b], loop.hessian[a][b], rtol=1e-14, atol=1e-15)


def test_hessian_of_a_linear_function_is_zero():
    r = gradcli.hessian("sum(3*x) + y", {"x": [1.0, 2.0], "y": 4.0})
    assert not np.any(r.hessian["x"]["x"]) and r.hessian["x"]["y"].shape == (2,)


# -- non-differentiable points: PyTorch's conventions -------------------------------------
KINKS = [
    # expression, values, the gradient PyTorch gives
    ("abs(x)", {"x": 0.0}, {"x": 0.0}),
    ("relu(x)", {"x": 0.0}, {"x": 0.0}),
    ("maximum(a, b)", {"a": 1.0, "b": 1.0}, {"a": 0.5, "b": 0.5}),
    ("minimum(a, b)", {"a": -2.0, "b": -2.0}, {"a": 0.5, "b": 0.5}),
    ("max(x)", {"x": [1.0, 3.0, 3.0]}, {"x": [0.0, 0.5, 0.5]}),
    ("min(x)", {"x": [2.0, 2.0, 2.0, 5.0]}, {"x": [1 / 3, 1 / 3, 1 / 3, 0.0]}),
    ("norm(x)", {"x": [0.0, 0.0, 0.0]}, {"x": [0.0, 0.0, 0.0]}),
    ("prod(x)", {"x": [0.0, 2.0, 3.0]}, {"x": [6.0, 0.0, 0.0]}),
    ("prod(x)", {"x": [0.0, 0.0, 3.0]}, {"x": [0.0, 0.0, 0.0]}),
    ("x**0", {"x": 0.0}, {"x": 0.0}),
    ("pow(x, y)", {"x": 0.0, "y": 0.0}, {"x": 0.0, "y": 0.0}),
    ("sqrt(x)", {"x": 0.0}, {"x": np.inf}),
    ("log(x)", {"x": 0.0}, {"x": np.inf}),
    ("sign(x)", {"x": 0.0}, {"x": 0.0}),
    ("sign(x)", {"x": 2.5}, {"x": 0.0}),
    ("where(x > 0, x, 0)", {"x": 0.0}, {"x": 0.0}),
    ("clip(x, 0, 1)", {"x": 1.0}, {"x": 1.0}),
]


@pytest.mark.parametrize(("expr", "values", "expected"), KINKS, ids=[f"{e}@{v}" for e, v, _ in KINKS])
def test_convention_at_non_differentiable_points(expr, values, expected):
    r = gradcli.grad(f"sum({expr})", values)
    for name, want in expected.items():
        np.testing.assert_array_equal(r.gradients[name], want)


def test_prod_with_one_zero_is_exact_against_the_product_of_the_others():
    x = np.array([1.5, 0.0, -2.0, 4.0])
    r = gradcli.grad("prod(x)", {"x": x})
    expected = [np.prod(np.delete(x, i)) for i in range(4)]
    np.testing.assert_array_equal(r.gradients["x"], expected)


def test_detach_and_stop_gradient_block_the_gradient():
    r = gradcli.grad("x * detach(x) + stop_gradient(x**2)", {"x": 3.0})
    assert r.value == 18.0
    assert r.gradients["x"] == 3.0


def test_comparisons_are_masks_without_gradient():
    r = gradcli.grad("sum((x > 1) * x)", {"x": [0.5, 1.0, 2.0]})
    np.testing.assert_array_equal(r.gradients["x"], [0.0, 0.0, 1.0])


def test_result_attributes_are_numpy_arrays():
    r = gradcli.hessian("sum(x**2)", {"x": [1, 2]})
    assert isinstance(r.value, np.ndarray) and r.value.shape == ()
    assert isinstance(r.gradients["x"], np.ndarray)
    assert isinstance(r.hessian["x"]["x"], np.ndarray)
    assert r.wrt == ["x"] and r.expression == "sum(x**2)"


def test_clip_with_crossed_bounds_gives_the_upper_bound_all_the_gradient():
    # min(max(x, lo), hi) with lo > hi is hi everywhere; torch.clamp agrees.
    r = gradcli.grad("clip(x, lo, hi)", {"x": 1.7, "lo": 2.0, "hi": 1.5})
    assert (float(r.gradients["x"]), float(r.gradients["lo"]), float(r.gradients["hi"])) == (0.0, 0.0, 1.0)


def test_logsumexp_gradient_keeps_its_digits_at_huge_magnitudes():
    r = gradcli.grad("logsumexp(x)", {"x": [-1.34e67, -1e308, -1.34e67]})
    np.testing.assert_array_equal(r.gradients["x"], [0.5, 0.0, 0.5])


def test_std_of_equal_entries_has_gradient_zero_and_matches_the_formula_elsewhere():
    np.testing.assert_array_equal(gradcli.grad("std(x)", {"x": [2.0, 2.0, 2.0]}).gradients["x"], [0.0, 0.0, 0.0])
    x = np.array([1.0, 2.0, 4.0])
    expected = (x - x.mean()) / (x.size * x.std())
    np.testing.assert_allclose(gradcli.grad("std(x)", {"x": x}).gradients["x"], expected, rtol=1e-14)


@pytest.mark.parametrize("x,norm", [([2.26e-162], 2.26e-162), ([3e200, 4e200], 5e200), ([3.0, 4.0], 5.0)])
def test_norm_neither_underflows_nor_overflows(x, norm):
    r = gradcli.grad("norm(x)", {"x": x})
    np.testing.assert_allclose(r.value, norm, rtol=1e-15)
    np.testing.assert_allclose(r.gradients["x"], np.array(x) / norm, rtol=1e-15)
