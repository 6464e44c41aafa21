"""Attention, resampling and channel rearrangements (gradcli/ops/attention.py) against PyTorch.

Each call is compared with torch.nn.functional in float64 (value, gradient of a weighted sum, Hessian) and in
float32 (value and gradient), in the spellings PyTorch code writes: positional and keyword parameters, F. and
torch.nn.functional., methods. The edge cases are PyTorch's: a fully masked attention row is zeros with no
gradient, interpolation's source indices at align_corners, scale factors that are not whole, and sizes equal to
the input's. The registry-wide tests and the differential suite cover the records too.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli
from torch_agreement import agrees as _agrees

from gradcli.api import functional
from gradcli.errors import GradcliError

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(7)


# -- scaled_dot_product_attention ----------------------------------------------------------------------
Q, K, V = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 3))
MASK = RNG.standard_normal((3, 5))
MASK[0, 1] = -np.inf


@pytest.mark.parametrize("text, params", [
    ("F.scaled_dot_product_attention(q, k, v)", {}),
    ("torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)", {"is_causal": True}),
    ("F.scaled_dot_product_attention(q, k, v, 0, 0.0, True)", {"is_causal": True}),  # (a mask of 0: none)
    ("F.scaled_dot_product_attention(q, k, v, scale=0.3)", {"scale": 0.3}),
    ("F.scaled_dot_product_attention(q, key=k, value=v, scale=-1.5)", {"scale": -1.5}),
])
def test_attention_is_pytorchs_math_backend(text, params):
    for dtype in ("float64", "float32"):
        _agrees(text, lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **params),
                {"q": Q, "k": K, "v": V}, dtype=dtype)


def test_a_float_mask_is_added_and_a_row_of_minus_infinity_gives_zeros():
    mask = MASK.copy()
    mask[2] = -np.inf  # every key masked out: torch's math backend gives 0, with no gradient (not nan)
    _agrees("F.scaled_dot_product_attention(q, k, v, m)", TF.scaled_dot_product_attention,
            {"q": Q, "k": K, "v": V, "m": mask})
    _agrees("F.scaled_dot_product_attention(q, k, v, attn_mask=m)", TF.scaled_dot_product_attention,
            {"q": Q, "k": K, "v": V, "m": mask}, dtype="float32")
    r = functional.grad("F.scaled_dot_product_attention(q, k, v, m).sum()", {"q": Q, "k": K, "v": V, "m": mask})
    assert np.all(r.gradients["q"][:, 2] == 0) and np.all(np.isfinite(r.gradients["k"]))


def test_grouped_query_attention_repeats_each_key_head():
    q, k, v = RNG.standard_normal((1, 4, 2, 3)), RNG.standard_normal((1, 2, 3, 3)), RNG.standard_normal((1, 2, 3, 2))
    _agrees("F.scaled_dot_product_attention(q, k, v, enable_gqa=True)",
            lambda *a: TF.scaled_dot_product_attention(*a, enable_gqa=True), {"q": q, "k": k, "v": v})


def test_attention_refuses_dropout_and_a_mask_beside_is_causal():
    with pytest.raises(GradcliError, match=r"dropout_p=0\.0"):
        functional.grad("F.scaled_dot_product_attention(q, k, v, dropout_p=0.1).sum()", {"q": Q, "k": K, "v": V})
    with pytest.raises(GradcliError, match="is_causal=True or an attn_mask, not both"):
        functional.grad("F.scaled_dot_product_attention(q, k, v, m, is_causal=True).sum()",
                        {"q": Q, "k": K, "v": V, "m": MASK})
    with pytest.raises(GradcliError, match="do not fit"):
        functional.grad("F.scaled_dot_product_attention(q, k, v).sum()", {"q": Q, "k": K, "v": V[:, :4]})


# -- interpolate ------------------------------------------------------------------------------------
INTERPOLATIONS = [
    ((1, 2, 3), "size=5", {"size": 5}),
    ((1, 1, 4), "scale_factor=0.6", {"scale_factor": 0.6}),
    ((2, 1, 5), "scale_factor=1.7, mode='nearest-exact'", {"scale_factor": 1.7, "mode": "nearest-exact"}),
    ((1, 1, 3, 2), "None, 2", {"scale_factor": 2}),
    ((1, 2, 3), "scale_factor=1.7, mode='linear'", {"scale_factor": 1.7, "mode": "linear"}),
    ((1, 2, 3), "scale_factor=1.7, mode='linear', recompute_scale_factor=True",
     {"scale_factor": 1.7, "mode": "linear", "recompute_scale_factor": True}),
    ((1, 1, 3), "size=3, mode='linear'", {"size": 3, "mode": "linear"}),
    ((1, 1, 2, 3), "size=(3, 5), mode='bilinear', align_corners=True",
     {"size": (3, 5), "mode": "bilinear", "align_corners": True}),
    ((1, 1, 4, 3), "(3, 7), None, 'bilinear', False", {"size": (3, 7), "mode": "bilinear", "align_corners": False}),
    ((1, 1, 2, 2, 2), "scale_factor=1.5, mode='trilinear'", {"scale_factor": 1.5, "mode": "trilinear"}),
    ((1, 1, 3, 3), "size=(4, 2), mode='bicubic'", {"size": (4, 2), "mode": "bicubic"}),
    ((1, 2, 3, 4), "size=(7, 3), mode='bicubic', align_corners=True",
     {"size": (7, 3), "mode": "bicubic", "align_corners": True}),
    ((1, 1, 3, 3), "scale_factor=2.5, mode='bicubic'", {"scale_factor": 2.5, "mode": "bicubic"}),
    ((1, 2, 5, 3), "size=(2, 3), mode='area'", {"size": (2, 3), "mode": "area"}),  # adaptive average pooling
    ((1, 1, 7), "scale_factor=0.5, mode='area'", {"scale_factor": 0.5, "mode": "area"}),
]


@pytest.mark.parametrize("shape, written, params", INTERPOLATIONS)
def test_interpolate_reads_the_entries_pytorchs_kernels_read(shape, written, params):
    x = RNG.standard_normal(shape)
    text = f"F.interpolate(x, {written.replace('None, 2', 'scale_factor=2')})"
    _agrees(text, lambda t: TF.interpolate(t, **params), {"x": x}, hessian=x.size < 10)
    _agrees(text, lambda t: TF.interpolate(t, **params), {"x": x}, dtype="float32")


def test_upsample_is_interpolate_and_its_value_is_written_out():
    # (0, 1, 2) at scale 2, linear, half-pixel centres (clamped at the ends): 0, 0.25, 0.75, 1.25, 1.75, 2
    r = functional.grad("F.upsample(x, scale_factor=2, mode='linear').sum()", {"x": np.array([[[0.0, 1.0, 2.0]]])})
    assert float(r.value) == pytest.approx(6.0, rel=1e-15)
    np.testing.assert_allclose(r.gradients["x"], [[[2.0, 2.0, 2.0]]], rtol=1e-15)  # each entry weighs 2 in all
    r = functional.grad("F.interpolate(x, size=5, mode='linear', align_corners=True)", {"x": np.array([[[0.0, 1.0, 4.0]]])},
                        grad_output=np.ones((1, 1, 5)))
    np.testing.assert_allclose(r.value, [[[0.0, 0.5, 1.0, 2.5, 4.0]]], rtol=1e-15)


def test_interpolate_takes_pytorchs_modes_and_refuses_what_torch_refuses():
    x = {"x": np.ones((1, 1, 3))}
    with pytest.raises(GradcliError, match="one of size and scale_factor"):
        functional.grad("F.interpolate(x).sum()", x)
    with pytest.raises(GradcliError, match="align_corners goes with the interpolating modes"):
        functional.grad("F.interpolate(x, size=4, align_corners=True).sum()", x)
    with pytest.raises(GradcliError, match="takes an input of 4 axes"):
        functional.grad("F.interpolate(x, size=4, mode='bilinear').sum()", x)
    with pytest.raises(GradcliError, match="adaptive_avg_pool3d"):
        functional.grad("F.interpolate(x, size=2, mode='area').sum()", {"x": np.ones((1, 1, 2, 2, 2))})


# -- shuffles, unflatten, bilinear ---------------------------------------------------------------------

def test_pixel_shuffle_and_unshuffle_rearrange_as_pytorch():
    x = RNG.standard_normal((2, 8, 2, 3))
    _agrees("F.pixel_shuffle(x, 2)", lambda t: TF.pixel_shuffle(t, 2), {"x": x}, hessian=False)
    _agrees("F.pixel_shuffle(x, upscale_factor=2)", lambda t: TF.pixel_shuffle(t, 2), {"x": x[0]}, hessian=False)
    y = RNG.standard_normal((3, 4, 6))
    _agrees("F.pixel_unshuffle(x, 2)", lambda t: TF.pixel_unshuffle(t, 2), {"x": y}, hessian=False)
    r = functional.grad("F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2)", {"x": x}, grad_output=np.ones(x.shape))
    np.testing.assert_array_equal(r.value, x)
    with pytest.raises(GradcliError, match="upscale_factor"):
        functional.grad("F.pixel_shuffle(x, 3).sum()", {"x": x})


def test_channel_shuffle_interleaves_the_groups():
    x = RNG.standard_normal((2, 6, 2))
    _agrees("F.channel_shuffle(x, 3)", lambda t: TF.channel_shuffle(t, 3), {"x": x}, hessian=False)
    r = functional.grad("F.channel_shuffle(x, 2)", {"x": np.arange(4.0).reshape(1, 4, 1)}, grad_output=np.ones((1, 4, 1)))
    np.testing.assert_array_equal(r.value.reshape(-1), [0, 2, 1, 3])


@pytest.mark.parametrize("text, fn", [
    ("x.unflatten(1, (2, -1))", lambda t: t.unflatten(1, (2, -1))),
    ("torch.unflatten(x, -1, (3, 1))", lambda t: torch.unflatten(t, -1, (3, 1))),
    ("x.unflatten(dim=0, sizes=(1, 2))", lambda t: t.unflatten(dim=0, sizes=(1, 2))),
])
def test_unflatten_splits_one_axis(text, fn):
    _agrees(text, fn, {"x": RNG.standard_normal((2, 6, 3))}, hessian=False)


def test_unflatten_refuses_sizes_that_do_not_make_the_axis():
    with pytest.raises(GradcliError, match=r"sizes \(4, -1\) do not make an axis of 6"):
        functional.grad("x.unflatten(1, (4, -1)).sum()", {"x": np.ones((2, 6))})


def test_bilinear_is_x1_a_x2_plus_b_with_its_hessian():
    a, b, w, c = (RNG.standard_normal(s) for s in ((2, 3), (2, 2), (4, 3, 2), (4,)))
    _agrees("F.bilinear(a, b, W, c)", TF.bilinear, {"a": a, "b": b, "W": w, "c": c})
    _agrees("torch.nn.functional.bilinear(a, b, W)", TF.bilinear, {"a": a[0], "b": b[0], "W": w})
    _agrees("F.bilinear(a, b, W, bias=c)", TF.bilinear, {"a": a, "b": b, "W": w, "c": c}, dtype="float32")


def test_the_command_line_runs_attention_and_interpolate():
    run = run_cli("grad", "F.scaled_dot_product_attention(q, k, v, is_causal=True).sum()", "--q", "[[1, 0], [0, 1]]",
                  "--k", "[[1, 1], [0, 2]]", "--v", "[[1, 2], [3, 4]]", "--wrt", "v", "--format", "json")
    assert run.exit_code == 0, run.stderr
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    k = torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)
    v = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    out = TF.scaled_dot_product_attention(q, k, v, is_causal=True).sum()
    out.backward()
    payload = json.loads(run.stdout)
    assert payload["value"] == pytest.approx(out.item(), rel=1e-14)
    np.testing.assert_allclose(payload["gradients"]["v"], v.grad.numpy(), rtol=1e-14)
    run = run_cli("grad", "F.interpolate(x, scale_factor=2, mode='bilinear').sum()", "--x", "[[[[1, 2], [3, 4]]]]",
                  "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["value"] == pytest.approx(40.0, rel=1e-15)


def test_a_boolean_mask_written_as_a_float_mask_is_pytorchs_boolean_mask():
    """gradcli's comparisons are 0 and 1, added as a float mask would be; masked_fill makes PyTorch's boolean one."""
    m = Q[0, :, :1] @ K[0, :, :1].T > 0  # (3, 5), some rows partly kept
    r = functional.grad("F.scaled_dot_product_attention(q, k, v, torch.zeros(3, 5).masked_fill(m == 0, -inf)).sum()",
                        {"q": Q, "k": K, "v": V, "m": m.astype(float)}, wrt=["q", "k", "v"])
    leaves = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    out = TF.scaled_dot_product_attention(*leaves, attn_mask=torch.tensor(m)).sum()
    out.backward()
    assert float(r.value) == pytest.approx(out.item(), rel=1e-13)
    for name, leaf in zip("qkv", leaves):
        np.testing.assert_allclose(r.gradients[name], leaf.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_an_attention_mask_written_as_a_mask_keeps_where_it_is_true():
    """attn_mask=(q @ k.T) > 0 and m.bool() are PyTorch's bool masks (True keeps), not 0/1 added to the scores."""
    torch = pytest.importorskip("torch")
    values = {"q": np.array([[1.0, 0.0], [0.5, 1.0]]), "k": np.array([[1.0, 1.0], [0.0, -2.0], [1.0, -1.0]]),
              "v": np.array([[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]]), "m": np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])}
    expr = ("F.scaled_dot_product_attention(q, k, v, attn_mask=(q @ k.T) > 0).pow(2).sum() + "
            "F.scaled_dot_product_attention(q, k, v, m.bool()).pow(2).sum()")
    result = functional.grad(expr, values)
    t = {n: torch.tensor(a, requires_grad=True) for n, a in values.items()}
    TF = torch.nn.functional
    out = (TF.scaled_dot_product_attention(t["q"], t["k"], t["v"], attn_mask=(t["q"] @ t["k"].T) > 0).pow(2).sum()
           + TF.scaled_dot_product_attention(t["q"], t["k"], t["v"], t["m"].bool()).pow(2).sum())
    out.backward()
    assert float(result.value) == pytest.approx(out.item(), rel=1e-14)
    for n in ("q", "k", "v"):
        np.testing.assert_allclose(result.gradients[n], t[n].grad.numpy(), rtol=1e-12, atol=1e-15)
