"""float32, PyTorch's default dtype: every operation and rule computes in it, and agrees with torch.

The first tests need no torch: every forward and every backward rule of the registry,
fed float32, gives float32 itself (no float64 in between that a final cast would hide),
and memory reuse never mixes the two dtypes. The cross-tests against torch's float32
(skipped without torch) walk the registry's samples through the torch twins of
tests/differential.py: value and vector-Jacobian product within 4 units in the last
place for elementwise operations, 1e-5 relative for reductions, matrix products and the
rest. The command-line tests run the real app.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from conftest import run_cli

import gradcli
from gradcli.api import functional
from gradcli.autodiff.engine import Tensor, call, default_dtype, run_backward
from gradcli.errors import GradcliError
from gradcli.ops import OPS

F32 = np.dtype(np.float32)
SAMPLED = [(name, i) for name, op in OPS.items() if op.is_primitive and not op.constructor
           for i in range(len(op.samples))]


def _draw(name: str, index: int) -> list[np.ndarray]:
    sample = OPS[name].samples[index]
    rng = np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))
    return [a.astype(np.float32) for a in sample.draw(rng)]


def _is_float32(a) -> bool:
    return isinstance(a, (np.ndarray, np.float32)) and a.dtype == F32


@pytest.mark.parametrize("name, index", SAMPLED)
def test_every_forward_computes_in_float32(name, index):
    op = OPS[name]
    arrays = _draw(name, index)
    params = op.samples[index].params
    if op.prepare is not None:
        params = op.prepare(*(a.shape for a in arrays), **params)
    with np.errstate(all="ignore"):
        ans = op.forward(*arrays, **params)
    assert _is_float32(ans), f"{name} gives {type(ans).__name__} {getattr(ans, 'dtype', '')}"


@pytest.mark.parametrize("create_graph", [False, True], ids=["first", "second"])
@pytest.mark.parametrize("name, index", [c for c in SAMPLED if OPS[c[0]].differentiable])
def test_every_rule_computes_in_float32(name, index, create_graph):
    # The observer sees each rule's own results, before the pass lifts or sums them.
    op = OPS[name]
    leaves = [Tensor(a, requires_grad=d != "mask") for a, d in zip(_draw(name, index), op.samples[index].domains())]
    seen = []
    with np.errstate(all="ignore"):
        out = call(op, *leaves, **op.samples[index].params)
        assert out.dtype == F32
        seed = Tensor(np.random.default_rng(1).standard_normal(out.shape), dtype="float32")
        found = run_backward([(out, seed)], create_graph=create_graph, retain_graph=create_graph,
                             observer=lambda node, g, cts: seen.extend(cts))
    for ct in seen:
        if ct is not None:
            assert _is_float32(ct.data if isinstance(ct, Tensor) else ct), f"{name}: a {ct.dtype} cotangent"
    assert found and all(ct.dtype == F32 for ct in found.values())


def test_constructors_and_numbers_take_the_default_dtype():
    with default_dtype(F32):
        assert call("zeros", shape=(2, 3)).dtype == F32
        assert call("eye", shape=(2,)).dtype == F32
        assert Tensor([1, 2]).dtype == F32
    assert Tensor([1, 2]).dtype == np.float64 and call("ones", shape=(2,)).dtype == np.float64


def test_python_numbers_and_arrays_take_the_tensor_dtype_and_tensors_promote():
    x = Tensor([0.1, 0.2], dtype="float32")
    assert (x * 0.1).dtype == F32 and (0.1 + x).dtype == F32 and (x * np.array([0.1, 0.2])).dtype == F32
    # 0.1 rounded to float32 once, then a float32 product, as torch computes x * 0.1
    np.testing.assert_array_equal((x * 0.1).data, np.float32([0.1, 0.2]) * np.float32(0.1))
    assert (x + Tensor([1.0, 2.0])).dtype == np.float64  # float32 with float64 gives float64, as in torch
    assert Tensor(np.float32([1.5])).dtype == F32 and Tensor(x).dtype == F32
    assert Tensor(x, dtype="float64").dtype == np.float64
    assert repr(x * 2) == "tensor([0.2, 0.4], dtype=float32)" and repr(Tensor([0.5])) == "tensor([0.5])"


def test_dtype_spellings():
    for spelling in ("float32", np.float32, np.dtype("float32"), "torch.float32", "float"):
        assert Tensor(1.0, dtype=spelling).dtype == F32
    for spelling in ("float64", np.float64, "double"):
        assert Tensor(1.0, dtype=spelling).dtype == np.float64
    with pytest.raises(GradcliError, match="dtype is 'float16': use float32 or float64"):
        Tensor(1.0, dtype="float16")


def test_reuse_writes_float32_into_float32_only():
    # A float32 temporary takes a float32 result; a float64 result never lands in it.
    from gradcli.api.evaluate import evaluate
    from gradcli.lang.parser import parse

    x = np.linspace(0.1, 1.0, 5, dtype=np.float32)
    taken = []
    out = evaluate(parse("exp(sin(x))"), {"x": Tensor(x)},
                   on_node=lambda node, value: taken.append(value.data.ctypes.data))
    assert out.dtype == F32 and taken[-1] == taken[-2]  # exp wrote into sin's array
    np.testing.assert_array_equal(out.data, np.exp(np.sin(x)))
    mixed = evaluate(parse("sin(x) + y"), {"x": Tensor(x), "y": Tensor(np.ones(5))},
                     on_node=lambda node, value: taken.append(value.data.ctypes.data))
    assert mixed.dtype == np.float64 and taken[-1] not in taken[-4:-1]
    np.testing.assert_array_equal(mixed.data, np.sin(x).astype(np.float64) + 1.0)


def test_functional_api_in_float32():
    r = gradcli.grad("mean(2*x)", {"x": [1, 2, 3]}, dtype="float32")
    assert r.value.dtype == F32 and r.gradients["x"].dtype == F32
    np.testing.assert_array_equal(r.gradients["x"], np.float32(2) / np.float32(3))
    j = gradcli.jacobian("x * 0.1", {"x": [1, 2]}, dtype="float32", method="loop")
    np.testing.assert_array_equal(j.jacobian["x"], np.diag(np.float32([0.1, 0.1])))
    h = gradcli.hessian("sum(x**3)", {"x": [0.1, 0.2]}, dtype="float32")
    assert h.hessian["x"]["x"].dtype == F32
    np.testing.assert_array_equal(h.hessian["x"]["x"], np.diag(np.float32(6) * np.float32([0.1, 0.2])))


# -- against torch ----------------------------------------------------------------------
ELEMENTWISE_KINDS = ("unary", "binary", "mask", "clip", "where")
# Rules whose float32 result magnifies a one-ulp difference between numpy's and torch's forward:
# tanh's 1 - tanh(x)² cancels where tanh(x) is near ±1 (28 ulps at x = 2.6 in the samples, 1.5e-7
# relative to the largest entry). Their gradients are held to the 1e-5 relative bound instead.
# NOTE: composed in numpy from several float32 steps where torch has one fused kernel, these
# differ from torch's float32 by more than 4 ulps; they are held to the 1e-5 relative bound.
# tanhshrink's x - tanh(x) cancels near 0, where one ulp of tanh is many of the result.
ILL_CONDITIONED_RULES = {"tanh", "silu", "mish", "gelu", "tanhshrink"}


def _twins():
    torch = pytest.importorskip("torch")
    from differential import TWINS

    return torch, TWINS


def _ulps(got: np.ndarray, want: np.ndarray) -> float:
    """The largest distance in float32 units in the last place (nan against nan: 0)."""
    got, want = np.broadcast_arrays(got.astype(np.float32), want.astype(np.float32))
    both_nan = np.isnan(got) & np.isnan(want)
    gap = np.abs(got.astype(np.float64) - want.astype(np.float64))
    unit = np.spacing(np.maximum(np.abs(got), np.abs(want))).astype(np.float64)
    return float(np.max(np.where(both_nan | (gap == 0), 0.0, gap / unit), initial=0.0))


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-30)
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0.0)) / scale


def _twin_cases():
    try:
        from differential import TWINS
    except ImportError:  # no torch
        return []
    return [(name, i) for name, twin in TWINS.items() if twin.kind != "constant" for i in range(len(OPS[name].samples))]


@pytest.mark.parametrize("name, index", _twin_cases())
def test_float32_agrees_with_torch(name, index):
    torch, twins = _twins()
    twin, op = twins[name], OPS[name]
    arrays = _draw(name, index)
    sample = op.samples[index]
    grads = [d != "mask" and op.differentiable for d in sample.domains()]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    if twin.kind == "loss":  # torch's losses want the target shaped like the input
        theirs = [t.detach().requires_grad_(g) for t, g in zip(torch.broadcast_tensors(*theirs), grads)]
    want = twin.torch(*theirs, **sample.params)
    ours = [Tensor(t.detach().numpy(), requires_grad=g) for t, g in zip(theirs, grads)]
    with np.errstate(all="ignore"):
        got = call(op, *ours, **sample.params)
    assert got.dtype == F32
    elementwise = twin.kind in ELEMENTWISE_KINDS
    measure, limit = (_ulps, 4) if elementwise and name not in ILL_CONDITIONED_RULES else (_relative, 1e-5)
    assert measure(got.data, want.detach().numpy()) <= limit, f"value of {name}"
    if not any(grads) or not want.requires_grad:
        return
    u = np.random.default_rng(2).standard_normal(got.shape).astype(np.float32)
    expected = torch.autograd.grad(want, [t for t, g in zip(theirs, grads) if g], torch.tensor(u))
    with np.errstate(all="ignore"):
        found = run_backward([(got, Tensor(u))])
    by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
    for leaf, e in zip([t for t, g in zip(ours, grads) if g], expected):
        vjp = by_leaf[id(leaf)]
        assert vjp.dtype == F32
        # (an input broadcast to the output's shape gets a sum of products: a reduction)
        by_ulps = elementwise and leaf.shape == got.shape and name not in ILL_CONDITIONED_RULES
        measure, limit = (_ulps, 4) if by_ulps else (_relative, 1e-5)
        assert measure(vjp, e.numpy()) <= limit, f"vector-Jacobian product of {name}: {vjp} against {e.numpy()}"


EXAMPLE = "sum(sin(x))"  # (docs/values.md shows it)


def _torch_example(dtype):
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.1, 0.2, 0.3], dtype=dtype, requires_grad=True)
    value = torch.sin(x).sum()
    value.backward()
    return value.item(), x.grad.numpy()


def test_the_cli_prints_torch_float32_digits():
    torch = pytest.importorskip("torch")
    value32, grad32 = _torch_example(torch.float32)
    value64, _ = _torch_example(torch.float64)
    run = run_cli("grad", EXAMPLE, "--x", "0.1,0.2,0.3", "--dtype", "float32", "--format", "json")
    out = run.json()
    # The shortest digits of torch's float32, not the float64 expansion .item() gives
    assert out["value"] == float(str(np.float32(value32))) and out["value"] != value32
    assert out["gradients"]["x"] == [float(str(v)) for v in grad32]
    assert run_cli("grad", EXAMPLE, "--x", "0.1,0.2,0.3", "--format", "json").json()["value"] == value64
    assert repr(out["value"]) == "0.594023" and value64 == 0.5940229541032289


# -- the command line -----------------------------------------------------------------------
def test_table_says_float32_and_float64_goes_unsaid():
    run = run_cli("grad", "mean(2*x)", "--x", "1,2,3", "--dtype", "float32")
    assert run.exit_code == 0 and "dtype  float32" in run.stdout.splitlines()[2]
    assert "0.6667" in run.stdout
    assert "dtype" not in run_cli("grad", "mean(2*x)", "--x", "1,2,3").stdout
    assert "dtype" not in run_cli("grad", "mean(2*x)", "--x", "1,2,3", "--dtype", "float64").stdout


def test_json_plain_and_csv_write_shortest_float32_digits():
    args = ("grad", "mean(2*x)", "--x", "1,2,3", "--dtype", "float32", "--format")
    out = run_cli(*args, "json").stdout
    assert '"dtype": "float32"' in out and '"x": [0.6666667, 0.6666667, 0.6666667]' in out
    assert run_cli(*args, "plain").stdout == "0.6666667,0.6666667,0.6666667\n"
    assert run_cli(*args, "csv").stdout.splitlines()[1] == "1,2,3,4,0.6666667,0.6666667,0.6666667"
    assert "dtype" not in run_cli("grad", "mean(2*x)", "--x", "1,2,3", "--format", "json").json()
    assert run_cli("grad", "x*0.1", "--x", "3", "--dtype", "float32", "--format", "plain").stdout == "0.1\n"


def test_values_are_rounded_to_float32_once():
    # 0.1 + 0.2 in float32 is 0.3 exactly as float32 spells it (in float64 it is 0.30000000000000004)
    run = run_cli("grad", "x + y", "--x", "0.1", "--y", "0.2", "--dtype", "float32", "--format", "json")
    assert run.json()["value"] == 0.3
    assert run_cli("grad", "x + y", "--x", "0.1", "--y", "0.2", "--format", "json").json()["value"] == 0.1 + 0.2


def test_output_files_keep_float32(tmp_path):
    npy, npz = tmp_path / "g.npy", tmp_path / "r.npz"
    assert run_cli("grad", "sum(x**2)", "--x", "0.1,0.2", "--dtype", "float32", "-o", str(npy)).exit_code == 0
    saved = np.load(npy)
    assert saved.dtype == F32
    np.testing.assert_array_equal(saved, np.float32([0.1, 0.2]) * np.float32(2))
    assert run_cli("hessian", "sum(x**3)", "--x", "0.1,0.2", "--dtype", "float32", "-o", str(npz)).exit_code == 0
    with np.load(npz) as files:
        assert {files[k].dtype for k in files.files} == {F32}


def test_gradcli_dtype_environment_variable():
    run = run_cli("jacobian", "x*0.1", "--x", "1,2", "--format", "json", env={"GRADCLI_DTYPE": "float32"})
    assert run.json()["dtype"] == "float32" and run.json()["jacobian"]["x"] == [[0.1, 0.0], [0.0, 0.1]]
    run = run_cli("jacobian", "x*0.1", "--x", "1,2", "--format", "json", "--dtype", "float64",
                  env={"GRADCLI_DTYPE": "float32"})
    assert "dtype" not in run.json()
    run = run_cli("grad", "x", "--x", "1", env={"GRADCLI_DTYPE": "half"})
    assert run.exit_code == 2 and run.stderr == "error: GRADCLI_DTYPE is 'half': use float32 or float64\n"
    run = run_cli("grad", "x", "--x", "1", "--dtype", "float16")
    assert run.exit_code == 2 and "float16" in run.stderr and "float32" in run.stderr


def test_check_in_float32_uses_float32_tolerances():
    run = run_cli("check", "sum(sin(x) * exp(-x**2))", "--x", "0.1,0.5,-1.3", "--dtype", "float32", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert out["dtype"] == "float32" and out["check"]["ok"]
    assert out["check"]["tolerance"]["sympy"] == {"rtol": 1.3e-6, "atol": 1e-5}
    # The references are float64 at the float32-rounded values: float32 rounding shows in the errors
    assert 1e-9 < out["check"]["finite_difference"]["max_abs_err"] < 1e-6
    first = out["check"]["entries"][0]  # the engine's float32 digits; SymPy's exact value at float32(0.1)
    x0 = np.float32(0.1)
    assert first["autograd"] == out["gradients"]["x"][0] == float(str(np.cos(x0) * np.exp(-x0 * x0)
                                                                  - 2 * x0 * np.exp(-x0 * x0) * np.sin(x0)))
    assert first["sympy"] == pytest.approx(np.cos(float(x0)) * np.exp(-float(x0) ** 2)
                                           - 2 * float(x0) * np.exp(-float(x0) ** 2) * np.sin(float(x0)), rel=1e-15)
    run64 = run_cli("check", "sum(sin(x) * exp(-x**2))", "--x", "0.1,0.5,-1.3", "--format", "json").json()
    assert run64["check"]["tolerance"]["sympy"] == {"rtol": 1e-9, "atol": 1e-12}


def test_unknown_dtype_in_the_api_names_the_parameter():
    with pytest.raises(GradcliError, match="dtype is 'int8'"):
        functional.grad("x", {"x": 1}, dtype="int8")


def test_jacobian_and_hessian_agree_with_torch_float32():
    torch = pytest.importorskip("torch")
    W = np.float32([[0.2, -0.4, 1.1], [0.9, 0.3, -0.5]])
    x = np.float32([0.3, -1.2, 0.7])
    tw, tx = torch.tensor(W), torch.tensor(x)
    jac = torch.autograd.functional.jacobian(lambda x: torch.tanh(tw @ x), tx)
    ours = json.loads(run_cli("jacobian", "tanh(W @ x)", f"--W={json.dumps(W.tolist())}", f"--x={json.dumps(x.tolist())}",
                              "--wrt", "x", "--dtype", "float32", "--format", "json").stdout)
    assert _relative(np.float32(ours["jacobian"]["x"]), jac.numpy()) <= 1e-5
    hess = torch.autograd.functional.hessian(lambda x: torch.logsumexp(tw @ x, 0), tx)
    got = gradcli.hessian("logsumexp(W @ x)", {"W": W, "x": x}, wrt="x", dtype="float32").hessian["x"]["x"]
    assert got.dtype == F32 and _relative(got, hess.numpy()) <= 1e-5


def test_points_in_float32_write_float32_digits(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y\n0.1,0.2\n0.3,0.4\n")
    rows = run_cli("grad", "x*y + sin(x)", "--points", str(points), "--dtype", "float32", "--format", "csv")
    x, y = np.float32([0.1, 0.3]), np.float32([0.2, 0.4])
    value, dx = x * y + np.sin(x), y + np.cos(x)
    assert rows.stdout.splitlines()[1:] == [",".join(map(str, (x[i], y[i], value[i], dx[i], x[i]))) for i in range(2)]
    assert rows.stdout.splitlines()[1] == "0.1,0.2,0.119833425,1.1950042,0.1"
    first = json.loads(run_cli("hessian", "x*y + sin(x)", "--points", str(points), "--dtype", "float32",
                               "--format", "json").stdout.splitlines()[0])
    assert first["dtype"] == "float32" and first["hessian"]["x"]["x"] == float(str(-np.sin(x[0])))


def test_descend_in_float32_follows_torch_sgd_in_float32():
    torch = pytest.importorskip("torch")
    w = torch.tensor(1.0, requires_grad=True)
    x, y = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.0])
    sgd = torch.optim.SGD([w], lr=0.01)
    losses = []
    for _ in range(4):
        sgd.zero_grad()
        loss = ((w * x - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        sgd.step()
    run = run_cli("descend", "mean((w*x - y)**2)", "--x", "1,2,3", "--y", "2,4,6", "--w", "1", "--wrt", "w",
                  "--lr", "0.01", "--steps", "4", "--dtype", "float32", "--format", "json")
    out = run.json()
    assert out["dtype"] == "float32"
    assert [s["loss"] for s in out["history"][:4]] == [float(str(np.float32(v))) for v in losses]
    assert out["history"][4]["values"]["w"] == float(str(np.float32(w.item())))


def test_explain_graph_and_plot_in_float32():
    x = np.float32([0.1, 0.2])
    value = float(str(np.sum(np.sin(x) * np.float32(0.1))))
    graph = run_cli("graph", "sum(sin(x)*0.1)", "--x", "0.1,0.2", "--dtype", "float32", "--format", "json").json()
    assert graph["dtype"] == "float32" and graph["value"] == value  # the number 0.1 is float32 too
    assert graph["nodes"][0]["grad"] == [float(str(v)) for v in np.float32(0.1) * np.cos(x)]
    explained = run_cli("explain", "sum(sin(x)*0.1)", "--x", "0.1,0.2", "--dtype", "float32")
    assert explained.stdout.splitlines()[0] == "L = sum(sin(x)*0.1) = 0.0298503, differentiated with respect to x, in float32"
    as_json = run_cli("explain", "sum(sin(x)*0.1)", "--x", "0.1,0.2", "--dtype", "float32", "--format", "json").json()
    assert as_json["dtype"] == "float32" and as_json["value"] == value
    rows = run_cli("jacobian", "x*0.1", "--x", "1,2", "--explain", "--dtype", "float32", "--format", "json").json()
    assert rows["dtype"] == "float32" and rows["value"] == [0.1, 0.2]
    curve = run_cli("plot", "sin(x)*x", "--x", "0:1:3", "--dtype", "float32", "--format", "csv").stdout.splitlines()
    half = np.float32(0.5)
    assert curve[2] == ",".join(map(str, (half, np.sin(half) * half, np.sin(half) + half * np.cos(half))))
    assert "dtype" not in run_cli("plot", "sin(x)*x", "--x", "0:1:3", "--format", "json").json()
