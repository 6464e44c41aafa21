"""Convolutions, as torch.nn.functional's: unfold and fold (im2col, col2im), conv1d, conv2d, conv3d,
conv_transpose1d, conv_transpose2d and conv_transpose3d.

Two internal primitives carry every rule: `patches` reads each window of x (zero-padded on the last N
axes) into axes of its own, (..., *spatial) -> (..., *kernel, *positions), and `patches_put` adds such
windows back where they came from. Both are linear and each is the other's backward rule (as torch's
im2col and col2im), so derivatives of every order follow. A convolution is the windows times the
weight (a matmul per group, as torch's slow_conv2d), a transposed convolution the weight's transpose
times x, its columns added back by patches_put (torch's conv_transpose is the adjoint of conv).
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Sample, Words, composite, primitive
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F
from gradcli.ops.losses import given


# -- the window geometry ---------------------------------------------------------------------------------
def sizes(value, n: int, name: str, what: str = "a size", least: int = 1) -> tuple[int, ...]:
    """A parameter given as one whole number or one per spatial axis (n of them), as torch reads it."""
    values = tuple(value) if isinstance(value, tuple) else (value,)
    if len(values) == 1:
        values *= n
    if len(values) != n or any(v < least for v in values):
        bound = "positive" if least == 1 else "non-negative" if least == 0 else f"at least {least}"
        raise GradcliError(f"{name}= takes {what} ({bound} whole number{'s' if n > 1 else ''}) or a tuple of "
                           f"{n}, not {value!r}", kind="value")
    return values


def positions(spatial, kernel, dilation, padding, stride) -> tuple[int, ...]:
    """How many windows fit along each axis of spatial, padded by padding's (before, after) pairs."""
    return tuple((length + before + after - d * (k - 1) - 1) // s + 1
                 for length, k, d, (before, after), s in zip(spatial, kernel, dilation, padding, stride))


def _padded(x, padding, fill=0):
    """x on its last axes with fill before and after (a negative number crops)."""
    n = len(padding)
    x = x[(..., *(slice(max(-b, 0), x.shape[x.ndim - n + i] - max(-a, 0)) for i, (b, a) in enumerate(padding)))]
    if all(b <= 0 and a <= 0 for b, a in padding):
        return x
    out = np.full(x.shape[:x.ndim - n] + tuple(m + max(b, 0) + max(a, 0)
                                               for m, (b, a) in zip(x.shape[x.ndim - n:], padding)), fill, x.dtype)
    out[(..., *(slice(max(b, 0), max(b, 0) + m) for m, (b, _) in zip(x.shape[x.ndim - n:], padding)))] = x
    return out


def _unpadded(x, padding, src):
    """The adjoint of _padded: x's entries inside the padding, back on axes of src (zeros where it cropped)."""
    n = len(padding)
    kept = tuple(m - max(-b, 0) - max(-a, 0) for m, (b, a) in zip(src, padding))
    inner = x[(..., *(slice(max(b, 0), max(b, 0) + k) for k, (b, _) in zip(kept, padding)))]
    if inner.shape[x.ndim - n:] == tuple(src):
        return inner
    out = np.zeros(x.shape[:x.ndim - n] + tuple(src), x.dtype)
    out[(..., *(slice(max(-b, 0), max(-b, 0) + k) for k, (b, _) in zip(kept, padding)))] = inner
    return out


def _window(offset, dilation, stride, count):
    """The entries of a padded axis one kernel offset reads, one per window."""
    return tuple(slice(k * d, k * d + s * (c - 1) + 1, s) for k, d, s, c in zip(offset, dilation, stride, count))


def windows(x, kernel, dilation, padding, stride, fill=0):
    """x's windows on its last len(kernel) axes, (..., *spatial) -> (..., *kernel, *positions), the
    padding holding fill (any dtype: SymPy's objects too)."""
    n = len(kernel)
    x = _padded(x, padding, fill)
    count = positions(x.shape[x.ndim - n:], kernel, dilation, ((0, 0),) * n, stride)
    out = np.empty(x.shape[:x.ndim - n] + tuple(kernel) + count, x.dtype)
    for offset in np.ndindex(*kernel):  # (a loop over the kernel's entries, each a strided copy)
        out[(..., *offset, *(slice(None),) * n)] = x[(..., *_window(offset, dilation, stride, count))]
    return out


