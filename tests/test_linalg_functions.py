"""Linear algebra functions (ops/matrix_functions.py, decompositions.py, products.py).

Values and gradients against closed forms and central differences (without torch), then
value, gradient and Hessian against torch.linalg on batched, rectangular and 3-by-3 inputs
that the registry's samples (2-by-2 where SymPy needs a closed form) leave out; the
command line on the spellings a PyTorch user writes.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.errors import GradcliError

RNG = np.random.default_rng(14)
A3 = RNG.standard_normal((3, 3))
SPD3 = A3 @ A3.T + 3 * np.eye(3)
B3 = RNG.standard_normal(3)


def central_gradient(text: str, values: dict, name: str, step: float = 1e-6) -> np.ndarray:
    x = np.asarray(values[name], dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        f_up = functional.grad(text, {**values, name: up}).value
        f_down = functional.grad(text, {**values, name: down}).value
        out[i] = (f_up - f_down) / (2 * step)
    return out


# -- without torch -------------------------------------------------------------------------------
def test_closed_forms():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    cases = [
        ("solve(A, b)", "Ab", np.linalg.inv(a) @ np.array([1.0, 2.0])),
        ("logdet(A)", "A", np.log(5.0)),
        ("slogdet(-A)", "A", [1.0, np.log(5.0)]),
        ("slogdet(A @ [[0, 1], [1, 0]])", "A", [-1.0, np.log(5.0)]),
        ("cholesky(A)", "A", [[np.sqrt(2), 0], [1 / np.sqrt(2), np.sqrt(2.5)]]),
        ("matrix_power(A, 3)", "A", a @ a @ a),
        ("matrix_power(A, -1)", "A", np.linalg.inv(a)),
        ("matrix_power(A, 0)", "A", np.eye(2)),
        ("eigvalsh(A)", "A", [(5 - np.sqrt(5)) / 2, (5 + np.sqrt(5)) / 2]),
        ("svdvals(A)", "A", [(5 + np.sqrt(5)) / 2, (5 - np.sqrt(5)) / 2]),
        ("expm(D)", "D", np.diag(np.exp([1.0, -2.0]))),
        ("pinv(r)", "r", np.array([[1.0], [2.0]]) / 5),
        ("kron(A, r)", "Ar", np.kron(a, [[1.0, 2.0]])),
        ("cross(u, v)", "uv", [0.0, 0.0, 1.0]),
        ("tensordot(A, A)", "A", np.sum(a * a)),
        ("einsum('ii', A)", "A", 5.0),
        ("einsum('ij,j->i', A, b)", "Ab", a @ [1.0, 2.0]),
    ]
    values = {"A": a, "b": np.array([1.0, 2.0]), "D": np.diag([1.0, -2.0]), "r": np.array([[1.0, 2.0]]),
              "u": np.array([1.0, 0, 0]), "v": np.array([0, 1.0, 0])}
    for text, names, want in cases:
        got = functional.jacobian(text, {k: values[k] for k in names}).value
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15, err_msg=text)


@pytest.mark.parametrize("text", [
    "sum(sin(solve(A, B)))", "logdet(A)", "slogdet(A)[1]", "sum(sin(cholesky(A)))",
    "sum(sin(matrix_power(0.3 * A, 4)))",
    "sum(sin(matrix_power(A, -3)))", "sum(sin(expm(0.3 * A)))", "sum(sin(eigvalsh(A)))", "sum(sin(svdvals(A[:2])))",
    "sum(sin(pinv(A[:, :2])))", "sum(sin(einsum('ij,jk,k->i', A, A, B[:, 0])))", "sum(sin(einsum('iij->j', T)))",
])
def test_gradients_against_central_differences(text):
    values = {"A": SPD3, "B": RNG.standard_normal((3, 2)), "T": RNG.standard_normal((2, 2, 3))}
    used = {k: v for k, v in values.items() if f"{k})" in text or f"{k}[" in text or f"{k}," in text}
    got = functional.grad(text, used).gradients
    for name in used:
        np.testing.assert_allclose(got[name], central_gradient(text, used, name), rtol=1e-6, atol=1e-7)


def test_symmetric_gradient_of_a_symmetric_reading():
    """eigvalsh and cholesky give a symmetric gradient (as torch), the derivative of reading (A + Aᵀ)/2."""
    for text in ("eigvalsh(A)[0]", "cholesky(A)[2, 1]"):
        g = functional.grad(text, {"A": SPD3}).gradients["A"]
        np.testing.assert_allclose(g, g.T, rtol=0, atol=1e-15)


def test_errors_name_the_problem():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    for text, values, words in [("solve(A, b)", {"A": singular, "b": np.ones(2)}, "singular"),
                                ("cholesky(A)", {"A": -np.eye(2)}, "positive definite"),
                                ("cross(a, a)", {"a": np.ones(4)}, "3 (or 2) entries"),
                                ("einsum('ij,j->i', A, b)", {"A": singular, "b": np.ones(3)}, "differ in size"),
                                ("einsum('ij->i', A, A)", {"A": singular}, "operand")]:
        with pytest.raises(GradcliError) as err:
            functional.grad(f"sum({text})", values)
        assert words in err.value.message, err.value.message


def test_logdet_at_singular_and_negative_determinants():
    r = functional.grad("logdet(A)", {"A": np.array([[1.0, 2.0], [2.0, 4.0]])})
    assert r.value == -np.inf and np.all(np.isnan(r.gradients["A"]))
    assert np.isnan(functional.grad("logdet(A)", {"A": np.array([[0.0, 1.0], [1.0, 0.0]])}).value)
    s = functional.jacobian("slogdet(A)", {"A": np.array([[0.0, 1.0], [1.0, 0.0]])}).value
    np.testing.assert_array_equal(s, [-1.0, 0.0])


# -- against torch --------------------------------------------------------------------------------
torch_cases = [
    ("sum(sin(solve(A, b)))", lambda torch, t: torch.linalg.solve(t["A"], t["b"]).sin().sum()),
    ("sum(sin(solve(S, B)))", lambda torch, t: torch.linalg.solve(t["S"], t["B"]).sin().sum()),
    ("sum(logdet(S))", lambda torch, t: torch.logdet(t["S"]).sum()),
    ("sum(slogdet(S)[..., 1])", lambda torch, t: torch.linalg.slogdet(t["S"])[1].sum()),
    ("sum(sin(cholesky(P)))", lambda torch, t: torch.linalg.cholesky(t["P"]).sin().sum()),
    ("sum(sin(torch.linalg.matrix_power(A, 6)))", lambda torch, t: torch.linalg.matrix_power(t["A"], 6).sin().sum()),
    ("sum(sin(torch.linalg.matrix_exp(S)))", lambda torch, t: torch.linalg.matrix_exp(t["S"]).sin().sum()),
    ("sum(sin(expm(3 * A)))", lambda torch, t: torch.linalg.matrix_exp(3 * t["A"]).sin().sum()),
    ("sum(sin(eigvalsh(P)))", lambda torch, t: torch.linalg.eigvalsh(t["P"]).sin().sum()),
    ("sum(sin(svdvals(S)))", lambda torch, t: torch.linalg.svdvals(t["S"]).sin().sum()),
    ("sum(sin(svdvals(R)))", lambda torch, t: torch.linalg.svdvals(t["R"]).sin().sum()),
    ("sum(sin(pinv(R)))", lambda torch, t: torch.linalg.pinv(t["R"]).sin().sum()),
    ("sum(sin(kron(A, R)))", lambda torch, t: torch.kron(t["A"], t["R"]).sin().sum()),
    ("sum(sin(torch.linalg.cross(R, b)))",
     lambda torch, t: torch.linalg.cross(t["R"], t["b"].expand(2, 3)).sin().sum()),
    ("sum(sin(tensordot(S, R.T, dims=1)))", lambda torch, t: torch.tensordot(t["S"], t["R"].T, dims=1).sin().sum()),
    ("sum(sin(einsum('bij,bjk->bik', S, S)))",
     lambda torch, t: torch.einsum("bij,bjk->bik", t["S"], t["S"]).sin().sum()),
    ("sum(sin(torch.einsum('...ii->...i', S)))", lambda torch, t: torch.einsum("...ii->...i", t["S"]).sin().sum()),
    ("sum(sin(S.norm(3, dim=(0, 2))))", lambda torch, t: t["S"].norm(3, dim=(0, 2)).sin().sum()),
    ("sin(torch.linalg.vector_norm(R, ord=0.5))", lambda torch, t: torch.linalg.vector_norm(t["R"], ord=0.5).sin()),
    ("sum(sin(np.linalg.norm(S, ord=-inf, axis=1)))",
     lambda torch, t: torch.linalg.vector_norm(t["S"], float("-inf"), dim=1).sin().sum()),
    ("sum(sin(torch.linalg.matrix_norm(S, 'nuc')))",
     lambda torch, t: torch.linalg.matrix_norm(t["S"], "nuc").sin().sum()),
    ("sum(sin(matrix_norm(S, -2, dim=(0, 2))))",
     lambda torch, t: torch.linalg.matrix_norm(t["S"], -2, dim=(0, 2)).sin().sum()),
    ("sum(sin(matrix_norm(S, inf, keepdim=True)))",
     lambda torch, t: torch.linalg.matrix_norm(t["S"], float("inf"), keepdim=True).sin().sum()),
]


@pytest.mark.parametrize("text, reference", torch_cases, ids=[c[0] for c in torch_cases])
def test_value_gradient_and_hessian_against_torch(text, reference):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    s = rng.standard_normal((2, 3, 3))
    p = rng.standard_normal((3, 3))
    values = {"A": rng.standard_normal((3, 3)), "b": rng.standard_normal(3), "B": rng.standard_normal((2, 3, 2)),
              "S": s, "P": p @ p.T + np.eye(3), "R": rng.standard_normal((2, 3))}
    used = {k: v for k, v in values.items() if f"{k})" in text or f"{k}." in text or f"{k}," in text or f"{k}[" in text}
    names = list(used)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in used.items()}
    out = reference(torch, leaves)
    grads = torch.autograd.grad(out, list(leaves.values()))
    r = functional.grad(text, used)
    np.testing.assert_allclose(r.value, out.item(), rtol=1e-12)
    for name, g in zip(names, grads):
        np.testing.assert_allclose(r.gradients[name], g.numpy(), rtol=1e-9, atol=1e-12)
    first = names[0]
    rest = {k: torch.tensor(v) for k, v in used.items() if k != first}
    hessian = torch.autograd.functional.hessian(lambda x: reference(torch, {**rest, first: x}),
                                                torch.tensor(used[first]))
    np.testing.assert_allclose(functional.hessian(text, used, wrt=[first]).hessian[first][first], hessian.numpy(),
                               rtol=1e-8, atol=1e-10)


def test_norm_takes_p_by_position_as_torch_norm():
    """x.norm(2) is p=2, x.norm(1) the sum of |x|; p=0 counts the nonzero entries and has gradient 0."""
    x = np.array([3.0, 0.0, -4.0])
    for text, value, gradient in [("x.norm(2)", 5.0, x / 5), ("x.norm(1)", 7.0, np.sign(x)), ("norm(x, 0)", 2.0, 0 * x),
                                  ("norm(x, inf)", 4.0, [0, 0, -1]), ("norm(x, p='fro')", 5.0, x / 5)]:
        r = functional.grad(text, {"x": x})
        assert r.value == value, text
        np.testing.assert_array_equal(r.gradients["x"], gradient, err_msg=text)
    with pytest.raises(GradcliError) as err:
        functional.grad("matrix_norm(A, 3)", {"A": np.eye(2)})
    assert "a matrix norm takes p='fro', 'nuc', 1, -1, 2, -2, inf or -inf, not 3.0" in err.value.message


def test_tensordot_with_a_pair_of_axis_lists():
    torch = pytest.importorskip("torch")
    from gradcli.autodiff.engine import Tensor, call

    a, b = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((4, 3))
    got = call("tensordot", Tensor(a), Tensor(b), dims=((0, 2), (1, 0))).data
    np.testing.assert_allclose(got, torch.tensordot(torch.tensor(a), torch.tensor(b), dims=([0, 2], [1, 0])).numpy(),
                               rtol=1e-13)


# -- the command line -------------------------------------------------------------------------------
def test_torch_spellings_on_the_command_line(cli):
    run = cli("grad", "torch.linalg.slogdet(A)[1] + torch.logdet(A) + A.cholesky().trace() + "
              "torch.linalg.eigvalsh(A).sum() + torch.linalg.svdvals(A)[0] + torch.linalg.pinv(A).sum() + "
              "torch.linalg.solve(A, b).sum() + torch.matrix_exp(A).sum() + A.matrix_power(2).sum() + "
              "torch.kron(A, A).sum() + torch.einsum('ij,j->i', A, b).sum() + torch.tensordot(A, A, dims=1).sum()",
              "--A", "2,1;1,3", "--b", "1,2", "--format", "json")
    assert run.exit_code == 0, run.stderr
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    want = (2 * np.log(5) + np.trace(np.linalg.cholesky(a)) + 5 + np.linalg.svd(a)[1][0] + np.linalg.inv(a).sum()
            + np.linalg.solve(a, [1, 2]).sum() + _expm_sum(a) + (a @ a).sum() + np.kron(a, a).sum()
            + (a @ [1, 2]).sum() + (a @ a).sum())
    np.testing.assert_allclose(run.json()["value"], want, rtol=1e-12)


def _expm_sum(a):
    values, vectors = np.linalg.eigh(a)
    return float(np.sum(vectors @ np.diag(np.exp(values)) @ vectors.T))


def test_an_einsum_subscript_that_is_not_a_string_is_refused(cli):
    run = cli("grad", "sum(einsum(A, b))", "--A", "2,1;1,3", "--b", "1,2")
    assert run.exit_code != 0
    assert 'einsum takes its subscripts first, as in einsum("ij,j->i", A, x)' in run.stderr
