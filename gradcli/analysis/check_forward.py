"""Checking forward-mode results: a jvp's J·t and a Hessian-vector product's H·v.

Both are derivatives along a direction, so both are derivatives with respect to one new
scalar s of g(x, s) = f(x + s·t) at s = 0 (every variable with a tangent moved along it):

    J·t = ∂g/∂s,        (H·v)[x_i] = ∂²g/∂x_i∂s.

The check builds g (the expression with each such variable x replaced by x + s·t_x) and
compares the forward-mode numbers with g's derivatives by central differences in s and by
SymPy, entry by entry, with the machinery and tolerances of every other check.
"""

from __future__ import annotations

import numpy as np

from gradcli.analysis.check_differences import finite_differences
from gradcli.analysis.check_plan import Entry, Report, Tolerance, choose
from gradcli.analysis.check_sympy import symbolic_side
from gradcli.analysis.symbolic import symbol_name
from gradcli.api.problem import Problem, Result
from gradcli.lang.tree import Expr, fold


def verify_forward(result: Result, tolerance: Tolerance, samples: int, seed: int) -> Report:
    """Compare a jvp's or an hvp's entries with differences in s and with SymPy's ∂/∂s."""
    p = result.problem
    moved = {n: t for n, t in result.tangents.items() if np.any(t)}
    s = _fresh("s", p.names)
    letter = "t" if result.kind == "jvp" else "v"
    names = {n: _fresh(f"{letter}_{n}", p.names + [s]) for n in moved}
    tree = _moved(p.tree, {n: (s, names[n]) for n in moved})
    values = {**p.values, s: np.zeros((), p.dtype), **{names[n]: t for n, t in moved.items()}}
    rng = np.random.default_rng(seed)
    if result.kind == "jvp":
        g = Problem(p.source, tree, [*p.names, s, *names.values()], [s], values, p.dtype)
        outs = choose({"f": result.value.shape}, samples, rng)["f"]
        entries = [Entry(symbol_name("f", o), ((s, ()),), o or None, float(result.jvp[o])) for o in outs]
        report = Report(Result("jacobian", g, result.value), entries, tolerance, samples, {s: 1}, len(outs))
    else:
        wrt = [*p.wrt, s]
        g = Problem(p.source, tree, [*p.names, s, *names.values()], wrt, values, p.dtype)
        coords = choose({n: p.values[n].shape for n in p.wrt}, samples, rng)
        entries = [Entry("f", ((n, i), (s, ())), None, float(result.hvp[n][i])) for n in p.wrt for i in coords[n]]
        report = Report(Result("hessian", g, result.value), entries, tolerance, samples,
                        {n: len(c) for n, c in coords.items()}, None)
    report.along = f"{s} moves each variable along its {'tangent' if result.kind == 'jvp' else 'vector'}: " + \
        ", ".join(f"{n} + {s}·{names[n]}" for n in moved) + f" at {s} = 0" if moved else \
        "every tangent is zero: J·t is 0"
    if moved:
        finite_differences(report)
        symbolic_side(report, evaluate=True)
    return report


def _fresh(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _moved(tree: Expr, along: dict[str, tuple[str, str]]) -> Expr:
    """tree with every use of a variable x of along replaced by (x + s*t_x)."""
    def combine(node: Expr, kids: list, keywords: list) -> Expr:
        if node.kind == "name" and node.value in along:
            s, t = along[node.value]
            step = Expr("binary", node.span, "mul", (Expr("name", node.span, s), Expr("name", node.span, t)))
            return Expr("binary", node.span, "add", (node, step))
        if node.kind == "def":
            name, params, body = node.value
            inner = {n: st for n, st in along.items() if n not in params}
            return node._replace(value=(name, params, _moved(body, inner) if inner else body))
        if not kids and not keywords:
            return node
        return node._replace(args=tuple(kids), keywords=tuple(keywords))
    return fold(tree, combine)
