"""PyTorch's and numpy's spellings: methods, module prefixes, aliases, dim=/keepdim=, std's divisor.

The parser and evaluator are tested directly (trees, spans, exact messages), the command line
through the real app, and every spelling of every operation the registry lists against
PyTorch: the same numbers and the same gradients in float64 (skipped without torch).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gradcli.api.evaluate import evaluate
from gradcli.autodiff.engine import Tensor, run_backward
from gradcli.autodiff.op import FUNCTIONS, OPS
from gradcli.errors import GradcliError
from gradcli.lang.parser import parse
from gradcli.lang.printer import sexpr, unparse
from opchecks import TORCH_KEYWORDS, module_of

X = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])


def value(text: str, **env: np.ndarray) -> np.ndarray:
    return evaluate(parse(text), {k: Tensor(v) for k, v in env.items()}).data


def error(text: str, **env: np.ndarray) -> GradcliError:
    with pytest.raises(GradcliError) as info:
        evaluate(parse(text), {k: Tensor(v) for k, v in env.items()}, source=text)
    return info.value


# -- the parser ----------------------------------------------------------------------------
@pytest.mark.parametrize("text,tree,canonical", [
    ("x.sum()", "(sum x)", "x.sum()"),
    ("(x**2).mean(dim=0, keepdim=True)", "(mean (pow x 2) dim=0 keepdim=1)", "(x**2).mean(dim=0, keepdim=True)"),
    ("(W @ x).tanh().sum(0)", "(sum (tanh (matmul W x)) 0)", "(W @ x).tanh().sum(0)"),
    ("x.T.pow(2)", "(pow (T x) 2)", "x.T.pow(2)"),
    ("-x.exp()", "(neg (exp x))", "-x.exp()"),
    ("torch.nn.functional.relu(x)", "(relu x)", "torch.nn.functional.relu(x)"),
    ("F.softmax(x, dim=-1)", "(softmax x dim=(neg 1))", "F.softmax(x, dim=-1)"),
    ("np.linalg.norm(x) * np.pi", "(mul (norm x) pi)", "np.linalg.norm(x)*pi"),
    ("F.T + F", "(add (T F) F)", "F.T + F"),
])
def test_method_and_prefixed_calls_parse_to_the_plain_call(text, tree, canonical):
    parsed = parse(text)
    assert sexpr(parsed) == tree
    assert unparse(parsed) == canonical
    assert sexpr(parse(unparse(parsed))) == tree


def test_a_method_call_spans_its_receiver_and_names_its_method():
    call = parse("(x + 1).sum(dim=0)")
    assert call.span == (0, 18) and call.name_span == (8, 11) and call.text == ".sum"
    prefixed = parse("y * torch.sin(x)").args[1]
    assert prefixed.span == (4, 16) and prefixed.name_span == (4, 13) and prefixed.text == "torch.sin"


def test_true_and_false_are_numbers():
    assert sexpr(parse("x.sum(keepdim=True) * False")) == "(mul (sum x keepdim=1) 0)"


# -- values: keywords, positional axes, spellings ------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("x.sum()", np.sum(X)),
    ("x.sum(0)", np.sum(X, axis=0)),
    ("torch.sum(x, dim=1, keepdim=True)", np.sum(X, axis=1, keepdims=True)),
    ("np.sum(x, axis=(0, 1), keepdims=True)", np.sum(X, axis=(0, 1), keepdims=True)),
    ("x.mean(dim=(0, 1))", np.mean(X)),
    ("x.amax(1) - x.amin(dim=0).sum()", np.max(X, axis=1) - np.min(X, axis=0).sum()),
    ("x.softmax(dim=0)[1, 2]", np.exp(9.0) / (np.exp(4.0) + np.exp(9.0))),
    ("F.log_softmax(x, 0)[0, 0]", 1.0 - np.log(np.exp(1.0) + np.exp(3.0))),
    ("x.logsumexp(dim=1)", np.log(np.sum(np.exp(X), axis=1))),
    ("x.clamp(min=2)", np.maximum(X, 2.0)),
    ("x.clamp(max=4)", np.minimum(X, 4.0)),
    ("x.clamp(2, 4)", np.clip(X, 2.0, 4.0)),
    ("np.clip(x, 2, 4)", np.clip(X, 2.0, 4.0)),
    ("x.pow(2).add(1).div(2).sub(x).neg()", -((X ** 2 + 1) / 2 - X)),
    ("torch.mm(x, x.t())", X @ X.T),
    ("torch.mv(x, x[0])", X @ X[0]),
    ("x.square() - x.ones_like() + torch.zeros_like(x)", X ** 2 - 1),
    ("np.power(x, 0.5).sum()", np.sum(np.sqrt(X))),
    ("x.gt(2) + np.less_equal(x, 4)", (X > 2).astype(float) + (X <= 4.0)),
    ("x.sum(dim=[0, 1])", np.sum(X)),
    ("x[1:, 2:].reshape(()) + np.zeros(()) + x[0, 0].view(())", np.float64(10.0)),
    # numpy's keyword names beside torch's
    ("np.flip(x, axis=1)", np.flip(X, axis=1)),
    ("np.tril(x, k=1) - torch.triu(x, diagonal=1)", np.tril(X, k=1) - np.triu(X, k=1)),
    ("np.arange(stop=3) + arange(end=3)", 2 * np.arange(3.0)),
    ("np.linspace(0, 1, num=5)", np.linspace(0, 1, 5)),
    ("np.tensordot(x, x, axes=([1], [1]))", np.tensordot(X, X, axes=([1], [1]))),
    ("torch.tensordot(x, x, dims=((0,), (0,)))", np.tensordot(X, X, axes=([0], [0]))),
    ("np.tensordot(x, x, (1, 1))", X @ X.T),
    # transposes: torch's two dims, numpy's order of axes, .mT, swapaxes
    ("x.transpose(0, 1)", X.T),
    ("torch.transpose(x, -1, 0)", X.T),
    ("np.transpose(x, (1, 0)) + np.transpose(x, axes=(1, 0))", 2 * X.T),
    ("x.mT", X.T),
    ("torch.swapaxes(x, 0, 1) + x.swapdims(1, 0) + np.swapaxes(x, 0, -1)", 3 * X.T),
])
def test_pytorch_and_numpy_spellings_compute_the_same_as_numpy(text, expected):
    np.testing.assert_allclose(value(text, x=X), expected, rtol=1e-15)


@pytest.mark.parametrize("text,ddof", [
    ("std(x)", 0), ("np.std(x)", 0), ("numpy.std(x)", 0), ("x.std()", 1), ("torch.std(x)", 1),
    ("x.std(correction=0)", 0), ("x.std(unbiased=False)", 0), ("std(x, ddof=1)", 1), ("np.std(x, ddof=2)", 2),
    ("torch.std(x, unbiased=True)", 1),
])
def test_the_spelling_decides_the_divisor_of_std_and_var(text, ddof):
    np.testing.assert_allclose(value(text, x=X), np.std(X, ddof=ddof), rtol=1e-15)
    np.testing.assert_allclose(value(text.replace("std", "var"), x=X), np.var(X, ddof=ddof), rtol=1e-15)


def test_std_along_an_axis_keeps_the_spelling():
    np.testing.assert_allclose(value("x.std(dim=1, keepdim=True)", x=X), np.std(X, axis=1, ddof=1, keepdims=True),
                               rtol=1e-15)
    np.testing.assert_allclose(value("np.var(x, 0)", x=X), np.var(X, axis=0), rtol=1e-15)


def test_the_gradient_of_an_unbiased_std():
    # d std / dx = (x - mean) / ((n - 1) std), by hand for x = (1, 2, 4): mean 7/3, std sqrt(7/3)
    x = Tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    evaluate(parse("x.std()"), {"x": x}).backward()
    std = np.sqrt(7.0 / 3.0)
    np.testing.assert_allclose(x.grad.data, (np.array([1.0, 2.0, 4.0]) - 7.0 / 3.0) / (2.0 * std), rtol=1e-15)


# -- errors: exact messages, spans on the name ---------------------------------------------
@pytest.mark.parametrize("text,message,span", [
    ("x.summ()", ".summ() is not a method gradcli has: did you mean .sum()? (gradcli ops lists them all)", (2, 6)),
    ("x.qqqq()", ".qqqq() is not a method gradcli has (gradcli ops lists them all)", (2, 6)),
    ("torch.sinn(x)", "torch.sinn is not a function gradcli has: did you mean torch.sin? (gradcli ops lists them "
     "all)", (0, 10)),
    ("F.qqqq(x)", "F.qqqq is not a function gradcli has (gradcli ops lists them all)", (0, 6)),
    ("x.zeros(2)", "zeros() is not a method: call it as zeros(n, ...), which makes a new array (gradcli ops "
     "lists them all)", (2, 7)),
    ("x.where(x, x)", "where() is not a method: call it as where(cond, a, b) (gradcli ops lists them all)", (2, 7)),
    ("(x + 1).sum(dim=2)", "axis 2 is out of range for a value with 2 dimensions", (8, 11)),
    ("x.sum(axis=0, dim=1)", "sum() got two values for axis (as dim too)", (2, 5)),
    ("x.sum(foo=1)", "sum() takes no keyword 'foo' (keywords: axis, keepdims, dim, keepdim)", (2, 5)),
    ("clip(x, 1, 2, min=0)", "clip() got two values for min", (0, 20)),
    ("x.norm(2, 0, 1)", "norm() takes 2 arguments (x, p), not 4; give axis, keepdims by name, as axis=...", (2, 6)),
    ("x.sum(0, 1)", "sum() takes 2 arguments (x, axis), not 3; give keepdims by name, as keepdims=...", (2, 5)),
    ("x.transpose(0)", "transpose() takes two dims to swap, as transpose(x, 0, 1), a tuple of every axis, or none "
     "(every axis reversed)", (2, 11)),
    ("np.transpose(x, (0, 0))", "transpose() takes each of the 2 axes once, not (0, 0)", (0, 23)),
    ("x[0].mT", ".mT takes a matrix or a stack of them, not shape (3,)", (0, 7)),
    ("tensordot(x, x, dims=(1, 1, 0))", "tensordot: dims is a whole number or a pair of axis lists, as ([1], [0]), "
     "not (1, 1, 0)", (0, 31)),
    ("x.sum(dim=())", "sum() takes no empty tuple of axes: numpy reduces over none of them, PyTorch over all; leave "
     "the axes out to reduce over all", (2, 5)),
    ("()", "the expression must have a numeric value", (0, 2)),
    ("x.reshape(((),))", "shape must be a whole number", (2, 9)),
    ("x.sum(dim=[[0]])", "axis must be a whole number", (2, 5)),
    ("tril(x, diagonal=1, k=1)", "tril() got two values for diagonal (as k too)", (0, 24)),
])
def test_errors_name_the_spelling_and_point_at_it(text, message, span):
    err = error(text, x=X)
    assert err.message == message
    assert err.span == span



# -- node names: each spelling of a transpose as PyTorch names its node --------------------------
TRANSPOSES = [  # gradcli's text, and PyTorch's call, on m (2 x 3) and c (2 x 3 x 4)
    ("m.transpose(0, 1)", lambda t, m, c: m.transpose(0, 1)),
    ("torch.transpose(c, 0, 2)", lambda t, m, c: t.transpose(c, 0, 2)),
    ("transpose(c, -1, 1)", lambda t, m, c: t.transpose(c, -1, 1)),
    ("c.swapaxes(-1, 0)", lambda t, m, c: c.swapaxes(-1, 0)),
    ("torch.swapdims(m, 0, 1)", lambda t, m, c: t.swapdims(m, 0, 1)),
    ("m.mT", lambda t, m, c: m.mT), ("c.mT", lambda t, m, c: c.mT),
    ("m.t()", lambda t, m, c: m.t()), ("torch.t(m)", lambda t, m, c: t.t(m)),
    ("m.T", lambda t, m, c: m.T),  # (PyTorch deprecates .T on other than 2 dims)
    ("c.permute(2, 0, 1)", lambda t, m, c: c.permute(2, 0, 1)),
    ("torch.movedim(c, 0, -1)", lambda t, m, c: t.movedim(c, 0, -1)),
    # Orders that change nothing make their node too, as in PyTorch: a dim swapped with itself, every axis kept.
    ("m.transpose(1, 1)", lambda t, m, c: m.transpose(1, 1)), ("c.swapaxes(2, -1)", lambda t, m, c: c.swapaxes(2, -1)),
    ("c.permute(0, 1, 2)", lambda t, m, c: c.permute(0, 1, 2)), ("torch.movedim(c, 1, 1)", lambda t, m, c: t.movedim(c, 1, 1)),
]


@pytest.mark.parametrize("ours,theirs", TRANSPOSES, ids=[text for text, _ in TRANSPOSES])
def test_a_transposes_node_is_named_as_pytorch_names_it(ours, theirs):
    torch = pytest.importorskip("torch")
    m, c = X[:, :3], np.arange(24.0).reshape(2, 3, 4)
    out = evaluate(parse(ours), {"m": Tensor(m, requires_grad=True), "c": Tensor(c, requires_grad=True)})
    reference = theirs(torch, torch.tensor(m, requires_grad=True), torch.tensor(c, requires_grad=True))
    np.testing.assert_array_equal(out.data, reference.detach().numpy())
    assert out.grad_fn.name == reference.grad_fn.name()
    # The rule is the same function again, as PyTorch's: its node in a second-order graph is named alike.
    (grad,) = run_backward([(out, Tensor(np.ones(out.shape), requires_grad=True))], create_graph=True).values()
    assert grad.grad_fn.name == reference.grad_fn.name()

@pytest.mark.parametrize("text", ["v.t()", "torch.t(s)", "s.t()", "v.T", "torch.transpose(v, 0, -1)"])
def test_the_transpose_of_a_vector_or_a_number_is_a_node_as_in_pytorch(text):
    torch = pytest.importorskip("torch")
    v, s = np.array([1.0, 2.0, 3.0]), np.array(2.0)
    out = evaluate(parse(text), {"v": Tensor(v, requires_grad=True), "s": Tensor(s, requires_grad=True)})
    tv, ts = torch.tensor(v, requires_grad=True), torch.tensor(s, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch deprecates .T on other than 2 dims)
        reference = {"v.t()": tv.t(), "torch.t(s)": torch.t(ts), "s.t()": ts.t(), "v.T": tv.T,
                     "torch.transpose(v, 0, -1)": torch.transpose(tv, 0, -1)}[text]
    np.testing.assert_array_equal(out.data, reference.detach().numpy())
    assert out.grad_fn is not None and out.grad_fn.name == reference.grad_fn.name()


@pytest.mark.parametrize("text,theirs", [
    ("F.cross_entropy(x.unsqueeze(0), torch.tensor([1]))",
     lambda torch, x: torch.nn.functional.cross_entropy(x.unsqueeze(0), torch.tensor([1]))),
    ("x @ torch.tensor([[1., 2., 0.5], [3., 4., -1.], [0., 2., 1.]]) @ x",
     lambda torch, x: x @ torch.tensor([[1., 2., 0.5], [3., 4., -1.], [0., 2., 1.]], dtype=x.dtype) @ x),
    # Of a variable or of a list holding one, torch.tensor makes a constant: no gradient flows through it.
    ("sum(torch.tensor(x) * x)", lambda torch, x: (torch.tensor(x.tolist(), dtype=x.dtype) * x).sum()),
    ("sum(tensor([x[0], 2.0, x[2]]) * x)",
     lambda torch, x: (torch.tensor([x[0].item(), 2.0, x[2].item()], dtype=x.dtype) * x).sum()),
])
def test_torch_tensor_makes_a_constant_as_in_pytorch(text, theirs):
    torch = pytest.importorskip("torch")
    x = np.array([0.5, -1.5, 2.0])
    out = evaluate(parse(text), {"x": Tensor(x, requires_grad=True)})
    (ours,) = run_backward([(out, Tensor(np.ones(out.shape)))]).values()
    tx = torch.tensor(x, requires_grad=True)
    reference = theirs(torch, tx)
    reference.backward()
    np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(ours.data, tx.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("text,dtype", [
    ("x.double() * x", np.float64), ("x.to(torch.float64) * x", np.float64), ("x.type(torch.double) * x", np.float64),
    ("x.to(dtype=np.float64) * x.to('cpu')", np.float64), ("x.float() * x", np.float32),
    ("x.to(torch.float32) * x.to(device='cpu')", np.float32),
])
def test_a_cast_to_the_expressions_dtype_is_the_value_itself_as_in_pytorch(text, dtype):
    torch = pytest.importorskip("torch")
    x = np.array([0.1, -2.5, 3.0], dtype=dtype)
    out = evaluate(parse(text), {"x": Tensor(x, requires_grad=True)})
    (ours,) = run_backward([(out, Tensor(np.ones(out.shape, dtype)))]).values()
    tx = torch.tensor(x, requires_grad=True)
    # PyTorch's cast to a tensor's own dtype returns the tensor itself: no node, the gradient 2x
    assert tx.double() is tx if dtype == np.float64 else tx.float() is tx
    np.testing.assert_array_equal(out.data, (tx * tx).detach().numpy())
    np.testing.assert_array_equal(ours.data, 2 * x)
    assert out.grad_fn.name == "MulBackward0" and out.grad_fn.next_functions[0] is out.grad_fn.next_functions[1]


@pytest.mark.parametrize("text,message", [
    ("x.float()", ".float() asks for float32 in an expression computed in float64: gradcli computes a whole "
                  "expression in one dtype, float64 or float32 (PyTorch's default): choose it with dtype"),
    ("x.to(torch.half)", ".to() asks for float16 in an expression computed in float64"),
    ("x.to(torch.int8)", ".to() asks for int8 in an expression computed in float64"),  # (it wraps around)
    ("x * torch.ones(3, dtype=torch.float32)", "ones(dtype=...) asks for float32 in an expression computed in float64"),
    ("x * tensor([1., 2., 3.], dtype=torch.float32)", "tensor(dtype=...) asks for float32"),
    ("x.to('cuda')", ".to('cuda'): gradcli computes on the CPU, with numpy; .to() takes a dtype, as in "
                     ".to(torch.float64), or 'cpu'"),
    ("x.to(torch.float64, 1)", ".to() takes a dtype, as in .to(torch.float64)"),
    ("x.double(1)", ".double() takes no arguments"),
    ("sum(x, dtype=torch.float64)", "sum() takes no keyword 'dtype'"),  # (a reduction's dtype= is not taken)
])
def test_a_cast_to_another_dtype_says_how_to_choose_it(text, message):
    err = error(text, x=np.array([1.0, 2.0, 3.0]))
    assert err.message.startswith(message), err.message


# (gradcli's text, the same in PyTorch): a mask cast to a float dtype, integer casts, .bool(), and masks
# written as lists of True and False or as .bool(), each against torch on float64 and float32 values.
MASK_AND_INTEGER_CASTS = [
    ("((x > 0).float() * x).sum() + (x < 1).half().sum() * x[0]",
     lambda t, x: ((x > 0).float() * x).sum() + (x < 1).half().sum() * x[0]),
    ("(x.long() * x).sum() + (x.to(torch.int32) * x ** 2).sum() + x.int().sum()",
     lambda t, x: (x.long() * x).sum() + (x.to(t.int32) * x ** 2).sum() + x.int().sum()),
    ("(x.bool() * x).sum() + (x > 0).double().sum()", lambda t, x: (x.bool() * x).sum() + (x > 0).double().sum()),
    ("x[[True, False, True, True]].sum() + x[(x > 0).bool()].sum()",
     lambda t, x: x[[True, False, True, True]].sum() + x[(x > 0).bool()].sum()),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("text,theirs", MASK_AND_INTEGER_CASTS, ids=range(len(MASK_AND_INTEGER_CASTS)))
def test_casts_of_masks_and_to_integers_and_boolean_masks_as_pytorch(text, theirs, dtype):
    torch = pytest.importorskip("torch")
    x = np.array([1.5, -2.5, 3.0, 0.0], dtype=dtype)
    out = evaluate(parse(text), {"x": Tensor(x, requires_grad=True)})
    (ours,) = run_backward([(out, Tensor(np.ones(out.shape, dtype)))]).values()
    tx = torch.tensor(x, requires_grad=True)
    reference = theirs(torch, tx)
    reference.backward()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, reference.detach().numpy().astype(dtype))
    np.testing.assert_array_equal(ours.data, tx.grad.numpy())


@pytest.mark.parametrize("text", [
    "x.size(0) * x.sum() + x.numel() + x.dim() + x.ndim + x.ndimension()", "x.sum(-1) / x.size(-1)",
    "x.reshape(x.size()).contiguous() * x.size(dim=1)", "x.T.contiguous() @ x",
])
def test_sizes_are_constants_and_contiguous_is_the_value_as_in_pytorch(text):
    torch = pytest.importorskip("torch")
    x = np.array([[0.5, -1.0, 2.0], [1.5, 3.0, -0.5]])
    out = evaluate(parse(text), {"x": Tensor(x, requires_grad=True)})
    (ours,) = run_backward([(out, Tensor(np.ones(out.shape)))]).values()
    tx = torch.tensor(x, requires_grad=True)
    reference = {  # (written as PyTorch runs it: sizes are Python ints there)
        "x.size(0) * x.sum() + x.numel() + x.dim() + x.ndim + x.ndimension()":
            lambda: tx.size(0) * tx.sum() + tx.numel() + tx.dim() + tx.ndim + tx.ndimension(),
        "x.sum(-1) / x.size(-1)": lambda: tx.sum(-1) / tx.size(-1),
        "x.reshape(x.size()).contiguous() * x.size(dim=1)": lambda: tx.reshape(tx.size()).contiguous() * tx.size(dim=1),
        "x.T.contiguous() @ x": lambda: tx.T.contiguous() @ tx,
    }[text]()
    reference.backward(torch.ones_like(reference))
    np.testing.assert_array_equal(out.data, reference.detach().numpy())
    np.testing.assert_array_equal(ours.data, tx.grad.numpy())


def test_sizes_stop_a_batch_running_at_once():
    from gradcli.api.batch import batchable
    assert batchable(parse("x.double() * x")) and not batchable(parse("sum(x) / x.numel()"))
    assert not batchable(parse("x.ndim * x"))


def test_dtypes_parse_as_their_words_and_print_as_written():
    tree = parse("zeros(3, dtype=torch.float64) + x.to(np.float32) + x.type(torch.double)")
    assert sexpr(tree) == '(add (add (zeros 3 dtype="float64") (to x "float32")) (type x "float64"))'
    assert unparse(tree) == "zeros(3, dtype=torch.float64) + x.to(np.float32) + x.type(torch.double)"
    assert value("ones(2, dtype=torch.float64) * 3").tolist() == [3.0, 3.0]


def test_an_attribute_without_brackets_and_an_unknown_prefix_are_syntax_errors():
    with pytest.raises(GradcliError) as info:
        parse("x.sum + 1")
    assert info.value.message == ("unknown attribute 'sum': only .T (transpose), .mT (the last two axes swapped), "
                                  ".shape, .ndim, and the parts of a pair, as .values and .indices of "
                                  "torch.max(x, dim), are allowed; a method needs brackets, as in .sum()")
    assert info.value.span == (2, 5)
    with pytest.raises(GradcliError) as info:
        parse("torch.nn.relu(x)")
    assert info.value.message.startswith("torch.nn.relu is not a function gradcli has: torch.nn. is not a "
                                         "prefix it knows (torch., torch.nn.functional., ")
    assert info.value.span == (0, 13)


# -- the command line ----------------------------------------------------------------------
def test_the_command_line_takes_methods_and_prefixes(cli):
    run = cli("grad", "(x**2).mean(dim=0).sum() + torch.relu(x).std()", "--x", "1,2;3,5", "--format", "json")
    assert run.exit_code == 0, run.stderr
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    r = x.ravel()
    std = np.std(r, ddof=1)
    expected = x + ((x - r.mean()) / (3 * std))
    np.testing.assert_allclose(run.json()["gradients"]["x"], expected, rtol=1e-14)


def test_a_cast_on_the_command_line_points_at_the_dtype_option(cli):
    run = cli("grad", "sum(x.float()**2)", "--x", "0.1,0.2")
    assert run.exit_code == 2 and run.stderr.splitlines()[0].endswith("choose it with --dtype")
    run = cli("grad", "sum(x.float()**2)", "--x", "0.1,0.2", "--dtype", "float32", "--format", "json")
    assert run.exit_code == 0, run.stderr
    x = np.array([0.1, 0.2], dtype=np.float32)
    # (float32 numbers are written in their shortest form, read back as float32)
    assert np.float32(run.json()["value"]) == np.sum(x * x)
    np.testing.assert_array_equal(np.array(run.json()["gradients"]["x"], np.float32), 2 * x)


def test_an_unknown_method_on_the_command_line(cli):
    run = cli("grad", "x.summ()", "--x", "1,2")
    assert run.exit_code == 2
    assert run.stderr.splitlines() == ["error: .summ() is not a method gradcli has: did you mean .sum()? (gradcli "
                                       "ops lists them all)", "  x.summ()", "    ^~~~"]


def test_gradcli_ops_shows_aliases_and_method_forms(cli):
    entries = {e.get("name"): e for e in cli("ops", "--format", "json").json()}
    assert entries["max"]["aliases"] == [] and entries["max"]["method"] == ".max()"
    assert entries["amax"]["method"] == ".amax()"  # (a reduction of its own: PyTorch's NaN rule, AmaxBackward0)
    assert entries["clip"]["aliases"] == ["clamp"] and entries["add"]["method"] == ".add()"
    assert entries["where"]["method"] is None and entries["zeros"]["method"] is None
    assert "also clamp, .clip()" in cli("ops").stdout


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.is_method))
def test_every_method_computes_its_function(name):
    # The method form (with PyTorch's keyword names) against the plain call, over the record's
    # own samples: the receiver is the first argument, the rest and the keywords follow. A
    # default the spelling decides is given explicitly (it is tested above). No torch needed.
    op = OPS[name]
    spelled = op.aliases[0] if op.symbol else op.name
    rng = np.random.default_rng(12)
    for sample in op.samples:
        arrays = sample.draw(rng)
        params = {**{k: 0 for k in op.torch_defaults}, **sample.params}
        weights = None
        grads = []
        for text in (_text("plain", spelled, params, len(arrays)), _text("method", spelled, params, len(arrays))):
            leaves = {f"a{i}": Tensor(a, requires_grad=op.differentiable) for i, a in enumerate(arrays)}
            out = evaluate(parse(text), leaves)
            if weights is None:
                weights, expected = rng.standard_normal(out.shape), out.data
            np.testing.assert_array_equal(out.data, expected, err_msg=text)
            if op.differentiable:
                out.backward(Tensor(weights))
                grads.append([leaf.grad.data if leaf.grad is not None else None for leaf in leaves.values()])
        for plain, method in zip(*grads) if grads else ():
            np.testing.assert_array_equal(plain, method, err_msg=name)


# -- the whole registry against PyTorch ------------------------------------------------------
# Operators written only as a symbol (a % b, a and b) have no name to spell: tests/test_syntax.py
# compares them with PyTorch.
PUBLIC = sorted(name for name, op in OPS.items() if op.public and not op.constructor and (op.aliases or not op.symbol))
# Samples PyTorch does not take: outer of a scalar, prod over two axes at once, a target
# broadcast against the logits, margin_ranking_loss's inputs of different shapes.
TORCH_REFUSES = {("outer", ((), (2,))), ("prod", ((2, 3, 2),)), ("binary_cross_entropy_with_logits", ((2, 3), (3,))),
                 ("margin_ranking_loss", ((2, 3), (3,), (2, 3))), ("cross", ((2, 2), (2,)))}
def _spellings(torch, op) -> list[tuple[str, str]]:
    """(how, name) for every way to call op: plain, under torch's and numpy's prefixes, as a method."""
    names = list(op.aliases) if op.symbol else [op.name, *op.aliases]
    forms = []
    for name in names:
        forms.append(("plain", name))
        if module_of(torch, name):
            forms.append((module_of(torch, name), name))
        if (hasattr(np, name) or hasattr(np.linalg, name)) and name not in op.torch_only:
            forms.append(("np" if hasattr(np, name) else "np.linalg", name))
        if op.is_method:
            forms.append(("method", name))
    return forms


def _text(how: str, name: str, params: dict, count: int, sequence: bool = False) -> str:
    names = [f"a{i}" for i in range(count)]
    torch_side = how not in ("plain", "np", "np.linalg")
    params = dict(params)
    piece = "" if "part" not in params else f"[{params.pop('part')}]"  # x.chunk(3)[2]: the piece taken
    keywords = [f"{TORCH_KEYWORDS.get(k, k) if torch_side else k}={v!r}".replace(" ", "") for k, v in params.items()]
    if sequence:  # cat([a0, a1]): the arrays as one list
        names = [f"[{', '.join(names)}]"]
    if how == "method":
        return f"{names[0]}.{name}({', '.join(names[1:] + keywords)})" + piece
    prefix = "" if how == "plain" else how + "."
    return f"{prefix}{name}({', '.join(names + keywords)})" + piece


def _reference(torch, op, inputs, params: dict, torch_side: bool):
    """What PyTorch computes for op: the function of a PyTorch user, with the same conventions."""
    F = torch.nn.functional
    from differential import TWINS

    if op.family == "array" or op.name == "full_like" or "pool" in op.name:
        # (their torch twins take gradcli's parameter names, reshape's shape, tril's diagonal, and the pools'
        # flags as the whole numbers gradcli keeps them in)
        return TWINS[op.name].torch(*inputs, **params)
    kw = {TORCH_KEYWORDS.get(k, k): bool(v) if k == "keepdims" else v for k, v in params.items() if k != "ddof"}
    x = inputs[0]
    whole = tuple(range(x.ndim))
    if op.name in ("std", "var"):
        kw["correction"] = params.get("ddof", 1 if torch_side else 0)
    special = {
        "max": lambda: torch.amax(x, **{"dim": whole, **kw}), "min": lambda: torch.amin(x, **{"dim": whole, **kw}),
        "norm": lambda: _torch_norm(torch, x, **kw), "logsumexp": lambda: torch.logsumexp(x, **{"dim": whole, **kw}),
        "softmax": lambda: torch.softmax(x, **{"dim": -1, **kw}),
        "log_softmax": lambda: torch.log_softmax(x, **{"dim": -1, **kw}),
        "transpose": lambda: TWINS["transpose"].torch(x, **params), "where": lambda: torch.where(x != 0, *inputs[1:]),
        "masked_fill": lambda: x.masked_fill(inputs[1] != 0, inputs[2]),
        "clip": lambda: torch.clamp(*inputs), "det": lambda: torch.linalg.det(x), "inv": lambda: torch.linalg.inv(x),
        "matmul": lambda: torch.matmul(*inputs), "prod": lambda: torch.prod(x, **kw) if kw else torch.prod(x),
        "stop_gradient": lambda: x.detach(), "mse_loss": lambda: F.mse_loss(*torch.broadcast_tensors(*inputs), **kw),
        # PyTorch takes these parameters as numbers, gradcli as inputs (with a gradient): the same functions
        # in torch operations that differentiate the parameter too.
        "elu": lambda: torch.where(x > 0, x, inputs[1] * torch.expm1(x)),
        "leaky_relu": lambda: torch.where(x > 0, x, inputs[1] * x),
        "hardtanh": lambda: torch.minimum(torch.maximum(x, inputs[1]), inputs[2]),
        "logit": lambda: _clamped_logit(torch, x, inputs[1]),
        # torch's hardsigmoid slope is float32's 1/6 in float64 too (docs/differences.md, hardsigmoid-sixth)
        "hardsigmoid": lambda: TWINS["hardsigmoid"].variants["hardsigmoid-sixth"](x),
        # torch.solve and torch.cholesky are torch.linalg's now; gradcli's slogdet is one array; eigvalsh reads (A + Aᵀ)/2 (docs/differences.md, symmetric-part)
        "solve": lambda: torch.linalg.solve(*inputs), "cholesky": lambda: torch.linalg.cholesky(x),
        "slogdet": lambda: torch.stack(torch.linalg.slogdet(x), -1), "expm": lambda: torch.linalg.matrix_exp(x),
        "eigvalsh": lambda: torch.linalg.eigvalsh((x + x.mT) / 2),
        "cross": lambda: torch.linalg.cross(*torch.broadcast_tensors(*inputs), dim=kw.get("dim", -1)),
        "einsum": lambda: torch.einsum(params["equation"], *inputs),
        "polygamma": lambda: torch.polygamma(params.get("n", 0), x),  # (torch takes the order first)
        "vector_norm": lambda: torch.linalg.vector_norm(x, ord=kw.pop("p", 2), **kw),
        "matrix_norm": lambda: torch.linalg.matrix_norm(x, ord=kw.pop("p", "fro"), **kw),
        # a full L (the samples' spd matrices) is read whole, as (L Lᵀ)⁻¹ B: torch's kernel reads its triangle
        "cholesky_solve": lambda: TWINS["cholesky_solve"].torch(*inputs, **params),
        "linear_interpolation": lambda: torch.lerp(*inputs),  # (torch.lerp's record)
        "triangular_solve": lambda: TWINS["triangular_solve"].torch(*inputs, **params),  # (the pair's solution)
    }
    if op.name in special:
        return special[op.name]()
    import twins_normalization

    if op.name in twins_normalization.NAMES:  # (its twins take gradcli's inputs and parameter names)
        if op.name in ("batch_norm", "instance_norm"):  # running statistics: no gradient (torch refuses one)
            inputs = [t.detach() if i in (1, 2) else t for i, t in enumerate(inputs)]
        return TWINS[op.name].torch(*inputs, **params)
    if op.family == "loss" or op.name in ("cosine_similarity", "softmin", "softplus", "gelu"):
        # The twins of tests/differential.py: class indices as integers, a weight with a gradient written out.
        import twins_losses

        twin = getattr(twins_losses, op.name, None)
        fn = twin if twin is not None else getattr(F, op.name)
        return fn(*inputs, **params)
    name = op.aliases[0] if op.symbol else op.name
    return getattr(eval_module(torch, module_of(torch, name)), name)(*inputs, **kw)


def _torch_norm(torch, x, p=None, dim=None, keepdim=False):
    """torch.norm's reading of p: a vector norm of the entries, 'fro' the 2-norm, 'nuc' over the last two axes."""
    if p == "nuc":
        return torch.linalg.matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
    return torch.linalg.vector_norm(x, 2 if p in (None, "fro") else p, dim, keepdim)


