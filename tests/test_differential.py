"""gradcli against PyTorch on random expressions over every operation (tests/differential.py).

Each stream of values (random, integers, kink points, non-finite entries, large
magnitudes) runs a fixed number of seeded cases at first order (value, VJP, Jacobian) and
at second order (Hessian). A case passes when gradcli agrees with torch in float64
(rtol 1e-9), or differs exactly as a documented entry of docs/differences.md; it is
dropped only when torch raises or a few-ulp nudge of the inputs moves torch's own answer
beyond the tolerance. A failure lists each disagreement in its minimal form.
GRADCLI_LONG_TESTS=1 runs 20 times as many cases.
"""

from __future__ import annotations

import os
import re
import warnings

import pytest

torch = pytest.importorskip("torch")

import differential  # noqa: E402  (needs torch)
from test_differences import documented_entries  # noqa: E402

from gradcli.autodiff.op import FUNCTIONS  # noqa: E402

CASES = 250 * (20 if os.environ.get("GRADCLI_LONG_TESTS") == "1" else 1)


@pytest.mark.parametrize("order", ["first", "second"])
@pytest.mark.parametrize("stream", differential.STREAMS)
def test_gradcli_agrees_with_pytorch(stream, order):
    outcomes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for outcome in differential.run(CASES, (stream,), second_order=(order == "second",)):
            outcomes.append(outcome)
    kinds = [o.kind for o in outcomes]
    disagreements = [o for o in outcomes if o.kind == "disagree"]
    report = "\n".join(f"{o.case.minimal_form()}\n    {o.detail[:300]}" for o in disagreements[:8])
    assert not disagreements, f"{len(disagreements)} of {len(outcomes)} cases disagree with torch:\n{report}"
    # Enough cases ran to a comparison: drops (torch raising, ill-conditioning) stay rare.
    assert len(outcomes) == CASES
    assert kinds.count("agree") + kinds.count("documented") >= 0.9 * CASES, {k: kinds.count(k) for k in set(kinds)}


def test_every_operation_has_a_torch_twin():
    """Every function an expression can call is generated and compared: a new operation needs a twin."""
    missing = sorted({op.name for op in FUNCTIONS.values()} - set(differential.TWINS))
    assert missing == []


def test_every_operation_appears_in_the_generated_cases():
    """Within 4000 seeds (the tree of a case depends on its seed and order, not its stream): the
    comparisons above take the first CASES of them, GRADCLI_LONG_TESTS=1 5000. (With some 400
    operations, the rarest appear once or twice in 4000.)"""
    seen = set()
    for stream in differential.STREAMS[:1]:
        for seed in range(max(CASES, 4000)):
            for order in (False, True):
                seen |= differential.make_case(seed, stream, second_order=order).ops()
    assert sorted(set(differential.TWINS) - seen) == []


def test_any_seed_and_depth_builds_a_case():
    """The generator never fails where the suite's seeds do not reach: far seeds (6535 drew an svdvals
    of a 4-vector from a 4x3 matrix), and trees deeper than the suite's, as long runs may ask."""
    seeds = [6535, 7286, 9243, 26614, 43015, *range(10**4, 10**5, 997)]
    cases = [differential.make_case(seed, "random", second_order=order, max_depth=depth)
             for seed in seeds for depth in (4, 6) for order in (False, True)]
    assert len(cases) == 4 * len(seeds) and all(case.values for case in cases)


def test_the_documented_table_and_the_torch_variants_name_the_same_entries():
    variants = {entry for twin in differential.TWINS.values() for entry in twin.variants}
    assert variants == set(documented_entries())


def test_a_wrong_rule_is_found_and_shrunk():
    """The harness itself: a twin with a wrong derivative is caught, and shrinking keeps the culprit."""
    wrong = differential.TWINS["sin"]
    differential.TWINS["sin"] = differential.Twin(lambda x: torch.sin(x) + 0.001 * x ** 2, "unary")
    try:
        found = [o for o in differential.run(1500, ("random",), second_order=(False,), op="sin")
                 if o.kind == "disagree"]
    finally:
        differential.TWINS["sin"] = wrong
    # Shrinking takes a case down to the wrong operation applied to a variable, however spelled.
    smallest = [o.case.text for o in found if len(list(o.case.tree.walk())) == 2 and "sin" in o.case.ops()]
    assert smallest, [o.case.text for o in found]
    assert all(re.fullmatch(r"(torch\.)?sin\(v\d+\)|\(v\d+\)\.sin\(\)", text) for text in smallest)
