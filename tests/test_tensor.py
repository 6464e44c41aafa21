"""The Tensor API and its PyTorch semantics: accumulation, retain_graph, non-scalar
backward, detach and no_grad, a tensor on several paths, grad_fn names, second
derivatives with create_graph, and a deep graph without recursion."""

from __future__ import annotations

import numpy as np
import pytest

from gradcli import F, GradcliError, Tensor, no_grad
from gradcli.autodiff.engine import LeafNode, call, reachable, topological_order


def test_backward_accumulates_across_calls():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0, 9.0])
    x.grad = None  # the user zeroes it, as in PyTorch
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])


def test_accumulation_does_not_write_into_the_first_result():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.sum().backward()
    first = x.grad
    x.sum().backward()
    np.testing.assert_array_equal(first, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_second_backward_without_retain_graph_fails():
    x = Tensor(2.0, requires_grad=True)
    y = x * x * x
    y.backward()
    with pytest.raises(GradcliError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_a_second_backward_through_nodes_that_saved_nothing_runs_as_in_pytorch():
    # sum and mean keep no values for their rules: PyTorch lets s.backward() run again, adding to .grad
    x = Tensor([1.0, 2.0], requires_grad=True)
    s = x.sum()
    s.backward()
    s.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    m = (x * x).mean()
    m.backward()
    with pytest.raises(GradcliError, match="MulBackward0 has already freed its saved values"):
        m.backward()  # the product kept x for its rule, and let it go


def test_retain_graph_allows_a_second_backward():
    x = Tensor(2.0, requires_grad=True)
    y = x * x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 2 * 3 * 2.0**2


def test_non_scalar_backward_needs_a_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(GradcliError, match="grad can be implicitly created only for scalar outputs") as info:
        y.backward()
    assert "(3,)" in info.value.message


def test_non_scalar_backward_with_gradient_is_a_vjp():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 0.5, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, -6.0])


def test_gradient_of_the_wrong_shape_is_refused():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(GradcliError, match="shape"):
        (x * x).backward(np.ones(2))


def test_no_grad_builds_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = (x * x).sum()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    assert y.item() == 5.0
    z = (x * x).sum()  # recording is back on after the block
    assert z.grad_fn is not None


def test_no_grad_as_a_decorator():
    @no_grad()
    def square(t):
        return t * t

    x = Tensor(3.0, requires_grad=True)
    assert square(x).grad_fn is None


def test_detach_passes_the_value_but_not_the_gradient():
    x = Tensor(3.0, requires_grad=True)
    d = x.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert (d * 2.0).grad_fn is None
    y = x * d  # d is a constant 3: dy/dx = 3, not 2x = 6
    y.backward()
    assert x.grad == 3.0


def test_detach_shares_the_data_without_copying():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert x.detach().data is x.data


def test_a_tensor_used_twice_receives_the_sum():
    x = Tensor(3.0, requires_grad=True)
    y = x * x + F.sin(x)
    y.backward()
    assert x.grad == pytest.approx(2 * 3.0 + np.cos(3.0), rel=1e-15)


def test_diamond_graph_sums_both_paths():
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = x * 2.0
    b = F.exp(a)
    c = F.log(a)
    (b + c).sum().backward()
    np.testing.assert_allclose(x.grad, 2.0 * np.exp(2.0 * x.data) + 1.0 / x.data, rtol=1e-15)


def test_is_leaf_and_requires_grad():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([2.0])
    y = x * c
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    assert c.is_leaf and not c.requires_grad
    assert not y.is_leaf and y.requires_grad
    assert not (c * c).requires_grad
    y.sum().backward()
    assert c.grad is None  # a constant gets no gradient
    assert x.grad is not None


def test_requires_grad_can_only_change_on_leaves():
    x = Tensor(1.0)
    assert x.requires_grad_().requires_grad
    with pytest.raises(GradcliError, match="leaf"):
        (x * 2.0).requires_grad_(False)


def test_backward_of_a_tensor_without_graph_fails():
    with pytest.raises(GradcliError, match="does not require grad"):
        Tensor(1.0).backward()


