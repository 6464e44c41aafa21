"""Trees back to text: `sexpr` (S-expressions, the form the tests compare) and `unparse`
(canonical source text, parenthesised wherever precedence matters), both by the operator table
the parser reads.
"""

from __future__ import annotations

from gradcli.lang.grammar import IF_POWER, LEAVES, NOT_POWER, PRECEDENCE, SYMBOLS, UNARY_POWER
from gradcli.lang.tree import Expr, fold


def _quoted(text: str) -> str:
    """A string as the language writes it: in double quotes, or single ones when it holds a double."""
    return f"'{text}'" if '"' in text else f'"{text}"'


def sexpr(root: Expr) -> str:
    """S-expression form, for tests: -x**2 -> (neg (pow x 2))."""
    def combine(node: Expr, kids: list, kws: list) -> str:
        if node.kind == "num":
            v = node.value
            return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
        if node.kind == "name":
            return node.value
        if node.kind == "str":
            return _quoted(node.value)
        if node.kind in LEAVES:
            return LEAVES[node.kind]
        if node.kind == "def":
            name, params, body = node.value
            return f"(def {name} ({' '.join(params)}) {sexpr(body)})"
        if node.kind == "let":
            return f"(let {node.value} {kids[0]})"
        head = {"unary": node.value, "binary": node.value, "call": node.value, "attr": node.value}.get(node.kind, node.kind)
        parts = [k if k is not None else "_" for k in kids] + [f"{k}={v}" for k, v in kws]
        return "(" + " ".join([head, *parts]) + ")"
    return fold(root, combine)


def unparse(root: Expr) -> str:
    """Canonical text, parenthesised wherever precedence matters: -x**2 -> -(x**2)."""
    def combine(node: Expr, kids: list, kws: list) -> tuple[str, int]:
        k = node.kind
        if k == "num":
            return node.text or repr(node.value), 100
        if k == "name":
            return node.value, 100
        if k == "str":  # (a dtype, torch.float64, as written; a string in quotes)
            return node.text if node.text[:1].isalpha() else _quoted(node.value), 100
        if k in LEAVES:
            return LEAVES[k], 100
        if k == "unary" and node.value == "not":
            text, prec = kids[0]
            return "not " + (f"({text})" if prec < NOT_POWER else text), NOT_POWER
        if k == "unary":
            text, prec = kids[0]
            if prec < 100:
                text = f"({text})"
            return ("-" if node.value == "neg" else "+") + text, UNARY_POWER
        if k == "call" and node.text == "if":
            (cond, cp), (chosen, ap), (other, bp) = kids
            cond, chosen = (f"({t})" if p <= IF_POWER else t for t, p in ((cond, cp), (chosen, ap)))
            return f"{chosen} if {cond} else {other}", IF_POWER
        if k == "binary":
            prec = PRECEDENCE[node.value]
            (lt, lp), (rt, rp) = kids
            right_assoc = node.value == "pow"
            chain = prec == PRECEDENCE["lt"]  # comparisons do not chain: parenthesise both sides
            if lp < prec or ((right_assoc or chain) and lp == prec):
                lt = f"({lt})"
            if rp < prec or (not right_assoc and rp == prec):
                rt = f"({rt})"
            sym = SYMBOLS[node.value]
            spaced = prec <= 20 or sym in ("@", "//", "%")
            return (f"{lt} {sym} {rt}" if spaced else f"{lt}{sym}{rt}"), prec
        if k == "call":
            method = node.text.startswith(".")
            args = ", ".join([t for t, _ in kids[method:]] + [f"{name}={t}" for name, (t, _) in kws])
            if method:
                receiver, prec = kids[0]
                bare = prec == 100 and node.args[0].kind != "num"
                return (receiver if bare else f"({receiver})") + f"{node.text}({args})", 100
            return f"{node.text or node.value}({args})", 100
        if k == "index":
            (target, tp), *items = kids
            if tp < 100:
                target = f"({target})"
            return f"{target}[{', '.join(t for t, _ in items)}]", 100
        if k == "slice":
            parts = ["" if c is None else c[0] for c in kids]
            text = f"{parts[0]}:{parts[1]}" + (f":{parts[2]}" if kids[2] is not None else "")
            return text, 100
        if k == "attr":
            text, prec = kids[0]
            # NOTE: a number needs parentheses too: "2.T" would read as "2." then "T".
            bare = prec == 100 and node.args[0].kind != "num"
            return (text if bare else f"({text})") + f".{node.value}", 100
        if k == "list":
            return "[" + ", ".join(t for t, _ in kids) + "]", 100
        if k == "tuple":
            return "(" + ", ".join(t for t, _ in kids) + ("," if len(kids) == 1 else "") + ")", 100
        if k == "let":
            return f"{node.value} = {kids[0][0]}", 0
        if k == "def":
            name, params, body = node.value
            return f"{name}({', '.join(params)}) = {unparse(body)}", 0
        if k == "program":
            return "; ".join(t for t, _ in kids), 0
        raise AssertionError(k)
    return fold(root, combine)[0]
