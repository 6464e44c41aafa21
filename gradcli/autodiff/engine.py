"""The reverse-mode engine: Tensor, graph nodes, and the backward pass.

Semantics follow PyTorch's autograd: a Tensor that requires grad records a `grad_fn`
node; `backward` walks the nodes in reverse topological order (iteratively, so deep
graphs work), applies each operation's rule, and sums cotangents that meet at a node.
A pass owns its cotangents (a dict local to the pass); only `Tensor.backward`
accumulates into `.grad`, as PyTorch does. Without `retain_graph` a node's saved
values are freed as soon as its rule has run.

Memory is reused where nothing can see it: a Tensor is `_fresh` when its array was
allocated for it by an elementwise operation and no graph node keeps it. A caller that
gives such a tensor up (`call(..., reuse=(i,))`: the expression walk for values used
once, a rule for its own temporaries or for a cotangent it reads once) lets the result
be written into it, and cotangents meeting at a node are summed in place.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ContextManager

import numpy as np

from gradcli.errors import GradcliError, param
from gradcli.errors import format_shape
from gradcli.autodiff.op import OPS, Op
from gradcli.autodiff.parallel import apply_ufunc

class _Mode:
    """What the operations applied now should do: record a graph, carry a span, check sizes."""

    grad_enabled = True
    span: tuple[int, int] | None = None  # of the sub-expression being evaluated
    max_elements: int | None = None  # refuse results with more entries than this


_mode = _Mode()
_sequence = itertools.count()


@contextmanager
def _setting(name: str, value: Any) -> Iterator[None]:
    previous = getattr(_mode, name)
    setattr(_mode, name, value)
    try:
        yield
    finally:
        setattr(_mode, name, previous)


def no_grad() -> ContextManager[None]:
    """Context manager (and decorator) under which operations record no graph."""
    return _setting("grad_enabled", False)


def enable_grad() -> ContextManager[None]:
    """Context manager (and decorator) under which operations record a graph again."""
    return _setting("grad_enabled", True)


def is_grad_enabled() -> bool:
    return _mode.grad_enabled


def element_limit(n: int | None) -> ContextManager[None]:
    """Context manager: refuse, before computing it, any result with more than n entries."""
    return _setting("max_elements", n)


def source_span(span: tuple[int, int] | None) -> ContextManager[None]:
    """Context manager: nodes created inside carry this span of the expression."""
    return _setting("span", span)


def as_array(data: Any) -> np.ndarray:
    """float64 array of data (bools and integers are promoted)."""
    if isinstance(data, np.ndarray) and data.dtype == np.float64:
        return data
    return np.asarray(data, dtype=np.float64)


class Tensor:
    """An array of float64 that can record the operations applied to it.

    Tensor(data, requires_grad=False). Leaves (made by the user) accumulate gradients in
    `.grad` on `backward()`; results of operations carry `.grad_fn`.
    """

    __slots__ = ("data", "requires_grad", "grad", "grad_fn", "_leaf_node", "_fresh", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = as_array(data.data if isinstance(data, Tensor) else data)
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.grad_fn: Node | None = None
        self._leaf_node: LeafNode | None = None
        self._fresh = False  # see the module docstring: may an operation write into data?

    @classmethod
    def _result(cls, data: np.ndarray, grad_fn: Node | None) -> Tensor:
        t = cls.__new__(cls)
        t.data = data
        t.requires_grad = grad_fn is not None
        t.grad = None
        t.grad_fn = grad_fn
        t._leaf_node = None
        t._fresh = False
        return t

    # -- introspection -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return float(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4)
        if self.grad_fn is not None:
            return f"tensor({body}, grad_fn=<{self.grad_fn.name}>)"
        return f"tensor({body}, requires_grad=True)" if self.requires_grad else f"tensor({body})"

    def detach(self) -> Tensor:
        """The same values, cut from the graph (no gradient flows back through it)."""
        return Tensor._result(self.data, None)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if not self.is_leaf:
            raise GradcliError("requires_grad can only be changed on a leaf tensor", kind="grad")
        self.requires_grad = flag
        return self

    # -- operators -------------------------------------------------------------------
    def __add__(self, other): return call("add", self, other)
    def __radd__(self, other): return call("add", other, self)
    def __sub__(self, other): return call("sub", self, other)
    def __rsub__(self, other): return call("sub", other, self)
    def __mul__(self, other): return call("mul", self, other)
    def __rmul__(self, other): return call("mul", other, self)
    def __truediv__(self, other): return call("div", self, other)
    def __rtruediv__(self, other): return call("div", other, self)
    def __pow__(self, other): return call("pow", self, other)
    def __rpow__(self, other): return call("pow", other, self)
    def __matmul__(self, other): return call("matmul", self, other)
    def __rmatmul__(self, other): return call("matmul", other, self)
    def __neg__(self): return call("neg", self)
    def __pos__(self): return self
    def __lt__(self, other): return call("lt", self, other)
    def __le__(self, other): return call("le", self, other)
    def __gt__(self, other): return call("gt", self, other)
    def __ge__(self, other): return call("ge", self, other)
    def __getitem__(self, key): return call("index", self, key=normalize_key(key, self.shape))

    __hash__ = object.__hash__  # == is not overloaded: tensors are compared by identity

    @property
    def T(self) -> Tensor:
        return call("transpose", self)

    @property
    def mT(self) -> Tensor:
        """Swap of the last two axes (the batch-friendly transpose used in rules)."""
        return call("permute", self, perm=(1, 0))

    def sum(self, axis=None): return call("sum", self, axis=axis)
    def mean(self, axis=None): return call("mean", self, axis=axis)

    def reshape(self, *shape: int) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        new = np.empty(self.shape, dtype=np.bool_).reshape(shape).shape if -1 in shape else tuple(shape)
        return call("reshape", self, src=self.shape, dst=new)

    # -- differentiation -----------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf), weighted by `gradient`, into every leaf's `.grad`.

        For a non-scalar tensor `gradient` (shaped like self) is required: the result is
        the vector-Jacobian product gradientᵀ·J, as y.backward(gradient) in PyTorch.
        """
        if not self.requires_grad:
            raise GradcliError(
                "this tensor does not require grad and has no grad_fn: nothing to differentiate",
                kind="grad",
            )
        seed = seed_cotangent(self, gradient)
        leaves = run_backward([(self, seed)], retain_graph=retain_graph or create_graph,
                              create_graph=create_graph)
        for leaf_node, ct in leaves.items():
            leaf = leaf_node.tensor
            value = ct.data if not create_graph else ct
            if leaf.grad is None:
                leaf.grad = value if create_graph else owned_copy(value)
            elif create_graph:
                leaf.grad = call("add", leaf.grad, value)
            else:
                leaf.grad = leaf.grad + value


