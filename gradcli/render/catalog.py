"""The language reference that `gradcli ops` prints, read from the operation registry.

`catalog()` gives one entry per public operation (and the syntax that is not an
operation), so a new operation shows up here with no change to this file; `catalog_view()`
is its View: a table per family, the entries as CSV rows or one JSON array.
`describe(name)` is one operation in full for `gradcli ops NAME`: its entry, its
derivative in words, its kinks and an example command built from its first test sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.autodiff.op import FUNCTIONS, OPS, Op
from gradcli.errors import GradcliError, closest
from gradcli.lang.grammar import CONSTANTS
from gradcli.lang.numbers import plain_number, to_json
from gradcli.render.view import View, once

FAMILY_TITLES = {  # in the order they are shown
    "operator": "Operators",
    "comparison": "Comparisons: masks of 0.0 and 1.0 for where(...), no gradient",
    "elementwise": "Elementwise functions",
    "binary": "Functions of several arrays, elementwise with broadcasting",
    "reduction": "Reductions: of the whole array, or along axis= or dim= (an int or a tuple); keepdims= or "
                 "keepdim=True keeps the reduced axes",
    "linalg": "Linear algebra",
    "nn": "Neural-network functions",
    "array": "Arrays: reshape, join, flip, triangles, diagonals, running sums (PyTorch's dim=, numpy's axis=)",
    "constant": "Constant arrays: no gradient flows from them",
    "gradient control": "Gradient control",
    "syntax": "Syntax",
}
SYNTAX = [
    {"signature": "-x, +x", "family": "syntax", "doc": "unary minus and plus (looser than a power: -x**2 is -(x**2))"},
    {"signature": "a ^ b", "family": "syntax", "doc": "power, the same as a ** b; right-associative: 2^3^2 is 2^9"},
    {"signature": "x[i], m[i, j], m[:, 0], x[1:], x[::2]", "family": "syntax",
     "doc": "indexing and slicing, as numpy (negative indices count from the end)"},
    {"signature": "x[None], x[..., 0]", "family": "syntax", "doc": "a new axis of length 1; ... stands for every "
     "axis not indexed"},
    {"signature": "W[[0, 2]], x[x > 0]", "family": "syntax",
     "doc": "entries at an array of indices (along its axis), or where a mask written as a comparison, and, or, "
            "not is nonzero (a vector); the gradient is scattered back and adds up where an index repeats"},
    {"signature": "a if cond else b", "family": "syntax",
     "doc": "where(cond, a, b): each branch's gradient is masked, but both are computed (gradcli explain shows "
            "the nan a branch not taken can still give)"},
    {"signature": "not m", "family": "syntax", "doc": "1.0 where m is 0 else 0.0 (m == 0), a mask"},
    {"signature": "len(x), x.shape[0]", "family": "syntax",
     "doc": "the size of an axis, as a constant (x.shape is a tuple: zeros(x.shape))"},
    {"signature": "max(a, b), min(a, b)", "family": "syntax",
     "doc": "of two arrays: maximum and minimum (as torch.max(a, b)); max(x, 0) with a whole number is an axis; "
            "with dim= they give the values, torch's .values"},
    {"signature": "1_000, 0x10, 1e-3", "family": "syntax", "doc": "number literals as Python writes them"},
    {"signature": "x.T", "family": "syntax", "doc": "transpose"},
    {"signature": "x.sum(dim=0), (W @ x).tanh()", "family": "syntax",
     "doc": "a method call: every function whose first argument is an array, called on it"},
    {"signature": "torch.sin(x), F.relu(x), np.exp(x)", "family": "syntax",
     "doc": "the prefixes torch., torch.nn.functional., nn.functional., F., torch.linalg., torch.special., np., "
            "numpy., np.linalg. name the same functions; where PyTorch and numpy differ (std, var), the spelling "
            "decides"},
    {"signature": "True, False", "family": "syntax", "doc": "1 and 0, for keywords such as keepdim=True"},
    {"signature": "[a, b, ...]", "family": "syntax",
     "doc": "stack items along a new first axis: scalars give a vector, vectors a matrix"},
    {"signature": ", ".join(CONSTANTS), "family": "syntax", "doc": "the constants (-inf is the minus of inf)"},
]
PRECEDENCE = ("Precedence, loosest first, as Python's: a if c else b; or; and; not; comparisons; + -; "
              "* / // % @; unary - +; ** ^ (right-associative); then calls, indexing, .T, .shape and methods")


def _rank(family: str) -> int:
    order = list(FAMILY_TITLES)
    return order.index(family) if family in order else len(order)


def _called(op: Op) -> str:
    """The name a user writes op by: the one its signature shows (reshape, for array_reshape), an
    operator's alias (pow for **), else its own."""
    if op.symbol:
        return op.aliases[0] if op.aliases else ""
    written = op.signature.partition("(")[0]
    return written if FUNCTIONS.get(written) is op else op.name


