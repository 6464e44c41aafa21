"""Neural-network functions: softmax, log_softmax, softmin, cosine_similarity, normalize, linear, mse_loss,
binary cross-entropy with logits (the other losses are in ops/losses.py and ops/margin_losses.py)."""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.ops.common import F, broadcast_shapes, normalize_axes, same_shape, sympy_elementwise
from gradcli.ops.losses import REDUCTION_KIND, given, reduce, reduced_sympy
from gradcli.autodiff.op import Sample, Words, composite, primitive

AXIS_SAMPLES = (Sample(((3,),)), Sample(((2, 3),)), Sample(((2, 3),), params={"axis": 0}))


def _prepare(shape, axis=-1):
    return {"axis": normalize_axes(axis, len(shape))}


def _shifted(x, axis):
    # x - max(x) along axis, as torch: exp never overflows (an inf or nan entry makes the row nan).
    return x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # (initial: an empty x stays empty)


def _softmax(x, axis):
    e = np.exp(_shifted(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = _shifted(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _shifted_series(n, x):
    """x's series less its largest value along the axis (coefficient 0 only), and that axis of the series."""
    axis = T.series_axis(n.params["axis"], x.ndim - 1)
    peak = np.max(x[:1], axis=axis, keepdims=True, initial=-np.inf)[0]
    return T.offset(x, -np.where(np.isfinite(peak), peak, 0.0)), axis


def _softmax_taylor(n, x):
    shifted, axis = _shifted_series(n, x)
    e = T.exp(shifted)
    return T.divide(e, np.sum(e, axis=axis, keepdims=True))


def _log_softmax_taylor(n, x):
    shifted, axis = _shifted_series(n, x)
    return shifted - T.log(np.sum(T.exp(shifted), axis=axis, keepdims=True))


def _sympy_softmax(sp, x, axis):
    e = np.asarray(np.frompyfunc(sp.exp, 1, 1)(x), dtype=object)
    return e / np.sum(e, axis=axis, keepdims=True)


def _sympy_log_softmax(sp, x, axis):
    e = np.asarray(np.frompyfunc(sp.exp, 1, 1)(x), dtype=object)
    return x - np.frompyfunc(sp.log, 1, 1)(np.sum(e, axis=axis, keepdims=True))


# NOTE: both rules read the output, as torch's _softmax_backward_data and
# _log_softmax_backward_data do, so second order and non-finite entries follow torch too.
primitive(name="softmax", doc="exp(x) / sum(exp(x)) along axis (default the last)",
          signature="softmax(x, axis=-1)", family="nn", forward=_softmax, shape=same_shape, prepare=_prepare,
          taylor=_softmax_taylor,
          backward=lambda n, g: (n.ans * (g - F.sum(g * n.ans, axis=n.params["axis"], keepdims=True)),),
          sympy=_sympy_softmax, keywords=("axis",), samples=AXIS_SAMPLES, saves="output",
          words=Words(("x",), vjp=("{out} × (g - sum(g × {out}))",)))
primitive(name="log_softmax", doc="log(softmax(x)) along axis (default the last), computed stably",
          signature="log_softmax(x, axis=-1)", family="nn", forward=_log_softmax, shape=same_shape,
          prepare=_prepare, sympy=_sympy_log_softmax, keywords=("axis",), samples=AXIS_SAMPLES, saves="output",
          taylor=_log_softmax_taylor,
          backward=lambda n, g: (g - F.exp(n.ans) * F.sum(g, axis=n.params["axis"], keepdims=True),),
          words=Words(("x",), vjp=("g - exp({out}) × sum(g)",)))
composite(name="softmin", torch_name="SoftmaxBackward0",
          doc="softmax(-x) along axis (default the last)", signature="softmin(x, axis=-1)",
          family="nn", composite=lambda x, axis=-1: F.softmax(-x, axis=axis), keywords=("axis",),
          samples=AXIS_SAMPLES)


def _cosine_similarity(x1, x2, axis=1, eps=1e-8):
    shape = broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = (F.expand(x, src=x.shape, dst=shape) if x.shape != shape else x for x in (x1, x2))
    axis = normalize_axes(axis, len(shape))

    def norm(x):
        # As PyTorch: the norm is at least eps in value, with the norm's own gradient (the clamp is not recorded).
        length = F.norm(x, axis=axis, keepdims=True)
        return length + F.detach(F.maximum(length, eps) - length)
    return F.sum((x1 / norm(x1)) * (x2 / norm(x2)), axis=axis)


def _sympy_cosine_similarity(sp, x1, x2, axis=1, eps=1e-8):
    x1, x2 = np.broadcast_arrays(x1, x2)
    axis = normalize_axes(axis, x1.ndim)
    lengths = [np.frompyfunc(lambda s: sp.Max(sp.sqrt(s), eps), 1, 1)(np.sum(x * x, axis=axis)) for x in (x1, x2)]
    return np.asarray(np.sum(x1 * x2, axis=axis) / (lengths[0] * lengths[1]), dtype=object)


composite(name="cosine_similarity", torch_name="SumBackward1", sympy=_sympy_cosine_similarity, family="nn",
          signature="cosine_similarity(x1, x2, axis=1, eps=1e-8)",
          doc="sum(x1 * x2) / (max(|x1|, eps) max(|x2|, eps)) along axis (default 1, as PyTorch), broadcast first",
          composite=_cosine_similarity, arity=2, inputs=("x1", "x2"), keywords=("axis", "eps"), positional=0,
          kinds={"eps": "real"},
          samples=(Sample(((2, 3), (2, 3))), Sample(((3,), (3,)), "nonzero", params={"axis": 0}),
                   Sample(((2, 3), (3,)), params={"axis": -1, "eps": 0.5})))
def _normalize(x, p=2.0, axis=1, eps=1e-12):
    # As torch.nn.functional.normalize: x / x.norm(p, dim, keepdim=True).clamp_min(eps), broadcast back.
    return x / F.clamp_min(F.norm(x, p=p, axis=axis, keepdims=True), eps)


composite(name="normalize", torch_name="DivBackward0", family="nn", signature="normalize(x, p=2, axis=1, eps=1e-12)",
          doc="x / max(norm_p(x), eps) along axis (default 1, as torch.nn.functional.normalize)",
          composite=_normalize, keywords=("p", "axis", "eps"), positional=3, kinds={"p": "real", "eps": "real"},
          method=False, samples=(Sample(((2, 3),), "nonzero"), Sample(((3,),), "nonzero", params={"axis": 0}),
                                 Sample(((2, 3),), "nonzero", params={"p": 1.0, "axis": 0}),
                                 Sample(((2, 3),), params={"axis": -1, "eps": 2.0})))
composite(name="mse_loss", doc="mean squared error: mean((input - target)**2)",
          signature="mse_loss(input, target, reduction='mean')", family="loss", arity=2, inputs=("input", "target"),
          composite=lambda a, b, reduction="mean": reduce((a - b) * (a - b), reduction),
          keywords=("reduction",), kinds=REDUCTION_KIND, positional=0,
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,))), Sample(((2, 3), (2, 3)), params={"reduction": "sum"}),
                   Sample(((2, 3), (3,)), params={"reduction": "none"})))


