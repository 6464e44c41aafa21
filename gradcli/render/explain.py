"""The text and JSON of `gradcli explain` and `gradcli jacobian --explain`, from the steps
analysis/explain.py records, and their View.

    table  the forward pass, the backward pass step by step, the gradients (text for people)
    json   {"expression", "wrt", "value", "steps", "gradients", "notes", "nonfinite",
            ["grad_output"], ["rows"]}

Steps are prose with numbers in them, not rows of numbers: CSV and plain are refused, and
the message points to the command that gives the numbers alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.analysis.explain import Explanation
from gradcli.analysis.rule_words import wrap
from gradcli.errors import caret_lines
from gradcli.lang.numbers import array_text, to_json
from gradcli.render.view import View, once


# -- text --------------------------------------------------------------------------------
def _v(a: Any) -> str:
    return array_text(a)


def _d(of: str, by: str) -> str:
    return f"∂{wrap(of)}/∂{wrap(by)}"


def forward_lines(e: Explanation) -> list[str]:
    """One line per forward step: `text = operands = value    node name`."""
    lines = ["Forward pass, in evaluation order"]
    width = min(40, max((len(s["expression"]) for s in e.forward), default=0))
    for s in e.forward:
        if s["op"] in ("variable", "constant"):
            body = _v(s["value"])
            tag = s["op"] + (" (requires grad)" if s.get("requires_grad") else "")
        else:
            value = _v(s["value"])
            body = value if s["computed"] == value else f"{s['computed']} = {value}"
            tag = s["node"] or "no gradient"
        lines.append(f"  {s['expression']:<{width}} = {body}    {tag}")
    return lines


def backward_lines(steps: list[dict[str, Any]], root: str, output: str = "L") -> list[str]:
    """The backward steps; the root's upstream is named output (L, or out for a VJP)."""
    lines = []
    for s in steps:
        if s["phase"] == "accumulate":
            total = " + ".join(_v(t) for t in s["terms"])
            if len(s["terms"]) > 1:
                total += f" = {_v(s['gradient'])}   (one term per path: {', '.join(s['from'])})"
            lines += [f"  AccumulateGrad  {s['expression']}", f"    {_d('L', s['expression'])} = {total}"]
            continue
        up = " + ".join(_v(t) for t in s["upstream_terms"])
        if len(s["upstream_terms"]) > 1:
            up += f" = {_v(s['upstream'])}"
        at_root = s["expression"] == root
        lines += [f"  {s['node']}  {s['expression']}",
                  f"    upstream  {_d('L', output if at_root else s['expression'])} = {up}"
                  + (" (the seed)" if at_root else "")]
        for x in s["inputs"]:
            rule = x["rule"]
            if x["local"] is not None and rule.rsplit(" = ", 1)[-1] != _v(x["local"]).removesuffix(".0"):
                rule += f" = {_v(x['local'])}"
            passed = _v(x["gradient"])
            if x["local"] is not None:
                passed = f"{_v(s['upstream'])} × {_v(x['local'])} = {passed}"
            if x["summed"]:
                passed += "   (summed over the broadcast axes)"
            lines += [f"    rule      {rule}", f"    passes    {_d('L', x['expression'])} = {passed}"]
        if "note" in s:
            lines.append(f"    note      {s['note']}")
    return lines


def _gradient_lines(gradients: dict[str, Any], of: str = "L") -> list[str]:
    return [f"  {_d(of, name)} = {_v(g)}" for name, g in gradients.items()]


def explanation_lines(e: Explanation) -> list[str]:
    """The whole explanation as text: header, forward, backward, gradients, rows, trailer."""
    root = e.forward[-1]["expression"] if e.forward else e.source
    wrt = f"differentiated with respect to {', '.join(e.wrt)}"
    if e.value.dtype == np.float32:  # (float64, the default, goes unsaid)
        wrt += ", in float32"
    if e.grad_output is None:
        lines = [f"L = {e.source} = {_v(e.value)}, {wrt}", ""]
        output = "L"
    else:
        lines = [f"out = {e.source} = {_v(e.value)}", f"L = sum(v * out) with v = {_v(e.grad_output)} "
                 f"(the vector-Jacobian product vᵀJ), {wrt}", ""]
        output = "out"
    lines += forward_lines(e) + [""]
    lines.append("Backward pass, in the order the engine runs it")
    lines += backward_lines(e.backward, root, output) or [
        "  nothing to do: no variable with a gradient reaches the output"]
    lines += ["", "Gradients (as gradcli grad gives them)", *_gradient_lines(e.gradients)]
    if e.rows:
        lines += ["", "The same result from the rows of the Jacobian, one backward pass per basis vector:"]
        for r in e.rows:
            lines += [f"  backward({_v(r['seed'])}) gives row {r['row']}:",
                      *("  " + line for line in _gradient_lines(r["gradients"], f"out{r['index']}"))]
        for name in e.wrt:
            terms = " + ".join(f"{_v(c)} × row {r['row']}" for c, r in zip(np.ravel(e.grad_output), e.rows))
            lines.append(f"  vᵀJ for {name} = {terms} = {_v(e.gradients[name])}")
    return lines + _trailer(e)


