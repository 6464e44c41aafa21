"""Attention, resampling and rearranging channels, as PyTorch's nn functions: scaled_dot_product_attention,
interpolate (upsample), pixel_shuffle, pixel_unshuffle, channel_shuffle, unflatten and bilinear.

Each is a composite of the engine's operations, written as PyTorch's own composite or math kernel
computes it, so autograd gives PyTorch's derivatives. Attention follows the math backend
(_scaled_dot_product_attention_math): q and k are each scaled by sqrt(scale) before the product, the
mask is added, and a row whose every score is -inf gives zeros (_safe_softmax), not nan. Resampling
reads each output entry from the input entries PyTorch's kernels read (their source-index formulas,
in float32 where the kernels compute in float), weighted as they weight them, one axis at a time
from the last.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import Sample, Words, composite, primitive
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, one_axis, same_shape
from gradcli.ops.losses import given
from gradcli.ops.nn import _prepare, _softmax, _softmax_taylor, _sympy_softmax


def _constant(values: np.ndarray, like) -> Tensor:
    """values as a constant in like's dtype (a mask, weights)."""
    return Tensor(np.asarray(values, dtype=like.dtype))


def _last_two_swapped(x):
    return F.transpose(x, dim0=-2, dim1=-1)


# -- scaled_dot_product_attention --------------------------------------------------------------------

def _repeated_heads(x, times: int):
    """x (..., H, S, E) with each head repeated times in a row (repeat_interleave along dim=-3)."""
    if times == 1:
        return x
    lead, heads, rest = x.shape[:-3], x.shape[-3], x.shape[-2:]
    spread = lead + (heads, 1) + rest
    grown = F.expand(F.reshape(x, src=x.shape, dst=spread), src=spread, dst=lead + (heads, times) + rest)
    return F.reshape(grown, src=lead + (heads, times) + rest, dst=lead + (heads * times,) + rest)