def seed_cotangent(output: Tensor, gradient: Any) -> Tensor:
    """The cotangent a backward pass starts from: 1 for a scalar, else `gradient`."""
    if gradient is None:
        if output.size != 1:
            raise GradcliError(
                f"grad can be implicitly created only for scalar outputs, and this output has "
                f"shape {format_shape(output.shape)}: give a cotangent shaped like the output "
                f"({param('grad_output')} / backward(gradient)) for a vector-Jacobian product, or compute "
                f"the full Jacobian",
                kind="grad",
            )
        return Tensor._result(np.ones_like(output.data), None)
    seed = gradient if isinstance(gradient, Tensor) else Tensor(gradient)
    if seed.shape != output.shape:
        raise GradcliError(
            f"the gradient has shape {format_shape(seed.shape)} but the output has shape "
            f"{format_shape(output.shape)}: they must match",
            kind="shape",
        )
    return seed


def owned_copy(a: np.ndarray) -> np.ndarray:
    """a itself when it is a fresh writable array, else a copy (never a broadcast view)."""
    if a.flags.writeable and a.flags.owndata:
        return a
    return np.array(a)


def lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._result(as_array(x), None)


class Node:
    """A recorded operation: the `grad_fn` of its output.

    Holds what the operation's backward rule needs (inputs and/or the output value, per
    the op's `saves`), the edges to its inputs' nodes, and the span of the
    sub-expression it came from.
    """

    __slots__ = ("op", "params", "next_functions", "in_shapes", "out_shape", "needs",
                 "saved", "given", "_ans", "span", "seq", "freed")

    def __init__(self, op: Op, inputs: Sequence[Tensor], ans: np.ndarray, params: dict,
                 reuse: tuple[int, ...] = ()):
        self.op = op
        self.params = params
        self.next_functions = tuple(edge_of(t) for t in inputs)
        self.in_shapes = tuple(t.shape for t in inputs)
        self.out_shape = ans.shape
        self.needs = tuple(t.requires_grad for t in inputs)
        self.saved = tuple(inputs) if op.saves in ("inputs", "both") else None
        # Saved inputs nothing else holds: a backward pass that frees this node may let its
        # rule write into them (see run_backward).
        self.given = tuple(i for i in reuse if inputs[i]._fresh) if self.saved else ()
        self._ans = ans if op.saves in ("output", "both") else None
        for t in self.saved or ():
            t._fresh = False
        self.span = _mode.span
        self.seq = next(_sequence)
        self.freed = False

    @property
    def name(self) -> str:
        """The PyTorch-style grad_fn name, e.g. MulBackward0 (made when asked: most never are)."""
        return self.op.node_name(self.in_shapes, self.params)

    # What backward rules read.
    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self.saved

    @property
    def x(self) -> Tensor:
        return self.saved[0]

    @property
    def y(self) -> Tensor:
        return self.saved[1]

    @property
    def ans(self) -> Tensor:
        """The forward output as a tensor whose grad_fn is this node (for second order)."""
        return Tensor._result(self._ans, self if _mode.grad_enabled else None)

    def release(self) -> None:
        self.saved = None
        self._ans = None
        self.freed = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