def windows_put(g, kernel, dilation, padding, stride, src):
    """The adjoint of windows: each window of g (..., *kernel, *positions) added back at the entries of an
    array of trailing shape src it read (overlapping windows add up, as torch's col2im)."""
    n = len(kernel)
    lead = g.shape[:g.ndim - 2 * n]
    padded = tuple(m + b + a for m, (b, a) in zip(src, padding))
    count = g.shape[g.ndim - n:]
    out = np.zeros(lead + padded, g.dtype)
    for offset in np.ndindex(*kernel):
        out[(..., *_window(offset, dilation, stride, count))] += g[(..., *offset, *(slice(None),) * n)]
    return _unpadded(out, padding, src)


def _patches_shape(s, kernel, dilation, padding, stride):
    n = len(kernel)
    if len(s) < n:
        raise GradcliError(f"windows of {n} axes need a value of at least {n} axes, not shape {format_shape(s)}",
                           kind="shape")
    count = positions(s[len(s) - n:], kernel, dilation, padding, stride)
    if any(c < 1 for c in count):
        raise GradcliError(f"a kernel of {format_shape(tuple(kernel))} (dilation {format_shape(tuple(dilation))}) "
                           f"does not fit in the padded input of shape {format_shape(s)}", kind="shape")
    return tuple(s[:len(s) - n]) + tuple(kernel) + count


_GEOMETRY = ("kernel", "dilation", "padding", "stride")
_PATCHES_SAMPLES = (Sample(((1, 2, 4, 4),), params={"kernel": (2, 2), "dilation": (1, 1), "padding": ((1, 1), (0, 0)),
                                                    "stride": (2, 1)}),
                    Sample(((2, 6),), params={"kernel": (2,), "dilation": (2,), "padding": ((1, -1),),
                                              "stride": (1,)}),
                    Sample(((5,),), params={"kernel": (3,), "dilation": (1,), "padding": ((0, 2),), "stride": (2,)}))
primitive(name="patches", family="internal", public=False, signature="patches(x)", saves="none",
          doc="x's windows on its last axes, each in axes of its own (..., *kernel, *positions): im2col",
          forward=windows, shape=_patches_shape, sympy=lambda sp, x, **p: windows(x, **p), taylor=T.linear,
          backward=lambda n, g: (F.patches_put(g, **n.params, src=n.in_shapes[0][len(n.in_shapes[0]) -
                                                                               len(n.params["kernel"]):]),),
          batching="trailing", torch_name="Im2ColBackward0",
          words=Words(("x",), vjp=("g, each window's entries added back at the entries of {x} they read",)),
          samples=_PATCHES_SAMPLES)
primitive(name="patches_put", family="internal", public=False, signature="patches_put(g)", saves="none",
          doc="windows (..., *kernel, *positions) added back at the entries they read (col2im; undoes patches)",
          forward=windows_put, shape=lambda s, src, **p: tuple(s[:len(s) - 2 * len(p["kernel"])]) + tuple(src),
          sympy=lambda sp, g, **p: windows_put(g, **p), taylor=T.linear,
          backward=lambda n, g: (F.patches(g, **{k: n.params[k] for k in _GEOMETRY}),),
          batching="trailing", torch_name="Col2ImBackward0",
          words=Words(("g",), vjp=("g's windows read again",)),
          samples=tuple(Sample((_patches_shape(s.shapes[0], **s.params),),
                               params={**s.params, "src": s.shapes[0][len(s.shapes[0]) - len(s.params["kernel"]):]})
                        for s in _PATCHES_SAMPLES))


# -- unfold and fold -----------------------------------------------------------------------------------------
def batched(x, n: int, name: str, what: str = "input"):
    """x with its batch axis: (C, *spatial) becomes (1, C, *spatial), as torch reads an unbatched input.
    Returns x and whether it had the axis."""
    if x.ndim == n + 2:
        return x, True
    if x.ndim == n + 1:
        return F.reshape(x, src=x.shape, dst=(1,) + x.shape), False
    raise GradcliError(f"{name}() takes an {what} of {n + 1} or {n + 2} axes ((C, ...) or (N, C, ...)), not shape "
                       f"{format_shape(x.shape)}", kind="shape")


def unbatched(out, had_batch: bool):
    return out if had_batch else F.reshape(out, src=out.shape, dst=out.shape[1:])