def _safe_softmax(x, axis):
    """softmax along axis, with zeros for a row whose every entry is -inf (not nan)."""
    masked = np.all(x == -np.inf, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        return np.where(masked, 0.0, _softmax(x, axis)).astype(x.dtype, copy=False)


# NOTE: as PyTorch's _safe_softmax, the rule is softmax's, reading the output: a row of zeros passes
# 0 times the cotangent (nan where the cotangent is infinite, as torch's).
primitive(name="safe_softmax", doc="softmax along axis, zeros in a row whose every entry is -inf",
          signature="safe_softmax(x, axis=-1)", family="internal", public=False, forward=_safe_softmax,
          shape=same_shape, prepare=_prepare, sympy=_sympy_softmax, keywords=("axis",), taylor=_softmax_taylor,
          backward=lambda n, g: (n.ans * (g - F.sum(g * n.ans, axis=n.params["axis"], keepdims=True)),),
          saves="output", torch_name="SafeSoftmaxBackward0", samples=(Sample(((3,),)), Sample(((2, 3),))),
          words=Words(("x",), vjp=("{out} × (g - sum(g × {out}))",)))


def _attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if dropout_p > 0:
        raise GradcliError(f"scaled_dot_product_attention() with dropout_p={dropout_p:g} drops entries at random "
                           f"from torch's generator, which gradcli cannot reproduce: give dropout_p=0.0 (as in "
                           f"evaluation)", kind="value")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise GradcliError("scaled_dot_product_attention() takes query (..., L, E), key (..., S, E) and value "
                           "(..., S, Ev)", kind="shape")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise GradcliError(f"scaled_dot_product_attention(): query {format_shape(query.shape)}, key "
                           f"{format_shape(key.shape)} and value {format_shape(value.shape)} do not fit: query and "
                           f"key share their last axis (E), key and value their second to last (S)", kind="shape")
    mask = given(attn_mask, 0.0)
    if is_causal and mask is not None:
        raise GradcliError("scaled_dot_product_attention() takes is_causal=True or an attn_mask, not both",
                           kind="value")
    # As the math kernel: sqrt(scale) times each of q and k (a negative scale negates q's share).
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    factor = math.sqrt(abs(scale))
    query = query * (-factor if scale < 0 else factor)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads or kv_heads != value.shape[-3]:
            raise GradcliError(f"scaled_dot_product_attention(enable_gqa=True): {heads} query heads do not group "
                               f"over {kv_heads} key and {value.shape[-3]} value heads", kind="shape")
        key, value = _repeated_heads(key, heads // kv_heads), _repeated_heads(value, heads // kv_heads)
    scores = F.matmul(query, _last_two_swapped(key) * factor)
    if is_causal:  # (a boolean lower triangle, as a float mask: -inf above the diagonal)
        length, source = query.shape[-2], key.shape[-2]
        mask = _constant(np.where(np.tri(length, source, dtype=bool), 0.0, -np.inf), query)
    if mask is not None:
        scores = scores + mask
    return F.matmul(F.safe_softmax(scores, axis=-1), value)


def _sympy_attention(sp, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                     enable_gqa=False):
    scale = sp.Integer(1) / sp.sqrt(query.shape[-1]) if scale is None else sp.Float(scale)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        times = query.shape[-3] // key.shape[-3]
        key, value = np.repeat(key, times, axis=-3), np.repeat(value, times, axis=-3)
    scores = np.matmul(query, np.swapaxes(key, -1, -2)) * scale
    if is_causal:
        scores = scores + np.where(np.tri(scores.shape[-2], scores.shape[-1], dtype=bool), 0, -sp.oo)
    elif attn_mask is not None:
        scores = scores + attn_mask
    e = np.asarray(np.frompyfunc(sp.exp, 1, 1)(scores), dtype=object)
    return np.matmul(e / np.sum(e, axis=-1, keepdims=True), value)


composite(name="scaled_dot_product_attention", family="nn", sympy=_sympy_attention,
          signature="scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, "
                    "scale=None, enable_gqa=False)",
          doc="softmax(q kᵀ scale + attn_mask) v, as torch.nn.functional.scaled_dot_product_attention's math "
              "backend: scale 1/sqrt(E) by default, attn_mask added to the scores as numbers (PyTorch's float "
              "mask: -inf keeps an entry out), or, written as a mask (a comparison, m.bool()), keeping the "
              "entries where it is true (PyTorch's bool mask); is_causal the lower triangle, enable_gqa repeating "
              "key and value heads; a row of -inf scores gives zeros; dropout_p must be 0",
          inputs=("query", "key", "value", "attn_mask"), arity=4, optional={"attn_mask": 0.0}, method=False,
          masks=("attn_mask",),
          composite=_attention, keywords=("dropout_p", "is_causal", "scale", "enable_gqa"), positional=2,
          kinds={"dropout_p": "real", "scale": "real"},
          samples=(Sample(((3, 4), (5, 4), (5, 2))), Sample(((2, 3, 2), (2, 4, 2), (2, 4, 3), (3, 4))),
                   Sample(((2, 3, 2), (2, 3, 2), (2, 3, 2)), params={"is_causal": True}),
                   Sample(((2, 1, 3, 2), (1, 2, 2), (1, 2, 2)), params={"scale": 0.7}),
                   Sample(((1, 4, 2, 3), (1, 2, 3, 3), (1, 2, 3, 2)), params={"enable_gqa": True, "scale": -0.5})))


# -- interpolate ------------------------------------------------------------------------------------

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")
_SPATIAL = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}  # the axes each interpolating mode takes
_CUBIC_A = -0.75  # PyTorch's bicubic convolution constant


def _nearest_sources(length: int, size: int, scale, exact: bool) -> np.ndarray:
    """The input index each output index reads (nearest_idx and nearest_exact_idx of UpSample.h: a float32
    ratio, floorf)."""
    out = np.arange(size)
    if not exact and size == length:
        return out
    if not exact and size == 2 * length:
        return out >> 1
    ratio = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(length) / np.float32(size)
    if exact:
        spot = np.floor(((out + 0.5) * np.float64(ratio)).astype(np.float32))
    else:
        spot = np.floor(out.astype(np.float32) * ratio)
    return np.minimum(spot.astype(np.int64), length - 1)


def _source_positions(length: int, size: int, scale, align_corners: bool, cubic: bool, dtype) -> np.ndarray:
    """area_pixel_compute_source_index over the output, in the kernel's arithmetic (the tensor's float type)."""
    real = np.dtype(dtype).type
    if align_corners:
        ratio = real(length - 1) / real(size - 1) if size > 1 else real(0)
    else:
        ratio = real(1.0 / scale) if scale is not None and scale > 0 else real(length) / real(size)
    out = np.arange(size).astype(dtype)
    src = ratio * out if align_corners else ratio * (out + real(0.5)) - real(0.5)
    return src if cubic else np.maximum(src, real(0))


def _floored(src: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """guard_index_and_lambda: the index at or below src (floorf: in float32) and the fraction past it."""
    index = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), length - 1)
    return index, np.clip(src - index, 0, 1).astype(src.dtype)


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """get_cubic_upsample_coefficients: the four taps' weights at fraction t."""
    a = t.dtype.type(_CUBIC_A)

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    one = t.dtype.type(1.0)
    return [far(t + one), near(t), near(one - t), far(one - t + one)]


