"""Functions along one axis of a sequence, as PyTorch's: diff, logcumsumexp, trapezoid and
cumulative_trapezoid, and F.pad (constant, reflect, replicate and circular).

diff, the trapezoids and pad are PyTorch's composites, written here as torch writes them (slices, a
difference, a sum), so autograd gives their rules. logcumsumexp is a primitive with PyTorch's rule,
logcumsumexp_backward, which takes the log of g's positive and negative parts apart so that nothing
overflows. pad reads each output entry from an entry of x (or the fill value): a reflected, repeated or
wrapped entry sends its gradient back added up, as torch's reflection and replication pads do; a
negative pad crops.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.mode import default_dtype
from gradcli.autodiff.op import Sample, Words, composite, primitive
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, normalize_axes, same_shape
from gradcli.ops.losses import given


def _axis(axis, ndim: int, name: str) -> int:
    """One axis as a negative number; name's input needs one."""
    if ndim == 0:
        raise GradcliError(f"{name}() takes an array of at least one dimension, not a number", kind="shape")
    if isinstance(axis, tuple):
        raise GradcliError(f"{name}(): dim= takes one axis, not a tuple", kind="index")
    return normalize_axes(axis, ndim)[0]


def _part(x, axis: int, start, stop):
    """x[start:stop] along axis (a negative axis)."""
    key = (slice(None),) * (x.ndim + axis) + (slice(start, stop),)
    return F.index(x, key=key, src=x.shape)


# -- diff -----------------------------------------------------------------------------------------------
def _diff(x, prepend=None, append=None, n=1, axis=-1):
    """torch.diff: n times x[1:] - x[:-1] along dim, after prepend and append are joined to x there."""
    axis = _axis(axis, x.ndim, "diff")
    if n < 0:
        raise GradcliError(f"diff() takes order n >= 0, not {n}", kind="value")
    ends = [given(prepend, 0.0), given(append, 0.0)]
    for end in (e for e in ends if e is not None):
        others = [s for d, s in enumerate(end.shape) if d - end.ndim != axis]
        if end.ndim != x.ndim or others != [s for d, s in enumerate(x.shape) if d - x.ndim != axis]:
            raise GradcliError(f"diff(): prepend and append take x's shape {format_shape(x.shape)} but along "
                               f"dim, not {format_shape(end.shape)}", kind="shape")
    if ends != [None, None]:
        x = F.cat(*[e for e in (ends[0], x, ends[1]) if e is not None], axis=axis)
    for _ in range(n):
        if x.shape[axis] == 0:
            break
        x = _part(x, axis, 1, None) - _part(x, axis, None, -1)
    return x


composite(name="diff", family="array", signature="diff(x, n=1, dim=-1, prepend=None, append=None)",
          inputs=("x", "prepend", "append"), arity=3, optional={"prepend": 0.0, "append": 0.0},
          doc="the n-th forward difference along dim, x[1:] - x[:-1] applied n times, as torch.diff (prepend, "
              "append: arrays joined to x along dim first)",
          composite=_diff, keywords=("n", "axis"), leading=("n", "axis"), batching="loop", torch_name="SubBackward0",
          samples=(Sample(((5,),)), Sample(((3, 4),), params={"axis": 0}), Sample(((2, 4),), params={"n": 2}),
                   Sample(((4,), (1,), (2,)), params={"n": 1, "axis": -1}),
                   Sample(((2, 3), (2, 1)), params={"n": 1, "axis": 1})))


# -- logcumsumexp ---------------------------------------------------------------------------------------
def _prepare_running(shape, axis):
    if isinstance(axis, tuple):
        raise GradcliError("logcumsumexp(): dim= takes one axis, not a tuple", kind="index")
    return {"axis": normalize_axes(axis, max(len(shape), 1))[0]}


def _logcumsumexp(x, axis):
    if x.ndim == 0:
        return x.copy()
    return np.logaddexp.accumulate(x, axis=axis)


def _reversed_logcumsumexp(x, axis):
    return F.flip(F.logcumsumexp(F.flip(x, dims=axis), axis=axis), dims=axis)


