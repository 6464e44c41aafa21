"""chunk, split, tensor_split and unbind: PyTorch's pieces, taken apart by [k] in an expression, and
the tuple of pieces under `gradcli run`; against torch where it is installed, else the pieces written out."""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.api.functional import grad
from gradcli.errors import GradcliError
from gradcli.ops.splitting import pieces

X = np.arange(7.0)
M = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize(("name", "shape", "params", "expected"), [
    # (start, length) of each piece, as torch gives them
    ("chunk", (7,), {"chunks": 3}, [(0, 3), (3, 3), (6, 1)]),
    ("chunk", (7,), {"chunks": 5}, [(0, 2), (2, 2), (4, 2), (6, 1)]),  # fewer pieces than asked, as torch's
    ("chunk", (6,), {"chunks": 3}, [(0, 2), (2, 2), (4, 2)]),
    ("chunk", (0,), {"chunks": 3}, [(0, 0)] * 3),
    ("split", (7,), {"split_size_or_sections": 3}, [(0, 3), (3, 3), (6, 1)]),
    ("split", (7,), {"split_size_or_sections": (2, 5)}, [(0, 2), (2, 5)]),
    ("tensor_split", (7,), {"indices_or_sections": 3}, [(0, 3), (3, 2), (5, 2)]),
    ("tensor_split", (7,), {"indices_or_sections": (1, 5)}, [(0, 1), (1, 4), (5, 2)]),
    ("tensor_split", (7,), {"indices_or_sections": (-2, 9)}, [(0, 5), (5, 2), (7, 0)]),
    ("unbind", (3, 4), {"axis": 1}, [0, 1, 2, 3]),
])
def test_the_pieces_are_pytorchs(name, shape, params, expected):
    assert pieces(name, shape, **params) == expected
    torch = pytest.importorskip("torch")
    x = torch.zeros(shape)
    if name == "unbind":
        assert len(torch.unbind(x, params["axis"])) == len(expected)
        return
    (how,) = params.values()
    got = getattr(torch, name)(x, list(how) if isinstance(how, tuple) else how)
    lengths = [t.shape[0] for t in got]
    assert [(sum(lengths[:i]), n) for i, n in enumerate(lengths)] == expected


@pytest.mark.parametrize(("expr", "value", "gradient"), [
    ("x.chunk(3)[1].sum()", 12.0, [0, 0, 0, 1, 1, 1, 0]),
    ("torch.chunk(x, 3, 0)[-1].sum()", 6.0, [0, 0, 0, 0, 0, 0, 1]),
    ("torch.split(x, [2, 5])[1].pow(2).sum()", 90.0, [0, 0, 4, 6, 8, 10, 12]),
    ("x.split(2, dim=0)[3].sum()", 6.0, [0, 0, 0, 0, 0, 0, 1]),
    ("x.tensor_split(3)[2].sum() + x.tensor_split([1, 5])[0].sum()", 11.0, [1, 0, 0, 0, 0, 1, 1]),
    ("x.unbind()[3] * x.unbind(0)[-1]", 18.0, [0, 0, 0, 6, 0, 0, 3]),
])
def test_a_piece_and_its_gradient(expr, value, gradient):
    result = grad(expr, {"x": X})
    assert float(result.value) == value
    np.testing.assert_array_equal(result.gradients["x"], gradient)


def test_pieces_of_a_matrix_along_a_dim_agree_with_torch():
    torch = pytest.importorskip("torch")
    expr = "(M.chunk(2, dim=1)[1] * M.split([1, 2], 0)[1][0][:2]).sum() + M.unbind(1)[2].prod() + M.tensor_split(2, 1)[0].exp().sum()"
    result = grad(expr, {"M": M})
    m = torch.tensor(M, requires_grad=True)
    out = ((m.chunk(2, dim=1)[1] * m.split([1, 2], 0)[1][0][:2]).sum() + m.unbind(1)[2].prod()
           + m.tensor_split(2, 1)[0].exp().sum())
    out.backward()
    assert float(result.value) == pytest.approx(out.item(), rel=1e-15)
    np.testing.assert_allclose(result.gradients["M"], m.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize(("expr", "message"), [
    ("x.chunk(3).sum()", "chunk() gives a tuple of arrays, as in PyTorch: take one with [k], as in x.chunk(...)[0]"),
    ("x.chunk(3)[3].sum()", "chunk() gives 3 arrays here: [3] is past them (PyTorch: tuple index out of range)"),
    ("x.split([2, 4])[0].sum()", "split() takes sizes that add up to the axis's length 7, not [2, 4]"),
    ("x.chunk(0)[0].sum()", "chunk() takes chunks= as a whole number above 0, not 0"),
    ("np.split(x, 7)[0].sum()", "np.split() is numpy's, which gradcli does not have"),
    ("x.chunk(3, part=1).sum()", "chunk() takes no keyword 'part': it gives a tuple of arrays, as in PyTorch; take "
                                 "one with [k], as in x.chunk(...)[0]"),
    ("x.split(1.5)[0].sum()", "split_size_or_sections must be a whole number"),
    ("x.split((1, 2.5, 3.5))[0].sum()", "split_size_or_sections must be a whole number"),
])
def test_what_is_refused_says_why(expr, message):
    with pytest.raises(GradcliError) as info:
        grad(expr, {"x": X})
    assert info.value.message.startswith(message)


def test_gradcli_run_gives_the_tuple_of_pieces(tmp_path, cli):
    script = tmp_path / "pieces.py"
    script.write_text(
        "import torch\n"
        "x = torch.arange(7.).requires_grad_()\n"
        "a, b, c = x.chunk(3)\n"
        "p, q = torch.split(x, [2, 5])\n"
        "u = x.unbind()\n"
        "s = torch.tensor_split(x, 3)\n"
        "print(len(u), [tuple(t.shape) for t in s], a.grad_fn.name(), q.grad_fn.name(), u[0].grad_fn.name())\n"
        "(a.sum() * 2 + q.pow(2).sum() + u[3] * 10 + s[2].sum()).backward()\n"
        "print(x.grad.tolist())\n")
    run = cli("run", str(script))
    assert run.exit_code == 0, run.stderr
    # torch 2.13 prints: 7 [(3,), (2,), (2,)] SplitBackward0 SplitWithSizesBackward0 UnbindBackward0
    # and [2.0, 2.0, 6.0, 16.0, 8.0, 11.0, 13.0]
    assert run.stdout.splitlines() == ["7 [(3,), (2,), (2,)] SplitBackward0 SplitWithSizesBackward0 UnbindBackward0",
                                       "[2.0, 2.0, 6.0, 16.0, 8.0, 11.0, 13.0]"]