def _taps(mode: str, length: int, size: int, scale, align_corners: bool, dtype) -> list[tuple[np.ndarray, Any]]:
    """(input indices, weights or None) per tap: an output entry is the sum of weight times the entry read."""
    if mode in ("nearest", "nearest-exact"):
        return [(_nearest_sources(length, size, scale, mode == "nearest-exact"), None)]
    if mode == "bicubic":
        index, t = _floored(_source_positions(length, size, scale, align_corners, True, dtype), length)
        return [(np.clip(index - 1 + j, 0, length - 1), w) for j, w in enumerate(_cubic_weights(t))]
    if size == length:  # (compute_source_index_and_lambda copies: the second tap weighs 0)
        index = np.arange(size)
        return [(index, np.ones(size, dtype)), (index, np.zeros(size, dtype))]
    index, t = _floored(_source_positions(length, size, scale, align_corners, False, dtype), length)
    return [(index, (1 - t).astype(dtype)), (index + (index < length - 1), t)]


def _resampled(x, axis: int, taps):
    """x read along axis at each tap's indices, weighted and summed in the kernel's order."""
    total = None
    for index, weights in taps:
        read = F.take(x, axis=axis, indices=tuple(index.tolist()), index_shape=index.shape, src=x.shape)
        if weights is not None:
            read = _constant(weights.reshape((-1,) + (1,) * (x.ndim - axis - 1)), x) * read
        total = read if total is None else total + read
    return total


def _output_sizes(x, size, scale_factor, recompute_scale_factor) -> tuple[tuple[int, ...], tuple]:
    """The output's spatial sizes and the scales the kernels are given (None where they work it out)."""
    spatial = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise GradcliError("interpolate() takes one of size and scale_factor", kind="value")
    if size is not None:
        if recompute_scale_factor:
            raise GradcliError("interpolate(): recompute_scale_factor is not meaningful with an explicit size",
                               kind="value")
        sizes = size if isinstance(size, tuple) else (size,) * spatial
        if len(sizes) != spatial:
            raise GradcliError(f"interpolate(): size {sizes} for an input of {spatial} spatial axes "
                               f"{format_shape(x.shape[2:])}", kind="shape")
        return tuple(sizes), (None,) * spatial
    scales = scale_factor if isinstance(scale_factor, tuple) else (scale_factor,) * spatial
    if len(scales) != spatial:
        raise GradcliError(f"interpolate(): scale_factor {scales} for an input of {spatial} spatial axes "
                           f"{format_shape(x.shape[2:])}", kind="shape")
    sizes = tuple(int(math.floor(n * s)) for n, s in zip(x.shape[2:], scales))
    return sizes, (None,) * spatial if recompute_scale_factor else scales


