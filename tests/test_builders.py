"""Arrays built from others and triangular solves (gradcli/ops/builders.py) against PyTorch.

Each call is compared with torch in float64 (value, gradient of a weighted sum, Hessian) and float32 (value and
gradient), in PyTorch's spellings: torch.X, methods, keywords and positions. torch.vander's backward raises in
torch 2.13 (its cumprod writes into a view), so vander is compared with torch.linalg.vander's same running
product, its columns reversed; at x = 0 both give the cumprod rule's gradient. The registry-wide tests and the
differential suite cover the records too.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli
from torch_agreement import agrees as _agrees

from gradcli.api import functional
from gradcli.errors import GradcliError

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)
X = RNG.standard_normal((2, 3))


def _both(text, fn, values, hessian=True):
    _agrees(text, fn, values, hessian=hessian)
    _agrees(text, fn, values, dtype="float32")


@pytest.mark.parametrize("text, fn", [
    ("torch.rot90(x)", torch.rot90),
    ("torch.rot90(x, -1)", lambda t: torch.rot90(t, -1)),
    ("x.rot90(2, (1, 0))", lambda t: t.rot90(2, (1, 0))),
    ("torch.rot90(x, k=7, dims=[1, 0])", lambda t: torch.rot90(t, k=7, dims=[1, 0])),
    ("torch.rot90(x, 4)", lambda t: torch.rot90(t, 4)),
])
def test_rot90_turns_as_pytorch(text, fn):
    _both(text, fn, {"x": X}, hessian=False)


def test_rot90_of_three_axes_and_its_refusals():
    _both("torch.rot90(y, k=3, dims=(2, 0))", lambda t: torch.rot90(t, k=3, dims=(2, 0)),
          {"y": RNG.standard_normal((2, 3, 2))}, hessian=False)
    r = functional.grad("torch.rot90(x)", {"x": np.array([[1.0, 2.0], [3.0, 4.0]])}, grad_output=np.ones((2, 2)))
    np.testing.assert_array_equal(r.value, [[2.0, 4.0], [1.0, 3.0]])  # torch.rot90's own example
    with pytest.raises(GradcliError, match="two different dims"):
        functional.grad("torch.rot90(x, 1, (0, 0)).sum()", {"x": X})
    with pytest.raises(GradcliError, match="2 or more axes"):
        functional.grad("torch.rot90(x).sum()", {"x": X[0]})


def test_block_diag_places_numbers_vectors_and_matrices():
    _both("torch.block_diag(a, b, c)", torch.block_diag, {"a": np.array(1.5), "b": X[0], "c": X})
    _both("torch.block_diag(c)", torch.block_diag, {"c": X})
    r = functional.grad("torch.block_diag(a, b)", {"a": np.array([[1.0]]), "b": np.array([2.0, 3.0])},
                        grad_output=np.ones((2, 3)))
    np.testing.assert_array_equal(r.value, [[1, 0, 0], [0, 2, 3]])


def test_cartesian_prod_and_combinations_are_itertools_order():
    _both("torch.cartesian_prod(a, b)", torch.cartesian_prod, {"a": X[0], "b": X[1, :2]})
    _both("torch.cartesian_prod(a, b, c)", torch.cartesian_prod, {"a": X[0], "b": X[1, :2], "c": X[1, 2:]})
    _both("torch.cartesian_prod(a)", torch.cartesian_prod, {"a": X[0]})
    v = RNG.standard_normal(4)
    _both("torch.combinations(v)", torch.combinations, {"v": v})
    _both("torch.combinations(v, 3, True)", lambda t: torch.combinations(t, 3, True), {"v": v[:3]})
    _both("torch.combinations(v, r=3)", lambda t: torch.combinations(t, r=3), {"v": v})
    # an entry read in several rows sends back the sum of their cotangents
    r = functional.grad("torch.combinations(v, 2, with_replacement=True).sum()", {"v": np.array([1.0, 2.0])})
    np.testing.assert_array_equal(r.gradients["v"], [3.0, 3.0])
    r = functional.grad("torch.combinations(v, 4)", {"v": v[:3]}, grad_output=np.ones((0, 4)))
    assert r.value.shape == (0, 4)  # more entries than the vector has: none, as torch


@pytest.mark.parametrize("text, fn", [
    ("torch.diag_embed(x)", torch.diag_embed),
    ("torch.diag_embed(x, 1, 0, 2)", lambda t: torch.diag_embed(t, 1, 0, 2)),
    ("x.diag_embed(offset=-1, dim1=-1, dim2=0)", lambda t: t.diag_embed(offset=-1, dim1=-1, dim2=0)),
    ("torch.diagflat(x, 1)", lambda t: torch.diagflat(t, 1)),
    ("x.diagflat(offset=-2)", lambda t: t.diagflat(offset=-2)),
])
def test_diagonals_are_placed_as_pytorch_places_them(text, fn):
    _both(text, fn, {"x": X}, hessian=False)


def _vander(t, N=None, increasing=False):
    out = torch.linalg.vander(t, N=N)
    return out if increasing else out.flip(-1)


@pytest.mark.parametrize("text, params", [
    ("torch.vander(a)", {}), ("torch.vander(a, 4, True)", {"N": 4, "increasing": True}),
    ("torch.vander(a, N=2)", {"N": 2}), ("np.vander(a, 3, increasing=True)", {"N": 3, "increasing": True}),
])
def test_vander_is_the_running_product_of_x_with_its_rule_at_zero(text, params):
    a = np.array([0.5, 0.0, -2.0])
    _both(text, lambda t: _vander(t, **params), {"a": a})
    value = functional.grad(text, {"a": a}, grad_output=np.ones((3, params.get("N", 3)))).value
    np.testing.assert_array_equal(value, np.vander(a, params.get("N"), increasing=params.get("increasing", False)))


def test_the_command_line_runs_a_builder():
    run = run_cli("grad", "torch.vander(x, 3).sum()", "--x", "[0, 2]", "--format", "json")
    assert run.exit_code == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["value"] == 8.0  # rows 0, 0, 1 and 4, 2, 1
    assert payload["gradients"]["x"] == [1.0, 5.0]  # 2x + 1


# -- triangular solves ----------------------------------------------------------------------------------
A = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
A3 = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
B = RNG.standard_normal((3, 2))


@pytest.mark.parametrize("text, params, shapes", [
    ("torch.linalg.solve_triangular(A, B, upper=False)", {"upper": False}, None),
    ("torch.linalg.solve_triangular(A, B, upper=True)", {"upper": True}, None),
    ("torch.linalg.solve_triangular(A, B, upper=True, left=False)", {"upper": True, "left": False}, (3, 2)),
    ("torch.linalg.solve_triangular(A, B, upper=False, unitriangular=True)", {"upper": False, "unitriangular": True},
     None),
    ("torch.linalg.solve_triangular(A, B, upper=False, left=False, unitriangular=True)",
     {"upper": False, "left": False, "unitriangular": True}, (2, 2, 3)),
])
def test_solve_triangular_reads_one_triangle_and_gives_it_the_gradient(text, params, shapes):
    a = A3 if shapes == (2, 2, 3) else A  # A is full: the solve reads one triangle, which alone gets a gradient
    b = B if shapes is None else (B.T.copy() if shapes == (3, 2) else RNG.standard_normal(shapes))
    fn = lambda a, b: torch.linalg.solve_triangular(a, b, **params)  # noqa: E731
    _both(text, fn, {"A": a, "B": b})
    g = functional.grad(f"sum({text})", {"A": a, "B": b}).gradients["A"]
    keep = np.triu if params["upper"] else np.tril
    np.testing.assert_array_equal(g, keep(g, 1 if params.get("unitriangular") else 0) if params["upper"] else
                                  keep(g, -1 if params.get("unitriangular") else 0))


def test_solve_triangular_takes_upper_by_name_only_and_refuses_a_vector():
    with pytest.raises(GradcliError, match="missing upper"):
        functional.grad("torch.linalg.solve_triangular(A, B).sum()", {"A": A, "B": B})
    with pytest.raises(GradcliError, match="right-hand side"):
        functional.grad("torch.linalg.solve_triangular(A, b, upper=True).sum()", {"A": A, "b": B[:, 0]})


@pytest.mark.parametrize("text, upper", [("torch.cholesky_solve(B, L)", False), ("B.cholesky_solve(L, True)", True),
                                         ("torch.cholesky_solve(B, L, upper=True)", True)])
def test_cholesky_solve_of_a_factor_is_pytorchs(text, upper):
    factor = np.triu(A).T.copy() if not upper else np.triu(A)
    _both(text, lambda b, l: torch.cholesky_solve(b, l, upper), {"B": B, "L": factor})
    batch = np.triu(A3) if upper else np.tril(A3)
    _agrees(text, lambda b, l: torch.cholesky_solve(b, l, upper), {"B": RNG.standard_normal((2, 3, 1)), "L": batch})


def test_cholesky_solve_of_a_full_matrix_reads_it_whole():
    """torch's kernel reads L's triangle, its rule -(C + Cᵀ) L the whole of L: gradcli computes (L Lᵀ)⁻¹ B with the
    whole L, the function whose derivative that rule is (equal to torch's where L is triangular)."""
    r = functional.grad("torch.cholesky_solve(B, L)", {"B": B, "L": A}, grad_output=np.ones((3, 2)))
    np.testing.assert_allclose(r.value, np.linalg.solve(A @ A.T, B), rtol=1e-12)
    bt, lt = torch.tensor(B), torch.tensor(A, requires_grad=True)
    x = torch.cholesky_solve(bt, lt)  # torch's rule, read at its own (triangle's) solution
    c = torch.cholesky_solve(torch.ones(3, 2, dtype=torch.float64), lt) @ x.mT
    x.sum().backward()
    np.testing.assert_allclose(lt.grad.numpy(), (-(c + c.mT) @ lt).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("text, fn", [
    ("torch.triangular_solve(b, A)[0]", lambda b, a: torch.triangular_solve(b, a)[0]),
    ("torch.triangular_solve(b, A, False, True)[0]", lambda b, a: torch.triangular_solve(b, a, False, True)[0]),
    ("b.triangular_solve(A, unitriangular=True)[0]", lambda b, a: b.triangular_solve(a, unitriangular=True)[0]),
    ("torch.triangular_solve(b, A, upper=False)[1]", lambda b, a: torch.triangular_solve(b, a, upper=False)[1]),
    ("torch.triangular_solve(b, A)[0] + torch.triangular_solve(b, A)[1][:, :2]",
     lambda b, a: torch.triangular_solve(b, a)[0] + torch.triangular_solve(b, a)[1][:, :2]),
])
@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
def test_triangular_solve_is_the_pair_solution_and_a_copy_of_a(text, fn):
    """torch.triangular_solve(b, A) takes b first and gives (solution, cloned_coefficient); the copy's gradient
    goes to the whole of A, the solution's to its triangle."""
    _both(text, fn, {"b": B, "A": A})
