"""Attention, resampling and array builders in the differential suite: gradcli/ops/attention.py's
scaled_dot_product_attention, interpolate, pixel_shuffle, pixel_unshuffle, channel_shuffle, unflatten and
bilinear, and gradcli/ops/builders.py's functions, with generator forms that write them as PyTorch code does
(F.scaled_dot_product_attention(q, k, v, is_causal=True), F.interpolate(x[None], size=4, mode='linear')[0],
x.unflatten(0, (2, -1)), torch.rot90(x, 1, (0, 1))).

A twin takes gradcli's parameter names; a form that needs more axes than the value it makes adds leading axes
of one (x[None]) and takes them off again ([0]).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF


def attention(q, k, v, mask=None, **params):
    return TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, **params)


def interpolate(x, **params):
    return TF.interpolate(x, **params)


def unflatten(x, axis, sizes):
    return torch.unflatten(x, axis, sizes)


def rot90(x, k=1, dims=(0, 1)):
    return torch.rot90(x, k, dims)


def cholesky_solve(B, L, upper=False):
    """torch.cholesky_solve where L is triangular (as the forms write it); gradcli reads a full L whole, as
    (L Lᵀ)⁻¹ B, the function whose derivative torch's rule gives: the two solves with L there."""
    if torch.equal(L, L.triu() if upper else L.tril()):
        return torch.cholesky_solve(B, L, upper)
    first, second = (L.mT, L) if upper else (L, L.mT)
    return torch.linalg.solve(second, torch.linalg.solve(first, B))


def solve_triangular(A, B, upper, left=True, unitriangular=False):
    return torch.linalg.solve_triangular(A, B, upper=bool(upper), left=bool(left), unitriangular=bool(unitriangular))


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    return torch.triangular_solve(b, A, bool(upper), bool(transpose), bool(unitriangular))[0]


def vander(x, N=None, increasing=False):
    """torch.vander's values and rule: its backward raises in torch 2.13 (cumprod_out into a view), so the
    twin is torch.linalg.vander's same running product, its columns reversed."""
    n = x.shape[0] if N is None else N
    out = torch.linalg.vander(x, N=n) if n > 1 else torch.ones(x.shape[0], n, dtype=x.dtype)
    return out if increasing else out.flip(-1)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    d.TWINS.update({
        "scaled_dot_product_attention": d.Twin(attention, "matmul"), "interpolate": d.Twin(interpolate, "array"),
        "pixel_shuffle": d.Twin(TF.pixel_shuffle, "array"), "pixel_unshuffle": d.Twin(TF.pixel_unshuffle, "array"),
        "channel_shuffle": d.Twin(TF.channel_shuffle, "array"), "unflatten": d.Twin(unflatten, "array"),
        "bilinear": d.Twin(TF.bilinear, "matmul"), "rot90": d.Twin(rot90, "array"),
        "block_diag": d.Twin(torch.block_diag, "array"), "cartesian_prod": d.Twin(torch.cartesian_prod, "array"),
        "combinations": d.Twin(torch.combinations, "index"), "diag_embed": d.Twin(torch.diag_embed, "array"),
        "diagflat": d.Twin(torch.diagflat, "array"), "vander": d.Twin(vander, "array"),
        "solve_triangular": d.Twin(solve_triangular, "matrix"), "cholesky_solve": d.Twin(cholesky_solve, "matrix"),
        "triangular_solve": d.Twin(triangular_solve, "matrix")})
    d.FORMS.append((lambda shape: len(shape) <= 2, lambda b, shape, depth: _form(d, b, shape, depth)))


def _form(d, b, shape, depth):
    """One of the forms; those of a matrix make a value of fewer axes as a matrix of leading ones, read at 0."""
    build = b.pick([_attention, _interpolated, _interpolated, _shuffled, _channels, _unflattened, _bilinear,
                    _rotated, _blocks, _product, _product, _combined, _combined, _diagonal, _diagonal, _vandermonde,
                    _triangular, _triangular, _triangular])
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
    mode = b.pick(["nearest", "nearest-exact", "bilinear", "bicubic", "area"] if two else
                  ["nearest", "nearest-exact", "linear", "area"])
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