def _interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                 antialias=False):
    if x.ndim not in (3, 4, 5):
        raise GradcliError(f"interpolate() takes an input (N, C, d1, ...) of 1 to 3 spatial axes, not "
                           f"{format_shape(x.shape)}", kind="shape")
    if mode == "area" and x.ndim == 5:
        raise GradcliError("interpolate(mode='area') of three spatial axes is adaptive_avg_pool3d, which gradcli "
                           "does not have", kind="value")
    if mode in _SPATIAL and x.ndim - 2 != _SPATIAL[mode]:
        raise GradcliError(f"interpolate(mode={mode!r}) takes an input of {_SPATIAL[mode] + 2} axes, not "
                           f"{format_shape(x.shape)}", kind="shape")
    if align_corners is not None and mode not in _SPATIAL:
        raise GradcliError("interpolate(): align_corners goes with the interpolating modes only: linear, bilinear, "
                           "bicubic, trilinear", kind="value")
    if antialias:
        raise GradcliError("interpolate(antialias=True) is not in gradcli", kind="value")
    sizes, scales = _output_sizes(x, size, scale_factor, recompute_scale_factor)
    if any(n <= 0 for n in sizes + x.shape[2:]):
        raise GradcliError(f"interpolate(): input sizes {x.shape[2:]} and output sizes {sizes} must be greater "
                           f"than 0", kind="value")
    if mode == "area":  # (as PyTorch: adaptive average pooling to the output size)
        pool = F.adaptive_avg_pool1d if x.ndim == 3 else F.adaptive_avg_pool2d
        return pool(x, output_size=sizes if x.ndim == 4 else sizes[0])
    # The last axis first, as the kernels' nested interpolation weighs it innermost.
    for axis in reversed(range(2, x.ndim)):
        taps = _taps(mode, x.shape[axis], sizes[axis - 2], scales[axis - 2], bool(align_corners), x.dtype)
        x = _resampled(x, axis, taps)
    return x


def _interpolate_name(shapes, params):
    """PyTorch's upsampling kernel's node for the mode and the number of spatial axes (area: an adaptive pool)."""
    axes, mode = len(shapes[0]) - 2, params.get("mode", "nearest")
    if mode == "area":
        return "SqueezeBackward1" if axes == 1 else f"AdaptiveAvgPool{axes}DBackward0"
    kernel = {"nearest": "Nearest", "nearest-exact": "NearestExact"}.get(mode, mode.replace("bi", "Bi").replace(
        "tri", "Tri").capitalize())
    return f"Upsample{kernel}{axes}DBackward0"


