"""Pooling, as torch.nn.functional's: avg_pool1d/2d, max_pool1d/2d, adaptive_avg_pool1d/2d,
adaptive_max_pool1d/2d and lp_pool1d/2d, on inputs (N, C, ...) or (C, ...).

An average is the sum of a window (ops/convolution.py's patches, zeros in the padding) over its
divisor, as PyTorch's kernels count it (count_include_pad, divisor_override, the shorter last window
of ceil_mode). A maximum is x's entry at the index PyTorch's kernel picks, worked out from x's numbers
(read through `decide`, a traced program's guard) and read as gather reads it (ops/gather.py): the
first largest entry in the window's row-major order, or the last NaN where the window has one (its
test is `val > maxval || isnan(val)`); the gradient goes to that entry only, and windows that share
it add up, as max_pool2d_with_indices_backward. An adaptive pool's windows run from floor(i L / out)
to ceil((i + 1) L / out) along each axis.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Kink, Sample, Words, composite, primitive
from gradcli.autodiff.trace import decide
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, zeros_like
from gradcli.ops.convolution import batched, sizes, unbatched


# -- window geometry -------------------------------------------------------------------------------------
def _pooled_length(length, kernel, pad, stride, dilation, ceil_mode):
    """torch's pooling_output_shape: the windows along an axis; with ceil_mode a last, shorter window
    where it starts inside the input or its left padding."""
    span = length + 2 * pad - dilation * (kernel - 1) - 1
    count = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (count - 1) * stride >= length + pad:
        count -= 1
    return count


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, n, name, effective):
    """kernel, stride, dilation, (before, after) padding and the count of windows along each spatial axis."""
    kernel = sizes(kernel_size, n, "kernel_size")
    stride = kernel if stride is None or stride == () else sizes(stride, n, "stride")
    dilation = sizes(dilation, n, "dilation")
    pad = sizes(padding, n, "padding", least=0)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation)) if effective else kernel
    if any(p > s // 2 for p, s in zip(pad, spans)):
        raise GradcliError(f"{name}(): padding={padding!r} must be at most half the kernel "
                           f"({format_shape(spans)}), as in PyTorch", kind="value")
    spatial = x.shape[2:]
    count = tuple(_pooled_length(m, k, p, s, d, bool(ceil_mode))
                  for m, k, p, s, d in zip(spatial, kernel, pad, stride, dilation))
    if min(count) < 1:
        raise GradcliError(f"{name}(): a kernel of {format_shape(kernel)} leaves no window in an input of shape "
                           f"{format_shape(x.shape)}", kind="shape")
    # (after: what the last window reads past the input, which ceil_mode may make longer than pad or
    # a leftover shorter; a negative number crops)
    padding = tuple((p, (c - 1) * s + d * (k - 1) + 1 - m - p)
                    for m, k, p, s, d, c in zip(spatial, kernel, pad, stride, dilation, count))
    return kernel, stride, dilation, pad, padding, count


def _check_input(x, n, name):
    x, had_batch = batched(x, n, name)
    if min(x.shape[2:], default=1) < 1:
        raise GradcliError(f"{name}() takes an input with no empty spatial axis, not shape "
                           f"{format_shape(x.shape)}", kind="shape")
    return x, had_batch


# -- averages ----------------------------------------------------------------------------------------------
def _divisor(spatial, kernel, stride, pad, count, count_include_pad):
    """What torch divides each window's sum by: the entries it covers inside the padded input
    (count_include_pad) or inside the input, counted along each axis and multiplied."""
    total = np.ones((), np.int64)
    for m, k, s, p, c in zip(spatial, kernel, stride, pad, count):
        start = np.arange(c) * s - p
        end = np.minimum(start + k, m + p)
        covered = end - start if count_include_pad else np.minimum(end, m) - np.maximum(start, 0)
        total = np.multiply.outer(total, np.maximum(covered, 1))
    return total


def _avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None, *, n, name):
    x, had_batch = _check_input(x, n, name)
    kernel, stride, _, pad, padding, count = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode, n, name,
                                                            effective=False)
    cols = F.patches(x, kernel=kernel, dilation=(1,) * n, padding=padding, stride=stride)
    total = F.sum(cols, axis=tuple(range(2, 2 + n)))
    if divisor_override is not None and divisor_override != 0:
        divisor = np.asarray(divisor_override)
    elif divisor_override == 0:
        raise GradcliError(f"{name}(): divisor_override must be a positive number, not 0", kind="value")
    else:
        divisor = _divisor(x.shape[2:], kernel, stride, pad, count, bool(count_include_pad))
    return unbatched(total / divisor.astype(x.data.dtype), had_batch)


def _adaptive_index(length: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Each adaptive window's entries along an axis, (out, longest) of them, and which are in it (the
    others index the entry past the end)."""
    start = np.arange(out) * length // out
    end = -(-(np.arange(out) + 1) * length // out)
    longest = int((end - start).max())
    index = start[:, None] + np.arange(longest)
    inside = index < end[:, None]
    return np.where(inside, index, length), inside


def _zero_after(x, axis):
    """x with one zero more at the end of axis, which the entries outside an adaptive window read: a window's
    sum is of its own entries and exact zeros (an inf elsewhere on the axis stays out of it)."""
    ones = (1,) * (x.ndim - axis)
    grown = F.patches(x, kernel=ones, dilation=ones, padding=((0, 1),) + ((0, 0),) * (len(ones) - 1), stride=ones)
    return F.reshape(grown, src=grown.shape, dst=x.shape[:axis] + (x.shape[axis] + 1,) + x.shape[axis + 1:])


def _adaptive_avg_pool(x, output_size, *, n, name):
    x, had_batch = _check_input(x, n, name)
    out = sizes(output_size, n, "output_size")
    counts = np.ones((), np.int64)
    for i, (m, o) in enumerate(zip(x.shape[2:], out)):
        axis = 2 + 2 * i  # (the axes so far were each split into (windows, entries))
        index, inside = _adaptive_index(m, o)
        x = _zero_after(x, axis)
        x = F.take(x, axis=axis, indices=tuple(index.reshape(-1).tolist()), index_shape=index.shape, src=x.shape)
        counts = np.multiply.outer(counts, inside.sum(axis=1))
    total = F.sum(x, axis=tuple(range(3, 2 + 2 * n, 2)))
    return unbatched(total / counts.astype(x.data.dtype), had_batch)


# -- maxima ---------------------------------------------------------------------------------------------------
def _first_largest(values: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Along the last axis, the index PyTorch's max pooling picks: the last NaN where there is one, else the
    first entry inside the window equal to its largest (the first inside one where all are -inf)."""
    nan = np.isnan(values) & inside
    last_nan = values.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    largest = np.max(np.where(inside & ~nan, values, -np.inf), axis=-1, keepdims=True)
    first = np.argmax((values == largest) & inside, axis=-1)
    return np.where(nan.any(axis=-1), last_nan, first)


def _max_positions(data: np.ndarray, windows: tuple[tuple[np.ndarray, np.ndarray], ...]) -> np.ndarray:
    """The flat positions in data (N, C, *spatial) of each window's pick, shaped (N, C, *windows). windows
    holds, per spatial axis, the index of each entry of each window (windows, entries) and whether it is
    inside the input (the padding is not)."""
    n, spatial = len(windows), data.shape[2:]

    def on_axis(i, a):  # a (windows, entries) of axis i, on axes 2i and 2i + 1 of 2n
        return a.reshape((1,) * (2 * i) + a.shape + (1,) * (2 * (n - i - 1)))
    grids = [on_axis(i, np.clip(index, 0, m - 1)) for i, ((index, _), m) in enumerate(zip(windows, spatial))]
    full = tuple(s for index, _ in windows for s in index.shape)
    inside = np.logical_and.reduce([np.broadcast_to(on_axis(i, inside), full) for i, (_, inside) in enumerate(windows)])
    order = tuple(range(0, 2 * n, 2)) + tuple(range(1, 2 * n, 2))  # (w1, e1, w2, e2, ...) to (w1, w2, ..., e1, ...)
    count = tuple(index.shape[0] for index, _ in windows)

    def by_window(a):  # (..., w1, e1, ..., wn, en) to (..., w1, ..., wn, every entry of the window)
        lead = a.ndim - 2 * n
        return a.transpose(tuple(range(lead)) + tuple(lead + o for o in order)).reshape(a.shape[:lead] + count + (-1,))
    values = by_window(data[(..., *grids)])
    flat = by_window(np.ravel_multi_index(np.broadcast_arrays(*grids), spatial))
    inside = np.broadcast_to(by_window(inside), values.shape)
    pick = _first_largest(values, inside)
    within = np.take_along_axis(np.broadcast_to(flat, values.shape), pick[..., None], axis=-1)[..., 0]
    channels = np.arange(data.shape[0] * data.shape[1]).reshape(data.shape[:2] + (1,) * n)
    # (a window wholly in the padding is -inf, as torch's, with no entry to send a gradient to)
    return np.where(inside.any(axis=-1), channels * math.prod(spatial) + within, data.size)


# NOTE: x's entries at the picks are a primitive, not gather's composite, for PyTorch's second order: the
# rule of max_pool2d_with_indices_backward gives its input x the cotangent zeros_like(x) (derivatives.yaml),
# real zeros that make a NaN where an inf or NaN factor meets them upstream, as torch's.
def _picked(x, positions, shape, src):
    """x's entries at flat positions; a position past the end (a window wholly in the padding) reads -inf."""
    lead = x.shape[:x.ndim - len(src)]
    flat = np.concatenate([x.reshape(lead + (-1,)), np.full(lead + (1,), -np.inf, x.dtype)], axis=-1)
    return flat[..., list(positions)].reshape(lead + tuple(shape))


def _picked_back(g, x, positions, shape, src):
    lead = g.shape[:g.ndim - len(shape)]
    out = np.zeros(lead + (math.prod(src) + 1,), g.dtype)
    np.add.at(out, (slice(None),) * len(lead) + (np.asarray(positions, np.intp),), g.reshape(lead + (-1,)))
    return out[..., :-1].reshape(lead + tuple(src))


_PICK_SAMPLE = {"positions": (0, 4, 4, 5), "shape": (1, 4), "src": (2, 3)}
primitive(name="pool_pick", family="internal", public=False, signature="pool_pick(x)", saves="inputs",
          doc="x's entries at flat positions (a max pool's picks)", forward=_picked,
          shape=lambda s, positions, shape, src: tuple(shape), sympy=lambda sp, x, **p: _picked(x, **p),
          taylor=T.linear, backward=lambda n, g: (F.pool_pick_back(g, n.x, **n.params),),
          torch_name="MaxPool2DWithIndicesBackward0", batching="loop",
          words=Words(("x",), vjp=("g, added into zeros shaped like {x} at the picked entries",)),
          samples=(Sample(((2, 3),), params=_PICK_SAMPLE),))
primitive(name="pool_pick_back", family="internal", public=False, signature="pool_pick_back(g, x)",
          doc="g added into zeros shaped like x at flat positions (a max pool's backward)", forward=_picked_back,
          shape=lambda g, x, positions, shape, src: tuple(src), arity=2, saves="inputs",
          sympy=lambda sp, g, x, **p: _picked_back(g, x, **p) + 0 * sp.S.Zero,
          taylor=lambda n, g, x: np.stack([n.forward(g[k], x[0]) for k in range(len(g))]),
          backward=lambda n, g: (F.pool_pick(g, **n.params) if n.needs[0] else None,
                                 zeros_like(g) if n.needs[1] else None),
          torch_name="MaxPool2DWithIndicesBackwardBackward0", batching="loop",
          words=Words(("g", "x"), vjp=("g at the picked entries", "zeros shaped like {x}")),
          samples=(Sample(((1, 4), (2, 3)), params=_PICK_SAMPLE),))


def _pick(x, positions):
    return F.pool_pick(x, positions=tuple(positions.reshape(-1).tolist()), shape=positions.shape, src=x.shape)


def _max_windows(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *, n, name):
    """Per spatial axis, each window's entries and which of them are inside x (N, C, ...): max_pool's."""
    kernel, stride, dilation, _, padding, count = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode,
                                                                 n, name, effective=True)
    windows = []
    for m, k, s, d, (before, _), c in zip(x.shape[2:], kernel, stride, dilation, padding, count):
        index = (np.arange(c) * s - before)[:, None] + np.arange(k) * d
        windows.append((index, (index >= 0) & (index < m)))
    return tuple(windows)


def _adaptive_windows(x, output_size, *, n, name):
    return tuple(_adaptive_index(m, o) for m, o in zip(x.shape[2:], sizes(output_size, n, "output_size")))


def _max_pool(x, *args, return_indices=False, n, name, windows_of=_max_windows, **params):
    """The picks of each window; return_indices makes the call a pair, whose indices its record's pair gives."""
    x, had_batch = _check_input(x, n, name)
    # (the windows follow from the shapes alone: part of the decision, not one of the arrays it reads)
    windows = windows_of(x, *args, n=n, name=name, **params)
    return unbatched(_pick(x, decide(partial(_max_positions, windows=windows), x)), had_batch)


def _max_indices(n, name, windows_of):
    """A max pool's indices, as PyTorch's return_indices=True gives them: each pick's flat position within its
    channel's spatial plane (whole numbers, as floats here)."""
    def forward(x, *args, return_indices=False, **params):
        data = x if x.ndim == n + 2 else x[None]
        windows = windows_of(data, *args, n=n, name=name, **params)
        positions = _max_positions(data, windows) % math.prod(data.shape[2:])
        return (positions if x.ndim == n + 2 else positions[0]).astype(x.dtype)
    return forward


# -- power averages ---------------------------------------------------------------------------------------------
def _lp_pool(x, norm_type, kernel_size, stride=None, ceil_mode=False, *, n, name):
    """As torch's lp_pool: (sign(a) relu(|a|) * kernel entries) ** (1 / p) of a = avg_pool(x ** p)."""
    average = _avg_pool(x ** norm_type, kernel_size, stride, 0, ceil_mode, n=n, name=name)
    size = math.prod(sizes(kernel_size, n, "kernel_size"))
    return (F.sign(average) * F.relu(F.abs(average)) * float(size)) ** (1.0 / norm_type)


# -- the records -------------------------------------------------------------------------------------------------
def _named(two_d: str):
    """PyTorch's node: a 1-d pool is the 2-d one of an added axis, squeezed after."""
    return lambda n: (lambda shapes, params: two_d if n == 2 else "SqueezeBackward1")


def _adaptive_avg_name(n):
    def name(shapes, params):
        if n == 1:
            return "SqueezeBackward1"
        return "MeanBackward1" if sizes(params["output_size"], 2, "output_size") == (1, 1) else \
            "AdaptiveAvgPool2DBackward0"
    return name


_KINDS = {"kernel_size": "axis", "stride": "axis", "padding": "axis", "dilation": "axis", "output_size": "axis"}
_POOLS = {  # name: (forward, keywords by position, keywords of the 2-d one only, its node, what it does)
    "avg_pool": (_avg_pool, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
                 ("divisor_override",), _named("AvgPool2DBackward0"),
                 "the mean of each window (zeros in the padding count where count_include_pad; divisor_override "
                 "divides the sum instead)"),
    "max_pool": (_max_pool, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"), (),
                 _named("MaxPool2DWithIndicesBackward0"),
                 "the largest entry of each window (the padding -inf); the gradient goes to the entry PyTorch "
                 "picks: the first largest in the window's row-major order, the last NaN if it has one"),
    "adaptive_avg_pool": (_adaptive_avg_pool, ("output_size",), (), _adaptive_avg_name,
                          "the mean of each of output_size windows, from floor(i L / out) to ceil((i + 1) L / out)"),
    "adaptive_max_pool": (partial(_max_pool, windows_of=_adaptive_windows), ("output_size", "return_indices"), (),
                          _named("AdaptiveMaxPool2DBackward0"),
                          "the largest entry of each of output_size windows, from floor(i L / out) to "
                          "ceil((i + 1) L / out), picked as max_pool picks"),
    "lp_pool": (_lp_pool, ("norm_type", "kernel_size", "stride", "ceil_mode"), (), lambda n: "PowBackward0",
                "(sum of x ** p over each window) ** (1 / p), as torch's: avg_pool(x ** p) times the kernel's "
                "size, to the power 1 / p (negative sums give 0)"),
}
_SAMPLES = {
    ("avg_pool", 1): (Sample(((1, 2, 5),), params={"kernel_size": 2}),
                      Sample(((2, 5),), params={"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": 1,
                                                "count_include_pad": 0})),
    ("avg_pool", 2): (Sample(((1, 1, 4, 4),), params={"kernel_size": 2}),
                      Sample(((2, 3, 4),), params={"kernel_size": (2, 3), "stride": (2, 1), "padding": 1,
                                                   "ceil_mode": 1}),
                      Sample(((1, 3, 3),), params={"kernel_size": 2, "stride": 1, "divisor_override": 3})),
    ("max_pool", 1): (Sample(((1, 2, 5),), params={"kernel_size": 2}),
                      Sample(((2, 6),), params={"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2,
                                                "ceil_mode": 1})),
    ("max_pool", 2): (Sample(((1, 1, 4, 4),), params={"kernel_size": 2}),
                      Sample(((2, 3, 5),), params={"kernel_size": (2, 3), "stride": (1, 2), "padding": 1,
                                                   "ceil_mode": 1})),
    ("adaptive_avg_pool", 1): (Sample(((1, 2, 5),), params={"output_size": 3}),
                               Sample(((2, 3),), params={"output_size": 5})),
    ("adaptive_avg_pool", 2): (Sample(((1, 1, 5, 4),), params={"output_size": (3, 2)}),
                               Sample(((2, 3, 3),), params={"output_size": 2})),
    ("adaptive_max_pool", 1): (Sample(((1, 2, 5),), params={"output_size": 3}),
                               Sample(((2, 3),), params={"output_size": 4})),
    ("adaptive_max_pool", 2): (Sample(((1, 1, 5, 4),), params={"output_size": (3, 2)}),
                               Sample(((2, 3, 3),), params={"output_size": 2})),
    ("lp_pool", 1): (Sample(((1, 2, 4),), "positive", params={"norm_type": 2.0, "kernel_size": 2}),
                     Sample(((2, 5),), "positive", params={"norm_type": 3.0, "kernel_size": 3, "stride": 1})),
    ("lp_pool", 2): (Sample(((1, 1, 4, 4),), "positive", params={"norm_type": 2.0, "kernel_size": 2}),
                     Sample(((2, 3, 3),), "positive", params={"norm_type": 1.5, "kernel_size": (2, 1), "stride": 1,
                                                             "ceil_mode": 1})),
}
_TIES = Kink(([[1.0, 3.0, 3.0, 2.0]],), ([[0.0, 2.0, 1.0, 0.0]],), params={"kernel_size": 2, "stride": 1},
             note="among equal largest entries the first in the window takes the gradient; overlapping windows "
                  "add up", noted=False)
_NAN = Kink(([[np.nan, 1.0, np.nan, 2.0]],), ([[0.0, 0.0, 2.0, 0.0]],), params={"kernel_size": 3, "stride": 1},
            note="a window with NaNs gives its last NaN the gradient", noted=False)
for (_kind, _n), _samples in _SAMPLES.items():
    _forward, _keywords, _more, _name, _what = _POOLS[_kind]
    _keywords += _more if _n == 2 else ()
    _signature = ", ".join(_keywords)
    _picks = _kind.endswith("max_pool")  # (return_indices=True: the pair (values, indices))
    composite(name=f"{_kind}{_n}d", family="nn", signature=f"{_kind}{_n}d(input, {_signature})",
              doc=f"{_what}, over the last {_n} ax{'is' if _n == 1 else 'es'} of input (N, C, ...) or (C, ...), as "
                  f"torch.nn.functional.{_kind}{_n}d",
              composite=lambda x, _forward=_forward, _n=_n, _name=f"{_kind}{_n}d", **p: _forward(x, **p, n=_n,
                                                                                                 name=_name),
              keywords=_keywords, positional=len(_keywords),
              kinds={k: v for k, v in {**_KINDS, "norm_type": "real"}.items() if k in _keywords},
              method=False, batching="loop", torch_name=_name(_n), samples=_samples,
              kinks=(_TIES, _NAN) if _kind == "max_pool" and _n == 1 else (),
              pair=f"{_kind}{_n}d_indices" if _picks else "", pair_when="return_indices" if _picks else "")
    if _picks:
        _indices = _max_indices(_n, f"{_kind}{_n}d", _max_windows if _kind == "max_pool" else _adaptive_windows)
        primitive(name=f"{_kind}{_n}d_indices", family="nn", public=False, signature=f"{_kind}{_n}d_indices(input)",
                  doc=f"where {_kind}{_n}d's picks are, in each channel's flattened spatial plane",
                  forward=_indices, shape=lambda s, _indices=_indices, **p: _indices(np.zeros(s), **p).shape,
                  keywords=_keywords, positional=len(_keywords), kinds={k: v for k, v in _KINDS.items() if k in _keywords},
                  differentiable=False, batching="loop", samples=_samples[:1])