def _rotated(d, b, shape, depth):
    """torch.rot90(x, k, dims) or x.rot90(k): an odd k turns (m, n) into (n, m)."""
    k = b.pick([1, 2, 3, -1, 0, 5])
    dims = b.pick([(0, 1), (1, 0), (-1, 0)])
    inner = b.expr(shape[::-1] if k % 2 else shape, depth)
    text = b.pick([lambda c: f"torch.rot90({c[0]}, {k}, {dims})", lambda c: f"({c[0]}).rot90({k}, dims={dims})",
                   lambda c: f"torch.rot90({c[0]}, k={k}, dims={list(dims)})"])
    return d._op_node(shape, [inner], text, "rot90", lambda v, fn: fn(v[0], k, dims))


def _blocks(d, b, shape, depth):
    """torch.block_diag of two blocks that fill (m, n), or one (a vector as a row)."""
    rows, columns = shape
    if rows < 2 or columns < 2:
        inner = b.expr((columns,) if rows == 1 else shape, depth)
        return d._op_node(shape, [inner], lambda c: f"torch.block_diag({c[0]})", "block_diag", lambda v, fn: fn(*v))
    top, left = b.rng.randint(1, rows - 1), b.rng.randint(1, columns - 1)
    parts = [b.expr((top, left), depth), b.expr((rows - top, columns - left), depth)]
    return d._op_node(shape, parts, lambda c: f"torch.block_diag({c[0]}, {c[1]})", "block_diag", lambda v, fn: fn(*v))


def _product(d, b, shape, depth):
    """torch.cartesian_prod of vectors whose lengths multiply to the rows (of one: the vector, as a column)."""
    rows, columns = shape
    if columns == 1:
        inner = b.expr((rows,), depth)
        return d._op_node(shape, [inner], lambda c: f"torch.cartesian_prod({c[0]})[:, None]", "cartesian_prod",
                          lambda v, fn: fn(v[0])[:, None])
    lengths = [rows] + [1] * (columns - 1)
    if rows % 2 == 0 and b.rng.random() < 0.5:
        lengths[0], lengths[1] = rows // 2, 2
    b.rng.shuffle(lengths)
    parts = [b.expr((n,), depth) for n in lengths]
    return d._op_node(shape, parts, lambda c: f"torch.cartesian_prod({', '.join(c)})", "cartesian_prod",
                      lambda v, fn: fn(*v))


def _combined(d, b, shape, depth):
    """torch.combinations(x, r) of a vector whose choices of r entries make the rows."""
    rows, r = shape
    fits = [(n, flag) for n in range(1, 6) for flag in (False, True)
            if math.comb(n + r - 1 if flag else n, r) == rows]
    if not fits:
        return _rotated(d, b, shape, depth)
    n, flag = b.pick(fits)
    inner = b.expr((n,), depth)
    text = (lambda c: f"torch.combinations({c[0]}, {r}, with_replacement=True)") if flag else \
        b.pick([lambda c: f"torch.combinations({c[0]}, {r})", lambda c: f"torch.combinations({c[0]}, r={r})"])
    return d._op_node(shape, [inner], text, "combinations", lambda v, fn: fn(v[0], r, flag))


def _diagonal(d, b, shape, depth):
    """torch.diagflat or torch.diag_embed onto an offset diagonal of a square matrix, its leading (m, n) block."""
    rows, columns = shape
    n = max(shape)
    offset = b.rng.randint(-(n - 1), n - 1)
    inner = b.expr((n - abs(offset),), depth)
    cut = "" if rows == columns else f"[:{rows}, :{columns}]"
    if b.rng.random() < 0.5:
        return d._op_node(shape, [inner], lambda c: f"torch.diagflat({c[0]}, {offset}){cut}", "diagflat",
                          lambda v, fn: fn(v[0], offset)[:rows, :columns])
    dims = b.pick([(-2, -1), (1, 0), (0, -1)])
    text = b.pick([lambda c: f"torch.diag_embed({c[0]}, {offset}, {dims[0]}, {dims[1]}){cut}",
                   lambda c: f"({c[0]}).diag_embed(offset={offset}, dim1={dims[0]}, dim2={dims[1]}){cut}"])
    return d._op_node(shape, [inner], text, "diag_embed", lambda v, fn: fn(v[0], offset, *dims)[:rows, :columns])


