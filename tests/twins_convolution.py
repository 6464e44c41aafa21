"""The convolution family's torch twins and generator forms for the differential suite: gradcli/ops/convolution.py's
unfold, fold, conv1d/2d/3d and conv_transpose1d/2d/3d, and gradcli/ops/pooling.py's avg, max, adaptive and lp
pools, written as PyTorch code writes them (F.conv2d(x, w, b, stride=2, padding=1), F.max_pool1d(x, 3, 2),
torch.nn.functional.adaptive_avg_pool2d(x, (2, 3))).

A generated call has an output of 2 to 5 axes; where the case asks for another shape of as many entries, the
call is reshaped to it (.reshape(...), or .sum() for a number).
"""

from __future__ import annotations

import math

import torch.nn.functional as TF

POOLS = ("avg_pool", "max_pool", "adaptive_avg_pool", "adaptive_max_pool", "lp_pool")


def _conv(n):
    fn = getattr(TF, f"conv{n}d")
    return lambda x, weight, bias=None, **p: fn(x, weight, bias, **p)


def _conv_transpose(n):
    fn = getattr(TF, f"conv_transpose{n}d")
    return lambda x, weight, bias=None, **p: fn(x, weight, bias, **p)


def _pool(name):
    fn = getattr(TF, name)
    return lambda x, **p: fn(x, **{k: bool(v) if k in ("ceil_mode", "count_include_pad") else v for k, v in p.items()})


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    d.TWINS.update({"unfold": d.Twin(lambda x, **p: TF.unfold(x, **p), "array"),
                    "fold": d.Twin(lambda x, **p: TF.fold(x, **p), "array")})
    for n in (1, 2, 3):
        d.TWINS[f"conv{n}d"] = d.Twin(_conv(n), "array")
        d.TWINS[f"conv_transpose{n}d"] = d.Twin(_conv_transpose(n), "array")
    for name in POOLS:
        for n in (1, 2):
            d.TWINS[f"{name}{n}d"] = d.Twin(_pool(f"{name}{n}d"), "array")
    d.FORMS.append((lambda shape: 0 not in shape, lambda b, shape, depth: _window_form(d, b, shape, depth)))


def _window_form(d, b, shape, depth):
    """One of the family's functions, each as often as the others."""
    form, *how = b.pick([(_convolved, 1), (_convolved, 2), (_convolved, 3), (_transposed, 1), (_transposed, 2),
                         (_transposed, 3), (_unfolded, True), (_unfolded, False),
                         *((_pooled, kind, n) for kind in POOLS for n in (1, 2))])
    return form(d, b, shape, depth, *how)


# -- fitting a call's output to the case's shape --------------------------------------------------------------
def _laid_out(shape, axes):
    """An output of `axes` axes holding shape's entries: shape itself, or its leading axes merged, or ones
    put before it."""
    if len(shape) == axes:
        return tuple(shape)
    if len(shape) > axes:
        cut = len(shape) - axes + 1
        return (math.prod(shape[:cut]),) + tuple(shape[cut:])
    return (1,) * (axes - len(shape)) + tuple(shape)


def _fitted(shape, out):
    """The text to append, and the torch function to apply, to bring an output of shape out to shape."""
    if tuple(out) == tuple(shape):
        return "", lambda t: t
    if shape == ():
        return ".sum()", lambda t: t.sum()
    return f".reshape({', '.join(map(str, shape))})", lambda t: t.reshape(shape)


def _node(d, shape, out, children, written, name, call):
    suffix, fit = _fitted(shape, out)
    return d._op_node(shape, children, lambda c: written(c) + suffix, name, lambda v, fn: fit(call(v, fn)))


def _tuple_or_number(b, values):
    """A parameter as PyTorch code writes it: one number where every axis takes it, else a tuple."""
    if len(set(values)) == 1 and b.rng.random() < 0.7:
        return str(values[0]), values[0]
    return f"({', '.join(map(str, values))}{',' if len(values) == 1 else ''})", tuple(values)