def _clamped_logit(torch, x, eps):
    clamped = torch.where(eps < 0, x, torch.minimum(torch.maximum(x, eps), 1 - eps))
    return torch.log(clamped / (1 - clamped))


def eval_module(torch, prefix: str):
    return {"torch": torch, "F": torch.nn.functional, "torch.linalg": torch.linalg,
            "torch.special": torch.special}[prefix]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_spelling_agrees_with_pytorch(name):
    torch = pytest.importorskip("torch")
    op = OPS[name]
    rng = np.random.default_rng(13)
    checked = 0
    for sample in op.samples:
        if (name, sample.shapes) in TORCH_REFUSES:
            continue
        arrays = sample.draw(rng)
        for how, spelled in _spellings(torch, op):
            torch_side = how not in ("plain", "np", "np.linalg")
            text = _text(how, spelled, sample.params, len(arrays), op.sequence)
            leaves = {f"a{i}": Tensor(a, requires_grad=op.differentiable) for i, a in enumerate(arrays)}
            out = evaluate(parse(text), leaves)
            ts = [torch.tensor(a, dtype=torch.float64, requires_grad=op.differentiable) for a in arrays]
            expected = _reference(torch, op, ts, sample.params, torch_side)
            np.testing.assert_allclose(out.data, expected.detach().double().numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=text)
            if op.differentiable:
                weights = rng.standard_normal(out.shape)
                out.backward(Tensor(weights))
                (expected * torch.tensor(weights)).sum().backward()
                for i, (leaf, t) in enumerate(zip(leaves.values(), ts)):
                    want = np.zeros(arrays[i].shape) if t.grad is None else t.grad.numpy()
                    got = np.zeros(arrays[i].shape) if leaf.grad is None else leaf.grad.data
                    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=f"{text}: input {i}")
            checked += 1
    assert checked >= 2  # every operation is compared under more than one spelling


def test_every_alias_and_method_is_among_the_spellings_compared():
    torch = pytest.importorskip("torch")
    compared = {(how == "method", name) for op_name in PUBLIC for how, name in _spellings(torch, OPS[op_name])}
    for name, op in FUNCTIONS.items():
        if op.constructor:
            continue
        assert (False, name) in compared, name
        assert ((True, name) in compared) == op.is_method, name