def jacobian_lines(e: Explanation) -> list[str]:
    """`jacobian --explain` as text: the forward pass, one backward pass per row, the rows stacked."""
    in_dtype = ", in float32" if e.value.dtype == np.float32 else ""
    lines = [f"out = {e.source} = {_v(e.value)}{in_dtype}", "", *forward_lines(e), "",
             "Each row of the Jacobian is one backward pass, seeded with a basis vector:"]
    root = e.forward[-1]["expression"] if e.forward else e.source
    for r in e.rows:
        lines += ["", f"Row {r['row']}: backward({_v(r['seed'])}), so L = out{r['index']}"]
        lines += backward_lines(r["steps"], root, "out")
        lines += [f"  row {r['row']}:", *("  " + line for line in _gradient_lines(r["gradients"], f"out{r['index']}"))]
    lines += ["", "Jacobian (the rows stacked; as gradcli jacobian gives it)"]
    for name in e.wrt:
        lines.append(f"  {_d('out', name)} = {_v(e.jacobian[name])}")
    return lines + _trailer(e)


def nonfinite_report(bad: dict[str, Any]) -> dict[str, Any]:
    """The first nan or inf in words: where it is, a message, and the rewrite that avoids a where trap."""
    out = {"phase": bad["phase"], "expression": bad["expression"], "span": bad["span"]}
    if bad["phase"] == "forward":
        out["message"] = f"the value of {bad['expression']} became {bad['became']}"
        if bad["unused"]:
            out["message"] += " (the result stays finite: that value is not used, as in a where branch not taken)"
        return out
    out["message"] = (f"the gradient passed from {bad['expression']} to {bad['input']} became {bad['became']} "
                      f"({bad['node']}: {bad['rule']})")
    if "where_cond" in bad:
        out["where_trap"] = _where_trap(bad["where_cond"], bad["expression"], bad["input"])
    return out


def _where_trap(cond: str, text: str, input_text: str) -> str:
    if input_text in text:
        safe = text.replace(input_text, f"where({cond}, {input_text}, 1)", 1)
        rewrite = f"rewrite {text} as {safe}"
    else:
        rewrite = f"feed {text} a safe input where {cond} is false, e.g. where({cond}, {input_text}, 1)"
    return (f"the where trap: where({cond}, ...) passes a zero gradient into the branch it did not take, "
            f"but {text} has an infinite or undefined derivative there, and 0 × inf = nan. Both branches are "
            f"differentiated, so make the untaken one safe: {rewrite} (any value where {text} is finite "
            f"will do in place of 1)")


def _trailer(e: Explanation) -> list[str]:
    lines = []
    if e.notes:
        lines += ["", "Non-differentiable points", *(f"  note: {n}" for n in e.notes)]
    if e.nonfinite:
        bad = nonfinite_report(e.nonfinite)
        lines += ["", f"Not finite: {bad['message']}"]
        if bad["span"] is not None:
            lines += caret_lines(e.source, tuple(bad["span"]))
        if "where_trap" in bad:
            lines.append(f"  {bad['where_trap']}")
    return lines


# -- JSON --------------------------------------------------------------------------------
def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return to_json(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def explanation_payload(e: Explanation) -> dict[str, Any]:
    """The JSON object: expression, wrt, value, steps (forward, backward, accumulate), result."""
    out = {"expression": e.source, "wrt": e.wrt, **({"dtype": "float32"} if e.value.dtype == np.float32 else {}),
           "value": e.value,
           "steps": [*e.forward, *e.backward], "gradients": e.gradients, "notes": e.notes,
           "nonfinite": e.nonfinite and nonfinite_report(e.nonfinite)}
    if e.grad_output is not None:
        out["grad_output"] = e.grad_output
    if e.rows:
        out["rows"] = e.rows
    return _plain(out)


def explain_view(e: Explanation, lines: Callable[[Explanation], list[str]], command: str) -> View:
    """The explanation as text (table) or JSON; command names what gives the numbers alone."""
    refused = (f"the explanation is text for people (--format table) or data (--format json), not {{}}: "
               f"`gradcli {command} --format {{}}` gives the numbers alone")

    def table(console: Any) -> None:
        # Written as it is: the lines are laid out already and must not be re-wrapped.
        console.file.write("\n".join(lines(e)) + "\n")

    return View(json=once(lambda: [explanation_payload(e)]), csv=refused.format("CSV", "csv"),
                plain=refused.format("plain numbers", "plain"), table=table)
