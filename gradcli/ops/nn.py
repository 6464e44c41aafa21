"""Neural-network functions: softmax, log_softmax, mse_loss, binary cross-entropy with logits."""

from __future__ import annotations

import numpy as np

from gradcli.ops.common import F, broadcast_shapes, sympy_elementwise
from gradcli.autodiff.op import Sample, Words, primitive

AXIS_SAMPLES = (Sample(((3,),)), Sample(((2, 3),)), Sample(((2, 3),), params={"axis": 0}))


def _softmax(x, axis=-1):
    shifted = x - F.detach(F.max(x, axis=axis, keepdims=True))
    e = F.exp(shifted)
    return e / F.sum(e, axis=axis, keepdims=True)


def _sympy_softmax(sp, x, axis=-1):
    # NOTE: the composite subtracts a detached max, a value its graph does not keep, so a
    # translation cannot expand it through the graph; this is its SymPy form instead.
    e = np.asarray(np.frompyfunc(sp.exp, 1, 1)(x), dtype=object)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    return x - F.logsumexp(x, axis=axis, keepdims=True)


primitive(name="softmax", doc="exp(x) / sum(exp(x)) along axis (default the last)",
          signature="softmax(x, axis=-1)", family="nn", composite=_softmax, sympy=_sympy_softmax, keywords=("axis",),
          samples=AXIS_SAMPLES)
primitive(name="log_softmax", doc="log(softmax(x)) along axis (default the last), computed stably",
          signature="log_softmax(x, axis=-1)", family="nn", composite=_log_softmax, keywords=("axis",),
          samples=AXIS_SAMPLES)
primitive(name="mse_loss", doc="mean squared error: mean((a - b)**2)", signature="mse_loss(a, b)",
          family="nn", composite=lambda a, b: F.mean((a - b) * (a - b)), arity=2,
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,)))))


def _bce_logits(z, y):
    # NOTE: max(z, 0) - z*y + log1p(exp(-|z|)) never overflows, for any z.
    return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))


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


