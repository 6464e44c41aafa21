"""torch.nn.functional's normalization layers and dropout's deterministic cases: layer_norm, batch_norm,
group_norm, instance_norm, rms_norm, local_response_norm, and dropout (1d, 2d, 3d, alpha, feature alpha)
where it is the identity.

Each norm is a composite of the engine's operations, as PyTorch's own functions are in autograd
terms (rms_norm and local_response_norm are composites in PyTorch too; layer_norm, batch_norm and
group_norm have fused kernels whose backward formulas are these composites' gradients, to
rounding). The statistics are the mean and the biased variance, and x - mean is scaled by
rsqrt(var + eps), so equal entries (zero variance) give finite values and gradients, as PyTorch's.

batch_norm's running statistics are read in eval mode and never updated: an expression has no
buffer to update, and its value and gradients do not depend on the update. They get no gradient,
as in PyTorch, which refuses running statistics that require grad.

Dropout draws a random mask in PyTorch, which gradcli cannot reproduce: in eval mode (training=False)
or with p=0 it is the input itself (no node, as PyTorch's), and in training mode with p > 0 a call
is refused, saying what to write instead.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.op import Sample, composite
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F
from gradcli.ops.losses import given


def _statistics(x, axes, eps):
    """The mean and rsqrt(var + eps) over axes, kept as axes of 1 (the biased variance, PyTorch's)."""
    return F.mean(x, axis=axes, keepdims=True), F.rsqrt(F.var(x, axis=axes, keepdims=True, ddof=0) + eps)


def _scaled(x, mean, rstd, weight, bias):
    """x * scale + (bias - mean * scale) with scale = rstd * weight: PyTorch's arithmetic in batch_norm,
    instance_norm and group_norm (so an infinite weight or bias, or a signed zero, gives what PyTorch's does)."""
    scale = rstd if weight is None else rstd * weight
    shift = mean * scale
    return x * scale + ((0.0 - shift) if bias is None else bias - shift)


def _sympy_statistics(sp, x, axes, eps):
    """SymPy's mean and 1/sqrt(var + eps) of an object array over axes (kept as axes of 1)."""
    count = int(np.prod([x.shape[a] for a in axes]))
    mean = np.sum(x, axis=axes, keepdims=True) / count
    var = np.sum((x - mean) ** 2, axis=axes, keepdims=True) / count
    return mean, np.frompyfunc(lambda v: 1 / sp.sqrt(v + eps), 1, 1)(var)


def _sympy_channels(value, ndim):
    """A per-channel object vector shaped to broadcast along dim 1 of an ndim array (a number stays)."""
    return value if value.ndim == 0 else value.reshape((-1,) + (1,) * (ndim - 2))


def _trailing_shape(name, x, normalized_shape):
    """normalized_shape as a tuple, checked against x's trailing axes as PyTorch checks it."""
    shape = tuple(normalized_shape) if isinstance(normalized_shape, tuple) else (normalized_shape,)
    if not shape:
        raise GradcliError(f"{name}() takes a normalized_shape of at least one axis, as PyTorch", kind="shape")
    if len(shape) > x.ndim or x.shape[x.ndim - len(shape):] != shape:
        raise GradcliError(f"{name}(): normalized_shape {format_shape(shape)} is not the trailing shape of x "
                           f"{format_shape(x.shape)}", kind="shape")
    return shape


def _affine_weight(name, what, value, shape):
    if value is not None and value.shape != shape:
        raise GradcliError(f"{name}() takes a {what} shaped like normalized_shape {format_shape(shape)}, not "
                           f"{format_shape(value.shape)}", kind="shape")
    return value


def _layer_norm(x, weight=None, bias=None, *, normalized_shape, eps=1e-5):
    shape = _trailing_shape("layer_norm", x, normalized_shape)
    weight = _affine_weight("layer_norm", "weight", given(weight), shape)
    bias = _affine_weight("layer_norm", "bias", given(bias, 0.0), shape)
    mean, rstd = _statistics(x, tuple(range(-len(shape), 0)), eps)
    # NOTE: as PyTorch's kernel, ((x - mean) * rstd) * weight + bias with weight 1 and bias 0 where not given
    # (its signed zeros: -0 + 0 is 0)
    return (x - mean) * rstd * (1.0 if weight is None else weight) + (0.0 if bias is None else bias)


def _sympy_layer_norm(sp, x, weight=None, bias=None, *, normalized_shape, eps=1e-5):
    count = len(normalized_shape) if isinstance(normalized_shape, tuple) else 1
    mean, rstd = _sympy_statistics(sp, x, tuple(range(x.ndim - count, x.ndim)), eps)
    out = (x - mean) * rstd
    out = out if weight is None else out * weight
    return out if bias is None else out + bias


NORM_KINDS = {"eps": "real", "normalized_shape": "axis"}
composite(name="layer_norm", family="nn", signature="layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5)",
          doc="(x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape axes, as "
              "torch.nn.functional.layer_norm (the biased variance; weight and bias shaped like normalized_shape)",
          composite=_layer_norm, sympy=_sympy_layer_norm, inputs=("x", "weight", "bias"),
          optional={"weight": 1.0, "bias": 0.0}, arity=3,
          keywords=("eps", "normalized_shape"), leading=("normalized_shape",), kinds=NORM_KINDS, method=False,
          torch_name="NativeLayerNormBackward0",
          samples=(Sample(((2, 3),), params={"normalized_shape": (3,)}),
                   Sample(((2, 3), (3,), (3,)), params={"normalized_shape": (3,)}),
                   Sample(((2, 2, 3), (2, 3), (2, 3)), params={"normalized_shape": (2, 3), "eps": 0.1}),
                   Sample(((4,), (4,)), params={"normalized_shape": 4})))


def _rms_norm(x, weight=None, *, normalized_shape, eps=None):
    # As PyTorch's (a composite there too): x * rsqrt(mean(x**2) + eps), eps the dtype's machine epsilon unless given.
    shape = _trailing_shape("rms_norm", x, normalized_shape)
    weight = _affine_weight("rms_norm", "weight", given(weight), shape)
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    out = x * F.rsqrt(F.mean(F.pow(x, 2.0), axis=tuple(range(-len(shape), 0)), keepdims=True) + eps)
    return out if weight is None else out * weight


def _sympy_rms_norm(sp, x, weight=None, *, normalized_shape, eps=None):
    count = len(normalized_shape) if isinstance(normalized_shape, tuple) else 1
    axes = tuple(range(x.ndim - count, x.ndim))
    eps = float(np.finfo(np.float64).eps) if eps is None else eps
    square = np.sum(x * x, axis=axes, keepdims=True) / int(np.prod([x.shape[a] for a in axes]))
    out = x * np.frompyfunc(lambda v: 1 / sp.sqrt(v + eps), 1, 1)(square)
    return out if weight is None else out * weight


composite(name="rms_norm", family="nn", signature="rms_norm(x, normalized_shape, weight=None, eps=None)",
          doc="x / sqrt(mean(x**2) + eps) * weight over the trailing normalized_shape axes, as "
              "torch.nn.functional.rms_norm (eps: the dtype's machine epsilon unless given)",
          composite=_rms_norm, sympy=_sympy_rms_norm, inputs=("x", "weight"), optional={"weight": 1.0},
          arity=2,
          keywords=("eps", "normalized_shape"), leading=("normalized_shape",), kinds=NORM_KINDS, method=False,
          torch_name="MulBackward0",
          samples=(Sample(((2, 3),), params={"normalized_shape": (3,)}),
                   Sample(((2, 3), (3,)), params={"normalized_shape": (3,)}),
                   Sample(((2, 2, 3), (2, 3)), params={"normalized_shape": (2, 3), "eps": 0.1})))


def _channels(name, x, least=2):
    if x.ndim < least:
        raise GradcliError(f"{name}() takes x of at least {least} axes (N, C, ...), not {format_shape(x.shape)}",
                           kind="shape")
    return x.shape[1]


def _channel_vector(name, what, value, x):
    """value, checked to hold one entry per channel of x (dim 1); None stays None."""
    if value is not None and value.shape != (x.shape[1],):
        raise GradcliError(f"{name}() takes a {what} of one entry per channel ({x.shape[1]},), not "
                           f"{format_shape(value.shape)}", kind="shape")
    return value


def _per_channel(name, what, value, x):
    """A (C,) vector of x's channels, shaped to broadcast along dim 1 (None stays None)."""
    value = _channel_vector(name, what, value, x)
    return None if value is None else F.reshape(value, src=value.shape, dst=(x.shape[1],) + (1,) * (x.ndim - 2))


def _running(value):
    # Running statistics get no gradient, as in PyTorch (which refuses ones that require grad).
    return None if value is None else F.detach(value)


def _batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    _channels("batch_norm", x)
    # NOTE: the running statistics are never updated (training mode in PyTorch updates them in place):
    # the output and its gradients do not depend on the update.
    mean, var = _running(given(running_mean, 0.0)), _running(given(running_var))
    weight = _per_channel("batch_norm", "weight", given(weight), x)
    bias = _per_channel("batch_norm", "bias", given(bias, 0.0), x)
    if training:
        if x.size // x.shape[1] <= 1:
            raise GradcliError(f"batch_norm() in training mode needs more than one value per channel, as PyTorch; "
                               f"x is {format_shape(x.shape)}", kind="shape")
        return _scaled(x, *_statistics(x, (0, *range(2, x.ndim)), eps), weight, bias)
    if mean is None or var is None:
        raise GradcliError("batch_norm() in eval mode (training=False) reads running_mean and running_var: give "
                           "both, or training=True for the batch's statistics", kind="value")
    var = _per_channel("batch_norm", "running_var", var, x)
    return _scaled(x, _per_channel("batch_norm", "running_mean", mean, x), F.rsqrt(var + eps), weight, bias)


def _sympy_channel_norm(sp, x, axes, running_mean, running_var, weight, bias, eps):
    """The SymPy form of batch_norm and instance_norm: the statistics over axes, or the running ones (axes None)."""
    if axes is not None:
        mean, rstd = _sympy_statistics(sp, x, axes, eps)
    else:
        mean = _sympy_channels(running_mean, x.ndim)
        rstd = np.frompyfunc(lambda v: 1 / sp.sqrt(v + eps), 1, 1)(_sympy_channels(running_var, x.ndim))
    out = (x - mean) * rstd
    out = out if weight is None else out * _sympy_channels(weight, x.ndim)
    return out if bias is None else out + _sympy_channels(bias, x.ndim)


def _sympy_batch_norm(sp, x, running_mean=None, running_var=None, weight=None, bias=None, training=False,
                      momentum=0.1, eps=1e-5):
    axes = (0, *range(2, x.ndim)) if training else None
    return _sympy_channel_norm(sp, x, axes, running_mean, running_var, weight, bias, eps)


def _sympy_instance_norm(sp, x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                         momentum=0.1, eps=1e-5):
    axes = tuple(range(2, x.ndim)) if use_input_stats else None
    return _sympy_channel_norm(sp, x, axes, running_mean, running_var, weight, bias, eps)


RUNNING = {"running_mean": 0.0, "running_var": 1.0, "weight": 1.0, "bias": 0.0}
# The inputs batch_norm and instance_norm share, as PyTorch's: x, the running statistics and the affine parameters
# (the first three by position; each left out takes its value in RUNNING).
CHANNEL_NORM_INPUTS = dict(optional=RUNNING, inputs=("x", "running_mean", "running_var", "weight", "bias"), arity=5,
                           positional=3, kinds={"momentum": "real", "eps": "real"}, method=False)
composite(name="batch_norm", family="nn",
          signature="batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, "
                    "eps=1e-5)",
          doc="(x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1), as torch.nn.functional.batch_norm: "
              "the running statistics in eval mode (no gradient to them), the batch's in training mode (over "
              "every dim but 1, the biased variance; the running statistics are not updated)",
          composite=_batch_norm, sympy=_sympy_batch_norm, keywords=("training", "momentum", "eps"),
          torch_name="NativeBatchNormBackward0", **CHANNEL_NORM_INPUTS,
          samples=(Sample(((4, 3),), params={"training": True}),
                   Sample(((2, 3, 2), (3,), (3,), (3,), (3,)), ("real", "mask", "mask", "real", "real")),
                   Sample(((2, 2, 3), (2,), (2,), (2,), (2,)), ("real", "mask", "mask", "real", "real"),
                          params={"training": True, "eps": 0.1}),
                   Sample(((3, 2, 2, 2), (2,), (2,)), ("real", "mask", "mask"), params={"eps": 0.5})))


def _instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5):
    _channels("instance_norm", x, 3 if use_input_stats else 2)
    mean, var = _running(given(running_mean, 0.0)), _running(given(running_var))
    weight = _per_channel("instance_norm", "weight", given(weight), x)
    bias = _per_channel("instance_norm", "bias", given(bias, 0.0), x)
    if use_input_stats:
        if x.size // (x.shape[0] * x.shape[1]) <= 1:
            raise GradcliError(f"instance_norm() needs more than one spatial entry per channel, as PyTorch; x is "
                               f"{format_shape(x.shape)}", kind="shape")
        return _scaled(x, *_statistics(x, tuple(range(2, x.ndim)), eps), weight, bias)
    if mean is None or var is None:
        raise GradcliError("instance_norm() with use_input_stats=False reads running_mean and running_var: give "
                           "both", kind="value")
    var = _per_channel("instance_norm", "running_var", var, x)
    return _scaled(x, _per_channel("instance_norm", "running_mean", mean, x), F.rsqrt(var + eps), weight, bias)


