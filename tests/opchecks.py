"""The checks every operation's samples and documented kinks go through.

Given an operation's name (it must be registered) and a sample's or kink's index, each
check computes with the engine and compares with an independent reference: first
derivatives by a dot-product check against central differences and by full Jacobians,
second derivatives (the create_graph path a Hessian takes) against differences of the
gradient, batched cotangents against the row-by-row loop, shape rules, and the gradient
documented at each kink. tests/test_ops.py walks the registry with them; an operation
defined elsewhere (tests/test_one_file_op.py) gets the same checks.
"""

from __future__ import annotations

import zlib

import numpy as np

from gradcli.api.functional import grad
from gradcli.api.kinks import kink_notes
from gradcli.autodiff.engine import Tensor, call, no_grad, run_backward
from gradcli.autodiff.forward import run_forward
from gradcli.api.forward import forward_columns
from gradcli.api.functional import basis_vjps
from gradcli.ops import OPS

STEP = 1e-6  # central differences of the function
STEP2 = 1e-5  # central differences of the gradient
FULL_JACOBIAN_SIZE = 40  # compare whole Jacobians when inputs and output are at most this big


class Case:
    """One op and sample: its input arrays, which of them are differentiated, and f."""

    def __init__(self, name: str, index: int):
        self.op = OPS[name]
        self.sample = self.op.samples[index]
        self.rng = np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))
        self.arrays = self.sample.draw(self.rng)
        # A mask selects: moving it by a small step is not a derivative of anything.
        self.active = [d != "mask" for d in self.sample.domains()]

    def f(self, *arrays: np.ndarray) -> np.ndarray:
        with no_grad():
            return call(self.op, *(Tensor(a) for a in arrays), **self.sample.params).data

    def leaves(self, active=None) -> list[Tensor]:
        active = self.active if active is None else active
        return [Tensor(a, requires_grad=on) for a, on in zip(self.arrays, active)]

    def out(self, leaves: list[Tensor]) -> Tensor:
        return call(self.op, *leaves, **self.sample.params)

    def random_like(self, shape) -> np.ndarray:
        return self.rng.standard_normal(shape)


def vjp(out: Tensor, leaves: list[Tensor], seed, *, create_graph: bool = False, batch=()) -> list:
    """Cotangents at each leaf (zeros where none arrives), as Tensors when create_graph."""
    seed = seed if isinstance(seed, Tensor) else Tensor(seed)
    found = run_backward([(out, seed)], retain_graph=True, create_graph=create_graph)
    by_leaf = {id(node.tensor): ct for node, ct in found.items()}
    result = []
    for leaf in leaves:
        ct = by_leaf.get(id(leaf))
        if ct is None:
            ct = Tensor(np.zeros(batch + leaf.shape))
        assert ct.shape == batch + leaf.shape
        result.append(ct if create_graph else ct.data)
    return result


def directional(fn, arrays: list[np.ndarray], directions: list[np.ndarray], step: float):
    """Central difference of fn along directions: (fn(x + h v) - fn(x - h v)) / 2h."""
    plus = fn(*(a + step * v for a, v in zip(arrays, directions)))
    minus = fn(*(a - step * v for a, v in zip(arrays, directions)))
    return (np.asarray(plus) - np.asarray(minus)) / (2 * step)


def assert_close_scalar(actual: float, expected: float, tol: float = 1e-6) -> None:
    scale = max(1.0, abs(actual), abs(expected))
    assert abs(actual - expected) <= tol * scale, f"{actual!r} != {expected!r}"


def active_subsets(case: Case) -> list[list[bool]]:
    """All differentiable inputs at once, then each one alone (exercises `needs`)."""
    subsets = [case.active]
    on = [i for i, a in enumerate(case.active) if a]
    if len(on) > 1:
        subsets += [[i == j for j in range(len(case.active))] for i in on]
    return subsets


