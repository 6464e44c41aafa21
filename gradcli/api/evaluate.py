"""From an expression tree and values to a Tensor: building the graph, with spans.

Every operation is applied under the span of the sub-expression it came from, so graph
nodes, shape errors and non-finite warnings can point back into the text. The walk is
iterative, so deep expressions work.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.api.indexing import index, is_mask
from gradcli.autodiff.engine import Tensor, call, default_dtype, element_limit, function, reusing
from gradcli.autodiff.mode import mode
from gradcli.autodiff.trace import decide
from gradcli.collector import collection_paused
from gradcli.errors import GradcliError, closest, format_shape, param, value_hint
from gradcli.limits import LIMITS
from gradcli.ops.common import broadcast_shapes, normalize_axes
from gradcli.autodiff.op import FUNCTIONS, OPS, Op, paired
from gradcli.lang.hints import function_hint
from gradcli.lang.grammar import CONSTANTS, DTYPES, RESULT_FIELDS
from gradcli.lang.tree import Expr, defined_name, postorder, recorded, spelling

_NUMERIC_ERRORS = (ValueError, IndexError, ZeroDivisionError, OverflowError, np.linalg.LinAlgError)


def variables(tree: Expr) -> list[str]:
    """The variable names of an expression or program, in order of first appearance (a program's
    steps and functions, and a function's parameters, are none); those the parse recorded, when it did."""
    record = recorded(tree)
    if record is not None:
        return list(record.variables)
    seen: dict[str, None] = {}
    defined: set[str] = set()
    for node in postorder(tree):
        if node.kind == "name" and node.value not in CONSTANTS and node.value not in defined:
            seen.setdefault(node.value, None)
        elif node.kind in ("let", "def"):
            name = defined_name(node)
            if node.kind == "def":
                _, params, body = node.value
                for inner in variables(body):
                    if inner not in params and inner not in defined:
                        seen.setdefault(inner, None)
            defined.add(name)
    # postorder visits leaves left to right, so this is reading order
    return list(seen)


@dataclass(frozen=True)
class UserFunction:
    """A function a program defines, f(a, b) = body: called with its parameters bound to the arguments,
    beside the program's variables and the steps before the call."""

    name: str
    params: tuple[str, ...]
    body: Expr
    walk: Callable[[Expr, dict], Any]

    def __call__(self, args: list, keywords: dict, scope: dict) -> Any:
        if keywords:
            raise GradcliError(f"{self.name}() takes its arguments by position, not {next(iter(keywords))}=",
                               kind="syntax")
        if len(args) != len(self.params):
            raise GradcliError(f"{self.name}() takes {len(self.params)} argument{'s' * (len(self.params) != 1)} "
                               f"({', '.join(self.params)}), not {len(args)}", kind="syntax")
        inner = {**scope, **dict(zip(self.params, args))}
        args.clear()
        return self.walk(self.body, inner)


def evaluate(tree: Expr, env: Mapping[str, Tensor], *, source: str = "",
             on_node: Callable[[Expr, Any], None] | None = None) -> Tensor:
    """The value of tree with variables from env, as a Tensor recording its graph.

    on_node(expr, value), if given, sees every sub-expression's value as it is computed.
    The walk holds a value only until its parent takes it (see _applied), so the engine may
    write the parent's result into a value nothing else keeps. The expression's numbers and
    constructors take the variables' dtype (float32 ones make float32 numbers, as a Python
    number meeting a float32 tensor is in torch).
    """
    dtypes = {t.dtype for t in env.values()}
    dtype = dtypes.pop() if len(dtypes) == 1 else None
    with element_limit(LIMITS.max_elements), reusing(), np.errstate(all="ignore"), collection_paused(), \
            default_dtype(dtype) if dtype is not None else contextlib.nullcontext():
        out = _walk(tree, dict(env), source, on_node)
    if not isinstance(out, Tensor):
        raise GradcliError("the expression must have a numeric value", kind="syntax",
                           span=tree.span, source=source)
    return out


def _walk(tree: Expr, scope: dict[str, Any], source: str, on_node: Callable[[Expr, Any], None] | None) -> Any:
    """The value of tree, each node after its children; a program's steps and functions go into scope.

    Postorder puts a node's children (arguments, then keyword values) just before it, so
    their values are the top of a stack when the node comes.
    """
    stack: list[Any] = []
    push, pop = stack.append, stack.pop
    order = postorder(tree)
    sequences = _sequence_arguments(order, tree)
    parts = _pair_parts(order, tree)
    # _plain's functions, checked against the registry once a walk: by name for operators, else by key
    plains: dict[str | tuple, Callable[..., Tensor] | None] = {}
    numbers: dict[float, Tensor] = {}
    dtype = mode.dtype
    outer_span = mode.span
    try:
        for node in order:
            kind = node.kind
            if kind == "def":
                name, params, body = node.value
                scope[name] = UserFunction(name, params, body, lambda b, inner: _walk(b, inner, source, on_node))
                push(None)
                continue
            try:
                # Most nodes of a long expression are variables, numbers, operators and plain calls. An
                # operator's or a call's function is found once per kind of node and walk (_plain),
                # and the values go from the stack straight into it.
                if kind == "name":
                    value = scope.get(node.value)
                    if type(value) is not Tensor or node.value in CONSTANTS:  # (a function, no value, pi)
                        value = _apply(node, [], {}, scope)
                    push(value)
                    if on_node is not None:
                        on_node(node, value)
                    del value
                    continue
                if kind == "num":
                    # One Tensor for each number of the text, shared by its uses (a 0-d array is never
                    # written into), unless something sees each node's value.
                    shared = on_node is None and node.text  # (a number of the text: never -0.0)
                    value = numbers.get(node.value) if shared else None
                    if value is None:
                        value = Tensor._result(np.array(node.value, dtype), None)
                        if shared:
                            numbers[node.value] = value
                        elif on_node is not None:
                            on_node(node, value)
                    push(value)
                    del value
                    continue
                mode.span = node.span  # (set here rather than by source_span(): this runs for every node)
                if kind == "binary":  # (an operator's function is found by its name alone)
                    plain = plains.get(node.value, _UNRESOLVED)
                    if plain is _UNRESOLVED:
                        plain = plains[node.value] = _plain(("binary", node.value, "", 2), node)
                else:
                    key = _plain_key(node, kind, scope)
                    if key is None:
                        plain = None
                    else:
                        plain = plains.get(key, _UNRESOLVED)
                        if plain is _UNRESOLVED:
                            plain = plains[key] = _plain(key, node)
                if plain is not None and len(node.args) == 2:
                    if type(stack[-1]) is Tensor and type(stack[-2]) is Tensor:
                        value = plain(stack.pop(-2), pop())
                    else:
                        value = _apply(node, [stack.pop(-2), pop()], {}, scope)
                elif plain is not None and type(stack[-1]) is Tensor:
                    value = plain(pop())
                else:
                    kids, kws = _children(node, stack)
                    part = parts.get(id(node)) if parts else None
                    if part is None:
                        value = _apply(node, kids, kws, scope, id(node) in sequences)
                    else:  # torch.max(x, dim)[1], .indices; the node that takes the part passes it on
                        value = _call(node, kids, kws, indices=True) if part == "indices" else \
                            _call(node, kids, kws, part=part) if type(part) is int else kids[0]
            except GradcliError as err:
                if err.span is None:  # a method's errors point at its name, not at its receiver
                    err.span = node.name_span if node.text.startswith(".") else node.span
                raise err.with_source(source) from None
            except MemoryError:
                raise GradcliError("not enough memory for this sub-expression", kind="limit",
                                   span=node.span, source=source) from None
            except _NUMERIC_ERRORS as err:
                raise GradcliError(str(err), kind="value", span=node.span, source=source) from None
            push(value)
            if on_node is not None:
                on_node(node, value)
            del value  # the stack alone holds it now
    finally:
        mode.span = outer_span
    return stack[-1]


def _children(node: Expr, stack: list) -> tuple[list, dict]:
    """The values of node's arguments (None where one is left out) and keywords, taken off the stack."""
    count = len(node.keywords) + sum(1 for c in node.args if c is not None)
    taken = stack[len(stack) - count:]  # (not stack[-count:]: a slice's x[:] has no value to take, and -0 is 0)
    del stack[len(stack) - count:]
    taken.reverse()  # (popped from the end below, in order)
    kids = [None if c is None else taken.pop() for c in node.args]
    kws = {k: taken.pop() for k, _ in node.keywords}
    return kids, kws


_UNRESOLVED = object()
_PLAIN: dict[tuple, tuple[Op | None, Callable[..., Tensor] | None]] = {}


def _plain_key(node: Expr, kind: str, scope: Mapping[str, Any]) -> tuple | None:
    """What decides the function a negation or a call node applies to its one or two arguments, when that
    is all the node does (-x, sin(x), torch.exp(x)); None for any other node. (A binary operator's is
    found by its name: the walk reads that itself.)"""
    if kind == "unary":
        return ("unary", "neg", "", 1) if node.value == "neg" else None
    if kind == "call" and not node.keywords and 0 < len(node.args) <= 2 and node.value not in scope and \
            node.args[0] is not None and node.args[-1] is not None:  # (f(x, ) leaves one out: no plain call)
        return "call", node.value, node.text, len(node.args)
    return None


def _plain(key: tuple, node: Expr) -> Callable[..., Tensor] | None:
    """The function of tensors a node of this key (kind, name, text, arguments: see _plain_key) applies, or
    None when it asks for more.

    Found once per key and kept while the registry holds the same record.
    """
    kind, name, _, count = key
    op, fn = _PLAIN.get(key, (_UNRESOLVED, None))
    if op is _UNRESOLVED or (op is not None and (FUNCTIONS if kind == "call" else OPS).get(name) is not op):
        op = _plain_op(node, kind, count)
        _PLAIN[key] = op, fn = (op, None if op is None else _function(op))
    return fn


def _plain_op(node: Expr, kind: str, count: int) -> Op | None:
    """The record _plain applies (see there), or None when the node asks for more than a call of it."""
    if kind != "call":
        return OPS.get(node.value)
    try:
        op = function_of(node)
    except GradcliError:
        return None  # (the walk's own path reports it)
    if op is None or op.pair or op.parts is not None or op.constructor or op.arity != count or op.sequence or \
            op.rest or _required_keywords(op) or (spelling(node) == "torch" and (op.torch_defaults or op.linalg)):
        return None
    return op


def _sequence_arguments(nodes: list[Expr], tree: Expr) -> set[int]:
    """The list literals among nodes (tree's) that are the sequence of arrays a call takes (cat([x, y])):
    kept as items."""
    record = recorded(tree)
    if record is not None and not any(_takes_sequence(call.value) for call in record.calls):
        return set()  # (the parse met no call of one: no need to look at every node)
    found = set()
    for node in nodes:
        if node.kind == "call" and node.args and node.args[0] is not None and node.args[0].kind == "list":
            if _takes_sequence(node.value):
                found.add(id(node.args[0]))
    return found


def _pair_parts(nodes: list[Expr], tree: Expr) -> dict[int, str | int]:
    """PyTorch's torch.max(x, dim), x.sort() and the other calls of a record with a pair (Op.pair) give a pair,
    (values, indices): where one is taken apart, [0] or .values, [1] or .indices, the call gives that part.
    x.chunk(3) and the other calls of a record with parts (Op.parts) give a tuple: [k] takes piece k.
    Keys are ids of the calls asked for indices ("indices") or for a piece (its position), and of the
    nodes that take a part ("taken": they pass it on)."""
    record = recorded(tree)
    if record is not None and not any(paired(call.value) or _gives_parts(call) for call in record.calls):
        return {}
    found: dict[int, str | int] = {}
    for node in nodes:
        part = _part_taken(node)
        if part is not None:
            found[id(node)] = "taken"
            if part == "indices" or type(part) is int:
                found[id(node.args[0])] = part
    return found


def _gives_parts(node: Expr) -> bool:
    """Whether node calls a function PyTorch answers with a tuple of pieces (x.chunk(3); see Op.parts)."""
    op = FUNCTIONS.get(node.value) if node.kind == "call" else None
    return op is not None and op.parts is not None


def _part_taken(node: Expr) -> str | int | None:
    """Which part of a paired call's pair node takes (values or indices), or which piece of a call that gives
    a tuple (its position; see _pair_parts), or None."""
    if node.kind == "attr" and _paired(node.args[0]):  # .values, .indices, or the pair's own names (.min, .max)
        fields = FUNCTIONS[node.args[0].value].pair_fields or ("values", "indices")
        return {fields[0]: "values", fields[1]: "indices"}.get(node.value)
    if node.kind == "index" and len(node.args) == 2 and (_paired(node.args[0]) or _gives_parts(node.args[0])):
        item = node.args[1]
        negated = item.kind == "unary" and item.value == "neg" and item.args[0].kind == "num"
        position = -item.args[0].value if negated else item.value if item.kind == "num" else None
        if _gives_parts(node.args[0]):
            return int(position) if position is not None and position == int(position) else None
        return {0: "values", -2: "values", 1: "indices", -1: "indices"}.get(position)
    return None


def _paired(node: Expr) -> bool:
    """Whether node is a call PyTorch answers with the pair (values, indices): sort, topk, kthvalue, cummax,
    cummin, and max, min or median along a dim, in PyTorch's spelling (a method, torch.)."""
    if node.kind != "call" or paired(node.value) is None or spelling(node) != "torch":
        return False
    op = FUNCTIONS[node.value]
    if op.pair_when:  # max_pool1d(x, 2, return_indices=True): a pair only when asked for, by name or position
        at = (op.arity or 1) + op.keywords.index(op.pair_when)
        given = dict(node.keywords).get(op.pair_when) or (node.args[at] if len(node.args) > at else None)
        return given is not None and given.kind == "num" and bool(given.value)
    along = any(k in ("dim", "axis") for k, _ in node.keywords)
    return along or (len(node.args) >= 2 and _axis_literal(node.args[1])) or not op.pair_along


def _takes_sequence(name: str) -> bool:
    op = FUNCTIONS.get(name)
    return op is not None and op.sequence


def _apply(node: Expr, kids: list, kws: dict, env: Mapping[str, Tensor], items: bool = False) -> Any:
    """The value of one node from its children's values; items: a list literal stays a tuple of its items."""
    kind = node.kind
    if kind == "str":
        return node.value
    if kind == "name":
        if node.value in CONSTANTS:
            return Tensor(CONSTANTS[node.value])
        if node.value not in env:
            raise GradcliError(f"variable {node.value!r} has no value: give one with {value_hint(node.value)}",
                               kind="name")
        if isinstance(env[node.value], UserFunction):
            raise GradcliError(f"{node.value} is a function: call it, as in {node.value}(...)", kind="name")
        return env[node.value]
    if kind == "unary":
        if node.value == "not":  # not m: 1.0 where m is 0
            return _applied(OPS["eq"], [kids.pop(), Tensor(0.0)], {})
        return _applied(OPS["neg"], kids, {}) if node.value == "neg" else _tensor(kids[0])
    if kind == "binary":
        return _applied(OPS[node.value], kids, {})
    if kind == "call":
        if not node.text and isinstance(env.get(node.value), UserFunction):
            return env[node.value](kids, kws, env)
        return _call(node, kids, kws)
    if kind == "let":  # a step: its value is a name from here on
        env[node.value] = kids[0]
        return kids[0]
    if kind == "program":
        return kids[-1]
    if kind == "index":
        target, *items = kids
        return index(target, items, [is_mask(n) for n in node.args[1:]], [n.span for n in node.args[1:]])
    if kind in ("none", "ellipsis"):
        return None if kind == "none" else Ellipsis
    if kind == "slice":
        start, stop, step = (None if k is None else _whole(k, "a slice bound") for k in kids)
        if step == 0:
            raise GradcliError("a slice step cannot be 0", kind="index")
        return slice(start, stop, step)
    if kind == "attr" and node.value == "shape":  # whole numbers, constants of the expression
        return tuple(Tensor(float(n)) for n in _tensor(kids[0]).shape)
    if kind == "attr" and node.value == "ndim":
        return Tensor(float(_tensor(kids[0]).ndim))
    if kind == "attr" and node.value in RESULT_FIELDS:  # (not of a paired call: see _pair_parts)
        what = "what torch.max(x, dim) or x.max(dim) gives (min too), the pair (values, indices)" \
            if node.value in ("values", "indices") else "the pair torch.aminmax or torch.triangular_solve gives"
        raise GradcliError(f".{node.value} takes apart {what}, as in PyTorch; this value has no .{node.value}",
                           kind="syntax")
    if kind == "attr" and node.value == "mT":
        matrices = _tensor(kids[0])
        if matrices.ndim < 2:
            raise GradcliError(f".mT takes a matrix or a stack of them, not shape {format_shape(matrices.shape)}",
                               kind="shape")
        return call("transpose", matrices, dim0=-2, dim1=-1)
    if kind == "attr":
        return call("transpose", _tensor(kids[0]))
    if kind == "list" and items:
        return tuple(_tensor(k) for k in kids)
    if kind == "list":
        items = [_tensor(k) for k in kids]
        shape = broadcast_shapes(*(t.shape for t in items))
        items = [t if t.shape == shape else call("expand", t, src=t.shape, dst=shape) for t in items]
        return call("stack", *items, item_ndim=len(shape))
    if kind == "tuple":
        return tuple(kids)
    raise AssertionError(f"unknown node kind {kind}")


def function_of(node: Expr) -> Op | None:
    """The operation a call node names (None for len and the methods of VALUE_METHODS), or an error
    pointing at the unknown name."""
    if (node.value == "len" and not node.text) or (node.text.startswith(".") and node.value in VALUE_METHODS):
        return None
    op = FUNCTIONS.get(node.value)
    method = node.text.startswith(".")
    if op is not None and node.value in op.torch_only and spelling(node) == "numpy":
        raise GradcliError(f"{node.text}() is numpy's, which gradcli does not have: {node.value} is PyTorch's "
                           f"({op.signature})", kind="name", span=node.name_span)
    if op is not None and (op.is_method or not method):
        return op
    hint = closest(node.value, [n for n, o in FUNCTIONS.items() if o.is_method or not method])
    if method and op is not None:
        message = f"{node.value}() is not a method: call it as {op.signature}" + (
            ", which makes a new array" if op.constructor else "")
    elif method:
        message = f".{node.value}() is not a method gradcli has" + (f": did you mean .{hint}()?" if hint else "")
    elif node.text:
        prefix = node.text.rpartition(".")[0]
        message = f"{node.text} is not a function gradcli has" + (f": did you mean {prefix}.{hint}?" if hint else "")
    else:
        message = f"unknown function {node.value!r}" + function_hint(node.value, FUNCTIONS)
    raise GradcliError(message + " (gradcli ops lists them all)", kind="name", span=node.name_span)


def check_functions(tree: Expr, source: str) -> None:
    """Raise for the first call of an unknown function, or a program's name that hides a built-in
    one, before any value is looked at. The calls are those the parse recorded, when it did."""
    defined = {defined_name(s) for s in tree.args} if tree.kind == "program" else set()
    bodies = [s.value[2] for s in tree.args if s.kind == "def"] if tree.kind == "program" else []
    for statement in tree.args if tree.kind == "program" else ():
        name = defined_name(statement)
        if name in FUNCTIONS or name == "len":
            raise GradcliError(f"{name} is a function gradcli has: give the {'step' if statement.kind == 'let' else 'function'} "
                               f"another name", kind="name", span=statement.name_span, source=source)
    record = recorded(tree)
    calls = record.calls if record is not None else \
        (node for root in (tree, *bodies) for node in postorder(root) if node.kind == "call")
    for node in calls:
        if not (node.value in defined and not node.text):
            try:
                function_of(node)
            except GradcliError as err:
                raise err.with_source(source) from None


# Casts and dtype=: gradcli computes a whole expression in one dtype, so a cast to that dtype is what
# PyTorch's is, nothing (x.double() of a float64 x is x, with no node), and one to another is refused
# (mixing dtypes would need PyTorch's rules for it, where a Python number or a 0-d value never promotes).
_CASTS = {"to": None, "type": None, "float": "float32", "double": "float64", "half": "float16",
          "bfloat16": "bfloat16", "long": "int64", "int": "int32", "bool": "bool"}
_INTEGERS = ("int64", "int32")  # (narrower ones wrap around in PyTorch: refused)
_ONE_DTYPE = (f"gradcli computes a whole expression in one dtype, float64 or float32 (PyTorch's default): "
              f"choose it with {param('dtype')}")


def _call(node: Expr, kids: list, kws: dict, indices: bool = False, part: int | None = None) -> Tensor:
    """A call node's value; indices: the indices of a paired call instead; part: the piece of a call that gives
    a tuple (see _pair_parts)."""
    op = function_of(node)
    if indices:
        op = paired(node.value)
    if op is None:
        return _length(kids, kws) if node.value == "len" else VALUE_METHODS[node.value](node, kids, kws)
    if op.name in ("max", "min") and len(kids) == 2 and not kws and not _axis_literal(node.args[1]):
        op = OPS["maximum" if op.name == "max" else "minimum"]  # torch.max(a, b) of two arrays
    if op.constructor and not op.keywords:
        if "dtype" in kws:
            _same_dtype(kws.pop("dtype"), mode.dtype, f"{node.value}(dtype=...)")
        if kws:
            raise GradcliError(f"{node.value}() takes no keyword {next(iter(kws))!r}", kind="syntax")
        dims = tuple(_whole(k, "a size") for k in _flatten(kids))
        empty = not dims and (not kids or op.max_sizes is not None)  # (zeros(()) is a 0-d array; eye(()) is nothing)
        if empty or any(d < 0 for d in dims) or (op.max_sizes is not None and len(dims) > op.max_sizes):
            raise GradcliError(f"{op.signature}: give the size as whole numbers", kind="value")
        return call(op, shape=dims)
    if op.masks:
        _masks_as_scores(op, node, kids, kws)
    inputs, params = bind(op, node, kids, kws)
    if part is not None:
        params["part"] = part
    kids.clear()
    return _applied(op, inputs, params)


def _masks_as_scores(op: Op, node: Expr, kids: list, kws: dict) -> None:
    """A mask written as one (x > 0, m.bool()) given for an input of op.masks becomes 0 where true and -inf
    where false, as PyTorch reads a bool tensor there (a comparison here is 0 and 1, which would be added)."""
    written = dict(node.keywords)
    for name in op.masks:
        slot = op.inputs.index(name)
        if name in kws and is_mask(written[name]):
            kws[name] = call("where", kws[name], 0.0, -np.inf)
        elif slot < len(kids) and node.args[slot] is not None and is_mask(node.args[slot]):
            kids[slot] = call("where", kids[slot], 0.0, -np.inf)


def _cast(node: Expr, kids: list, kws: dict) -> Tensor:
    """x.to(dtype), x.type(dtype), x.double(), x.float(), x.long(), x.bool(), as PyTorch's where the
    expression's one dtype can hold the result: x itself when it is in that dtype already, or when it is a
    mask ((x > 0).float(): 0 and 1, exact in any dtype, as PyTorch's bool tensor cast); truncated toward 0
    for an integer dtype, with no gradient (PyTorch's integer tensors have none); x != 0 for bool."""
    value, given = _tensor(kids[0]), [*kids[1:], *kws.values()]
    dtype = _CASTS[node.value]
    if dtype is None:  # (to and type name it)
        if len(given) != 1 or not isinstance(given[0], str) or set(kws) - {"dtype", "device"}:
            raise GradcliError(f".{node.value}() takes a dtype, as in .{node.value}(torch.float64)", kind="syntax")
        dtype = given[0]
        if dtype == "cpu":  # (a device: the CPU is where gradcli computes, so nothing moves, as in PyTorch)
            return value
        if dtype not in DTYPES.values():
            raise GradcliError(f".{node.value}({dtype!r}): gradcli computes on the CPU, with numpy; .{node.value}() "
                               f"takes a dtype, as in .{node.value}(torch.float64), or 'cpu'", kind="value")
    elif given:
        raise GradcliError(f".{node.value}() takes no arguments", kind="syntax")
    if dtype == value.dtype.name or (is_mask(node.args[0]) and not dtype.startswith("complex")):
        return value
    if dtype in _INTEGERS:
        return call("detach", call("trunc", value))
    if dtype == "bool":
        return call("ne", value, 0.0)
    _same_dtype(dtype, value.dtype, f".{node.value}()")
    return value


def _same_dtype(dtype: str, computed: np.dtype, where: str) -> None:
    if dtype != computed.name:
        raise GradcliError(f"{where} asks for {dtype} in an expression computed in {computed.name}: {_ONE_DTYPE}",
                           kind="value")


def _size(node: Expr, kids: list, kws: dict) -> Tensor | tuple:
    """x.size() (x.shape), x.size(d), x.numel(), x.dim(): whole numbers, constants of the expression (as len)."""
    value, given = _tensor(kids[0]), [*kids[1:], *kws.values()]
    if (given and node.value != "size") or len(given) > 1 or set(kws) - {"dim"}:
        raise GradcliError(f".{node.value}() takes {'one axis, as in .size(0)' if node.value == 'size' else 'nothing'}",
                           kind="syntax")
    if node.value == "size":
        if not given:
            return tuple(Tensor(float(n)) for n in value.shape)
        return Tensor(float(value.shape[normalize_axes(_whole(given[0], "dim"), value.ndim)[0]]))
    return Tensor(float(value.size if node.value == "numel" else value.ndim))


def _itself(node: Expr, kids: list, kws: dict) -> Tensor:
    """x.contiguous(): x (every array gradcli makes is as good as contiguous; PyTorch returns x too)."""
    if kids[1:] or kws:
        raise GradcliError(f".{node.value}() takes nothing here", kind="syntax")
    return _tensor(kids[0])


# The methods of a value that make no operation: what they give is read off the value (x.size(0)), or is
# the value itself (x.double() of a float64 x). Sizes count a point axis in: batch.py runs them point by point.
SIZE_METHODS = ("size", "numel", "dim", "ndimension")
VALUE_METHODS = {**{name: _cast for name in _CASTS}, **{name: _size for name in SIZE_METHODS}, "contiguous": _itself}


def _axis_literal(arg: Expr | None) -> bool:
    """Whether an argument is written as a whole number (max(x, 0): an axis, as torch's dim)."""
    if arg is not None and arg.kind == "unary" and arg.value == "neg":
        arg = arg.args[0]
    return arg is not None and arg.kind == "num"


def _length(kids: list, kws: dict) -> Tensor:
    """len(x): the size of x's first axis, a constant."""
    if kws or len(kids) != 1:
        raise GradcliError("len() takes one array, as in len(x)", kind="syntax")
    value = _tensor(kids[0])
    if value.ndim == 0:
        raise GradcliError("len() of a number: it has no axis (len(x) is x.shape[0])", kind="shape")
    return Tensor(float(value.shape[0]))


def _by_position(op: Op, names: tuple[str, ...], keywords: dict, values: list) -> dict[str, Any]:
    """The parameters among names that the call does not name, given by position from values (in order)."""
    named = {op.keyword(k) for k in keywords}
    return dict(zip([name for name in names if name not in named], values))


def bind(op: Op, node: Expr, args: list, keywords: dict) -> tuple[list, dict]:
    """The tensor inputs and the parameters of a call of op: (inputs, params).

    PyTorch's keyword names (dim=, keepdim=, correction=, unbiased=) stand beside numpy's;
    a value past the tensor inputs is the first keyword (x.sum(0) is x.sum(axis=0)); an
    input may be named (clamp(x, min=0)) and one left out takes its default; a PyTorch
    spelling (x.std(), torch.std) brings PyTorch's defaults where they differ from numpy's.
    """
    if not keywords and len(args) == op.arity and not op.sequence and not op.rest and not op.leading \
            and not _required_keywords(op) and not any(a is None or isinstance(a, str) for a in args):
        # (the common call, sin(x): its inputs by position and nothing else)
        return list(args), _spelled_defaults(op, node)
    params: dict[str, Any] = {}
    if op.preceding and len(args) > 1 and not node.text.startswith("."):  # torch.polygamma(n, x): n first
        taken = _by_position(op, op.preceding, keywords, args[:-1])
        params.update(taken)
        args = args[len(taken):]
    if op.leading and len(args) > 1:  # gather(x, 1, index): the dim between the inputs, unless named
        taken = _by_position(op, op.leading, keywords, args[1:])
        params.update(taken)
        args = [args[0], *args[1 + len(taken):]]
    items = _items(node, args) if op.sequence else None
    if items is not None:
        args = [*items, *args[1:]]
    if args and isinstance(args[0], str) and op.keywords:  # einsum("ij,j->i", A, x): the subscripts first
        params[op.keywords[0]] = args[0]
        args = args[1:]
    count = len(items) if items is not None else len(args) if op.arity is None else op.arity
    inputs: list = list(args[:count])
    if op.rest and len(args) > count:  # x.reshape(2, 3) as x.reshape((2, 3))
        given = args[count:]
        params[op.rest] = given[0] if len(given) == 1 and isinstance(given[0], tuple) else tuple(given)
    elif len(args) > count:
        if len(args) > count + min(op.positional, len(op.keywords)):
            raise _too_many(op, node, len(args))
        params.update((k, v) for k, v in zip(op.keywords, args[count:]) if v is not None)  # (None: the default)
    for key, value in keywords.items():
        if value is None and key not in op.inputs[1:]:
            continue  # (eps=None: the default, as in PyTorch)
        if key in op.inputs[1:]:
            slot = op.inputs.index(key)
            inputs.extend([None] * (slot + 1 - len(inputs)))
            if inputs[slot] is not None:
                raise GradcliError(f"{node.value}() got two values for {key}", kind="syntax")
            inputs[slot] = value
            continue
        name = op.keyword(key)
        if name == "part" and op.parts is not None:  # (the walk's own keyword for the piece [k] takes)
            raise GradcliError(f"{node.value}() takes no keyword 'part': it gives a tuple of arrays, as in PyTorch; "
                               f"take one with [k], as in x.{node.value}(...)[0]", kind="syntax")
        if name not in op.keywords and key == "dtype" and op.family == "constant":
            _same_dtype(value, mode.dtype, f"{node.value}(dtype=...)")  # (a constant made in the expression's dtype)
            continue
        if name not in op.keywords:
            allowed = ", ".join(op.spellings()) or "none"
            raise GradcliError(f"{node.value}() takes no keyword {key!r} (keywords: {allowed})", kind="syntax")
        if name in params:
            also = f" (as {key} too)" if key != name else ""
            raise GradcliError(f"{node.value}() got two values for {name}{also}", kind="syntax")
        params[name] = value
    inputs.extend([None] * (count - len(inputs)))
    if op.needs_one and all(inputs[op.inputs.index(name)] is None for name in op.needs_one):
        raise GradcliError(f"{node.value}() needs {' or '.join(op.needs_one)} (either or both), as in PyTorch: "
                           f"it takes {_listed(op)}", kind="syntax")
    # A left-out input takes the dtype of the tensors given (x.clamp(min=2) of a float32 x stays float32).
    given = next((i.data.dtype for i in inputs if isinstance(i, Tensor)), None)
    for slot, name in enumerate(op.inputs):
        if inputs[slot] is None and name in op.optional:
            inputs[slot] = Tensor(op.optional[name], dtype=given)
    missing = [name for name, i in zip(parameters(op), inputs) if i is None]
    if missing:
        raise GradcliError(f"{node.value}() is missing {' and '.join(missing)}: it takes {_listed(op)}",
                           kind="syntax")
    params = {k: _parameter(op, k, v) for k, v in params.items()}
    absent = [k for k in _required_keywords(op) if k not in params]
    if absent:
        raise GradcliError(f"{node.value}() is missing {' and '.join(absent)}: it takes {_listed(op)}", kind="syntax")
    return inputs, {**_spelled_defaults(op, node), **params}


def _spelled_defaults(op: Op, node: Expr) -> dict[str, Any]:
    """The parameters a call's spelling sets: PyTorch's defaults where they differ from numpy's, and
    torch.linalg's where they differ from torch's."""
    if spelling(node) != "torch":
        return {}
    if op.linalg and node.text.startswith("torch.linalg."):
        return {**op.torch_defaults, **op.linalg}
    return dict(op.torch_defaults)


def _items(node: Expr, args: list) -> tuple:
    """The arrays of a call that takes a sequence of them first: cat([x, y], 0), torch.cat((x, y))."""
    if not args or not isinstance(args[0], tuple) or not args[0]:
        raise GradcliError(f"{node.value}() takes a list or tuple of arrays first, as in {node.value}([x, y], 0)",
                           kind="syntax")
    return args[0]


_REQUIRED: dict[str, tuple[str, ...]] = {}


def _required_keywords(op: Op) -> tuple[str, ...]:
    """The keywords a composite, or a primitive's prepare, has no default for: reshape's shape (found once
    per operation)."""
    if op.name not in _REQUIRED:
        reads = op.prepare or op.composite  # (a primitive's prepare fills in its forward's parameters)
        if reads is None:
            _REQUIRED[op.name] = ()
            return ()
        try:
            signature = inspect.signature(reads)
            _REQUIRED[op.name] = tuple(name for name, p in signature.parameters.items()
                                       if name in op.keywords and p.default is inspect.Parameter.empty)
        except (TypeError, ValueError):  # a numpy ufunc has no signature to read
            _REQUIRED[op.name] = ()
    return _REQUIRED[op.name]


def parameters(op: Op) -> list[str]:
    """The names of op's tensor inputs, from its record: clip -> x, min, max; where -> cond, a, b."""
    if op.inputs:
        return list(op.inputs)
    inside = op.signature.partition("(")[2].rpartition(")")[0]
    names = [part.split("=")[0].strip() for part in inside.split(",")] if inside else []
    if len(names) < (op.arity or 0):  # an operator called by name: add(a, b)
        names = ["x"] if op.arity == 1 else ["a", "b", "c"][:op.arity]
    return names[:op.arity]


def _listed(op: Op) -> str:
    return ", ".join(parameters(op) + [f"{k}=" for k in op.keywords])


def _too_many(op: Op, node: Expr, given: int) -> GradcliError:
    by_position = parameters(op) + list(op.keywords[:op.positional])
    by_name = op.keywords[op.positional:] if op.keywords else ()
    named = f"; give {', '.join(by_name)} by name, as {by_name[0]}=..." if by_name else ""
    return GradcliError(f"{node.value}() takes {len(by_position)} argument{'s' if len(by_position) != 1 else ''} "
                        f"({', '.join(by_position)}), not {given}{named}", kind="syntax")


def _applied(op: Op, kids: list, params: dict) -> Tensor:
    """op of the kids, which leave the list as they go into the call.

    Popped straight into the call's arguments, a value only the walk held reaches the
    operation as the temporary it is, and may take its result (autodiff/call.py).
    """
    fn = _function(op)
    args = [k if type(k) is Tensor else _tensor(k) for k in kids]
    kids.clear()
    if params or len(args) > 3:
        return fn(*args, **params)
    if len(args) == 1:
        return fn(args.pop())
    if len(args) == 2:
        return fn(args.pop(0), args.pop(0))
    return fn(args.pop(0), args.pop(0), args.pop(0))


_FUNCTIONS_OF: dict[int, tuple[Op, Callable[..., Tensor]]] = {}


def _function(op: Op) -> Callable[..., Tensor]:
    """function(op), made once per operation (the walk applies one for every node)."""
    made = _FUNCTIONS_OF.get(id(op))
    if made is None or made[0] is not op:
        made = _FUNCTIONS_OF[id(op)] = (op, function(op))
    return made[1]


def _parameter(op: Op, key: str, value: Any) -> Any:
    """A keyword's value in the form its operation takes (Op.kinds): a whole number, an axis, a number or a word."""
    kind = op.kinds.get(key, "axis" if key == "axis" else "whole")
    words = kind if isinstance(kind, tuple) else ()
    if isinstance(value, str):
        if kind == "text" or value in words:
            return value
        if words:
            taken = " or ".join({"real": "a number", "axis": "a whole number or a tuple"}.get(w, repr(w)) for w in words)
            raise GradcliError(f"{op.name}() takes {key}= as {taken}, not {value!r}", kind="value")
        raise GradcliError(f"{op.name}() takes {key}= as a number, not the string {value!r}", kind="value")
    if kind == "axis pairs":  # tensordot's dims: a number, or the axes of each side, ([1], [0])
        return tuple(_axis(v) for v in value) if isinstance(value, tuple) else _whole(value, key)
    if kind == "axis" or "axis" in words:  # (conv's padding: a number, a tuple, or 'same')
        axes = _axis(value, key)
        if axes == () and key == "axis" and "keepdims" in op.keywords:
            raise GradcliError(f"{op.name}() takes no empty tuple of axes: numpy reduces over none of them, "
                               f"PyTorch over all; leave the axes out to reduce over all", kind="value")
        return axes
    if kind == "real" or "real" in words:
        return _real(value, key)
    if kind == "reals":  # (interpolate's scale_factor: one number, or one an axis)
        return tuple(_real(v, key) for v in value) if isinstance(value, tuple) else _real(value, key)
    if words:
        raise GradcliError(f"{op.name}() takes {key}= as {' or '.join(map(repr, words))}, as in {key}={words[0]!r}",
                           kind="value")
    return _whole(value, key)


def _real(value: Any, key: str) -> float:
    """A number-valued parameter (beta=0.5): a constant, as PyTorch's Python number is."""
    if not isinstance(value, Tensor) or value.ndim != 0:
        raise GradcliError(f"{key}= takes one number", kind="value")
    if value.requires_grad or value.grad_fn is not None:
        raise GradcliError(f"{key}= takes a number, not an expression of the variables: it has no "
                           f"gradient (a Python number in PyTorch)", kind="value")
    return float(value.data)


def _flatten(items: list) -> list:
    return [x for item in items for x in (item if isinstance(item, tuple) else (item,))]


def _tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, str):
        raise GradcliError(f"the string {value!r} has no value: a string names a choice, as in "
                           f"reduction=\"sum\"", kind="syntax")
    raise GradcliError("a tuple or slice cannot be used as a value here", kind="syntax")


def _whole(value: Any, what: str) -> int:
    # (read through decide: a size, axis or slice bound computed from the variables is a guard of a
    # traced program, which records again where it changes)
    if isinstance(value, Tensor) and value.ndim == 0:
        return _whole_number(decide(float, value), what)
    raise GradcliError(f"{what} must be a whole number", kind="index")


def _whole_number(number: float, what: str) -> int:
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise GradcliError(f"{what} must be a whole number", kind="index")


def _axis(value: Any, what: str = "axis") -> Any:
    """An axis, or a tuple of axes (a list [0, 1] as torch's dim=[0, 1]); what: the keyword read (split's
    sizes and reshape's shape are read as axes are), which an error names."""
    if isinstance(value, Tensor) and value.ndim == 1:
        return tuple(_whole_number(v, what) for v in decide(np.ndarray.tolist, value))
    if isinstance(value, tuple):
        return tuple(_whole(v, what) for v in value)
    return _whole(value, what)
