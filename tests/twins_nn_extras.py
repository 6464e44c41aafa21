"""Attention, resampling and array builders in the differential suite: gradcli/ops/attention.py's
scaled_dot_product_attention, interpolate, pixel_shuffle, pixel_unshuffle, channel_shuffle, unflatten and
bilinear, and gradcli/ops/builders.py's functions, with generator forms that write them as PyTorch code does
(F.scaled_dot_product_attention(q, k, v, is_causal=True), F.interpolate(x[None], size=4, mode='linear')[0],
x.unflatten(0, (2, -1)), torch.rot90(x, 1, (0, 1))).

A twin takes gradcli's parameter names; a form that needs more axes than the value it makes adds leading axes
of one (x[None]) and takes them off again ([0]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF


def attention(q, k, v, mask=None, **params):
    return TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, **params)


def interpolate(x, **params):
    return TF.interpolate(x, **params)


def unflatten(x, axis, sizes):
    return torch.unflatten(x, axis, sizes)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    d.TWINS.update({
        "scaled_dot_product_attention": d.Twin(attention, "matmul"), "interpolate": d.Twin(interpolate, "array"),
        "pixel_shuffle": d.Twin(TF.pixel_shuffle, "array"), "pixel_unshuffle": d.Twin(TF.pixel_unshuffle, "array"),
        "channel_shuffle": d.Twin(TF.channel_shuffle, "array"), "unflatten": d.Twin(unflatten, "array"),
        "bilinear": d.Twin(TF.bilinear, "matmul")})
    d.FORMS.append((lambda shape: len(shape) <= 2, lambda b, shape, depth: _form(d, b, shape, depth)))


def _form(d, b, shape, depth):
    """One of the forms; those of a matrix make a value of fewer axes as a matrix of leading ones, read at 0."""
    build = b.pick([_attention, _interpolated, _interpolated, _shuffled, _channels, _unflattened, _bilinear])
    if build is _bilinear and shape:
        return build(d, b, shape, depth)
    lead = 2 - len(shape)
    if not lead:
        return build(d, b, shape, depth)
    inner = build(d, b, (1,) * lead + shape, depth)
    at = "[0]" * lead
    return d.Node(shape, [inner], lambda c: f"({c[0]}){at}", lambda v: v[0][(0,) * lead])


def _attention(d, b, shape, depth):
    """F.scaled_dot_product_attention(q, k, v): q (L, E), k (S, E), v (S, Ev), with a float mask (L, S), or
    is_causal, and a scale, or not."""
    length, width = shape
    source, inner = b.rng.randint(1, 3), b.rng.randint(1, 3)
    q, k, v = b.expr((length, inner), depth), b.expr((source, inner), depth), b.expr((source, width), depth)
    scale = b.pick([None, None, "0.5", "-1.5"])
    extra, params = (f", scale={scale}", {"scale": float(scale)}) if scale else ("", {})
    spelled = b.pick(["F.scaled_dot_product_attention", "torch.nn.functional.scaled_dot_product_attention"])
    if b.rng.random() < 0.4:
        mask = b.expr((length, source), depth)
        return d._op_node(shape, [q, k, v, mask], lambda c: f"{spelled}({c[0]}, {c[1]}, {c[2]}, {c[3]}{extra})",
                          "scaled_dot_product_attention", lambda v, fn: fn(*v, **params))
    if b.rng.random() < 0.5:
        extra, params = extra + ", is_causal=True", {**params, "is_causal": True}
    return d._op_node(shape, [q, k, v], lambda c: f"{spelled}({c[0]}, {c[1]}, {c[2]}{extra})",
                      "scaled_dot_product_attention", lambda v, fn: fn(*v, **params))


def _scale_for(b, size: int):
    """(input length, scale_factor) whose floored product is size, when one of the usual factors gives it."""
    fits = [(n, s) for n in (1, 2, 3) for s in (0.5, 1.5, 2.0, 2.5, 3.0) if int(n * s) == size]
    return b.pick(fits) if fits else None


def _interpolated(d, b, shape, depth):
    """F.interpolate of (C, L) as (1, C, L), or of (H, W) as (1, 1, H, W), by size or scale_factor."""
    two = b.rng.random() < 0.5
    mode = b.pick(["nearest", "nearest-exact", "bilinear", "bicubic"] if two else ["nearest", "nearest-exact", "linear"])
    axes = shape if two else shape[1:]
    scaled = [_scale_for(b, n) for n in axes] if b.rng.random() < 0.4 else [None]
    params, written = {}, ""
    if all(scaled) and len({s for _, s in scaled}) == 1:
        inputs = tuple(n for n, _ in scaled)
        params["scale_factor"] = scaled[0][1]
        written = f"scale_factor={scaled[0][1]}"
    else:
        inputs = tuple(b.rng.randint(1, 3) for _ in axes)
        params["size"] = tuple(axes) if two else axes[0]
        written = f"size={params['size']}"
    params["mode"] = mode
    written += f", mode='{mode}'"
    if mode in ("linear", "bilinear", "bicubic") and b.rng.random() < 0.5:
        params["align_corners"] = b.rng.random() < 0.5
        written += f", align_corners={params['align_corners']}"
    inner = b.expr(inputs if two else (shape[0],) + inputs, depth)
    lead, back = ("[None, None]", "[0, 0]") if two else ("[None]", "[0]")
    spelled = b.pick(["F.interpolate", "F.upsample", "torch.nn.functional.interpolate"])
    return d._op_node(shape, [inner], lambda c: f"{spelled}(({c[0]}){lead}, {written}){back}", "interpolate",
                      lambda v, fn: fn(v[0][(None,) * (2 if two else 1)], **params)[(0,) * (2 if two else 1)])


def _shuffled(d, b, shape, depth):
    """F.pixel_shuffle of (r², H, W) to (1, H r, W r), or F.pixel_unshuffle of (1, H r, W r) to (r², H, W)."""
    rows, columns = shape
    if b.rng.random() < 0.5:
        r = b.pick([r for r in (1, 2) if rows % r == 0 and columns % r == 0])
        inner = b.expr((r * r, rows // r, columns // r), depth)
        return d._op_node(shape, [inner], lambda c: f"F.pixel_shuffle({c[0]}, {r})[0]", "pixel_shuffle",
                          lambda v, fn: fn(v[0], r)[0])
    r = b.pick([1, 2])
    inner = b.expr((1, rows * r, columns * r), depth)
    text = b.pick([lambda c: f"F.pixel_unshuffle({c[0]}, {r})[0]",
                   lambda c: f"F.pixel_unshuffle({c[0]}, downscale_factor={r})[0]"])
    return d._op_node(shape, [inner], text, "pixel_unshuffle", lambda v, fn: fn(v[0], r)[0])


def _channels(d, b, shape, depth):
    """F.channel_shuffle of (1, C, L) with groups dividing C."""
    groups = b.pick([g for g in (1, 2, 3) if shape[0] % g == 0])
    inner = b.expr(shape, depth)
    return d._op_node(shape, [inner], lambda c: f"F.channel_shuffle(({c[0]})[None], {groups})[0]", "channel_shuffle",
                      lambda v, fn: fn(v[0][None], groups)[0])


def _unflattened(d, b, shape, depth):
    """x.unflatten(0, (n, m)) of a vector, one size -1 at times."""
    rows, columns = shape
    sizes = b.pick([(rows, columns), (rows, -1), (-1, columns)])
    inner = b.expr((rows * columns,), depth)
    text = b.pick([lambda c: f"({c[0]}).unflatten(0, {sizes})", lambda c: f"torch.unflatten({c[0]}, -1, {sizes})",
                   lambda c: f"({c[0]}).unflatten(dim=0, sizes={sizes})"])
    return d._op_node(shape, [inner], text, "unflatten", lambda v, fn: fn(v[0], 0, sizes))


def _bilinear(d, b, shape, depth):
    """F.bilinear(x1, x2, W[, b]): x1 (..., in1), x2 (..., in2), W (out, in1, in2) to (..., out)."""
    left, right = b.rng.randint(1, 3), b.rng.randint(1, 3)
    x1, x2 = b.expr(shape[:-1] + (left,), depth), b.expr(shape[:-1] + (right,), depth)
    weight = b.expr((shape[-1], left, right), depth)
    if b.rng.random() < 0.5:
        return d._op_node(shape, [x1, x2, weight], lambda c: f"F.bilinear({c[0]}, {c[1]}, {c[2]})", "bilinear",
                          lambda v, fn: fn(*v))
    bias = b.expr((shape[-1],), depth)
    return d._op_node(shape, [x1, x2, weight, bias], lambda c: f"F.bilinear({c[0]}, {c[1]}, {c[2]}, {c[3]})",
                      "bilinear", lambda v, fn: fn(*v))