def _geometry(kernel_size, dilation, padding, stride, n=2):
    kernel = sizes(kernel_size, n, "kernel_size")
    return {"kernel": kernel, "dilation": sizes(dilation, n, "dilation"),
            "padding": tuple((p, p) for p in sizes(padding, n, "padding", least=0)), "stride": sizes(stride, n, "stride")}


def _unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """F.unfold: (N, C, H, W) -> (N, C * kh * kw, L), each column one window (channel first, then the
    kernel's rows and columns), L the windows in row order."""
    x, had_batch = batched(x, 2, "unfold")
    geometry = _geometry(kernel_size, dilation, padding, stride)
    cols = F.patches(x, **geometry)
    n, c = x.shape[:2]
    out = F.reshape(cols, src=cols.shape, dst=(n, c * math.prod(geometry["kernel"]), math.prod(cols.shape[4:])))
    return unbatched(out, had_batch)


def _fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """F.fold, unfold's adjoint: (N, C * kh * kw, L) -> (N, C, *output_size), each column's entries added
    back into the window it stands for."""
    given_shape = x.shape
    x, had_batch = batched(x, 1, "fold", "input of columns")
    geometry = _geometry(kernel_size, dilation, padding, stride)
    src = sizes(output_size, 2, "output_size")
    count = positions(src, **geometry)
    size = math.prod(geometry["kernel"])
    if x.shape[1] % size or x.shape[2] != math.prod(count) or min(count) < 1:
        raise GradcliError(f"fold() into {format_shape(src)} by a kernel of {format_shape(geometry['kernel'])} "
                           f"takes columns of a multiple of {size} entries, {math.prod(count)} of them "
                           f"({' x '.join(map(str, count))} windows), not an input of shape {format_shape(given_shape)}",
                           kind="shape")
    cols = F.reshape(x, src=x.shape, dst=(x.shape[0], x.shape[1] // size) + geometry["kernel"] + count)
    return unbatched(F.patches_put(cols, **geometry, src=src), had_batch)


_WINDOW_KINDS = {"kernel_size": "axis", "dilation": "axis", "padding": "axis", "stride": "axis"}
composite(name="unfold", family="nn", signature="unfold(input, kernel_size, dilation=1, padding=0, stride=1)",
          doc="each window of a batch of images (N, C, H, W) as a column (N, C * kh * kw, L), as "
              "torch.nn.functional.unfold (im2col); zeros in the padding",
          composite=_unfold, keywords=("kernel_size", "dilation", "padding", "stride"), positional=4,
          kinds=_WINDOW_KINDS, method=False, batching="loop", torch_name="Im2ColBackward0",
          samples=(Sample(((1, 2, 3, 3),), params={"kernel_size": 2}),
                   Sample(((2, 1, 3, 4),), params={"kernel_size": (2, 3), "dilation": (1, 1), "padding": 1,
                                                    "stride": (2, 1)}),
                   Sample(((1, 4, 4),), params={"kernel_size": 2, "dilation": 2, "stride": 2})))
composite(name="fold", family="nn", signature="fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1)",
          doc="columns (N, C * kh * kw, L) added back into the windows of an image (N, C, *output_size) they "
              "stand for, as torch.nn.functional.fold (col2im, unfold's adjoint): overlaps add up",
          composite=_fold, keywords=("output_size", "kernel_size", "dilation", "padding", "stride"), positional=5,
          kinds={"output_size": "axis", **_WINDOW_KINDS}, method=False, batching="loop", torch_name="Col2ImBackward0",
          samples=(Sample(((1, 4, 4),), params={"output_size": 3, "kernel_size": 2}),
                   Sample(((2, 6, 8),), params={"output_size": (3, 4), "kernel_size": (2, 3), "padding": 1,
                                                "stride": (2, 1)}),
                   Sample(((4, 4),), params={"output_size": (4, 4), "kernel_size": 2, "dilation": 2})))


# -- convolutions ------------------------------------------------------------------------------------------
def _conv_padding(padding, kernel, dilation, stride, n):
    """(before, after) per axis: a number or tuple each side, or 'valid' (none) or 'same' (the output as long as
    the input, the odd one after, as torch pads it)."""
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        if any(s != 1 for s in stride):
            raise GradcliError("padding='same' is not supported for strided convolutions (as in PyTorch)", kind="value")
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    return tuple((p, p) for p in sizes(padding, n, "padding", least=0))


def _groups(channels: int, groups: int, out: int, name: str) -> None:
    if groups < 1 or channels % groups or out % groups:
        raise GradcliError(f"{name}(): groups={groups} must divide the input's {channels} channels and the "
                           f"output's {out}", kind="value")


def _bias(out, bias, n):
    """out (N, O, *spatial) plus bias (O,) on the channel axis, where a bias is given."""
    bias = given(bias, 0.0)
    if bias is None:
        return out
    if bias.shape != (out.shape[1],):
        raise GradcliError(f"a bias of shape {format_shape(bias.shape)} for {out.shape[1]} output channels: it takes "
                           f"shape ({out.shape[1]},)", kind="shape")
    return out + F.reshape(bias, src=bias.shape, dst=bias.shape + (1,) * n)


def convolution(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, n: int, name: str):
    """F.conv{n}d: x (N, C, *spatial) or (C, *spatial), weight (O, C / groups, *kernel), bias (O,): the
    windows of x times the weight, one matmul per group, as torch's im2col convolution."""
    x, had_batch = batched(x, n, name)
    if weight.ndim != n + 2:
        raise GradcliError(f"{name}() takes a weight of shape (out, in / groups, *kernel), {n + 2} axes, not "
                           f"{format_shape(weight.shape)}", kind="shape")
    (batch, channels), (out, per_group), kernel = x.shape[:2], weight.shape[:2], weight.shape[2:]
    _groups(channels, groups, out, name)
    if per_group * groups != channels:
        raise GradcliError(f"{name}(): a weight of shape {format_shape(weight.shape)} with groups={groups} takes "
                           f"{per_group * groups} input channels, not {channels}", kind="shape")
    stride, dilation = sizes(stride, n, "stride"), sizes(dilation, n, "dilation")
    cols = F.patches(x, kernel=kernel, dilation=dilation, padding=_conv_padding(padding, kernel, dilation, stride, n),
                     stride=stride)
    count = cols.shape[2 + n:]
    cols = F.reshape(cols, src=cols.shape, dst=(batch, groups, per_group * math.prod(kernel), math.prod(count)))
    w = F.reshape(weight, src=weight.shape, dst=(groups, out // groups, per_group * math.prod(kernel)))
    product = F.matmul(w, cols)
    out = F.reshape(product, src=product.shape, dst=(batch, out) + count)
    return unbatched(_bias(out, bias, n), had_batch)


def transposed_convolution(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                           n: int, name: str):
    """F.conv_transpose{n}d, the adjoint of conv{n}d in x: x (N, C, *spatial), weight (C, O / groups, *kernel).
    Each input entry spreads the kernel times itself into the output, stride apart; padding crops each side,
    output_padding adds to one side (the length a strided conv of the output would have read)."""
    x, had_batch = batched(x, n, name)
    if weight.ndim != n + 2:
        raise GradcliError(f"{name}() takes a weight of shape (in, out / groups, *kernel), {n + 2} axes, not "
                           f"{format_shape(weight.shape)}", kind="shape")
    (batch, channels), (weight_in, per_group), kernel = x.shape[:2], weight.shape[:2], weight.shape[2:]
    if weight_in != channels:
        raise GradcliError(f"{name}(): a weight of shape {format_shape(weight.shape)} takes {weight_in} input "
                           f"channels, not {channels}", kind="shape")
    _groups(channels, groups, per_group * groups, name)
    stride, dilation = sizes(stride, n, "stride"), sizes(dilation, n, "dilation")
    padding = sizes(padding, n, "padding", least=0)
    extra = sizes(output_padding, n, "output_padding", least=0)
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise GradcliError(f"{name}(): output_padding={output_padding!r} must be smaller than either stride or "
                           f"dilation (as in PyTorch)", kind="value")
    inside = x.shape[2:]
    size = tuple((i - 1) * s - 2 * p + d * (k - 1) + e + 1
                 for i, s, p, d, k, e in zip(inside, stride, padding, dilation, kernel, extra))
    if min(size) < 1:
        raise GradcliError(f"{name}(): the output of shape {format_shape(size)} would be empty", kind="shape")
    w = F.reshape(weight, src=weight.shape, dst=(groups, channels // groups, per_group * math.prod(kernel)))
    xs = F.reshape(x, src=x.shape, dst=(batch, groups, channels // groups, math.prod(inside)))
    cols = F.matmul(F.permute(w, perm=(0, 2, 1), written="transpose"), xs)
    cols = F.reshape(cols, src=cols.shape, dst=(batch, per_group * groups) + kernel + inside)
    # (padding (p, p - output_padding) of the output: its windows are exactly x's entries)
    out = F.patches_put(cols, kernel=kernel, dilation=dilation, padding=tuple((p, p - e) for p, e in zip(padding, extra)),
                        stride=stride, src=size)
    return unbatched(_bias(out, bias, n), had_batch)


def _conv_name(n):
    """PyTorch's node: an unbatched input's convolution is a batched one, squeezed after."""
    return lambda shapes, params: "ConvolutionBackward0" if len(shapes[0]) == n + 2 else "SqueezeBackward1"


_CONV_KINDS = {"stride": "axis", "padding": ("valid", "same", "axis"), "dilation": "axis"}
_CONV_SAMPLES = {
    1: (Sample(((1, 2, 5), (3, 2, 2), (3,))), Sample(((2, 4), (2, 2, 3)), params={"padding": 1, "stride": 2}),
        Sample(((1, 4, 6), (2, 2, 2)), params={"dilation": 2, "groups": 2})),
    2: (Sample(((1, 2, 3, 3), (2, 2, 2, 2), (2,))),
        Sample(((1, 1, 4, 3), (2, 1, 2, 2)), params={"padding": (1, 0), "stride": (2, 1), "dilation": (1, 2)}),
        Sample(((2, 3, 3), (2, 1, 2, 1)), params={"groups": 2})),
    3: (Sample(((1, 1, 3, 3, 2), (2, 1, 2, 2, 1), (2,))), Sample(((2, 3, 2, 2), (1, 2, 2, 1, 2)), params={"padding": 1})),
}
_TRANSPOSED_SAMPLES = {
    1: (Sample(((1, 2, 3), (2, 3, 2), (3,))), Sample(((2, 3), (2, 1, 3)), params={"stride": 2, "padding": 1,
                                                                                  "output_padding": 1}),
        Sample(((1, 2, 3), (2, 1, 2)), params={"groups": 2, "dilation": 2})),
    2: (Sample(((1, 2, 2, 2), (2, 1, 2, 2), (1,))),
        Sample(((1, 1, 2, 3), (1, 2, 2, 2)), params={"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0)}),
        Sample(((2, 2, 2), (2, 1, 1, 2)), params={"groups": 2, "dilation": 2})),
    3: (Sample(((1, 1, 2, 2, 2), (1, 2, 2, 1, 2), (2,)), params={"stride": 2}),),
}
for _n in (1, 2, 3):
    composite(name=f"conv{_n}d", family="nn", arity=3, inputs=("input", "weight", "bias"), optional={"bias": 0.0},
              signature=f"conv{_n}d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)",
              doc=f"the {_n}-d convolution (cross-correlation) of input (N, C, ...) with weight (out, C / groups, "
                  f"...) plus bias (out,), as torch.nn.functional.conv{_n}d; padding a number, a tuple, 'valid' or "
                  f"'same'",
              composite=lambda x, weight, bias=None, _n=_n, **p: convolution(x, weight, bias, **p, n=_n,
                                                                              name=f"conv{_n}d"),
              keywords=("stride", "padding", "dilation", "groups"), positional=4, kinds=_CONV_KINDS, method=False,
              batching="loop", torch_name=_conv_name(_n), samples=_CONV_SAMPLES[_n])
    composite(name=f"conv_transpose{_n}d", family="nn", arity=3, inputs=("input", "weight", "bias"),
              optional={"bias": 0.0},
              signature=f"conv_transpose{_n}d(input, weight, bias=None, stride=1, padding=0, output_padding=0, "
                        f"groups=1, dilation=1)",
              doc=f"the {_n}-d transposed convolution of input (N, C, ...) with weight (C, out / groups, ...) plus "
                  f"bias (out,), as torch.nn.functional.conv_transpose{_n}d: conv{_n}d's adjoint in its input",
              composite=lambda x, weight, bias=None, _n=_n, **p: transposed_convolution(
                  x, weight, bias, **p, n=_n, name=f"conv_transpose{_n}d"),
              keywords=("stride", "padding", "output_padding", "groups", "dilation"), positional=5,
              kinds={**_CONV_KINDS, "output_padding": "axis"}, method=False, batching="loop",
              torch_name=_conv_name(_n), samples=_TRANSPOSED_SAMPLES[_n])