def _keywords(b, given, defaults, order, by_position=True):
    """The call's parameters past the inputs: by position while every earlier one is written (and by_position),
    then by name; those at their defaults are often left out. given: name -> (text, value)."""
    written, params = [], {}
    for key in order:
        text, value = given[key]
        params[key] = value
        if value == defaults.get(key) and b.rng.random() < 0.6:
            by_position = False
            continue
        if by_position and b.rng.random() < 0.5:
            written.append(text)
        else:
            by_position = False
            written.append(f"{key}={text}")
    return "".join(", " + w for w in written), params


# -- convolutions -------------------------------------------------------------------------------------------
def _axis_geometry(b, count):
    """kernel, stride, padding, dilation and the input length giving count windows along an axis."""
    k, s, p, dil = b.pick([1, 2, 2, 3]), b.pick([1, 1, 2]), b.pick([0, 0, 1]), b.pick([1, 1, 2])
    length = (count - 1) * s + dil * (k - 1) + 1 - 2 * p + b.rng.randint(0, s - 1)
    if length < 1:
        p, length = 0, (count - 1) * s + dil * (k - 1) + 1
    return k, s, p, dil, length


def _convolved(d, b, shape, depth, n):
    batched = b.rng.random() < 0.6
    out = _laid_out(shape, n + 1 + batched)
    channels_out, count = out[int(batched)], out[1 + batched:]
    groups = b.pick([g for g in (1, 2) if channels_out % g == 0])
    per_group = b.pick([1, 2])
    axes = [_axis_geometry(b, c) for c in count]
    kernel, stride, padding, dilation, lengths = (tuple(a[i] for a in axes) for i in range(5))
    x = b.expr(out[:1] * batched + (groups * per_group,) + lengths, depth)
    weight = b.expr((channels_out, per_group) + kernel, depth)
    children = [x, weight]
    if b.rng.random() < 0.5:
        children.append(b.expr((channels_out,), depth))
    given = {"stride": _tuple_or_number(b, stride), "padding": _tuple_or_number(b, padding),
             "dilation": _tuple_or_number(b, dilation), "groups": (str(groups), groups)}
    # (without a bias, numbers by position follow a written None, as in F.conv2d(x, w, None, 2))
    none = len(children) == 2 and b.rng.random() < 0.3
    rest, params = _keywords(b, given, {"stride": 1, "padding": 0, "dilation": 1, "groups": 1},
                             ("stride", "padding", "dilation", "groups"), by_position=len(children) == 3 or none)
    rest = ", None" + rest if none else rest
    spelled = b.pick(["F", "torch.nn.functional", "torch"])
    return _node(d, shape, out, children, lambda c: f"{spelled}.conv{n}d({', '.join(c)}{rest})", f"conv{n}d",
                 lambda v, fn: fn(*v, **params))


