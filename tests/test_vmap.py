"""Batching rules (autodiff/vmap.py) against the operation applied point by point.

Every operation, every sample: three points of inputs, with every input batched and then
each input alone batched (the others shared by every point). The batched value, and the
gradient of a random cotangent per point (the shared inputs' gradient is the sum over
points), must equal the point-by-point results: bit for bit where the rule runs the same
numpy calls on the whole arrays (elementwise operations), and otherwise within a few units
in the last place of the result's scale (a stacked matrix product may sum in another order).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from gradcli.autodiff.engine import Tensor, call, run_backward
from gradcli.autodiff.vmap import Points, at_points, rule_of
from gradcli.ops import OPS

N = 3
CASES = [(name, i) for name, op in OPS.items() for i in range(len(op.samples))]
ULPS = 8  # allowed where the batched rule runs other numpy calls than one point's
# Inputs whose values set the result's shape (repeat_interleave's counts): points that differ there have
# results of different shapes, which no batch holds; such an input is only shared here.
SHAPE_FROM_VALUES = {"repeat_interleave": 1}


def assert_same(batched: np.ndarray, looped: np.ndarray, exact: bool, what: str,
                sizes: np.ndarray | None = None) -> None:
    """sizes: how large the numbers summed into looped are (a shared input's gradient sums the points'
    gradients, so its rounding scales with their sizes, not with the sum's, which may cancel); looped's own
    sizes by default."""
    assert batched.shape == looped.shape, f"{what}: shape {batched.shape} != {looped.shape}"
    if exact:
        np.testing.assert_array_equal(batched, looped, err_msg=what)
        return
    sizes = np.abs(looped) if sizes is None else sizes
    scale = np.max(sizes, initial=0.0, where=np.isfinite(sizes))
    np.testing.assert_allclose(batched, looped, rtol=0, atol=ULPS * np.spacing(max(scale, 1e-300)), err_msg=what)


def subsets(arity: int) -> list[list[bool]]:
    every = [[True] * arity]
    return every + ([[i == j for j in range(arity)] for i in range(arity)] if arity > 1 else [])


def leaves(arrays: list[np.ndarray], on: bool) -> list[Tensor]:
    return [Tensor(a, requires_grad=on) for a in arrays]


def cotangents(found: dict, tensors: list[Tensor]) -> list[np.ndarray]:
    by_leaf = {id(node.tensor): ct.data for node, ct in found.items()}
    return [by_leaf.get(id(t), np.zeros(t.shape)) for t in tensors]


@pytest.mark.parametrize("name,index", CASES)
def test_batching_rule_matches_point_by_point(name, index):
    op = OPS[name]
    sample = op.samples[index]
    rng = np.random.default_rng(zlib.crc32(f"vmap/{name}/{index}".encode()))
    per_point = [sample.draw(rng) for _ in range(N)]
    grads = op.differentiable and any(d != "mask" for d in sample.domains())
    exact = bool(op.elementwise) and op.batching is None
    for batched in subsets(len(sample.shapes)):
        if name in SHAPE_FROM_VALUES and batched[SHAPE_FROM_VALUES[name]]:
            continue
        # the point-by-point reference; a shared input takes point 0's value
        inputs = [[per_point[i][k] if b else per_point[0][k] for k, b in enumerate(batched)] for i in range(N)]
        looped, seeds, ts_by_point = [], [], []
        for arrays in inputs:
            ts = leaves(arrays, grads)
            out = call(op, *ts, **sample.params)
            looped.append(out.data)
            seeds.append(rng.standard_normal(out.shape))
            ts_by_point.append(cotangents(run_backward([(out, Tensor(seeds[-1]))]), ts) if grads else None)
        stacked = [np.stack([per_point[i][k] for i in range(N)]) if b else per_point[0][k]
                   for k, b in enumerate(batched)]
        ts = leaves(stacked, grads)
        points = Points(N)
        for t, b in zip(ts, batched):
            if b:
                points.mark(t)
        with at_points(points):
            out = call(op, *ts, **sample.params)
        what = f"{name} sample {index}, batched {batched}"
        assert_same(out.data, np.stack(looped), exact, what + ": value")
        if not grads:
            continue
        found = cotangents(run_backward([(out, Tensor(np.stack(seeds)))]), ts)
        for k, b in enumerate(batched):
            if sample.domains()[k] == "mask":
                continue
            expected = np.stack([g[k] for g in ts_by_point])
            assert_same(found[k], expected if b else expected.sum(axis=0), exact and b, what + f": gradient {k}",
                        None if b else np.abs(expected).sum(axis=0))


def test_an_operation_without_a_rule_is_looped_and_correct():
    """cross takes axis= without a prepare: no rule is derived, so it runs once per point."""
    assert rule_of(OPS["cross"]).func.__name__ == "loop"
