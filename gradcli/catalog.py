"""The language reference that `gradcli ops` prints, read from the operation registry."""

from __future__ import annotations

from typing import Any

from .ops.registry import OPS

FAMILY_ORDER = ("operator", "comparison", "elementwise", "binary", "reduction", "linalg", "nn", "constant",
                "gradient control")
SYNTAX = [
    {"signature": "x[i], m[i, j], m[:, 0], x[1:], x[::2]", "family": "syntax", "doc": "indexing and slicing, as numpy"},
    {"signature": "x.T", "family": "syntax", "doc": "transpose"},
    {"signature": "[a, b, ...]", "family": "syntax", "doc": "stack items along a new first axis (scalars give a vector)"},
    {"signature": "pi, e", "family": "syntax", "doc": "the constants"},
]


def catalog() -> list[dict[str, Any]]:
    """One entry per operation a user can write: signature, family, doc, aliases."""
    entries = []
    for op in OPS.values():
        if not op.public:
            continue
        entries.append({"name": op.name, "signature": op.signature, "family": op.family, "doc": op.doc,
                        "aliases": list(op.aliases), "differentiable": op.differentiable})
    entries.sort(key=lambda e: FAMILY_ORDER.index(e["family"]) if e["family"] in FAMILY_ORDER else len(FAMILY_ORDER))
    return entries + SYNTAX


def render_catalog(entries: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="The expression language", title_justify="left")
    for header in ("family", "call", "what it does"):
        table.add_column(header)
    for e in entries:
        call = e["signature"] + (f"  (also {', '.join(e['aliases'])})" if e.get("aliases") else "")
        table.add_row(Text(e["family"]), Text(call, style="bold"), Text(e["doc"]))
    Console().print(table)