def catalog() -> list[dict[str, Any]]:
    """One entry per operation a user can write: name, signature, family, doc, aliases, method."""
    entries = []
    for op in OPS.values():
        if not op.public:
            continue
        called = _called(op)
        entries.append({"name": op.name, "signature": op.signature, "family": op.family, "doc": op.doc,
                        "aliases": list(op.aliases), "method": f".{called}()" if op.is_method and called else None,
                        "differentiable": op.differentiable})
    entries.sort(key=lambda e: _rank(e["family"]))  # stable: registry order within a family
    return entries + SYNTAX


def _call(entry: dict[str, Any]) -> str:
    aliases = [a for a in entry.get("aliases", ()) if a not in entry["signature"] and f"{a}(" not in entry["doc"]]
    also = aliases + ([entry["method"]] if entry.get("method") else [])
    return entry["signature"] + (f"   also {', '.join(also)}" if also else "")


def render_catalog(entries: list[dict[str, Any]], console: Any) -> None:
    """Print the entries grouped by family, each family a heading and a two-column table."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    width = max(len(_call(e)) for e in entries)
    families = sorted({e["family"] for e in entries}, key=_rank)
    for family in families:
        table = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False, padding=(0, 1))
        table.add_column(style="bold", no_wrap=True, min_width=min(width, 40))
        table.add_column(ratio=1)
        for e in entries:
            if e["family"] == family:
                table.add_row(Text(_call(e)), Text(e["doc"]))
        console.print(Text(FAMILY_TITLES.get(family, family.capitalize()), style="bold cyan"))
        console.print(table)
        console.print()
    console.print(Text(PRECEDENCE, style="dim"))


NO_PLAIN = ("gradcli ops lists functions, not numbers, so it has no plain format: use --format table, "
            "csv or json")


def catalog_view() -> View:
    """json: one array, an object per entry; csv: signature, family, doc; a table per family."""
    entries = catalog()
    return View(json=once(lambda: [entries]),
                csv=once(lambda: [["signature", "family", "doc"],
                                  *([e["signature"], e["family"], e["doc"]] for e in entries)]),
                plain=NO_PLAIN,
                table=lambda console: render_catalog(entries, console))


EXAMPLE_NAMES = ("x", "y", "z")
EXAMPLE_SIZE = 3  # what an example passes a constructor: zeros(3)


def find(name: str) -> Op:
    """The public operation a name, an alias or an operator symbol calls, or an error with the closest."""
    by_symbol = {op.symbol: op for op in OPS.values() if op.public and op.symbol}
    by_name = {op.name: op for op in OPS.values() if op.public}
    op = FUNCTIONS.get(name.lstrip(".")) or by_symbol.get(name) or by_name.get(name)
    if op is not None:
        return op
    hint = closest(name, [*FUNCTIONS, *by_name])
    raise GradcliError(f"no function or operator {name!r}" + (f": did you mean {hint!r}?" if hint else "") +
                       " (gradcli ops lists them all)", kind="name", param="name")


def _derivative(op: Op) -> list[str]:
    if not op.differentiable:
        return ["no gradient: the result is a constant to the derivative"]
    if op.words is None and not op.is_primitive:
        return ["follows from the operations it is built from: gradcli explain shows them step by step"]
    if op.words is None:
        return ["its own rule: gradcli explain shows it step by step at given values"]
    words = op.words
    if words.local:
        return [f"d/d{arg} = {local}" if local is not None else f"{arg} gets no gradient"
                for arg, local in zip(words.args, words.local)]
    return [f"{arg} receives {vjp}".replace("{", "").replace("}", "") for arg, vjp in zip(words.args, words.vjp)]


def _taylor(op: Op) -> str:
    """Whether derivatives of higher order (Taylor mode) pass through op, in words."""
    if not op.differentiable:
        return "yes (a constant to the derivative)"
    if not op.is_primitive:
        return "yes, through the operations it is built from"
    return "yes" if op.taylor is not None else "no: derivatives of higher order refuse it"


def _kinks(op: Op) -> list[dict[str, Any]]:
    def plain(v: Any) -> Any:
        return to_json(np.asarray(v, dtype=float))

    names = _names(op, len(op.kinks[0].inputs)) if op.kinks else []
    return [{"inputs": {n: plain(v) for n, v in zip(names, k.inputs)},
             "gradients": {n: plain(g) for n, g in zip(names, k.grads)}, "note": k.note} for k in op.kinks]


def _names(op: Op, count: int) -> list[str]:
    """What an example calls op's inputs: the names its derivative words use, else x, y, z."""
    if op.words and len(op.words.args) == count:
        return list(op.words.args)
    return list(EXAMPLE_NAMES[:count])