@pytest.mark.parametrize(("make", "name"), [
    (lambda x, m: x * x, "MulBackward0"),
    (lambda x, m: x + 1.0, "AddBackward0"),
    (lambda x, m: x - 1.0, "SubBackward0"),
    (lambda x, m: x / 2.0, "DivBackward0"),
    (lambda x, m: -x, "NegBackward0"),
    (lambda x, m: x**2, "PowBackward0"),
    (lambda x, m: x.mean(), "MeanBackward0"),
    (lambda x, m: x.sum(), "SumBackward0"),
    (lambda x, m: m.sum(axis=0), "SumBackward1"),
    (lambda x, m: F.max(x), "MaxBackward1"),  # (torch's max() is its second overload, max(dim) its first)
    (lambda x, m: F.max(m, axis=0), "MaxBackward0"),
    (lambda x, m: F.min(m, axis=1), "MinBackward0"),
    (lambda x, m: F.logsumexp(m, axis=0), "LogsumexpBackward0"),
    (lambda x, m: F.exp(x), "ExpBackward0"),
    (lambda x, m: F.tanh(x), "TanhBackward0"),
    (lambda x, m: F.sigmoid(x), "SigmoidBackward0"),
    (lambda x, m: F.relu(x), "ReluBackward0"),
    (lambda x, m: x @ x, "DotBackward0"),
    (lambda x, m: m @ m, "MmBackward0"),
    (lambda x, m: m.T, "PermuteBackward0"),
    (lambda x, m: x[0], "SelectBackward0"),
])
def test_grad_fn_names_follow_pytorch(make, name):
    x = Tensor([1.0, 2.0], requires_grad=True)
    m = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    out = make(x, m)
    assert out.grad_fn.name == name
    assert repr(out).endswith(f"grad_fn=<{name}>)")


def test_next_functions_end_in_accumulate_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.0).mean()
    (mul,) = y.grad_fn.next_functions
    assert mul.name == "MulBackward0"
    leaf, constant = mul.next_functions
    assert isinstance(leaf, LeafNode) and leaf.name == "AccumulateGrad" and leaf.tensor is x
    assert constant is None  # the constant 2 has no node


def test_create_graph_gives_second_derivatives():
    x = Tensor(0.7, requires_grad=True)
    y = F.sin(x) * x**3
    y.backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Tensor) and first.grad_fn is not None
    v = 0.7
    assert first.item() == pytest.approx(np.cos(v) * v**3 + 3 * v**2 * np.sin(v), rel=1e-14)
    x.grad = None
    first.backward()
    second = -np.sin(v) * v**3 + 6 * v**2 * np.cos(v) + 6 * v * np.sin(v)
    assert x.grad.item() == pytest.approx(second, rel=1e-14)


def test_create_graph_third_derivative():
    x = Tensor(1.3, requires_grad=True)
    y = F.exp(x * 2.0)
    y.backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    g2.backward()
    assert x.grad.item() == pytest.approx(8.0 * np.exp(2.6), rel=1e-14)


def test_mixed_second_derivative_with_two_leaves():
    x = Tensor(2.0, requires_grad=True)
    w = Tensor(3.0, requires_grad=True)
    (x * x * w).backward(create_graph=True)
    dx = x.grad  # 2 x w
    x.grad = None
    w.grad = None
    dx.backward()
    assert w.grad.item() == pytest.approx(2 * 2.0)  # d/dw (2 x w) = 2x
    assert x.grad.item() == pytest.approx(2 * 3.0)  # d/dx (2 x w) = 2w


def test_a_100000_node_chain_backward_without_recursion():
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    assert len(topological_order([y.grad_fn])) == 100_001
    y.backward()
    assert x.grad == pytest.approx(1.00001**100_000, rel=1e-9)


def test_reachable_finds_the_nodes_topological_order_sorts_each_once():
    # A graph that shares nodes (a diamond, x used twice, a constant input): both walks see the
    # same nodes, and the order puts every node after all the nodes it sends a cotangent to.
    x = Tensor(0.5, requires_grad=True)
    a = x * 2.0
    b = call("sin", a) + a * x
    c = b * b - Tensor(1.0)
    order = topological_order([c.grad_fn])
    assert len(order) == len(set(order)) == 7  # sub, b*b, add, sin, a*x, x*2 and x's AccumulateGrad
    assert set(reachable([c.grad_fn, None, c.grad_fn])) == set(order)
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for child in node.next_functions:
            if child is not None:
                assert position[child] > position[node]
    assert sum(isinstance(n, LeafNode) for n in order) == 1


def test_broadcasting_gradients_sum_back_to_the_input_shape():
    m = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = Tensor(2.0, requires_grad=True)
    ((m + b) * s).sum().backward()
    np.testing.assert_array_equal(m.grad, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])
    assert s.grad == pytest.approx(m.data.sum() + 2 * 6.0)


def test_numpy_arrays_on_the_left_defer_to_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_integer_data_is_promoted_to_float64():
    x = Tensor([1, 2, 3])
    assert x.data.dtype == np.float64
    assert (Tensor(2) ** Tensor(0.5)).item() == pytest.approx(np.sqrt(2.0))