def _transposed(d, b, shape, depth, n):
    batched = b.rng.random() < 0.6
    out = _laid_out(shape, n + 1 + batched)
    channels_out, size = out[int(batched)], out[1 + batched:]
    groups = b.pick([g for g in (1, 2) if channels_out % g == 0])
    per_group = b.pick([1, 2])
    axes = []
    for m in size:
        k, s, p, dil = b.pick([1, 2, 3]), b.pick([1, 2, 2]), b.pick([0, 0, 1]), b.pick([1, 1, 2])
        if m - 1 + 2 * p - dil * (k - 1) < 0:
            k, p = 1, 0
        extra = (m - 1 + 2 * p - dil * (k - 1)) % s
        axes.append((k, s, p, extra, dil, (m - 1 + 2 * p - dil * (k - 1) - extra) // s + 1))
    kernel, stride, padding, extra, dilation, lengths = (tuple(a[i] for a in axes) for i in range(6))
    x = b.expr(out[:1] * batched + (groups * per_group,) + lengths, depth)
    weight = b.expr((groups * per_group, channels_out // groups) + kernel, depth)
    children = [x, weight] + ([b.expr((channels_out,), depth)] if b.rng.random() < 0.5 else [])
    given = {"stride": _tuple_or_number(b, stride), "padding": _tuple_or_number(b, padding),
             "output_padding": _tuple_or_number(b, extra), "groups": (str(groups), groups),
             "dilation": _tuple_or_number(b, dilation)}
    rest, params = _keywords(b, given, {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1},
                             ("stride", "padding", "output_padding", "groups", "dilation"),
                             by_position=len(children) == 3)
    spelled = b.pick(["F", "torch.nn.functional", "torch"])
    return _node(d, shape, out, children, lambda c: f"{spelled}.conv_transpose{n}d({', '.join(c)}{rest})",
                 f"conv_transpose{n}d", lambda v, fn: fn(*v, **params))


# -- pools ------------------------------------------------------------------------------------------------------
def _pooled_length(length, k, p, s, dil, ceil):
    """torch's pooling_output_shape (as gradcli/ops/pooling.py's, written again here to draw inputs)."""
    span = length + 2 * p - dil * (k - 1) - 1
    count = (span + (s - 1 if ceil else 0)) // s + 1
    return count - 1 if ceil and (count - 1) * s >= length + p else count


def _pool_axis(b, count, dilated, ceil):
    """kernel, stride, padding, dilation and an input length giving count windows along an axis."""
    k, s, dil = b.pick([1, 2, 2, 3]), b.pick([1, 2, 2, 3]), b.pick([1, 1, 2]) if dilated else 1
    p = b.rng.randint(0, (dil * (k - 1) + 1) // 2 if dilated else k // 2)
    lengths = [m for m in range(1, count * s + dil * k + 2) if _pooled_length(m, k, p, s, dil, ceil) == count]
    return (k, s, p, dil, b.pick(lengths)) if lengths else (1, 1, 0, 1, count)


def _pooled(d, b, shape, depth, kind, n):
    batched = b.rng.random() < 0.5
    out = _laid_out(shape, n + 1 + batched)
    count = out[1 + batched:]
    name = f"{kind}{n}d"
    spelled = b.pick(["F", "torch.nn.functional"] + ["torch"] * (kind in ("avg_pool", "max_pool") and n == 1))
    if kind.startswith("adaptive"):
        lengths = tuple(b.rng.randint(1, 5) for _ in count)
        x = b.expr(out[:1 + batched] + lengths, depth)
        text, size = _tuple_or_number(b, count)
        written = b.pick([text, f"output_size={text}"])
        return _node(d, shape, out, [x], lambda c: f"{spelled}.{name}({c[0]}, {written})", name,
                     lambda v, fn: fn(v[0], output_size=size))
    ceil_mode = b.pick([0, 0, 1])
    axes = [_pool_axis(b, c, kind == "max_pool", ceil_mode) for c in count]
    if kind == "lp_pool":  # (no padding: lp_pool takes none)
        axes = [a if a[2] == 0 else (1, 1, 0, 1, c) for a, c in zip(axes, count)]
    kernel, stride, padding, dilation, lengths = (tuple(a[i] for a in axes) for i in range(5))
    x = b.expr(out[:1 + batched] + lengths, depth)
    # (torch's lp_pool1d multiplies by its kernel_size: it takes a number there, not a tuple)
    size = (str(kernel[0]), kernel[0]) if kind == "lp_pool" and n == 1 else _tuple_or_number(b, kernel)
    given = {"kernel_size": size, "stride": _tuple_or_number(b, stride),
             "padding": _tuple_or_number(b, padding), "dilation": _tuple_or_number(b, dilation),
             "ceil_mode": (b.pick(["True", "1"]) if ceil_mode else "False", ceil_mode)}
    defaults = {"padding": 0, "dilation": 1, "ceil_mode": 0, "count_include_pad": 1}
    if kind == "avg_pool":
        include = b.pick([1, 1, 0])
        given["count_include_pad"] = ("True" if include else "False", include)
        order = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
        if n == 2 and b.rng.random() < 0.2:
            given["divisor_override"], defaults["divisor_override"] = ("3", 3), None
            order += ("divisor_override",)
    elif kind == "max_pool":
        order = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
    else:
        norm = b.pick([("2", 2.0), ("3", 3.0), ("1.5", 1.5), ("1", 1.0)])
        given["norm_type"] = norm
        order = ("norm_type", "kernel_size", "stride", "ceil_mode")
    rest, params = _keywords(b, given, defaults, order)
    return _node(d, shape, out, [x], lambda c: f"{spelled}.{name}({c[0]}{rest})", name,
                 lambda v, fn: fn(v[0], **params))


# -- unfold and fold ------------------------------------------------------------------------------------------
def _unfolded(d, b, shape, depth, unfold):
    batched = b.rng.random() < 0.5
    if unfold:  # (N, C * kh * kw, L)
        out = _laid_out(shape, 2 + batched)
        rows, columns = out[int(batched)], out[-1]
        kh = b.pick([k for k in range(1, rows + 1) if rows % k == 0 and k <= 3] or [1])
        kw = b.pick([k for k in range(1, rows // kh + 1) if (rows // kh) % k == 0 and k <= 3] or [1])
        oh = b.pick([h for h in range(1, columns + 1) if columns % h == 0])
        axes = [_axis_geometry(b, c) for c in (oh, columns // oh)]
        axes = [(k, s, p, dil, m) if k == want else (want, 1, 0, 1, c + want - 1)
                for (k, s, p, dil, m), want, c in zip(axes, (kh, kw), (oh, columns // oh))]
        kernel, stride, padding, dilation, lengths = (tuple(a[i] for a in axes) for i in range(5))
        x = b.expr(out[:1] * batched + (rows // (kh * kw),) + lengths, depth)
        given = {"kernel_size": _tuple_or_number(b, kernel), "dilation": _tuple_or_number(b, dilation),
                 "padding": _tuple_or_number(b, padding), "stride": _tuple_or_number(b, stride)}
        rest, params = _keywords(b, given, {"dilation": 1, "padding": 0, "stride": 1},
                                 ("kernel_size", "dilation", "padding", "stride"))
        return _node(d, shape, out, [x], lambda c: f"F.unfold({c[0]}{rest})", "unfold",
                     lambda v, fn: fn(v[0], **params))
    out = _laid_out(shape, 3 + batched)  # fold: (N, C, H, W) from (N, C * kh * kw, L)
    size = out[-2:]
    axes = []
    for m in size:
        k, s, p, dil = b.pick([1, 2, 2, 3]), b.pick([1, 1, 2]), b.pick([0, 0, 1]), b.pick([1, 1, 2])
        if m + 2 * p - dil * (k - 1) - 1 < 0:
            k, p = 1, 0
        axes.append((k, s, p, dil, (m + 2 * p - dil * (k - 1) - 1) // s + 1))
    kernel, stride, padding, dilation, count = (tuple(a[i] for a in axes) for i in range(5))
    x = b.expr(out[:1] * batched + (out[int(batched)] * kernel[0] * kernel[1], count[0] * count[1]), depth)
    given = {"output_size": _tuple_or_number(b, size), "kernel_size": _tuple_or_number(b, kernel),
             "dilation": _tuple_or_number(b, dilation), "padding": _tuple_or_number(b, padding),
             "stride": _tuple_or_number(b, stride)}
    rest, params = _keywords(b, given, {"dilation": 1, "padding": 0, "stride": 1},
                             ("output_size", "kernel_size", "dilation", "padding", "stride"))
    spelled = b.pick(["F", "torch.nn.functional"])
    return _node(d, shape, out, [x], lambda c: f"{spelled}.fold({c[0]}{rest})", "fold",
                 lambda v, fn: fn(v[0], **params))
