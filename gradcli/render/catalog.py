"""The language reference that `gradcli ops` prints, read from the operation registry.

`catalog()` gives one entry per public operation (and the syntax that is not an
operation), so a new operation shows up here with no change to this file; `catalog_view()`
is its View: a table per family, the entries as CSV rows or one JSON array.
"""

from __future__ import annotations

from typing import Any

from gradcli.autodiff.op import OPS
from gradcli.lang.parser import CONSTANTS
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
    "constant": "Constant arrays: sizes as whole numbers",
    "gradient control": "Gradient control",
    "syntax": "Syntax",
}
SYNTAX = [
    {"signature": "-x, +x", "family": "syntax", "doc": "unary minus and plus (looser than a power: -x**2 is -(x**2))"},
    {"signature": "a ^ b", "family": "syntax", "doc": "power, the same as a ** b; right-associative: 2^3^2 is 2^9"},
    {"signature": "x[i], m[i, j], m[:, 0], x[1:], x[::2]", "family": "syntax",
     "doc": "indexing and slicing, as numpy (negative indices count from the end)"},
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
PRECEDENCE = ("Precedence, loosest first: comparisons; + -; * / @; unary - +; ** ^ (right-associative); "
              "then calls, indexing, .T and methods")


def _rank(family: str) -> int:
    order = list(FAMILY_TITLES)
    return order.index(family) if family in order else len(order)


def catalog() -> list[dict[str, Any]]:
    """One entry per operation a user can write: name, signature, family, doc, aliases, method."""
    entries = []
    for op in OPS.values():
        if not op.public:
            continue
        called = op.aliases[0] if op.symbol else op.name
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