def check_shape_rule_matches_forward(name, index):
    case = Case(name, index)
    out = case.f(*case.arrays)
    assert out.dtype == np.float64
    if case.op.is_primitive:
        params = case.sample.params
        if case.op.prepare is not None:
            params = case.op.prepare(*case.sample.shapes, **params)
        assert tuple(case.op.shape(*case.sample.shapes, **params)) == out.shape
    if not case.op.differentiable:
        assert not case.out(case.leaves([True] * len(case.arrays))).requires_grad


def check_first_derivatives(name, index):
    case = Case(name, index)
    for active in active_subsets(case):
        leaves = case.leaves(active)
        out = case.out(leaves)
        u = case.random_like(out.shape)
        grads = vjp(out, leaves, u)
        vs = [case.random_like(a.shape) if on else np.zeros(a.shape) for a, on in zip(case.arrays, active)]
        # <u, J v> by differences against <vjp(u), v>: one number checks the rule at any shape.
        fd = float(np.sum(u * directional(case.f, case.arrays, vs, STEP)))
        assert_close_scalar(sum(float(np.sum(g * v)) for g, v in zip(grads, vs)), fd)
        for i, on in enumerate(active):
            if not on:
                assert not np.any(grads[i]), "an input without requires_grad received a gradient"


def is_small(name: str, index: int) -> bool:
    case = Case(name, index)
    return case.f(*case.arrays).size + sum(a.size for a in case.arrays) <= FULL_JACOBIAN_SIZE


def check_full_jacobian(name, index):
    """Every entry of the Jacobian, row by row, against differences (small samples)."""
    case = Case(name, index)
    out = case.out(case.leaves())
    for i, array in enumerate(case.arrays):
        if not case.active[i]:
            continue
        expected = np.zeros(out.shape + array.shape)
        for j in np.ndindex(array.shape):
            direction = [np.zeros(a.shape) for a in case.arrays]
            direction[i][j] = 1.0
            expected[(Ellipsis, *j)] = directional(case.f, case.arrays, direction, STEP)
        rows = np.zeros(out.shape + array.shape)
        for k in np.ndindex(out.shape):
            seed = np.zeros(out.shape)
            seed[k] = 1.0
            leaves = case.leaves()
            rows[k] = vjp(case.out(leaves), leaves, seed)[i]
        np.testing.assert_allclose(rows, expected, rtol=1e-6, atol=1e-7)


def check_second_derivatives(name, index):
    """d/dx <vjp(u), w> (the create_graph path) against differences of the gradient; and d/du."""
    case = Case(name, index)
    leaves = case.leaves()
    out = case.out(leaves)
    u = Tensor(case.random_like(out.shape), requires_grad=True)
    grads = vjp(out, leaves, u, create_graph=True)
    ws = [case.random_like(a.shape) for a in case.arrays]
    vs = [case.random_like(a.shape) if on else np.zeros(a.shape) for a, on in zip(case.arrays, case.active)]
    total = None
    for g, w, on in zip(grads, ws, case.active):
        if on and g.requires_grad:
            term = call("sum", g * Tensor(w))
            total = term if total is None else total + term
    w_active = [w if on else np.zeros(w.shape) for w, on in zip(ws, case.active)]
    if total is None:
        # A rule that returns zeros (as torch's zeros_like(grad), sign's): nothing depends on u,
        # and the differences must show a derivative of 0 too.
        assert all(np.all(g.data == 0) for g in grads)
        np.testing.assert_allclose(directional(case.f, case.arrays, w_active, STEP), 0.0, atol=1e-9)
        return
    second = vjp(total, [*leaves, u], np.ones(()))
    hvp, jvp_w = second[:-1], second[-1]

    def weighted_gradient(*arrays):
        inner = [Tensor(a, requires_grad=on) for a, on in zip(arrays, case.active)]
        gs = vjp(call(case.op, *inner, **case.sample.params), inner, u.data)
        return sum(float(np.sum(g * w)) for g, w, on in zip(gs, ws, case.active) if on)

    fd = float(directional(weighted_gradient, case.arrays, vs, STEP2))
    assert_close_scalar(sum(float(np.sum(h * v)) for h, v in zip(hvp, vs)), fd, tol=1e-5)
    # <vjp(u), w> is linear in u, with gradient J w: the rules must be differentiable in g too.
    np.testing.assert_allclose(jvp_w, directional(case.f, case.arrays, w_active, STEP), rtol=1e-5, atol=1e-6)


