"""The statistics family's torch twins and generator forms for the differential suite: gradcli/ops/statistics.py's
nansum, nanmean, nanmedian, quantile, nanquantile and mode, written as PyTorch code writes them
(torch.nansum(x, 1), x.nanmedian(dim=0).values, torch.quantile(x, torch.tensor([0.25, 0.5]), dim=1,
interpolation='midpoint'), torch.mode(x, 0)[0]).

A twin takes gradcli's parameter names (axis=, keepdims=); a pair's twin gives its values.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF


def nansum(x, axis=None, keepdims=False):
    return torch.nansum(x) if axis is None and not keepdims else torch.nansum(x, axis, bool(keepdims))


def nanmean(x, axis=None, keepdims=False):
    return torch.nanmean(x, axis, bool(keepdims))


def nanmedian(x, axis=None, keepdims=False):
    return torch.nanmedian(x) if axis is None else torch.nanmedian(x, axis, bool(keepdims))[0]


def quantile(x, q, axis=None, keepdims=False, interpolation="linear"):
    return torch.quantile(x, q, axis, bool(keepdims), interpolation=interpolation)


def nanquantile(x, q, axis=None, keepdims=False, interpolation="linear"):
    return torch.nanquantile(x, q, axis, bool(keepdims), interpolation=interpolation)


def mode(x, axis=-1, keepdims=False):
    return torch.mode(x, axis, bool(keepdims))[0]


def cov(x, fweights=None, aweights=None, ddof=1):
    return torch.cov(x, correction=ddof, fweights=None if fweights is None else fweights.long(), aweights=aweights)


def one_hot(t, num_classes=-1):
    return TF.one_hot(t.long(), num_classes).to(t.dtype)


def embedding(indices, weight, padding_idx=None, **_):
    return TF.embedding(indices.long(), weight, padding_idx)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    d.TWINS.update({name: d.Twin(fn, "array") for name, fn in (
        ("nansum", nansum), ("nanmean", nanmean), ("nanmedian", nanmedian), ("quantile", quantile),
        ("nanquantile", nanquantile), ("mode", mode), ("cov", cov), ("corrcoef", torch.corrcoef),
        ("one_hot", one_hot), ("embedding", embedding))})
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _statistic(d, b, shape, depth)))


def _statistic(d, b, shape, depth):
    forms = [_nan_reduced, _nan_reduced, _quantiles, _quantiles, _mode] + [_lookup] * bool(shape)
    return b.pick(forms + [_covariance] * (len(shape) == 2 and shape[0] == shape[1] or not shape))(d, b, shape, depth)


def _source(b, shape):
    """A shape with one axis more than shape (of 1 to 4 entries) and where it is: dim's two spellings."""
    axis = b.rng.randint(0, len(shape))
    source = shape[:axis] + (b.rng.randint(1, 4),) + shape[axis:]
    return source, axis, b.pick([str(axis), str(axis - len(source))])


def _nan_reduced(d, b, shape, depth):
    """torch.nansum(x, dim), x.nanmean(dim=...), torch.nanmedian(x, dim)[0]; over the whole x for a number."""
    name = b.pick(["nansum", "nanmean", "nanmedian"])
    if not shape and b.rng.random() < 0.5:
        x = b.expr(b.pick([(3,), (4,), (2, 3)]), depth)
        text = b.pick([lambda c: f"torch.{name}({c[0]})", lambda c: f"({c[0]}).{name}()"])
        return d._op_node(shape, [x], text, name, lambda v, fn: fn(v[0]))
    source, axis, dim = _source(b, shape)
    x = b.expr(source, depth)
    part = "[0]" if name == "nanmedian" else ""
    text = b.pick([lambda c: f"torch.{name}({c[0]}, {dim}){part}",
                   lambda c: f"({c[0]}).{name}(dim={dim}){'.values' if part else ''}"])
    return d._op_node(shape, [x], text, name, lambda v, fn: fn(v[0], int(dim)))


