"""Lookups by whole-number index, as PyTorch's: F.one_hot and F.embedding.

one_hot compares each index with the classes 0 .. C - 1 (eq: whole numbers in the float dtype, no gradient).
embedding reads the rows of weight at the indices as gather does (ops/gather.py): the gradient adds up into the
rows, and padding_idx's row gets none, as PyTorch's embedding_dense_backward skips it (an inf or nan g too).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.op import Sample, composite
from gradcli.errors import GradcliError
from gradcli.ops.common import F
from gradcli.ops.gather import _index_values, entries_at


def _one_hot(t, num_classes=-1):
    if num_classes == -1 and t.size == 0:
        raise GradcliError("one_hot(): cannot infer the number of classes from an empty tensor", kind="value")
    values = _index_values(t, np.iinfo(np.intp).max, "one_hot")
    count = int(values.max()) + 1 if num_classes == -1 else num_classes
    if count < 1 or (values.size and values.max() >= count):
        raise GradcliError(f"one_hot(): class values must be smaller than num_classes ({count})", kind="index")
    return F.eq(F.reshape(t, src=t.shape, dst=t.shape + (1,)), np.arange(count, dtype=float))


def _embedding(indices, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
               sparse=False):
    if max_norm is not None or scale_grad_by_freq:
        raise GradcliError("embedding(): max_norm (which renormalizes weight in place) and scale_grad_by_freq are "
                           "not supported", kind="value")
    if weight.ndim != 2:
        raise GradcliError(f"embedding() takes a weight of 2 dims (rows, features), not {weight.ndim}", kind="shape")
    rows, features = weight.shape
    positions = _index_values(indices, rows, "embedding")
    flat = positions[..., None] * features + np.arange(features)
    picked = entries_at(weight, flat)
    if padding_idx is None:
        return picked
    if not -rows <= padding_idx < rows:
        raise GradcliError(f"embedding(): padding_idx={padding_idx} is not a row of weight ({rows})", kind="index")
    padding = np.broadcast_to((positions == padding_idx % rows)[..., None], flat.shape)
    return F.where(padding, F.detach(picked), picked) if padding.any() else picked


composite(name="one_hot", family="array", differentiable=False, signature="one_hot(tensor, num_classes=-1)",
          inputs=("tensor",),
          doc="1 at each index's class on a new last axis, 0 elsewhere, as F.one_hot (num_classes=-1: the largest "
              "index + 1); whole numbers in the float dtype, no gradient",
          composite=_one_hot, keywords=("num_classes",), positional=1, method=False, batching="loop",
          samples=(Sample(((4,),), "mask"), Sample(((2, 3),), "mask", params={"num_classes": 3})))
composite(name="embedding", family="array", arity=2, inputs=("input", "weight"), method=False,
          signature="embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, "
                    "scale_grad_by_freq=False, sparse=False)",
          doc="the rows of weight at the indices (whole numbers, no gradient), as F.embedding; weight's gradient "
              "adds up into the rows, padding_idx's row gets none (max_norm must be None)",
          composite=_embedding, keywords=("padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse"),
          positional=5, kinds={"max_norm": "real", "norm_type": "real"}, batching="loop",
          torch_name="EmbeddingBackward0",
          # (padding_idx's row has a derivative PyTorch leaves out, so no sample takes one: tests/test_statistics.py)
          samples=(Sample(((4,), (3, 2)), ("mask", "real")), Sample(((2, 3), (2, 4)), ("mask", "real"))))