composite(name="instance_norm", family="nn",
          signature="instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, "
                    "use_input_stats=True, momentum=0.1, eps=1e-5)",
          doc="(x - mean) / sqrt(var + eps) * weight + bias over each channel of each sample (the spatial dims "
              "2, ...), as torch.nn.functional.instance_norm (the running statistics with use_input_stats=False; "
              "they are not updated)",
          composite=_instance_norm, sympy=_sympy_instance_norm, keywords=("use_input_stats", "momentum", "eps"),
          torch_name="ViewBackward0", **CHANNEL_NORM_INPUTS,
          samples=(Sample(((2, 3, 3),)),
                   Sample(((1, 2, 2, 2), (2,), (2,), (2,), (2,)), ("real", "mask", "mask", "real", "real")),
                   Sample(((2, 2, 3), (2,), (2,)), ("real", "mask", "mask"),
                          params={"use_input_stats": False, "eps": 0.5})))


def _group_norm(x, weight=None, bias=None, *, num_groups, eps=1e-5):
    channels = _channels("group_norm", x)
    if num_groups <= 0 or channels % num_groups:
        raise GradcliError(f"group_norm(): the {channels} channels of x {format_shape(x.shape)} do not split into "
                           f"num_groups={num_groups} groups of the same size", kind="shape")
    if x.size // num_groups == 1:
        # (PyTorch's check, which counts the samples too: x.size(0) * x.size(1) // num_groups * spatial size)
        raise GradcliError(f"group_norm() needs more than one value per group, as PyTorch; x is "
                           f"{format_shape(x.shape)} in {num_groups} groups", kind="shape")
    # x as (N, groups, channels of a group, the rest), each group's statistics over its last two axes
    per_group = channels // num_groups
    grouped = F.reshape(x, src=x.shape, dst=(x.shape[0], num_groups, per_group, x.size // (x.shape[0] * channels)))

    def by_group(value):
        return None if value is None else F.reshape(value, src=value.shape, dst=(num_groups, per_group, 1))
    weight = by_group(_channel_vector("group_norm", "weight", given(weight), x))
    bias = by_group(_channel_vector("group_norm", "bias", given(bias, 0.0), x))
    out = _scaled(grouped, *_statistics(grouped, (-2, -1), eps), weight, bias)
    return F.reshape(out, src=grouped.shape, dst=x.shape)


def _sympy_group_norm(sp, x, weight=None, bias=None, *, num_groups, eps=1e-5):
    grouped = x.reshape(x.shape[0], num_groups, -1)
    mean, rstd = _sympy_statistics(sp, grouped, (2,), eps)
    out = ((grouped - mean) * rstd).reshape(x.shape)
    out = out if weight is None else out * _sympy_channels(weight, x.ndim)
    return out if bias is None else out + _sympy_channels(bias, x.ndim)


composite(name="group_norm", family="nn", signature="group_norm(x, num_groups, weight=None, bias=None, eps=1e-5)",
          doc="(x - mean) / sqrt(var + eps) * weight + bias over each group of num_groups channels (dim 1) of each "
              "sample, as torch.nn.functional.group_norm (weight and bias one per channel)",
          composite=_group_norm, sympy=_sympy_group_norm, inputs=("x", "weight", "bias"),
          optional={"weight": 1.0, "bias": 0.0}, arity=3,
          keywords=("eps", "num_groups"), leading=("num_groups",), kinds={"eps": "real"}, method=False,
          torch_name="NativeGroupNormBackward0",
          samples=(Sample(((2, 6),), params={"num_groups": 2}),
                   Sample(((2, 4, 2), (4,), (4,)), params={"num_groups": 2}),
                   Sample(((1, 3, 2), (3,), (3,)), params={"num_groups": 1, "eps": 0.1})))


def _local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """As torch.nn.functional.local_response_norm: x / (k + alpha * avg)**beta, avg the mean of x**2 over a window
    of size channels (dim 1) around each, zeros past the ends (size // 2 before, (size - 1) // 2 after)."""
    channels = _channels("local_response_norm", x, 3)
    if size <= 0:
        raise GradcliError(f"local_response_norm() takes a window of size >= 1, not {size}", kind="value")
    if x.size == 0:
        return x  # (as PyTorch's)
    square = x * x
    total = None
    for shift in range(-(size // 2), (size - 1) // 2 + 1):
        # square's channel c + shift at channel c, zeros where that is past an end
        lo, hi = max(0, -shift), min(channels, channels - shift)
        if lo >= hi:
            continue
        part = F.index(square, key=(slice(None), slice(lo + shift, hi + shift)), src=x.shape)
        if hi - lo < channels:
            part = F.index_put(part, key=(slice(None), slice(lo, hi)), src=x.shape)
        total = part if total is None else total + part
    return x / F.pow(total * (alpha / size) + k, beta)


def _sympy_local_response_norm(sp, x, *, size, alpha=1e-4, beta=0.75, k=1.0):
    square = x * x
    before, after = size // 2, (size - 1) // 2
    padded = np.concatenate([np.zeros((x.shape[0], before, *x.shape[2:]), object), square,
                             np.zeros((x.shape[0], after, *x.shape[2:]), object)], axis=1)
    total = sum(padded[:, i:i + x.shape[1]] for i in range(size))
    return x / np.frompyfunc(lambda v: (k + alpha * v / size) ** beta, 1, 1)(total)


composite(name="local_response_norm", family="nn", signature="local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1)",
          doc="x / (k + alpha * mean of x**2 over size neighbouring channels)**beta, as "
              "torch.nn.functional.local_response_norm (channels are dim 1; zeros past the ends count in the mean)",
          composite=_local_response_norm, sympy=_sympy_local_response_norm, positional=4,
          keywords=("size", "alpha", "beta", "k"),
          kinds={"alpha": "real", "beta": "real", "k": "real"}, method=False, torch_name="DivBackward0",
          samples=(Sample(((2, 3, 2),), params={"size": 2}),
                   Sample(((1, 4, 2, 2),), params={"size": 3, "alpha": 0.5, "beta": 0.5, "k": 2.0}),
                   Sample(((2, 2, 1),), params={"size": 5, "alpha": 1.0})))


# -- dropout: the identity in eval mode or with p = 0 ----------------------------------------------------

def _dropout(name, least_axes=None, default_training=True):
    def identity(x, p=0.5, training=default_training, inplace=False):
        if not 0.0 <= p <= 1.0:
            raise GradcliError(f"{name}() takes a probability p between 0 and 1, not {p:g}", kind="value")
        if least_axes is not None and x.ndim not in least_axes:
            raise GradcliError(f"{name}() takes x of {' or '.join(map(str, least_axes))} axes, as PyTorch, not "
                               f"{format_shape(x.shape)}", kind="shape")
        if training and p > 0.0:
            raise GradcliError(f"{name}() in training mode draws a random mask, which gradcli cannot reproduce: "
                               f"write {name}(x, p, training=False) for the eval-mode identity, or multiply by a "
                               f"mask of your own (x * m / (1 - p), m a variable of 0s and 1s)", kind="value")
        return x
    return identity


def _unnamed(shapes, params):
    # No node of its own: the input itself, as PyTorch's (its grad_fn is the input's).
    return ""


for _name, _axes, _training in (("dropout", None, True), ("dropout1d", (2, 3), True), ("dropout2d", None, True),
                                ("dropout3d", None, True), ("alpha_dropout", None, False),
                                ("feature_alpha_dropout", None, False)):
    composite(name=_name, family="nn", signature=f"{_name}(x, p=0.5, training={_training}, inplace=False)",
              doc=f"x itself in eval mode (training=False{', the default' if not _training else ''}) or with p=0, "
                  f"as torch.nn.functional.{_name}; its random mask in training mode is refused",
              composite=_dropout(_name, _axes, _training), keywords=("p", "training", "inplace"), positional=3,
              kinds={"p": "real"}, method=False, torch_name=_unnamed,
              samples=(Sample(((2, 3),), params={"training": False}), Sample(((2, 3, 2),), params={"p": 0.0})))