def _bce_logits(z, y):
    # As torch: (1 - y) z - log_sigmoid(z), with log_sigmoid(z) = min(z, 0) - log1p(exp(-|z|)),
    # which never overflows; so inf targets and logits give torch's infinities and nans.
    return (1.0 - y) * z - np.minimum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


primitive(name="bce_logits", doc="elementwise binary cross-entropy of logits z against targets y",
          signature="bce_logits(z, y)", family="internal", public=False, forward=_bce_logits,
          backward=lambda n, g: (g * (F.sigmoid(n.x) - n.y) if n.needs[0] else None,
                                 -(g * n.x) if n.needs[1] else None),
          shape=broadcast_shapes, sympy=sympy_elementwise(lambda sp, z, y: sp.log(1 + sp.exp(z)) - z * y),
          torch_name="BinaryCrossEntropyWithLogitsBackward0", arity=2, elementwise=True,
          # (1 - y) z + softplus(-z), softplus' the sigmoid
          taylor=lambda n, z, y: T.cauchy(T.offset(-y, 1.0), z) + T.integrate(
              np.logaddexp(0.0, -z[0]), -z, T.sigmoid(-z, 1.0 / (1.0 + np.exp(z[0])))),
          words=Words(("z", "y"), ("sigmoid(z) - y", "-z")), samples=(Sample(((3,), (3,)), ("real", "unit")),))