def example(op: Op) -> str:
    """A gradcli command that runs op on small values from its first test sample's domains."""
    if op.constructor:
        return f'gradcli grad "sum(x * {op.name}({op.example or EXAMPLE_SIZE}))" --x 2'
    sample = op.samples[0]
    names = _names(op, len(sample.shapes))
    # Rounded draws stay inside every domain (whose edges are 0.5 and more away from trouble).
    arrays = [np.round(a, 1) for a in sample.draw(np.random.default_rng(0))]
    if op.symbol and len(names) == 2:
        call = f"{names[0]} {op.symbol} {names[1]}"
    else:
        called = _called(op)
        params = dict(sample.params)
        part = params.pop("part", None)  # (the piece of a tuple-giving call: written [k] after it)
        keywords = [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in params.items()]
        arrays_in = f"[{', '.join(names)}]" if op.sequence else ", ".join(names)
        call = f"{called}({', '.join([arrays_in] + keywords)})" + ("" if part is None else f"[{part}]")
    scalar = (op.elementwise and not any(sample.shapes)) or (op.family == "reduction" and not sample.params)
    expr = call if scalar else f"sum({call})"
    options = " ".join(f"--{n} '{a.tolist()}'" if a.ndim else f"--{n} {float(a)!r}" for n, a in zip(names, arrays))
    return f'gradcli grad "{expr}" {options}'


def describe(name: str) -> dict[str, Any]:
    """One operation in full: its catalog entry, derivative in words, kinks and a runnable example."""
    op = find(name)
    entry = next(e for e in catalog() if e.get("name") == op.name)
    return {**entry, "derivative": _derivative(op), "taylor_rule": _taylor(op), "kinks": _kinks(op),
            "example": example(op)}


def _shown(v: Any) -> str:
    """A kink's value as the language writes it: 1, [0, 0.5], inf."""
    if isinstance(v, list):
        return "[" + ", ".join(_shown(x) for x in v) + "]"
    return plain_number(float(v))


def render_description(entry: dict[str, Any], console: Any) -> None:
    from rich.text import Text

    console.print(Text(_call(entry), style="bold"))
    console.print(Text(entry["doc"]))
    console.print()
    console.print(Text("Derivative", style="bold cyan"))
    for line in entry["derivative"]:
        console.print(Text("  " + line))
    console.print(Text.assemble(("Taylor rule", "bold cyan"), f": {entry['taylor_rule']}"))
    if entry["kinks"]:
        console.print(Text("Kinks", style="bold cyan"))
        for k in entry["kinks"]:
            at = ", ".join(f"{n} = {_shown(v)}" for n, v in k["inputs"].items())
            grads = ", ".join(f"{n} gets {_shown(g)}" for n, g in k["gradients"].items())
            console.print(Text(f"  at {at}: {grads}" + (f" ({k['note']})" if k["note"] else "")))
    console.print(Text("Example", style="bold cyan"))
    console.print(Text("  " + entry["example"]))


def description_view(name: str) -> View:
    """json: one object; a few headed lines for people."""
    entry = describe(name)
    return View(json=once(lambda: [entry]),
                csv="gradcli ops NAME describes one function in words, which has no csv form: use --format table "
                    "or json",
                plain=NO_PLAIN, table=lambda console: render_description(entry, console))
