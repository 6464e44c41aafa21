"""The backward pass runs nodes in PyTorch's order, so cotangents that meet add up to its bits.

PyTorch's engine takes the ready node made last (the highest sequence number); where a
value feeds several operations, their cotangents are added in that order, and with three
or more the grouping shows in the last bits. Programs of + - * / on numbers (operations
whose every result is the correctly rounded one, in both libraries) with steps that feed
many others give torch's value and gradients bit for bit.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from gradcli.api import functional
from gradcli.api.problem import variable_names
from gradcli.autodiff import graph

torch = pytest.importorskip("torch")

OPERATORS = "+-*/"
NAMES = ("x", "y", "z")
CASES = 200


def random_program(rng: random.Random) -> tuple[list[tuple[str, str, str, str]], str]:
    """Steps (name, left, operator, right) over earlier names, most read several times, and the output."""
    names, steps = list(NAMES), []
    for k in range(rng.randint(3, 7)):
        left, right = rng.choice(names[-4:]), rng.choice(names)
        steps.append((f"s{k}", left, rng.choice(OPERATORS), right))
        names.append(f"s{k}")
    return steps, " + ".join(rng.sample(names[3:], min(3, len(names) - 3)))


def gradcli_text(steps, output) -> str:
    return "\n".join([f"{name} = {a} {op} {b}" for name, a, op, b in steps] + [output])


def torch_run(steps, output, values):
    env = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in values.items()}
    leaves = dict(env)
    apply = {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}
    for name, a, op, b in steps:
        env[name] = apply[op](env[a], env[b])
    out = sum((env[n.strip()] for n in output.split("+")[1:]), env[output.split("+")[0].strip()])
    out.backward()
    return out.detach().numpy(), {n: t.grad.numpy() if t.grad is not None else np.zeros(()) for n, t in leaves.items()}


def _same_bits(got, want) -> bool:
    """The same float64 to the bit (0.0 and -0.0 differ); any nan matches any nan (its sign and
    payload come from whichever operand the hardware passes on)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return got.tobytes() == want.tobytes() or bool(np.isnan(got) and np.isnan(want))


def _disagreements(cases: int) -> tuple[int, int]:
    """(programs whose numbers differ from torch's in any bit, programs where a value met 3+ cotangents)."""
    rng = random.Random(20261202)
    differ = shared = 0
    for _ in range(cases):
        steps, output = random_program(rng)
        values = {n: rng.choice([rng.uniform(-3, 3), rng.uniform(0.1, 2) * 10.0 ** rng.randint(-3, 3)]) for n in NAMES}
        text = gradcli_text(steps, output)
        reads = [a for _n, a, _o, b in steps for a in (a, b)] + [n.strip() for n in output.split("+")]
        shared += any(reads.count(n) >= 3 for n in set(reads))
        used = {n: v for n, v in values.items() if n in variable_names(text)}
        result = functional.grad(text, used)
        want_value, want = torch_run(steps, output, used)
        same = _same_bits(result.value, want_value) and all(_same_bits(result.gradients[n], want[n]) for n in used)
        differ += not same
    return differ, shared


def test_programs_with_shared_steps_give_torchs_bits():
    differ, shared = _disagreements(CASES)
    assert differ == 0
    assert shared >= CASES // 2  # most programs make some value meet three or more cotangents


def test_a_depth_first_order_would_not(monkeypatch):
    """The same programs run in a depth-first topological order (each node after its consumers,
    but not latest made first): some differ from torch in the last bits."""
    monkeypatch.setattr(functional, "creation_order", graph.topological_order)
    differ, _ = _disagreements(CASES)
    assert differ >= 5
