"""Reverse mode step by step: the forward pass, the backward pass, and where it went wrong.

    >>> from gradcli.api.problem import problem
    >>> e = explain(problem("(w*x - y)**2", {"w": 1, "x": 2, "y": 4}, "w"))
    >>> [(s["expression"], float(s["value"])) for s in e.forward if s["op"] != "variable"]
    [('w*x', 2.0), ('w*x - y', -2.0), ('(w*x - y)**2', 4.0)]
    >>> float(e.gradients["w"])
    -8.0

The forward steps follow the evaluation order of the expression; the backward steps
are the engine's own, seen through run_backward's observer, so they come in the order
the engine runs them. Each backward step holds the upstream gradient (with the terms
that were added when several paths met), and for each input the local rule in words,
its value and the gradient passed on. A Jacobian row is the same backward pass seeded
with a basis vector (`jacobian_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcli.autodiff.engine import LeafNode, Node, Tensor, edge_of, lift, run_backward, sum_to
from gradcli.api.diagnose import finite, nonfinite_kind
from gradcli.errors import GradcliError
from gradcli.api.problem import Problem
from gradcli.analysis.graph import Traced, trace
from gradcli.lang.numbers import array_text
from gradcli.api.kinks import kink_note
from gradcli.lang.grammar import CONSTANTS
from gradcli.lang.printer import unparse
from gradcli.lang.tree import Expr
from gradcli.analysis.rule_words import Names, local_rule

SKIPPED_KINDS = ("num", "slice", "tuple", "let", "program")
MAX_ROWS = 64  # Jacobian rows explained one by one


@dataclass
class Explanation:
    """What explain found: steps as dicts of plain values and arrays (see module docstring)."""

    source: str
    wrt: list[str]
    value: np.ndarray
    forward: list[dict[str, Any]]
    backward: list[dict[str, Any]] = field(default_factory=list)
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    grad_output: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    nonfinite: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    jacobian: dict[str, np.ndarray] = field(default_factory=dict)  # the rows stacked, output.shape + x.shape


# -- forward -----------------------------------------------------------------------------
def _number_expr(value: Any) -> Expr:
    text = array_text(value)
    if text.startswith("-"):
        text = f"({text})"
    return Expr("num", (0, 0), 0.0, text=text)


def forward_steps(p: Problem, traced: Traced, names: Names) -> list[dict[str, Any]]:
    """Every sub-expression in evaluation order: its op, inputs, value and graph node."""
    steps = []
    variables = set(p.names)
    named: set[str] = set()
    for expr, value in traced.events:
        if expr.kind == "let" and steps and steps[-1]["span"] == list(expr.args[0].span):
            steps[-1]["expression"] = f"{expr.value} = {steps[-1]['expression']}"  # a program's step, named
            continue
        if expr.kind in SKIPPED_KINDS or not isinstance(value, Tensor) or expr.kind == "unary" and expr.value == "pos":
            continue
        if expr.kind == "name":
            if expr.value in named or expr.value in p.steps or not (expr.value in variables or
                                                                   expr.value in CONSTANTS):
                continue  # a variable is listed where it is first used; a step or a parameter, where computed
            named.add(expr.value)
        step: dict[str, Any] = {"phase": "forward", "expression": names.text(expr),
                                "span": list(expr.span),
                                "node": _node_name(value)}
        if expr.kind == "name":
            step.update(op="variable" if expr.value in variables else "constant", value=value.data,
                        requires_grad=value.requires_grad, inputs=[])
        else:
            kids = [k for k in _operands(expr, names) if k.kind not in SKIPPED_KINDS]
            step.update(op=expr.value if expr.kind in ("binary", "call", "unary") else expr.kind,
                        inputs=[{"expression": names.text(k), "value": names.values[id(k)].data} for k in kids
                                if isinstance(names.values.get(id(k)), Tensor)],
                        computed=_with_numbers(expr, names), value=value.data)
        steps.append(step)
    return steps


def _operands(expr: Expr, names: Names) -> list[Expr]:
    """expr's direct operands, with the items of a list or tuple of arrays (cat([x, y])) one by one."""
    out = []
    for a in expr.args:
        if a is not None and a.kind in ("list", "tuple") and isinstance(names.values.get(id(a)), tuple):
            out.extend(a.args)
        elif a is not None:
            out.append(a)
    return out