def check_batched_cotangents_match_loop(name, index):
    """A stack of cotangents (leading batch axis) gives the stack of single VJPs, both orders."""
    case = Case(name, index)
    leaves = case.leaves()
    out = case.out(leaves)
    batch = case.random_like((3,) + out.shape)
    batched = vjp(out, leaves, batch, batch=(3,))
    for i, array in enumerate(case.arrays):
        rows = np.stack([vjp(out, leaves, row)[i] for row in batch])
        np.testing.assert_allclose(batched[i], rows, rtol=1e-12, atol=1e-12)
    # Second order: a batch of cotangents sent back through the gradient's own graph (the
    # way a batched Hessian is built) against one pass per row.
    grads = vjp(out, leaves, np.ones(out.shape), create_graph=True)
    pairs = [(g, case.random_like((3,) + g.shape)) for g, on in zip(grads, case.active) if on and g.requires_grad]
    if not pairs:
        return
    found = run_backward([(g, Tensor(w)) for g, w in pairs], retain_graph=True)
    by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
    for leaf in leaves:
        rows = []
        for r in range(3):
            single = run_backward([(g, Tensor(w[r])) for g, w in pairs], retain_graph=True)
            rows.append(next((ct.data for node, ct in single.items() if node.tensor is leaf), np.zeros(leaf.shape)))
        np.testing.assert_allclose(by_leaf.get(id(leaf), np.zeros((3,) + leaf.shape)), np.stack(rows),
                                   rtol=1e-10, atol=1e-12)


def jvp(out: Tensor, leaves: list[Tensor], tangents: list, batch=()) -> np.ndarray:
    """J·t by forward mode (zeros where no tangent reaches the output)."""
    (t,) = run_forward([out], {id(leaf): v for leaf, v in zip(leaves, tangents) if leaf.requires_grad})
    return np.zeros(batch + out.shape) if t is None else np.broadcast_to(t.data, batch + out.shape)


def check_forward_matches_reverse(name, index):
    """<u, J v> by forward mode equals <Jᵀ u, v> by reverse mode: first order, each input alone
    and all at once; a stack of tangents against one at a time; and second order, forward over
    reverse: <w, d/dv (Jᵀ u)> against the reverse pass through the gradient's graph."""
    case = Case(name, index)
    for active in active_subsets(case):
        leaves = case.leaves(active)
        out = case.out(leaves)
        u = case.random_like(out.shape)
        vs = [case.random_like(a.shape) for a in case.arrays]
        forward = float(np.sum(u * jvp(out, leaves, vs)))
        reverse = sum(float(np.sum(g * v)) for g, v, on in zip(vjp(out, leaves, u), vs, active) if on)
        assert_close_scalar(forward, reverse, tol=1e-9)
    leaves = case.leaves()
    out = case.out(leaves)
    # The whole Jacobian by columns (forward mode) against it by rows (reverse mode)
    named = {f"x{i}": leaf for i, leaf in enumerate(leaves)}
    wrt = [n for n, leaf in named.items() if leaf.requires_grad]
    columns = forward_columns([out], named, wrt, rows=4)[0]
    rows = basis_vjps(out, named, wrt, "batched", None)
    for name in wrt:
        np.testing.assert_allclose(columns[name], rows[name].reshape(columns[name].shape), rtol=1e-10, atol=1e-12)
    stacks = [case.random_like((3,) + a.shape) for a in case.arrays]
    batched = jvp(out, leaves, stacks, batch=(3,))
    for r in range(3):
        np.testing.assert_allclose(batched[r], jvp(out, leaves, [s[r] for s in stacks]), rtol=1e-10, atol=1e-12)
    grads = vjp(out, leaves, case.random_like(out.shape), create_graph=True)
    pairs = [(g, case.random_like(g.shape)) for g, on in zip(grads, case.active) if on and g.requires_grad]
    if not pairs:
        return
    vs = [case.random_like(a.shape) for a in case.arrays]
    tangents = run_forward([g for g, _ in pairs], {id(leaf): v for leaf, v in zip(leaves, vs) if leaf.requires_grad})
    forward = sum(float(np.sum(w * t.data)) for (_, w), t in zip(pairs, tangents) if t is not None)
    found = run_backward([(g, Tensor(w)) for g, w in pairs], retain_graph=True)
    reverse = sum(float(np.sum(ct.data * v)) for node, ct in found.items()
                  for leaf, v in zip(leaves, vs) if node.tensor is leaf)
    assert_close_scalar(forward, reverse, tol=1e-8)