def _quantiles(d, b, shape, depth):
    """torch.quantile(x, q, dim) (nanquantile too) with q a number, or a tensor of as many as shape's first axis
    (the rest of shape x's without dim), in each interpolation."""
    name = b.pick(["quantile", "nanquantile"])
    listed = bool(shape) and b.rng.random() < 0.4
    reduced = shape[1:] if listed else shape
    qs = [b.pick([0.0, 0.1, 0.25, 0.5, 0.6, 0.75, 1.0]) for _ in range(shape[0] if listed else 1)]
    q_text = f"torch.tensor({qs})" if listed else str(qs[0])
    interpolation = b.pick(["linear", "linear", "lower", "higher", "midpoint", "nearest"])
    mode = "" if interpolation == "linear" else f", interpolation='{interpolation}'"
    if not reduced and b.rng.random() < 0.4:
        x = b.expr(b.pick([(3,), (4,), (2, 3)]), depth)
        return d._op_node(shape, [x], lambda c: f"torch.{name}({c[0]}, {q_text}{mode})", name,
                          lambda v, fn: fn(v[0], torch.tensor(qs if listed else qs[0], dtype=v[0].dtype),
                                           interpolation=interpolation))
    source, axis, dim = _source(b, reduced)
    x = b.expr(source, depth)
    text = b.pick([lambda c: f"torch.{name}({c[0]}, {q_text}, {dim}{mode})",
                   lambda c: f"({c[0]}).{name}({q_text}, dim={dim}{mode})"])
    return d._op_node(shape, [x], text, name,
                      lambda v, fn: fn(v[0], torch.tensor(qs if listed else qs[0], dtype=v[0].dtype), int(dim),
                                       interpolation=interpolation))


def _mode(d, b, shape, depth):
    """torch.mode(x, dim)[0] or x.mode(dim=...).values, of a value of few distinct entries now and then (a
    rounded one), so that the mode repeats."""
    source, axis, dim = _source(b, shape)
    x = b.expr(source, depth)
    if b.rng.random() < 0.5:
        x = d._op_node(source, [x], lambda c: f"torch.round({c[0]})", "round", lambda v, fn: fn(v[0]))
    text = b.pick([lambda c: f"torch.mode({c[0]}, {dim})[0]", lambda c: f"({c[0]}).mode(dim={dim}).values",
                   lambda c: f"torch.mode({c[0]}, dim={dim}).values"])
    return d._op_node(shape, [x], text, "mode", lambda v, fn: fn(v[0], int(dim)))


def _covariance(d, b, shape, depth):
    """torch.cov(x) (a correction, aweights of a sub-expression's squares now and then) or torch.corrcoef(x) of
    k variables (shape (k, k)) over 2 to 4 observations; of a vector for a number."""
    observations = b.rng.randint(2, 4)
    source = (shape[0], observations) if shape else (observations,)
    x = b.expr(source, depth)
    if b.rng.random() < 0.3:
        return d._op_node(shape, [x], b.pick([lambda c: f"torch.corrcoef({c[0]})", lambda c: f"({c[0]}).corrcoef()"]),
                          "corrcoef", lambda v, fn: fn(v[0]))
    correction = b.pick([1, 1, 0, 2])
    flag = "" if correction == 1 else f", correction={correction}"
    if b.rng.random() < 0.3:
        weights = b.expr((observations,), depth)
        return d._op_node(shape, [x, weights], lambda c: f"torch.cov({c[0]}{flag}, aweights=({c[1]}) ** 2 + 0.5)",
                          "cov", lambda v, fn: fn(v[0], aweights=v[1] ** 2 + 0.5, ddof=correction))
    return d._op_node(shape, [x], lambda c: f"({c[0]}).cov({flag[2:]})", "cov", lambda v, fn: fn(v[0], ddof=correction))


def _lookup(d, b, shape, depth):
    """F.embedding(torch.tensor(indices), w) of a variable w of rows shape[-1] long (padding_idx now and then), or
    F.one_hot(torch.tensor(indices), shape[-1]) times a sub-expression (whole numbers, no gradient)."""
    *lead, width = shape
    rows = b.rng.randint(2, 4)
    indices = [b.rng.randrange(rows) for _ in range(int(np.prod(lead)) if lead else 1)]
    written = f"torch.tensor({np.array(indices).reshape(lead).tolist() if lead else indices[0]})"
    index = torch.tensor(np.array(indices, dtype=float).reshape(lead))
    if b.rng.random() < 0.4:
        x = b.expr(shape, depth)
        return d._op_node(shape, [x], lambda c: f"F.one_hot({written}, {width}) * ({c[0]})", "one_hot",
                          lambda v, fn: fn(index.to(v[0].dtype), width) * v[0])
    weight = b.variable((rows, width))
    padding = b.pick(["", "", ", padding_idx=0", ", padding_idx=-1"])
    return d._op_node(shape, [weight], lambda c: f"F.embedding({written}, {c[0]}{padding})", "embedding",
                      lambda v, fn: fn(index.to(v[0].dtype), v[0], int(padding.split("=")[1]) if padding else None))