class LeafNode:
    """AccumulateGrad: where gradients arrive for a leaf tensor that requires grad."""

    __slots__ = ("tensor", "seq", "span", "next_functions", "name", "freed")

    def __init__(self, tensor: Tensor):
        self.tensor = tensor
        self.seq = next(_sequence)
        self.span = None
        self.next_functions = ()
        self.name = "AccumulateGrad"
        self.freed = False

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def edge_of(t: Tensor) -> Node | LeafNode | None:
    """The node a cotangent for t flows to: its grad_fn, its AccumulateGrad, or none."""
    if t.grad_fn is not None:
        return t.grad_fn
    if not t.requires_grad:
        return None
    if t._leaf_node is None:
        t._leaf_node = LeafNode(t)
    return t._leaf_node


def call(name_or_op: str | Op, *inputs: Any, reuse: tuple[int, ...] = (), **params: Any) -> Tensor:
    """Apply an operation (by name or record) to tensors (or array-likes).

    reuse: positions of inputs the caller will not read again; an elementwise result may
    be written into one of their arrays when it is `_fresh` and the new node keeps no inputs.
    """
    op = OPS[name_or_op] if isinstance(name_or_op, str) else name_or_op
    if op.composite is not None:
        return op.composite(*(lift(x) for x in inputs), **params)
    tensors = [lift(x) for x in inputs]
    if op.prepare is not None:
        params = op.prepare(*(t.shape for t in tensors), **params)
    # NOTE: np.matmul is a ufunc too, but a generalized one (it has a signature): not elementwise.
    elementwise = isinstance(op.forward, np.ufunc) and op.forward.signature is None and not params
    if _mode.max_elements is not None and not (elementwise and _same_shape_within(tensors, _mode.max_elements)):
        check_size(op, tensors, params)
    record = _mode.grad_enabled and op.differentiable and any(t.requires_grad for t in tensors)
    if elementwise:
        into = _reusable(tensors, reuse) if reuse and not (record and op.saves in ("inputs", "both")) else None
        ans = apply_ufunc(op.forward, tuple(t.data for t in tensors), into)
    else:
        ans = op.forward(*(t.data for t in tensors), **params)
    if not isinstance(ans, np.ndarray) or ans.dtype != np.float64:
        ans = as_array(ans)
    node = Node(op, tensors, ans, params, reuse) if record else None
    result = Tensor._result(ans, node)
    result._fresh = elementwise and (node is None or node._ans is None)
    return result


def _reusable(tensors: Sequence[Tensor], reuse: tuple[int, ...]) -> np.ndarray | None:
    """The array of a given-up input the elementwise result can be written into, if any."""
    shapes = {t.shape for t in tensors}
    try:
        shape = shapes.pop() if len(shapes) == 1 else np.broadcast_shapes(*shapes)
    except ValueError:
        return None  # the operation itself reports the mismatch
    for i in reuse:
        t = tensors[i]
        if t._fresh and t.data.shape == shape and t.data.flags.writeable:
            t._fresh = False  # its array now belongs to the result
            return t.data
    return None


def _same_shape_within(tensors: Sequence[Tensor], limit: int) -> bool:
    """Whether the inputs share one shape (the result's, then) of at most limit entries.

    Other cases go through the shape rule, which also names mismatched shapes.
    """
    first = tensors[0].data
    return first.size <= limit and all(t.data.shape == first.shape for t in tensors)


def check_size(op: Op, tensors: Sequence[Tensor], params: dict) -> None:
    """Raise before allocating when op's result would exceed the element limit."""
    shape = op.shape(*(t.shape for t in tensors), **params)
    size = 1
    for n in shape:
        size *= n
    if size > _mode.max_elements:
        raise GradcliError(
            f"{op.name} would make an array of shape {format_shape(shape)} ({size:,} entries); the limit "
            f"is {_mode.max_elements:,} entries (GRADCLI_MAX_ELEMENTS)", kind="limit")


