"""One check the function-family tests share: an expression and the same computation written in torch agree on
the value, the gradient and the Hessian of a weighted sum of the output (callers import torch, or skip, first)."""

from __future__ import annotations

import numpy as np

from gradcli.api import functional


def weights(shape, dtype):
    """Distinct weights for the entries of an output, so that each entry's gradient counts."""
    import torch

    return torch.linspace(0.3, 1.7, int(np.prod(shape)), dtype=dtype).reshape(shape)


def agrees(text: str, fn, values: dict, *, hessian: bool = True, dtype: str = "float64") -> None:
    """gradcli's text and torch's fn agree on sum(out * w): value, gradients and (float64) the Hessian."""
    import torch

    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    names = list(values)
    leaves = [torch.tensor(values[n], dtype=torch_dtype, requires_grad=True) for n in names]
    out = fn(*leaves)
    w = weights(out.shape, torch_dtype)
    scalar = (out * w).sum()
    grads = torch.autograd.grad(scalar, leaves, allow_unused=True)
    written = f"sum(({text}) * w_)"
    given = {**values, "w_": w.double().numpy()}
    r = functional.grad(written, given, wrt=names, dtype=dtype)
    rtol, atol = (1e-12, 1e-13) if dtype == "float64" else (2e-6, 2e-6)
    np.testing.assert_allclose(float(r.value), scalar.item(), rtol=rtol, atol=atol)
    for name, g in zip(names, grads):
        want = np.zeros(values[name].shape) if g is None else g.double().numpy()
        np.testing.assert_allclose(r.gradients[name], want, rtol=rtol, atol=atol, err_msg=name)
    if hessian and dtype == "float64":
        want = torch.autograd.functional.hessian(lambda *xs: (fn(*xs) * w).sum(), tuple(t.detach() for t in leaves))
        got = functional.hessian(written, given, wrt=names).hessian
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                np.testing.assert_allclose(np.asarray(got[a][b]), want[i][j].numpy(), rtol=1e-11, atol=1e-12,
                                           err_msg=f"{a}, {b}")