def _bce_with_logits(z, y, weight=None, pos_weight=None, reduction="mean"):
    weight, pos_weight = given(weight), given(pos_weight)
    if pos_weight is None:
        loss = F.bce_logits(z, y)
    else:  # as PyTorch: (1 - y) z - (1 + (pos_weight - 1) y) log_sigmoid(z)
        loss = (1.0 - y) * z - ((pos_weight - 1.0) * y + 1.0) * F.logsigmoid(z)
    return reduce(loss if weight is None else loss * weight, reduction)


composite(name="binary_cross_entropy_with_logits",
          doc="binary cross-entropy of logits against targets, in the stable form, weight times each entry and "
              "pos_weight times the positive term; target, weight and pos_weight get their gradients (PyTorch "
              "refuses a weight or pos_weight that requires grad)",
          signature="binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean', pos_weight=None)",
          family="loss", arity=4, inputs=("input", "target", "weight", "pos_weight"),
          optional={"weight": 1.0, "pos_weight": 1.0}, composite=_bce_with_logits,
          sympy=reduced_sympy(lambda sp, z, y, weight=1, pos_weight=1:
                              weight * ((1 - y) * z + (1 + (pos_weight - 1) * y) * sp.log(1 + sp.exp(-z)))),
          keywords=("reduction",), kinds=REDUCTION_KIND, positional=0,
          samples=(Sample(((3,), (3,)), ("real", "mask")), Sample(((2, 3), (3,)), ("real", "unit")),
                   Sample(((2, 3), (2, 3), (3,), (3,)), ("real", "probability", "positive", "positive"),
                          params={"reduction": "sum"}),
                   Sample(((2, 3), (2, 3), (), (3,)), ("real", "probability", "positive", "positive"),
                          params={"reduction": "none"})))


def _linear(x, weight, bias=None):
    # As torch.nn.functional.linear: x @ weightᵀ (+ bias): weight (out, in), x (..., in).
    out = F.matmul(x, F.t(weight))
    bias = given(bias, 0.0)
    return out if bias is None else out + bias


def _linear_name(shapes, params):
    # PyTorch's node, which follows its kernels: addmm for a matrix x, else a view of a product. (A bias
    # given as one number reads as none here: its name would be AddmmBackward0 or AddBackward0.)
    biased = shapes[2] != ()
    if len(shapes[0]) == 2:
        return "AddmmBackward0" if biased else "MmBackward0"
    if len(shapes[0]) == 1:
        return "ViewBackward0" if biased else "SqueezeBackward4"
    return "ViewBackward0" if biased else "UnsafeViewBackward0"


composite(name="linear", family="nn", signature="linear(x, weight, bias=None)", inputs=("x", "weight", "bias"),
          arity=3, optional={"bias": 0.0}, method=False, composite=_linear, torch_name=_linear_name,
          doc="x @ weightᵀ + bias, as torch.nn.functional.linear (nn.Linear): weight (out, in) maps x's last axis "
              "(in) to out; bias (out,) is added where it is given",
          samples=(Sample(((2, 3), (4, 3), (4,))), Sample(((3,), (2, 3))), Sample(((5, 2, 3), (4, 3), (4,))),
                   Sample(((3,), (3,), ()))))