def _node_name(value: Tensor) -> str | None:
    if value.grad_fn is not None:
        return value.grad_fn.name
    return "AccumulateGrad" if value.requires_grad else None


def _with_numbers(expr: Expr, names: Names) -> str:
    """expr with its direct operands replaced by their values: (w*x - y)**2 -> (-2.0)**2."""
    def put(arg: Expr | None) -> Expr | None:
        value = names.values.get(id(arg)) if arg is not None and arg.kind != "num" else None
        return _number_expr(value.data) if isinstance(value, Tensor) else arg

    return unparse(Expr(expr.kind, expr.span, expr.value, tuple(put(a) for a in expr.args),
                        tuple((k, put(v)) for k, v in expr.keywords), expr.text))


def _input_values(node: Node, traced: Traced) -> list[np.ndarray | None]:
    if node.saved is not None:
        return [t.data for t in node.saved]
    return [None if e is None else traced.values.get(id(e)) for e in node.next_functions]


# -- backward ----------------------------------------------------------------------------
def backward_steps(p: Problem, traced: Traced, names: Names, seed: np.ndarray
                   ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One backward pass from seed, observed node by node; then the leaves' totals."""
    steps: list[dict[str, Any]] = []
    terms: dict[int, list[np.ndarray]] = {}
    masked_by: dict[int, Node] = {}  # node -> the where node that masked its gradient
    leaf_sources: dict[int, list[str]] = {}
    root = edge_of(traced.output)
    terms[id(root)] = [seed]

    def observe(node: Node, g: Tensor, cts: tuple) -> None:
        batch_ndim = g.ndim - len(node.out_shape)
        inputs = _input_values(node, traced)
        out = traced.values.get(id(node))
        step: dict[str, Any] = {"phase": "backward", "node": node.name, "op": node.op.name,
                                "expression": names.label(node),
                                "span": list(node.span) if node.span else None,
                                "upstream": g.data, "upstream_terms": terms.pop(id(node), [g.data]),
                                "inputs": []}
        for i, (edge, ct, shape) in enumerate(zip(node.next_functions, cts, node.in_shapes)):
            if edge is None or ct is None:
                continue
            ct = lift(ct)
            target = g.shape[:batch_ndim] + shape
            passed = (sum_to(ct, target, batch_ndim) if ct.shape != target else ct).data
            entry = {"expression": names.input_label(node, i), **local_rule(node, i, names, inputs, out),
                     "gradient": passed, "summed": ct.shape != target}
            step["inputs"].append(entry)
            terms.setdefault(id(edge), []).append(passed)
            if isinstance(edge, LeafNode):
                leaf_sources.setdefault(id(edge), []).append(names.label(node))
            where = node if node.op.selector else masked_by.get(id(node))
            if where is not None:
                masked_by.setdefault(id(edge), where)
        note = kink_note(node, p.source)
        if note:
            step["note"] = note
        where = masked_by.get(id(node))
        step["where_cond"] = names.where_cond(where) if where is not None else None
        steps.append(step)

    with np.errstate(all="ignore"):
        found = run_backward([(traced.output, Tensor(seed))], retain_graph=True, observer=observe)
    by_tensor = {id(leaf.tensor): (leaf, ct.data) for leaf, ct in found.items()}
    gradients = {}
    for name in p.wrt:
        leaf = traced.leaves[name]
        hit = by_tensor.get(id(leaf))
        batch = seed.shape[:seed.ndim - traced.output.ndim]
        gradients[name] = np.zeros(batch + leaf.shape, leaf.dtype) if hit is None else np.array(hit[1])
        if hit is not None:
            steps.append({"phase": "accumulate", "node": "AccumulateGrad", "op": "leaf", "expression": name,
                          "terms": terms.get(id(hit[0]), [hit[1]]), "from": leaf_sources.get(id(hit[0]), []),
                          "gradient": gradients[name]})
    return steps, gradients


def first_nonfinite(e: Explanation) -> dict[str, Any] | None:
    """The first forward value, else the first passed gradient, that is nan or inf: where, and what it became.

    A forward value has "unused" when the result stays finite all the same; a gradient names the
    input it was passed to, the node and its rule, and "where_cond" when a where(...) upstream
    passed a zero into a branch it did not take (the where trap: 0 × inf = nan).
    """
    for step in e.forward:
        if not finite(step["value"]):
            return {"phase": "forward", "expression": step["expression"], "span": step["span"],
                    "became": nonfinite_kind(step["value"]), "unused": finite(e.value)}
    for step in e.backward:
        if step["phase"] != "backward" or not finite(step["upstream"]):
            continue
        bad = next((x for x in step["inputs"] if not finite(x["gradient"])), None)
        if bad is None:
            continue
        found = {"phase": "backward", "expression": step["expression"], "span": step["span"],
                 "input": bad["expression"], "became": nonfinite_kind(bad["gradient"]), "node": step["node"],
                 "rule": bad["rule"]}
        if step["where_cond"] is not None and np.any(np.asarray(step["upstream"]) == 0):
            found["where_cond"] = step["where_cond"]
        return found
    return None


# -- the whole explanation ---------------------------------------------------------------
def explain(p: Problem, grad_output: Any = None) -> Explanation:
    """Forward and backward steps of p, seeded with 1 (scalar output) or grad_output.

    With a non-scalar output and grad_output, `rows` also holds the Jacobian rows (basis
    VJPs) that the vector-Jacobian product combines, when there are at most MAX_ROWS.
    """
    from gradcli.autodiff.engine import seed_cotangent

    traced = trace(p)
    names = Names(p, traced)
    e = Explanation(p.source, list(p.wrt), traced.output.data, forward_steps(p, traced, names))
    e.grad_output = None if grad_output is None else np.asarray(grad_output, dtype=np.float64)
    seed = seed_cotangent(traced.output, grad_output).data
    if traced.output.requires_grad:
        e.backward, e.gradients = backward_steps(p, traced, names, seed)
    else:
        e.gradients = {n: np.zeros(traced.leaves[n].shape, p.dtype) for n in p.wrt}
    e.notes = [s["note"] for s in e.backward if "note" in s]
    e.nonfinite = first_nonfinite(e)
    if grad_output is not None and 1 < traced.output.size <= MAX_ROWS:
        e.rows = _rows(p, traced, names, with_steps=False)
    return e


def jacobian_rows(p: Problem) -> Explanation:
    """Each row of the Jacobian as its own backward pass, seeded with a basis vector."""
    traced = trace(p)
    names = Names(p, traced)
    e = Explanation(p.source, list(p.wrt), traced.output.data, forward_steps(p, traced, names))
    e.rows = _rows(p, traced, names, with_steps=True)
    e.jacobian = {n: np.reshape([r["gradients"][n] for r in e.rows], e.value.shape + traced.leaves[n].shape)
                  for n in p.wrt}
    e.notes = list(dict.fromkeys(s["note"] for row in e.rows for s in row.get("steps", []) if "note" in s))
    return e


def _rows(p: Problem, traced: Traced, names: Names, *, with_steps: bool) -> list[dict[str, Any]]:
    size = traced.output.size
    if size > MAX_ROWS:
        raise GradcliError(f"the output has {size} entries; explain shows one backward pass per Jacobian row "
                           f"and stops at {MAX_ROWS}: explain a part of it (index the output) instead",
                           kind="limit")
    rows = []
    for i in range(size):
        basis = np.zeros(size, p.dtype)
        basis[i] = 1.0
        seed = basis.reshape(traced.output.shape)
        index = list(np.unravel_index(i, traced.output.shape)) if traced.output.ndim else []
        if traced.output.requires_grad:
            steps, grads = backward_steps(p, traced, names, seed)
        else:
            steps, grads = [], {n: np.zeros(traced.leaves[n].shape, p.dtype) for n in p.wrt}
        row = {"phase": "row", "row": i, "index": [int(k) for k in index], "seed": seed, "gradients": grads}
        if with_steps:
            row["steps"] = steps
        rows.append(row)
    return rows