def check_documented_kink(name, index):
    op = OPS[name]
    kink = op.kinks[index]
    leaves = [Tensor(x, requires_grad=True) for x in kink.inputs]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = call(op, *leaves, **kink.params)
        grads = vjp(out, leaves, np.ones(out.shape))
    for got, expected in zip(grads, kink.grads):
        np.testing.assert_allclose(got, np.asarray(expected, dtype=np.float64), rtol=1e-12, atol=1e-12,
                                   err_msg=kink.note)


def kink_expression(name: str, index: int) -> tuple[str, dict[str, np.ndarray]]:
    """An expression calling the operation at its kink, with a variable per input, and their values."""
    op, kink = OPS[name], OPS[name].kinks[index]
    args = [f"x{i}" for i in range(len(kink.inputs))]
    if op.symbol:
        text = f" {op.symbol} ".join(args)
    else:
        text = f"{name}({', '.join(args + [f'{k}={v!r}' for k, v in kink.params.items()])})"
    return text, {a: np.asarray(v, dtype=np.float64) for a, v in zip(args, kink.inputs)}


def check_kink_is_noted(name, index):
    """At a noted kink the operation's check fires: one note, in the words of its record.

    Returns the expression and the note, for a check through the command line.
    """
    op, kink = OPS[name], OPS[name].kinks[index]
    leaves = [Tensor(x, requires_grad=True) for x in kink.inputs]
    out = call(op, *leaves, **kink.params)
    (note,) = kink_notes(out, "")
    says = op.kink_check.says.split("{where}")[0].format(op=name)
    assert note.startswith(f"{name} {says}"), note
    if not op.public:
        return None
    text, values = kink_expression(name, index)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = grad(text, values, grad_output=np.ones(np.shape(out.data)))
    assert result.notes == [note.replace(name, text, 1)]
    return text, values, result.notes[0]


def check_every_sample_and_kink(name):
    """Every check above, on every sample and documented kink of the operation."""
    op = OPS[name]
    for index in range(len(op.samples)):
        check_shape_rule_matches_forward(name, index)
        if op.differentiable:
            check_first_derivatives(name, index)
            if is_small(name, index):
                check_full_jacobian(name, index)
            check_second_derivatives(name, index)
            check_batched_cotangents_match_loop(name, index)
            check_forward_matches_reverse(name, index)
    for index, kink in enumerate(op.kinks):
        check_documented_kink(name, index)
        if kink.noted:
            check_kink_is_noted(name, index)


# -- PyTorch's names for the same calls (tests that use them import torch first) ------------------------------
TORCH_KEYWORDS = {"axis": "dim", "keepdims": "keepdim", "ddof": "correction", "p": "p", "n": "n", "dims": "dims",
                  "equation": "equation"}  # gradcli's parameter names -> PyTorch's


def module_of(torch, name: str) -> str | None:
    """The prefix under which PyTorch has the function name, if it has it (F first: torch's own
    binary_cross_entropy_with_logits does not take the mean)."""
    for prefix, module in (("F", torch.nn.functional), ("torch", torch), ("torch.linalg", torch.linalg),
                           ("torch.special", torch.special)):
        if hasattr(module, name):
            return prefix
    return None