def _logcumsumexp_backward(n, g):
    """PyTorch's logcumsumexp_backward: exp(reversed logcumsumexp(log g - out) + x) for g's positive and its
    negative part apart (the lowest number standing for a part's zeros), so that nothing overflows.

    NOTE: as torch's, its derivative in g is nan where g has a 0 (log 0 under where): third derivatives of
    logcumsumexp are nan, in PyTorch and here, where Taylor mode gives the true ones.
    """
    x, ans, axis = n.x, n.ans, n.params["axis"]
    if not n.out_shape or 0 in n.out_shape:
        return (g,)
    lowest = np.finfo(g.dtype).min
    log_abs = F.log(F.abs(g))
    positive = F.where(F.gt(g, 0.0), log_abs, lowest)
    negative = F.where(F.lt(g, 0.0), log_abs, lowest)
    return (F.exp(_reversed_logcumsumexp(positive - ans, axis) + x) -
            F.exp(_reversed_logcumsumexp(negative - ans, axis) + x),)


def _logcumsumexp_taylor(n, x):
    if x.ndim == 1:
        return x
    axis = n.params["axis"] + x.ndim if n.params["axis"] >= 0 else n.params["axis"]
    peak = np.max(x[:1], axis=axis, keepdims=True)[0]
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return T.offset(T.log(np.cumsum(T.exp(T.offset(x, -peak)), axis=axis)), peak)


def _sympy_logcumsumexp(sp, x, axis):
    if x.ndim == 0:
        return x
    rows = np.moveaxis(x, axis, -1)
    out = np.empty(rows.shape, dtype=object)
    for index in np.ndindex(rows.shape[:-1]):
        total = None
        for k, v in enumerate(rows[index]):
            total = sp.exp(v) if total is None else total + sp.exp(v)
            out[index + (k,)] = sp.log(total)
    return np.moveaxis(out, -1, axis)


primitive(name="logcumsumexp", family="array", signature="logcumsumexp(x, dim)",
          doc="log(cumsum(exp(x))) along dim, computed without overflow, as torch.logcumsumexp",
          forward=_logcumsumexp, backward=_logcumsumexp_backward, shape=same_shape, prepare=_prepare_running,
          sympy=_sympy_logcumsumexp, taylor=_logcumsumexp_taylor, keywords=("axis",), saves="both",
          batching="loop", torch_name="LogcumsumexpBackward0",
          words=Words(("x",), vjp=("for each entry, the sum of g_i × exp({x} - {out}_i) over the i from that "
                                   "entry on",)),
          samples=(Sample(((4,),), params={"axis": 0}), Sample(((2, 3),), params={"axis": 1}),
                   Sample(((3, 2),), params={"axis": -2}), Sample(((),), params={"axis": 0})))


# -- the trapezoid rule ---------------------------------------------------------------------------------
def _spacing(x, y, axis, name):
    """x's steps along axis, x[1:] - x[:-1], shaped to multiply y's pairs: x as y, or one axis of y's length."""
    if x.ndim == 1:
        if x.shape[0] != y.shape[axis]:
            raise GradcliError(f"{name}(): x of length {x.shape[0]} for y of {y.shape[axis]} along dim",
                               kind="shape")
        steps = _part(x, -1, 1, None) - _part(x, -1, None, -1)
        along = (1,) * (-axis - 1)
        return F.reshape(steps, src=steps.shape, dst=steps.shape + along) if along else steps
    if x.shape != y.shape:
        raise GradcliError(f"{name}(): x takes y's shape {format_shape(y.shape)} or one axis, not "
                           f"{format_shape(x.shape)}", kind="shape")
    return _part(x, axis, 1, None) - _part(x, axis, None, -1)


def _trapezoid(y, x=None, dx=1.0, axis=-1):
    """torch.trapezoid: with x, sum((y[:-1] + y[1:]) * (x[1:] - x[:-1])) / 2; with dx, (sum(y) - (y[0] +
    y[-1]) / 2) * dx, as torch computes each."""
    axis = _axis(axis, y.ndim, "trapezoid")
    x = given(x, 1.0)
    if x is not None:
        pairs = _part(y, axis, None, -1) + _part(y, axis, 1, None)
        return F.sum(pairs * _spacing(x, y, axis, "trapezoid"), axis=axis) / 2.0
    if y.shape[axis] == 0:
        return F.sum(y, axis=axis)
    ends = F.sum(_part(y, axis, None, 1), axis=axis) + F.sum(_part(y, axis, -1, None), axis=axis)
    return (F.sum(y, axis=axis) - ends * 0.5) * dx


