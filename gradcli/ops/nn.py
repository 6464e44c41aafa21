"""Neural-network functions: softmax, log_softmax, mse_loss, binary cross-entropy with logits."""

from __future__ import annotations

import numpy as np

from gradcli.ops.common import F, broadcast_shapes, normalize_axes, same_shape, sympy_elementwise
from gradcli.autodiff.op import Sample, Words, primitive

AXIS_SAMPLES = (Sample(((3,),)), Sample(((2, 3),)), Sample(((2, 3),), params={"axis": 0}))


def _prepare(shape, axis=-1):
    return {"axis": normalize_axes(axis, len(shape))}


def _shifted(x, axis):
    # x - max(x) along axis, as torch: exp never overflows (an inf or nan entry makes the row nan).
    return x - np.max(x, axis=axis, keepdims=True)


def _softmax(x, axis):
    e = np.exp(_shifted(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = _shifted(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


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
          backward=lambda n, g: (n.ans * (g - F.sum(g * n.ans, axis=n.params["axis"], keepdims=True)),),
          sympy=_sympy_softmax, keywords=("axis",), samples=AXIS_SAMPLES, saves="output",
          words=Words(("x",), vjp=("{out} × (g - sum(g × {out}))",)))
primitive(name="log_softmax", doc="log(softmax(x)) along axis (default the last), computed stably",
          signature="log_softmax(x, axis=-1)", family="nn", forward=_log_softmax, shape=same_shape,
          prepare=_prepare, sympy=_sympy_log_softmax, keywords=("axis",), samples=AXIS_SAMPLES, saves="output",
          backward=lambda n, g: (g - F.exp(n.ans) * F.sum(g, axis=n.params["axis"], keepdims=True),),
          words=Words(("x",), vjp=("g - exp({out}) × sum(g)",)))
primitive(name="mse_loss", doc="mean squared error: mean((a - b)**2)", signature="mse_loss(a, b)",
          family="nn", composite=lambda a, b: F.mean((a - b) * (a - b)), arity=2,
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,)))))


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
          words=Words(("z", "y"), ("sigmoid(z) - y", "-z")), samples=(Sample(((3,), (3,)), ("real", "unit")),))
primitive(name="binary_cross_entropy_with_logits",
          doc="mean binary cross-entropy of logits z against targets y, in the stable form",
          signature="binary_cross_entropy_with_logits(z, y)", family="nn", arity=2,
          composite=lambda z, y: F.mean(F.bce_logits(z, y)),
          samples=(Sample(((3,), (3,)), ("real", "mask")), Sample(((2, 3), (3,)), ("real", "unit"))))


