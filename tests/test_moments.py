"""torch.var_mean and torch.std_mean against PyTorch: both parts of the pair with their gradients, by
position and by name, used whole, and under gradcli run."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from gradcli.api.functional import grad

torch = pytest.importorskip("torch")

X = [[1.0, 2.0, 4.0], [0.5, 3.0, -1.0]]


@pytest.mark.parametrize("expr, fn", [
    ("sum(torch.var_mean(x, 1)[0] * [1, 2]) + sum(torch.var_mean(x, dim=1)[1] * [3, 5])",
     lambda t, w: (torch.var_mean(t, 1)[0] * w[:2]).sum() + (torch.var_mean(t, dim=1)[1] * w[2:4]).sum()),
    ("torch.std_mean(x, correction=0)[1] * 7 + torch.std_mean(x)[0] + sum(x.std_mean(0, keepdim=True)[-1])",
     lambda t, w: torch.std_mean(t, correction=0)[1] * 7 + torch.std_mean(t)[0]
     + torch.std_mean(t, 0, keepdim=True)[1].sum()),
    ("sum(torch.var_mean(x, 0, correction=2)[-2]) + sum(torch.var_mean(x, 0))",
     lambda t, w: torch.var_mean(t, 0, correction=2)[0].sum() + torch.var_mean(t, 0)[0].sum()),
])
def test_both_parts_as_torch(expr, fn):
    t = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    value = fn(t, torch.tensor([1.0, 2.0, 3.0, 5.0], dtype=torch.float64))
    value.backward()
    got = grad(expr, {"x": X})
    np.testing.assert_allclose(got.value, value.item(), rtol=1e-13)
    np.testing.assert_allclose(got.gradients["x"], t.grad.numpy(), rtol=1e-13)


def test_gradcli_run_gives_the_pair(tmp_path, cli):
    script = tmp_path / "moments.py"
    script.write_text("import torch\n"
                      "x = torch.tensor([[1., 2., 4.], [0.5, 3., -1.]], requires_grad=True)\n"
                      "v, m = torch.var_mean(x, 1)\n"
                      "(v * 2 + m * 3).sum().backward()\n"
                      "print(x.grad.tolist())\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    t = torch.tensor([[1.0, 2.0, 4.0], [0.5, 3.0, -1.0]], dtype=torch.float64, requires_grad=True)
    v, m = torch.var_mean(t, 1)
    (v * 2 + m * 3).sum().backward()
    np.testing.assert_allclose(ast.literal_eval(run.stdout.strip()), t.grad.numpy(), rtol=1e-6)