def _cumulative_trapezoid(y, x=None, dx=1.0, axis=-1):
    """torch.cumulative_trapezoid: the running sum of the trapezoids, one fewer than y's entries along dim."""
    axis = _axis(axis, y.ndim, "cumulative_trapezoid")
    x = given(x, 1.0)
    pairs = _part(y, axis, None, -1) + _part(y, axis, 1, None)
    if x is not None:
        return F.cumsum(pairs * _spacing(x, y, axis, "cumulative_trapezoid"), axis=axis) / 2.0
    return F.cumsum(dx / 2.0 * pairs, axis=axis)


_TRAPEZOID_SAMPLES = (Sample(((5,),)), Sample(((2, 4),), params={"dx": 0.5}),
                      Sample(((3, 2),), params={"axis": 0}), Sample(((4,), (4,))),
                      Sample(((2, 3), (2, 3))), Sample(((3, 2), (3,)), params={"axis": 0}))
def _trapezoid_name(cumulative):
    # PyTorch's last node: a division by 2 at points x, else the product with dx (the cumulative sum, running)
    def name(shapes, params):
        return "DivBackward1" if shapes[1] != () else "CumsumBackward0" if cumulative else "MulBackward1"
    return name


composite(name="trapezoid", torch_name=_trapezoid_name(False),
          family="array", signature="trapezoid(y, x=None, dx=1, dim=-1)",
          inputs=("y", "x"), arity=2, optional={"x": 1.0}, aliases=("trapz",),
          doc="the trapezoid rule's integral of y along dim, at points x (as y, or one axis) or spaced dx, as "
              "torch.trapezoid", composite=_trapezoid, keywords=("dx", "axis"), kinds={"dx": "real"},
          positional=0, batching="loop", samples=_TRAPEZOID_SAMPLES)
composite(name="cumulative_trapezoid", family="array", signature="cumulative_trapezoid(y, x=None, dx=1, dim=-1)",
          inputs=("y", "x"), arity=2, optional={"x": 1.0},
          doc="the trapezoid rule's running integral of y along dim (one entry fewer), as "
              "torch.cumulative_trapezoid", composite=_cumulative_trapezoid, keywords=("dx", "axis"),
          kinds={"dx": "real"}, positional=0, batching="loop", torch_name=_trapezoid_name(True),
          samples=_TRAPEZOID_SAMPLES)


# -- pad ------------------------------------------------------------------------------------------------
_MODES = ("constant", "reflect", "replicate", "circular")


