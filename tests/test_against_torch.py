"""gradcli grad, jacobian and hessian against PyTorch's autograd, through the real CLI.

Skipped only when torch is not importable. Each row: the gradcli expression, the same
function written with torch, and values (kept away from kinks and ties, where the two
may document different conventions).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli

torch = pytest.importorskip("torch")
F = torch.nn.functional

X = [0.3, -1.2, 0.7]
Y = [1.5, 0.4, -0.6]
A = [[2.0, 0.5, 0.1], [0.5, 1.5, -0.3], [0.1, -0.3, 1.0]]
W = [[0.2, -0.4, 1.1], [0.9, 0.3, -0.5]]

CASES = [
    ("sum(sin(x) * exp(-x**2))", lambda x: (torch.sin(x) * torch.exp(-x ** 2)).sum(), {"x": X}),
    ("logsumexp(W @ x)", lambda W, x: torch.logsumexp(W @ x, 0), {"W": W, "x": X}),
    ("mean(log_softmax(W @ x + y[:2]))", lambda W, x, y: F.log_softmax(W @ x + y[:2], -1).mean(),
     {"W": W, "x": X, "y": Y}),
    ("x @ A @ x", lambda x, A: x @ A @ x, {"x": X, "A": A}),
    ("sum(sigmoid(x) * tanh(x)) / norm(x)", lambda x: (torch.sigmoid(x) * torch.tanh(x)).sum() / x.norm(), {"x": X}),
    ("det(A) * trace(inv(A))", lambda A: torch.linalg.det(A) * torch.trace(torch.linalg.inv(A)), {"A": A}),
    ("max(x) + 2 * min(x)", lambda x: x.max() + 2 * x.min(), {"x": X}),
    ("prod(x)", lambda x: x.prod(), {"x": [0.0, 2.0, 3.0]}),
    ("sum(relu(x) + abs(x) * x)", lambda x: (torch.relu(x) + x.abs() * x).sum(), {"x": X}),
    ("binary_cross_entropy_with_logits(x, y)", lambda x, y: F.binary_cross_entropy_with_logits(x, y),
     {"x": X, "y": [1.0, 0.0, 0.3]}),
    ("mse_loss(x, y)", lambda x, y: F.mse_loss(x, y), {"x": X, "y": Y}),
    ("var(A, axis=0)", lambda A: A.var(0, unbiased=False), {"A": A}),
    ("std(x) * mean(x)", lambda x: x.std(unbiased=False) * x.mean(), {"x": X}),
    ("softmax(x)", lambda x: F.softmax(x, -1), {"x": X}),
    ("x ** y", lambda x, y: x ** y, {"x": [0.5, 1.2, 2.0], "y": Y}),
    ("where(x > 0, x**2, -x)", lambda x: torch.where(x > 0, x ** 2, -x), {"x": X}),
    ("clip(x, -0.5, 0.5)", lambda x: torch.clamp(x, -0.5, 0.5), {"x": X}),
    ("maximum(x, y) - minimum(x, y)", lambda x, y: torch.maximum(x, y) - torch.minimum(x, y), {"x": X, "y": Y}),
    ("softplus(x) + atan(x) + asin(x / 2) + acos(x / 2)",
     lambda x: F.softplus(x) + torch.atan(x) + torch.asin(x / 2) + torch.acos(x / 2), {"x": X}),
    ("log1p(x**2) + expm1(x) + sqrt(x**2 + 1) + cosh(x) + sinh(x) + tan(x)",
     lambda x: torch.log1p(x ** 2) + torch.expm1(x) + torch.sqrt(x ** 2 + 1) + torch.cosh(x) + torch.sinh(x)
     + torch.tan(x), {"x": X}),
    ("log(x) / x - cos(x)", lambda x: torch.log(x) / x - torch.cos(x), {"x": [0.5, 1.2, 2.0]}),
    ("outer(x, y) @ x", lambda x, y: torch.outer(x, y) @ x, {"x": X, "y": Y}),
    ("x[1:] * x[:-1] * x[::2][0]", lambda x: x[1:] * x[:-1] * x[::2][0], {"x": X}),
    ("[x[0] * x[1], x[2]**3, sum(x)]", lambda x: torch.stack([x[0] * x[1], x[2] ** 3, x.sum()]), {"x": X}),
    ("A.T @ A - A @ eye(3) * 2", lambda A: A.T @ A - A @ torch.eye(3, dtype=torch.float64) * 2, {"A": A}),
    ("sum(x**3) * y[0] + x @ A @ y", lambda x, y, A: (x ** 3).sum() * y[0] + x @ A @ y, {"x": X, "y": Y, "A": A}),
    ("sum(W @ A, axis=-1) * pi", lambda W, A: (W @ A).sum(-1) * torch.pi, {"W": W, "A": A}),
]


def torch_inputs(values: dict) -> dict:
    return {name: torch.tensor(v, dtype=torch.float64) for name, v in values.items()}


def cli(command: str, expr: str, values: dict) -> dict:
    args = [f"--{name}={json.dumps(v)}" for name, v in values.items()]
    run = run_cli(command, expr, *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return run.json()


@pytest.mark.parametrize("expr,fn,values", CASES, ids=[c[0] for c in CASES])
def test_jacobian_and_value(expr, fn, values):
    names = list(values)
    inputs = torch_inputs(values)
    expected_value = fn(**inputs)
    expected = torch.autograd.functional.jacobian(lambda *ts: fn(**dict(zip(names, ts))), tuple(inputs.values()))
    out = cli("jacobian", expr, values)
    np.testing.assert_allclose(out["value"], expected_value.numpy(), rtol=1e-12, atol=1e-14)
    for name, block in zip(names, expected):
        np.testing.assert_allclose(out["jacobian"][name], block.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


SCALAR_CASES = [c for c in CASES if torch.as_tensor(c[1](**torch_inputs(c[2]))).ndim == 0]


@pytest.mark.parametrize("expr,fn,values", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
def test_grad_and_hessian(expr, fn, values):
    names = list(values)
    inputs = torch_inputs(values)
    leaves = [t.clone().requires_grad_(True) for t in inputs.values()]
    expected_grads = torch.autograd.grad(fn(**dict(zip(names, leaves))), leaves)
    expected_hessian = torch.autograd.functional.hessian(lambda *ts: fn(**dict(zip(names, ts))),
                                                         tuple(inputs.values()))
    grads = cli("grad", expr, values)["gradients"]
    hessian = cli("hessian", expr, values)["hessian"]
    for i, a in enumerate(names):
        np.testing.assert_allclose(grads[a], expected_grads[i].numpy(), rtol=1e-10, atol=1e-12, err_msg=a)
        for j, b in enumerate(names):
            np.testing.assert_allclose(hessian[a][b], expected_hessian[i][j].numpy(), rtol=1e-9, atol=1e-11,
                                       err_msg=f"{a}, {b}")