composite(name="interpolate", torch_name=_interpolate_name, family="nn",
          signature="interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None, "
                    "recompute_scale_factor=None, antialias=False)",
          doc="x (N, C, d1, ...) resampled to size (or d * scale_factor, floored) as "
              "torch.nn.functional.interpolate: nearest, nearest-exact, linear, bilinear, trilinear, bicubic or area, "
              "with PyTorch's source indices (align_corners: the corner entries' centres meet)",
          aliases=("upsample",), method=False, composite=_interpolate,
          keywords=("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
          positional=5, kinds={"size": "axis", "scale_factor": "reals", "mode": _MODES},
          samples=(Sample(((1, 2, 3),), params={"size": 5}), Sample(((1, 1, 4),), params={"scale_factor": 0.6}),
                   Sample(((1, 1, 3),), params={"size": 7, "mode": "nearest-exact"}),
                   Sample(((1, 2, 3),), params={"scale_factor": 1.7, "mode": "linear"}),
                   Sample(((1, 1, 2, 3),), params={"size": (3, 5), "mode": "bilinear", "align_corners": True}),
                   Sample(((1, 1, 2, 2, 2),), params={"scale_factor": 1.5, "mode": "trilinear"}),
                   Sample(((1, 1, 3, 3),), params={"size": (4, 2), "mode": "bicubic"}),
                   Sample(((1, 2, 5, 3),), params={"size": (2, 3), "mode": "area"}),
                   Sample(((1, 1, 2, 3),), params={"scale_factor": (1.5, 2.0), "mode": "bilinear"})))


# -- rearranging channels -------------------------------------------------------------------------------

def _reshaped(x, shape):
    return x if tuple(shape) == x.shape else F.reshape(x, src=x.shape, dst=tuple(shape))


def _rearranged(x, split: tuple, order: tuple, merged: tuple):
    """x's trailing axes split into `split`, put in `order` (of the split axes), merged into `merged`: PyTorch's
    view, permute, reshape of the shuffles (the leading axes stay as they are)."""
    batch = x.shape[:-3]
    spread = _reshaped(x, batch + split)
    at = len(batch)
    moved = F.permute(spread, perm=tuple(range(at)) + tuple(at + o for o in order))
    return _reshaped(moved, batch + merged)


def _pixel_shuffle(x, upscale_factor):
    r = upscale_factor
    if x.ndim < 3 or r <= 0 or x.shape[-3] % (r * r):
        raise GradcliError(f"pixel_shuffle() takes x (*, C r², H, W) with r = upscale_factor > 0 (here {r}), not "
                           f"{format_shape(x.shape)}", kind="shape")
    c, h, w = x.shape[-3] // (r * r), x.shape[-2], x.shape[-1]
    return _rearranged(x, (c, r, r, h, w), (0, 3, 1, 4, 2), (c, h * r, w * r))


def _pixel_unshuffle(x, downscale_factor):
    r = downscale_factor
    if x.ndim < 3 or r <= 0 or x.shape[-2] % r or x.shape[-1] % r:
        raise GradcliError(f"pixel_unshuffle() takes x (*, C, H r, W r) with r = downscale_factor > 0 (here {r}), "
                           f"not {format_shape(x.shape)}", kind="shape")
    c, h, w = x.shape[-3], x.shape[-2] // r, x.shape[-1] // r
    return _rearranged(x, (c, h, r, w, r), (0, 2, 4, 1, 3), (c * r * r, h, w))


composite(name="pixel_shuffle", family="nn", signature="pixel_shuffle(input, upscale_factor)",
          doc="(*, C r², H, W) rearranged to (*, C, H r, W r), as torch.nn.functional.pixel_shuffle",
          composite=_pixel_shuffle, keywords=("upscale_factor",), torch_name="PixelShuffleBackward0",
          samples=(Sample(((4, 2, 3),), params={"upscale_factor": 2}),
                   Sample(((2, 9, 1, 2),), params={"upscale_factor": 3})))
composite(name="pixel_unshuffle", family="nn", signature="pixel_unshuffle(input, downscale_factor)",
          doc="(*, C, H r, W r) rearranged to (*, C r², H, W), as torch.nn.functional.pixel_unshuffle (undoes "
              "pixel_shuffle)",
          composite=_pixel_unshuffle, keywords=("downscale_factor",), torch_name="PixelUnshuffleBackward0",
          samples=(Sample(((1, 4, 6),), params={"downscale_factor": 2}),
                   Sample(((2, 2, 3, 3),), params={"downscale_factor": 3})))


def _channel_shuffle(x, groups):
    if x.ndim < 3 or groups <= 0 or x.shape[1] % groups:
        raise GradcliError(f"channel_shuffle() takes x (N, C, *) of 3 or more axes, C a multiple of groups "
                           f"(here {groups}), not {format_shape(x.shape)}", kind="shape")
    n, c, rest = x.shape[0], x.shape[1], x.shape[2:]
    spread = _reshaped(x, (n, groups, c // groups) + rest)
    swapped = F.permute(spread, perm=(0, 2, 1) + tuple(range(3, spread.ndim)))
    return _reshaped(swapped, x.shape)


composite(name="channel_shuffle", family="nn", signature="channel_shuffle(input, groups)",
          doc="channels (N, C, *) split into groups and interleaved: channel g C/groups + i goes to i groups + g, "
              "as torch.nn.functional.channel_shuffle",
          composite=_channel_shuffle, keywords=("groups",), method=False,
          samples=(Sample(((1, 6, 2),), params={"groups": 2}), Sample(((2, 4, 1, 2),), params={"groups": 4})))


def _unflatten(x, axis, sizes):
    sizes = sizes if isinstance(sizes, tuple) else (sizes,)
    at = one_axis(axis, x.ndim)
    length = x.shape[at]
    known = math.prod(n for n in sizes if n != -1)
    if not sizes or sizes.count(-1) > 1 or any(n < -1 for n in sizes) or \
            (-1 in sizes and (not known or length % known)) or (-1 not in sizes and known != length):
        raise GradcliError(f"unflatten(): sizes {sizes} do not make an axis of {length}", kind="shape")
    sizes = tuple(length // known if n == -1 else n for n in sizes)
    return _reshaped(x, x.shape[:at] + sizes + x.shape[at + 1:])


composite(name="unflatten", family="array", signature="unflatten(x, dim, sizes)",
          doc="axis dim split into the axes sizes gives (one may be -1), as torch.unflatten and x.unflatten",
          composite=_unflatten, keywords=("axis", "sizes"), positional=2, kinds={"sizes": "axis"},
          torch_name="ViewBackward0",
          samples=(Sample(((6,),), params={"axis": 0, "sizes": (2, 3)}),
                   Sample(((2, 6),), params={"axis": -1, "sizes": (3, -1)}),
                   Sample(((4, 3),), params={"axis": 0, "sizes": (2, 1, 2)})))


def _bilinear(x1, x2, weight, bias=None):
    """y_o = Σ_ij x1_i weight_oij x2_j (+ bias_o), over x1 (..., in1) and x2 (..., in2) with one batch shape."""
    if weight.ndim != 3 or x1.ndim < 1 or x1.shape[-1] != weight.shape[1] or x2.shape[-1:] != weight.shape[2:] \
            or x1.shape[:-1] != x2.shape[:-1]:
        raise GradcliError(f"bilinear() takes x1 (..., in1), x2 (..., in2) and weight (out, in1, in2), not "
                           f"{format_shape(x1.shape)}, {format_shape(x2.shape)} and {format_shape(weight.shape)}",
                           kind="shape")
    batch = x1.shape[:-1]
    rows = _reshaped(x1, batch + (1, 1, x1.shape[-1]))
    columns = _reshaped(x2, batch + (1, x2.shape[-1], 1))
    out = F.matmul(F.matmul(rows, weight), columns)
    out = _reshaped(out, batch + (weight.shape[0],))
    bias = given(bias, 0.0)
    return out if bias is None else out + bias


composite(name="bilinear", torch_name=lambda shapes, params: "AddBackward0" if shapes[3] != () else "ViewBackward0",
          family="nn", signature="bilinear(input1, input2, weight, bias=None)",
          doc="x1ᵀ A x2 + b for each output feature, as torch.nn.functional.bilinear (nn.Bilinear): weight (out, "
              "in1, in2), bias (out,)",
          inputs=("input1", "input2", "weight", "bias"), arity=4, optional={"bias": 0.0}, method=False,
          composite=_bilinear,
          samples=(Sample(((2, 3), (2, 2), (4, 3, 2), (4,))), Sample(((3,), (2,), (1, 3, 2))),
                   Sample(((2, 1, 2), (2, 1, 3), (2, 2, 3), (2,)))))