def _source(length: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each entry of a padded axis, the entry of x it reads (out of range for constant mode's fill)."""
    at = np.arange(-before, length + after)
    if mode == "reflect":
        return np.abs(length - 1 - np.abs(length - 1 - at))
    if mode == "replicate":
        return np.clip(at, 0, length - 1)
    if mode == "circular":  # (a negative pad crops first: the other end wraps around from what is kept)
        start, kept = max(-before, 0), length + min(before, 0) + min(after, 0)
        return start + (np.arange(-max(before, 0), kept + max(after, 0)) % kept)
    return at


def _pad(x, pad, mode="constant", value=0.0):
    """F.pad: pad = (before, after) for the last axis, then for the one before it, ...; negative crops."""
    pad = pad if isinstance(pad, tuple) else (pad,)
    axes = len(pad) // 2
    if len(pad) % 2 or axes > x.ndim:
        raise GradcliError(f"pad() takes a pair of numbers per axis, at most {x.ndim} pairs for x of shape "
                           f"{format_shape(x.shape)}, not {len(pad)} numbers", kind="value")
    if mode != "constant" and not (axes <= 3 and x.ndim in (axes + 1, axes + 2)):
        raise GradcliError(f"pad(): mode={mode!r} pads the last 1, 2 or 3 axes of an array with one or two more "
                           f"axes (as torch's), not {axes} of shape {format_shape(x.shape)}", kind="shape")
    for k in range(axes):
        axis, (before, after) = -1 - k, pad[2 * k:2 * k + 2]
        length = x.shape[axis]
        if length + before + after < 0 or (mode != "constant" and length + before + after == 0):
            raise GradcliError(f"pad(): padding ({before}, {after}) leaves nothing of an axis of {length}",
                               kind="value")
        # (circular wraps around what a negative pad keeps: torch's check reads the whole axis, and past what
        # is kept its result reads entries it never wrote)
        kept = length + min(before, 0) + min(after, 0)
        limit = length - 1 if mode == "reflect" else kept if mode == "circular" else None
        if limit is not None and max(before, after) > limit:
            raise GradcliError(f"pad(): mode={mode!r} pads an axis of {length} by at most {limit}, not "
                               f"({before}, {after})", kind="value")
        if mode != "constant" and length == 0:
            raise GradcliError(f"pad(): mode={mode!r} cannot pad an empty axis", kind="shape")
        source = _source(length, before, after, mode)
        inside = (source >= 0) & (source < length)
        picked = np.clip(source, 0, max(length - 1, 0))
        if inside.all() and np.array_equal(picked, np.arange(length)):
            continue
        taken = F.take(x, axis=x.ndim + axis, indices=tuple(picked[inside].tolist()),
                       index_shape=(int(inside.sum()),), src=x.shape) if inside.any() else None
        if inside.all():
            x = taken
            continue
        shape = list(x.shape)
        shape[axis] = len(source)
        with default_dtype(x.dtype):  # (the fill in x's dtype, float32 too)
            filled = F.full(size=tuple(shape), fill_value=value)
        x = filled if taken is None else _placed(taken, filled, inside, axis)
    return x


def _placed(taken, filled, inside, axis):
    """taken's entries at the positions inside marks along axis, filled's elsewhere (constant mode's fill)."""
    start = int(np.argmax(inside))
    before = _part(filled, axis, None, start)
    after = _part(filled, axis, start + int(inside.sum()), None)
    return F.cat(*[p for p in (before, taken, after) if p.shape[axis]], axis=axis)


def _sympy_pad(sp, x, pad, mode="constant", value=0.0):
    """pad's entries as _pad reads them, on an array of SymPy expressions."""
    pad = pad if isinstance(pad, tuple) else (pad,)
    for k in range(len(pad) // 2):
        axis, (before, after) = x.ndim - 1 - k, pad[2 * k:2 * k + 2]
        source = _source(x.shape[axis], before, after, mode)
        inside = (source >= 0) & (source < x.shape[axis])
        taken = np.take(x, np.clip(source, 0, max(x.shape[axis] - 1, 0)), axis=axis)
        fill = np.reshape(~inside, [-1 if d == axis else 1 for d in range(x.ndim)])
        x = np.where(fill, sp.Float(value), taken)
    return x


def _pad_name(shapes, params):
    mode, axes = params.get("mode", "constant"), len(params["pad"]) // 2 if isinstance(params["pad"], tuple) else 0
    if mode == "constant":
        return "ConstantPadNdBackward0"
    if mode == "circular":
        return "torch::autograd::CopySlices"
    return f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{axes}DBackward0"


composite(name="pad", family="array", signature="pad(input, pad, mode='constant', value=0)",
          doc="x padded on the last axes by pad = (before, after, before, after, ...), last axis first, as "
              "torch.nn.functional.pad: with value (constant), x's reflection (reflect), its edge entry "
              "(replicate) or its other end (circular); a negative number crops",
          composite=_pad, sympy=_sympy_pad, keywords=("pad", "mode", "value"), positional=3, batching="loop", method=False,
          kinds={"pad": "axis", "mode": _MODES, "value": "real"}, torch_name=_pad_name,
          samples=(Sample(((3,),), params={"pad": (1, 2)}), Sample(((2, 3),), params={"pad": (1, 0, 0, 1), "value": 0.5}),
                   Sample(((2, 4),), params={"pad": (-1, 2)}),
                   Sample(((2, 4),), params={"pad": (2, 1), "mode": "reflect"}),
                   Sample(((1, 2, 3),), params={"pad": (2, 1, 1, 0), "mode": "replicate"}),
                   Sample(((2, 3),), params={"pad": (2, -1), "mode": "circular"})))