def _vandermonde(d, b, shape, depth):
    """torch.vander(x, N) (np.vander too), increasing or not."""
    rows, columns = shape
    increasing = b.rng.random() < 0.4
    inner = b.expr((rows,), depth)
    spelled = b.pick(["torch.vander", "np.vander"])
    given = "" if columns == rows and b.rng.random() < 0.5 else f", {columns}"
    text = (lambda c: f"{spelled}({c[0]}{given}, increasing=True)") if increasing else \
        (lambda c: f"{spelled}({c[0]}{given})")
    return d._op_node(shape, [inner], text, "vander", lambda v, fn: fn(v[0], columns, increasing))


def _well_conditioned(d, b, n, depth):
    """An (n, n) expression made a well-conditioned matrix whatever its values: entries tanh(x) (0 for nan) and
    3.37 added on the diagonal, so a triangle of it solves by substitution and by LU alike (no pivoting)."""
    inner = b.expr((n, n), depth)
    return d.Node((n, n), [inner], lambda c: f"torch.tanh({c[0]}).nan_to_num() + 3.37 * eye({n})",
                  lambda v: torch.tanh(v[0]).nan_to_num() + 3.37 * torch.eye(n, dtype=v[0].dtype))


def _finite(d, b, shape, depth):
    """An expression made finite (nan to 0, ±inf to the largest floats): gradcli solves by LU, which spreads an
    infinite or nan right-hand side over the whole solution where torch's substitution keeps it to the rows
    after it (a difference the report of these functions names)."""
    inner = b.expr(shape, depth)
    return d.Node(shape, [inner], lambda c: f"({c[0]}).nan_to_num()", lambda v: v[0].nan_to_num())


def _triangular(d, b, shape, depth):
    """torch.linalg.solve_triangular(A, B, upper=...) (left=False: X A = B), or torch.cholesky_solve(B, L) of a
    triangular L (torch.tril or torch.triu of a matrix), as PyTorch code passes a Cholesky factor; a finite B."""
    rows, columns = shape
    upper = b.rng.random() < 0.5
    if b.rng.random() < 0.4:
        rhs = _finite(d, b, shape, depth)
        side = "triu" if upper else "tril"
        matrix = _well_conditioned(d, b, rows, depth)
        factor = d.Node((rows, rows), [matrix], lambda c: f"torch.{side}({c[0]})", lambda v: getattr(v[0], side)())
        text = b.pick([lambda c: f"torch.cholesky_solve({c[0]}, {c[1]}{', upper=True' if upper else ''})",
                       lambda c: f"({c[0]}).cholesky_solve({c[1]}{', True' if upper else ''})"])
        return d._op_node(shape, [rhs, factor], text, "cholesky_solve", lambda v, fn: fn(v[0], v[1], upper))
    if b.rng.random() < 0.3:
        # The older torch.triangular_solve(b, A): the pair's solution. (Its copy of A, [1], is left out: torch's one
        # backward node sends b a zero cotangent through the solve even then, 0 times a nan factor upstream.)
        transpose = b.rng.random() < 0.5
        matrix, rhs = _well_conditioned(d, b, rows, depth), _finite(d, b, shape, depth)
        return d._op_node(shape, [rhs, matrix],
                          lambda c: f"torch.triangular_solve({c[0]}, {c[1]}, {upper}, transpose={transpose})[0]",
                          "triangular_solve", lambda v, fn: fn(v[0], v[1], upper, transpose))
    left = b.rng.random() < 0.7
    unit = b.rng.random() < 0.3
    matrix, rhs = _well_conditioned(d, b, rows if left else columns, depth), _finite(d, b, shape, depth)
    extra = ("" if left else ", left=False") + (", unitriangular=True" if unit else "")
    return d._op_node(shape, [matrix, rhs],
                      lambda c: f"torch.linalg.solve_triangular({c[0]}, {c[1]}, upper={upper}{extra})",
                      "solve_triangular", lambda v, fn: fn(v[0], v[1], upper, left, unit))