def topological_order(roots: Iterable[Node | LeafNode]) -> list[Node | LeafNode]:
    """Nodes reachable from roots, each after every node that feeds it a cotangent.

    Iterative depth-first search (no recursion), in a deterministic order.
    """
    order: list = []
    visited: set[int] = set()
    for root in roots:
        if root is None or id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child is not None and id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def run_backward(
    seeds: Sequence[tuple[Tensor, Tensor]],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    observer: Any = None,
) -> dict[LeafNode, Tensor]:
    """One backward pass from (output, cotangent) pairs; returns cotangents at the leaves.

    Cotangents may carry leading batch axes (a stack of seeds for a Jacobian): every rule
    works on trailing axes, and each cotangent is summed back to its input's shape (batch
    axes kept) here, once. `observer(node, g, cts)`, if given, sees each step (explain).
    """
    grads: dict[int, Tensor] = {}
    roots = []
    for output, seed in seeds:
        node = edge_of(output)
        if node is None:
            continue
        roots.append(node)
        accumulate(grads, node, seed, create_graph)
    leaves: dict[LeafNode, Tensor] = {}
    with _setting("grad_enabled", create_graph):
        for node in topological_order(roots):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if isinstance(node, LeafNode):
                leaves[node] = g
                continue
            if node.freed:
                raise GradcliError(
                    f"trying to backward through the graph a second time ({node.name} has "
                    f"already freed its saved values): pass retain_graph=True to the first "
                    f"backward if you need to do this",
                    kind="grad",
                )
            batch_ndim = g.ndim - len(node.out_shape)
            if observer is not None:
                g._fresh = False  # the observer keeps g and the cotangents: none may be overwritten
            elif not (retain_graph or create_graph):
                for i in node.given:  # freed after this rule: its rule may write into them
                    node.saved[i]._fresh = True
            try:
                cts = node.op.backward(node, g)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
                # A rule's numerics failed (the forward pass catches the same): say where.
                raise GradcliError(f"the gradient of {node.op.name} could not be computed ({err})",
                                   kind="value", span=node.span) from None
            given: set[int] = set()
            for edge, ct, shape in zip(node.next_functions, cts, node.in_shapes):
                if edge is None or ct is None:
                    continue
                ct = lift(ct)
                target = g.shape[:batch_ndim] + shape
                if ct.shape != target:
                    ct = sum_to(ct, target, batch_ndim)
                if observer is not None or id(ct) in given:
                    ct._fresh = False  # seen by the observer, or sent to two inputs (a sum's rule)
                given.add(id(ct))
                accumulate(grads, edge, ct, create_graph)
            if observer is not None:
                observer(node, g, cts)
            if not retain_graph:
                node.release()
    return leaves


def sum_to(ct: Tensor, target: tuple[int, ...], batch_ndim: int) -> Tensor:
    """Undo broadcasting: sum ct (batch axes + broadcast shape) down to target."""
    src = ct.shape[batch_ndim:]
    dst = target[batch_ndim:]
    if len(src) < len(dst) or ct.shape[:batch_ndim] != target[:batch_ndim]:
        # A rule produced a cotangent smaller than its input (e.g. a kept dim): broadcast up.
        return call("expand", ct, src=src, dst=dst)
    return call("sum_to", ct, src=src, dst=dst)


def accumulate(grads: dict, node: Any, ct: Tensor, create_graph: bool) -> None:
    """Add ct to the cotangent gathered for node: in place when this pass owns that array."""
    key = id(node)
    existing = grads.get(key)
    if existing is None:
        grads[key] = ct
    elif create_graph:
        grads[key] = call("add", existing, ct)
    elif existing._fresh and existing.data.shape == ct.shape:
        apply_ufunc(np.add, (existing.data, ct.data), existing.data)
    else:
        total = Tensor._result(np.asarray(apply_ufunc(np.add, (existing.data, ct.data))), None)
        total._fresh = True  # 0-d + 0-d gives a numpy scalar: asarray makes it an array
        grads[key] = total


def normalize_key(key: Any, shape: tuple[int, ...]) -> tuple:
    """An index key as a tuple of ints and slices, checked against shape."""
    if not isinstance(key, tuple):
        key = (key,)
    if len(key) > len(shape):
        raise GradcliError(
            f"too many indices ({len(key)}) for a value of shape {format_shape(shape)}", kind="index")
    out = []
    for axis, (k, n) in enumerate(zip(key, shape)):
        if isinstance(k, slice):
            out.append(k)
            continue
        if isinstance(k, (float, np.floating)) and float(k).is_integer():
            k = int(k)
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise GradcliError(f"an index must be a whole number or a slice, not {k!r}", kind="index")
        if not -n <= k < n:
            raise GradcliError(
                f"index {k} is out of range for axis {axis} of size {n}", kind="index")
        out.append(int(k) % n)
    return tuple(out)
