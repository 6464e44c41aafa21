"""An expression at a point, in SymPy: the symbolic side of `--check` and `--symbolic`.

    >>> from gradcli.api.problem import problem
    >>> t = translate(problem("mean(2*x)", {"x": [1, 2, 3]}), {"x": [(0,), (1,), (2,)]})
    >>> t.output[()]
    2*x_0/3 + 2*x_1/3 + 2*x_2/3

The translation walks the engine's graph, not the expression tree. The expression is
evaluated once more with every variable a leaf that requires grad, and each constant
sub-expression (a number, pi, detach(...), zeros(3), a mask) is made a leaf as evaluate
computes it (its on_node hook), so the graph holds everything the output depends on.
Every graph node is then a primitive whose parameters evaluate has already checked and
prepared (axes, index keys, the broadcasts of a list), and composites are already
expanded into the primitives they call: one rule per node, the operation's `sympy`
field, and no second interpreter of the language to keep in step with evaluate.

Two kinds of value are taken from the tree instead, because they are not graph nodes:
comparisons (no gradient, so no node; their SymPy rule keeps `x > 0` a condition) and
composites that carry their own `sympy` rule (softmax).

Arrays become object arrays of real symbols x_0, x_1, ... (W_0_1 for a matrix). Only the
entries asked for become symbols; the others stay numbers. Elementwise rules are applied
to the entries a symbol reaches only, so a 10^5-entry input costs SymPy work in
proportion to its symbols, not its entries.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.autodiff.engine import LeafNode, Node, Tensor, edge_of
from gradcli.errors import GradcliError
from gradcli.api.evaluate import bind, evaluate
from gradcli.autodiff.op import FUNCTIONS, OPS, Op
from gradcli.lang.grammar import CONSTANTS
from gradcli.lang.tree import Expr, postorder

Index = tuple[int, ...]
SMALL = 1000  # arrays up to this size are translated whole (exact constants kept)
TIME_LIMIT = 20.0  # seconds of SymPy work before the translation gives up


def unsupported(message: str) -> GradcliError:
    return GradcliError(message, kind="symbolic")


def symbol_name(name: str, index: Index) -> str:
    """x for a scalar, x_0 for a vector entry, W_0_1 for a matrix entry."""
    return name if not index else name + "".join(f"_{i}" for i in index)


@dataclass
class Translation:
    """An output as SymPy expressions, with the symbols it was written in.

    output: object array shaped like the expression's value; symbols[name][index]: the
    real symbol standing for entry `index` of variable `name`; point: each symbol's value.
    """

    output: np.ndarray
    symbols: dict[str, dict[Index, Any]]
    point: dict[Any, float]


@dataclass
class _Value:
    """A value at the point: its numbers and, where known, its SymPy entries."""

    numeric: np.ndarray
    exact: np.ndarray | None = None  # object array: SymPy expressions and floats
    free: np.ndarray | None = None  # bool array: the entries a symbol reaches

    def objects(self) -> np.ndarray:
        return self.exact if self.exact is not None else self.numeric.astype(object)

    def has_symbols(self) -> bool:
        return self.free is not None and bool(self.free.any())


@dataclass
class _Rule:
    """An operation applied by the tree rather than recorded as a graph node."""

    op: Op
    inputs: list[Tensor]
    params: dict[str, Any]
    value: Tensor


def translate(problem: Any, free: Mapping[str, Iterable[Index]]) -> Translation:
    """The SymPy form of problem's output, with entries free[name] of each variable as symbols.

    Every other entry of a variable is its number. Raises GradcliError(kind="symbolic")
    when an operation has no SymPy form, SymPy fails on it, or it takes too long.
    """
    import sympy as sp

    symbols = _symbols(sp, problem, free)
    leaves = {name: Tensor(v, requires_grad=True) for name, v in problem.values.items()}
    constants: dict[int, Any] = {}
    rules: dict[int, _Rule] = {}
    output = _trace(sp, problem, leaves, constants, rules)
    values: dict[int, _Value] = {}
    by_leaf = {id(t): name for name, t in leaves.items()}
    deadline = time.monotonic() + TIME_LIMIT
    for vertex in _postorder(edge_of(output), rules):
        if time.monotonic() > deadline:
            raise unsupported(f"SymPy took more than {TIME_LIMIT:g} s on this expression")
        rule = rules.get(id(vertex))
        if rule is not None:
            inputs = [values[id(edge_of(t))] for t in rule.inputs]
            values[id(vertex)] = _apply(sp, rule.op, inputs, rule.params, rule.value.data)
        elif isinstance(vertex, LeafNode):
            name = by_leaf.get(id(vertex.tensor))
            values[id(vertex)] = (_variable(vertex.tensor.data, symbols.get(name, {})) if name is not None
                                  else _constant(vertex.tensor.data, constants.get(id(vertex))))
        else:
            values[id(vertex)] = _node(sp, vertex, values)
    point = {s: float(problem.values[name][index]) for name, table in symbols.items() for index, s in table.items()}
    return Translation(values[id(edge_of(output))].objects(), symbols, point)


def _symbols(sp: Any, problem: Any, free: Mapping[str, Iterable[Index]]) -> dict[str, dict[Index, Any]]:
    taken = set(problem.names)
    out: dict[str, dict[Index, Any]] = {}
    for name, indices in free.items():
        table = out.setdefault(name, {})
        for index in indices:
            label = symbol_name(name, tuple(index))
            while label != name and label in taken:  # a variable is already called x_0
                label += "ʹ"
            taken.add(label)
            table[tuple(index)] = sp.Symbol(label, real=True)
    return out


def _trace(sp: Any, problem: Any, leaves: dict[str, Tensor], constants: dict[int, Any],
           rules: dict[int, _Rule]) -> Tensor:
    """Evaluate once more, turning constant sub-expressions into leaves as they appear."""
    seen: dict[int, Any] = {}
    parameters = _parameter_exprs(problem.tree)

    def on_node(expr: Expr, value: Any) -> None:
        seen[id(expr)] = value
        if not isinstance(value, Tensor) or id(expr) in parameters:
            return
        if not value.requires_grad and id(expr) not in parameters:
            value.requires_grad_(True)
            form = _constant_form(sp, expr)
            if form is not None:
                constants[id(edge_of(value))] = form
        op = OPS.get(expr.value) if expr.kind == "binary" else FUNCTIONS.get(expr.value) if expr.kind == "call" else None
        if op is not None and op.sympy is not None and (op.composite is not None or not op.differentiable):
            inputs, params = bind(op, expr, [seen[id(a)] for a in expr.args],
                                  {k: seen[id(v)] for k, v in expr.keywords})
            if all(value is not t for t in inputs):
                for default in inputs:  # an input the call left out (a weight): a constant leaf, as any number
                    if not default.requires_grad:
                        default.requires_grad_(True)
                rules[id(edge_of(value))] = _Rule(op, inputs, params, value)

    return evaluate(problem.tree, leaves, source=problem.source, on_node=on_node)


def _parameter_exprs(tree: Expr) -> set[int]:
    """The arguments that are parameters of their call, not inputs (the -0.5 of full_like(x, -0.5)),
    with their parts: numbers to the operation, so they stay constants, not leaves of the traced graph."""
    found = set()
    for node in postorder(tree):
        op = FUNCTIONS.get(node.value) if node.kind == "call" else None
        if op is None:
            continue
        count = 1 if op.sequence else len(node.args) if op.arity is None else op.arity
        given = [a for a in node.args[count:] if a is not None]
        given += [v for k, v in node.keywords if k not in op.inputs]
        found.update(id(part) for a in given for part in postorder(a))
    return found


def _constant_form(sp: Any, expr: Expr) -> Any:
    """The exact SymPy number an expression spells: 2, 3/2 for 1.5, pi; None otherwise."""
    if expr.kind == "name" and expr.value in CONSTANTS:
        return {"pi": sp.pi, "e": sp.E}.get(expr.value)
    if expr.kind != "num":
        return None
    value = float(expr.value)
    if value.is_integer() and abs(value) < 2 ** 53:
        return sp.Integer(int(value))
    try:
        return sp.Rational(expr.text) if expr.text else sp.Float(value)
    except (TypeError, ValueError):
        return sp.Float(value)


def _postorder(root: Any, rules: dict[int, _Rule]) -> list[Any]:
    """Vertices reachable from root, each after its inputs (iterative, for deep graphs)."""
    def inputs(vertex: Any) -> list[Any]:
        rule = rules.get(id(vertex))
        if rule is not None:
            return [edge_of(t) for t in rule.inputs]
        return [e for e in vertex.next_functions if e is not None] if isinstance(vertex, Node) else []

    order: list[Any] = []
    visited = {id(root)}
    stack = [(root, iter(inputs(root)))]
    while stack:
        vertex, pending = stack[-1]
        for child in pending:
            if id(child) not in visited:
                visited.add(id(child))
                stack.append((child, iter(inputs(child))))
                break
        else:
            stack.pop()
            order.append(vertex)
    return order


def _variable(data: np.ndarray, table: dict[Index, Any]) -> _Value:
    if not table:
        return _Value(data)
    exact = data.astype(object)
    free = np.zeros(data.shape, dtype=bool)
    for index, symbol in table.items():
        exact[index] = symbol
        free[index] = True
    return _Value(data, exact, free)


def _constant(data: np.ndarray, form: Any) -> _Value:
    if not np.isfinite(data).all():
        # NOTE: to SymPy x + nan is nan and x + oo is oo, with derivative 0; autograd gives 1.
        raise unsupported("a constant is nan or infinite, and SymPy's derivative through it is not autograd's "
                          "(to SymPy, x + inf is inf, with derivative 0)")
    if form is None:
        return _Value(data)
    exact = np.empty(data.shape, dtype=object)
    exact[...] = form
    return _Value(data, exact)


def _node(sp: Any, node: Node, values: dict[int, _Value]) -> _Value:
    inputs = []
    for i, edge in enumerate(node.next_functions):
        if edge is not None:
            inputs.append(values[id(edge)])
        elif node.saved is not None:
            inputs.append(_Value(node.saved[i].data))
        else:
            raise unsupported(f"{node.op.name} inside a composite uses a value its graph does not keep; "
                              f"give that composite its own SymPy rule")
    with np.errstate(all="ignore"):
        numeric = np.asarray(node.op.forward(*(v.numeric for v in inputs), **node.params), dtype=np.float64)
    return _apply(sp, node.op, inputs, node.params, numeric)


def _apply(sp: Any, op: Op, inputs: list[_Value], params: dict, numeric: np.ndarray) -> _Value:
    """op on values: numbers where no input has a SymPy form, else op.sympy."""
    if all(v.exact is None for v in inputs):
        return _Value(numeric)
    try:
        if op.elementwise:
            return _elementwise(sp, op, inputs, params, numeric)
        if not any(v.has_symbols() for v in inputs) and max(v.numeric.size for v in inputs) > SMALL:
            return _Value(numeric)
        exact = np.asarray(op.sympy(sp, *(v.objects() for v in inputs), **params), dtype=object)
    except GradcliError:
        raise
    except Exception as err:  # noqa: BLE001 - SymPy and the rules raise many kinds; each means "no form here"
        raise unsupported(f"SymPy cannot express {op.name} here ({type(err).__name__}: {err})") from None
    if exact.shape != numeric.shape:
        raise unsupported(f"the SymPy rule of {op.name} gives shape {exact.shape}, not {numeric.shape}")
    free = np.asarray(np.frompyfunc(lambda e: bool(getattr(e, "free_symbols", None)), 1, 1)(exact), dtype=bool)
    return _Value(numeric, exact, free)


def _elementwise(sp: Any, op: Op, inputs: list[_Value], params: dict, numeric: np.ndarray) -> _Value:
    shape = numeric.shape
    free = np.zeros(shape, dtype=bool)
    for v in inputs:
        if v.free is not None:
            free = free | np.broadcast_to(v.free, shape)
    where = np.ones(shape, dtype=bool) if numeric.size <= SMALL else free
    if not where.any():
        return _Value(numeric)
    args = [np.broadcast_to(v.objects(), shape)[where] for v in inputs]
    exact = numeric.astype(object)
    exact[where] = op.sympy(sp, *args, **params)
    return _Value(numeric, exact, free)
