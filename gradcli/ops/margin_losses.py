"""The margin and likelihood losses of torch.nn.functional: soft_margin, hinge_embedding, cosine_embedding,
multi_margin, multilabel_margin, multilabel_soft_margin, triplet_margin, poisson_nll and gaussian_nll.

The margin losses (hinge_embedding, cosine_embedding, multi_margin, multilabel_margin, triplet_margin)
follow PyTorch's kernels at the hinge: a clamp_min passes the gradient there, the class-index kernels
(multi_margin, multilabel_margin) pass none. poisson_nll_loss and gaussian_nll_loss are PyTorch's
compositions (gaussian's clamp of var at eps passes var's gradient unchanged, as torch's no_grad clamp).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import Kink, Sample, composite
from gradcli.autodiff.trace import computed, decide
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F
from gradcli.ops.loss_rules import EPSILON
from gradcli.ops.losses import (REDUCTION_KIND, along_classes, class_axis, given, kept, last_step, one_hot, pairwise_loss,
                                reduce, sympy_reduce)


# -- margin and likelihood losses of an input against a target of its shape ------------------

def _pairwise_sympy_poisson(sp, x, target, log_input=1, full=0, eps=1e-8):
    loss = sp.exp(x) - target * x if log_input else x - target * sp.log(x + eps)
    if full:
        stirling = target * sp.log(target) - target + sp.log(2 * sp.pi * target) / 2
        loss += sp.Piecewise((0, target <= 1), (stirling, True))
    return loss


def _poisson_nll(x, target, log_input=1, full=0, eps=1e-8):
    loss = F.exp(x) - target * x if log_input else x - target * F.log(x + eps)
    if not full:
        return loss
    # As torch: the Stirling term is computed everywhere and filled with 0 where target <= 1 (so that at
    # target = 0 its gradient in target is torch's nan: 0 times log(0)).
    stirling = target * F.log(target) - target + 0.5 * F.log((2.0 * np.pi) * target)
    return loss + F.masked_fill(stirling, F.le(target, 1.0), 0.0)


def _poisson_name(shapes, params):
    return last_step("AddBackward0" if params.get("full") else "SubBackward0")(shapes, params)


def _hinge_embedding(x, target, margin=1.0):
    # As torch: margin - x clamped at 0 where target != 1, plus x where target != -1 (the target gets no gradient;
    # at x = margin the clamp passes the gradient, as clamp_min).
    return F.where(F.ne(target, 1.0), F.clamp_min(margin - x, 0.0), 0.0) + F.where(F.ne(target, -1.0), x, 0.0)


def _sympy_hinge_embedding(sp, x, target, margin=1.0):
    hinge = sp.Piecewise((0, sp.Eq(target, 1)), (sp.Max(0, margin - x), True))
    return hinge + sp.Piecewise((0, sp.Eq(target, -1)), (x, True))


pairwise_loss("soft_margin_loss", "soft_margin_loss(input, target, reduction='mean')",
          "log(1 + exp(-target * input)), computed as PyTorch (inf past -target * input = 709, and there a nan "
          "gradient); the target gets its gradient too (PyTorch refuses one that requires grad)",
          lambda x, y: F.soft_margin(x, y), lambda sp, x, y: sp.log(1 + sp.exp(-x * y)), domain=("real", "nonzero"))
pairwise_loss("hinge_embedding_loss", "hinge_embedding_loss(input, target, margin=1.0, reduction='mean')",
          "max(0, margin - input) where target is -1, input where it is 1 (both where it is neither, as PyTorch); "
          "on the hinge (input = margin) the gradient passes, as clamp_min; the target gets no gradient",
          _hinge_embedding, _sympy_hinge_embedding, keywords=("margin",), kinds={"margin": "real"}, positional=1,
          torch_name=last_step("AddBackward0"),
          domain=("real", "mask"),
          samples=(Sample(((2, 3), (2, 3)), ("real", "mask"), params={"margin": 0.5}),),
          kinks=(Kink(([0.5], [-1.0]), ([-1.0], [0.0]), params={"margin": 0.5},
                      note="on the hinge (input = margin) the gradient passes, as PyTorch's clamp_min", noted=False),))
pairwise_loss("poisson_nll_loss", "poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, "
                              "reduction='mean')",
          "Poisson negative log-likelihood: exp(input) - target * input, or with log_input=False input - target * "
          "log(input + eps); full=True adds Stirling's target log(target) - target + log(2 pi target)/2 where "
          "target > 1 (as PyTorch, whose gradient in target is nan at target = 0); the target gets its gradient",
          _poisson_nll, _pairwise_sympy_poisson, keywords=("log_input", "full", "eps"), kinds={"eps": "real"},
          positional=2, domain=("real", "positive"), torch_name=_poisson_name,
          samples=(Sample(((2, 3), (2, 3)), ("positive", "positive"), params={"log_input": 0, "full": 1}),
                   Sample(((3,), (3,)), ("real", "above_one"), params={"full": 1, "reduction": "sum"})))


def _multilabel_soft_margin(x, target, weight=None, reduction="mean"):
    if x.ndim == 0:
        raise GradcliError("multilabel_soft_margin_loss's input needs a class axis (its last): shape (C,) or (N, C), "
                           "not a number", kind="shape")
    loss = -(target * F.logsigmoid(x) + (1.0 - target) * F.logsigmoid(-x))
    weight = given(weight)
    if weight is not None:
        loss = loss * weight
    # As torch: the mean over the input's last axis (of the entries, weighted or not), then reduction=.
    return reduce(F.sum(loss, axis=x.ndim - 1) / float(x.shape[-1]), reduction)


def _sympy_multilabel_soft_margin(sp, x, target, weight=None, reduction="mean"):
    x, target, weight = np.broadcast_arrays(x, target, 1 if weight is None else weight)
    entries = np.vectorize(lambda a, t, w: -w * (t * sp.log(1 / (1 + sp.exp(-a))) + (1 - t) * sp.log(1 / (1 + sp.exp(a)))),
                           otypes=[object])(x, target, weight)
    rows = np.asarray(np.sum(entries, axis=x.ndim - 1) / x.shape[-1], dtype=object)
    return sympy_reduce(sp, rows, reduction)


composite(name="multilabel_soft_margin_loss", family="loss", arity=3, inputs=("input", "target", "weight"),
          sympy=_sympy_multilabel_soft_margin,
          optional={"weight": 1.0}, composite=_multilabel_soft_margin, keywords=("reduction",), kinds=REDUCTION_KIND,
          positional=0, torch_name=last_step("DivBackward0"),
          signature="multilabel_soft_margin_loss(input, target, weight=None, reduction='mean')",
          doc="-(target log sigmoid(input) + (1 - target) log sigmoid(-input)), times weight, averaged over the last "
              "axis (the classes), then reduced; target and weight get their gradients",
          samples=(Sample(((2, 3), (2, 3)), ("real", "mask")), Sample(((3,), (3,)), ("real", "probability")),
                   Sample(((2, 3), (2, 3), (3,)), ("real", "probability", "positive"), params={"reduction": "sum"}),
                   Sample(((2, 3), (2, 3)), ("real", "mask"), params={"reduction": "none"})))


def _gaussian_nll(x, target, var, full=0, eps=1e-6, reduction="mean"):
    var = _variance_shaped(var, x)
    if decide(lambda v: bool(np.any(v < 0)), var):
        raise GradcliError("gaussian_nll_loss's var has a negative entry: variances are at least 0", kind="value",
                           param="var")
    # NOTE: torch clamps var at eps in place under no_grad: the value is max(var, eps), the gradient flows to var
    # as if unclamped. Written as var - var + eps where var < eps (eps exactly, and var's own gradient).
    var = F.where(F.lt(var, eps), var - F.detach(var) + eps, var)
    diff = x - target
    loss = 0.5 * (F.log(var) + diff ** 2 / var)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return reduce(loss, reduction)


def _sympy_gaussian_nll(sp, x, target, var, full=0, eps=1e-6, reduction="mean"):
    if var.shape != x.shape and var.shape == x.shape[:-1]:
        var = var[..., None]
    constant = sp.log(2 * sp.pi) / 2 if full else 0
    entries = np.vectorize(lambda a, t, v: (sp.log(sp.Max(v, eps)) + (a - t) ** 2 / sp.Max(v, eps)) / 2 + constant,
                           otypes=[object])(x, target, var)
    return sympy_reduce(sp, entries, reduction)


def _variance_shaped(var, x):
    """var as PyTorch takes it: of x's shape, or a number, or x's shape without its last axis (one variance
    per row), or x's shape with one axis of length 1."""
    if var.shape == x.shape or var.ndim == 0:
        return var
    if var.shape == x.shape[:-1]:
        return F.reshape(var, src=var.shape, dst=var.shape + (1,))
    if var.ndim == x.ndim and sum(v for n, v in zip(x.shape, var.shape) if n != v) == 1:
        return var
    raise GradcliError(f"gaussian_nll_loss's var of shape {format_shape(var.shape)} does not fit an input of shape "
                       f"{format_shape(x.shape)}: give one variance per entry, per row ({format_shape(x.shape[:-1])}), "
                       f"or one number", kind="shape", param="var")


composite(name="gaussian_nll_loss", family="loss", arity=3, inputs=("input", "target", "var"), sympy=_sympy_gaussian_nll,
          composite=_gaussian_nll, keywords=("full", "eps", "reduction"), kinds={**REDUCTION_KIND, "eps": "real"},
          torch_name=lambda shapes, params: last_step("AddBackward0" if params.get("full") else "MulBackward0")(
              shapes, params),
          positional=2, signature="gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction='mean')",
          doc="Gaussian negative log-likelihood: (log(var) + (input - target)**2 / var) / 2 (+ log(2 pi)/2 with "
              "full=True), var at least eps (as PyTorch: the clamp passes var's gradient unchanged); var is one per "
              "entry, per row or a number; every input gets its gradient",
          samples=(Sample(((3,), (3,), (3,)), ("real", "real", "positive")),
                   Sample(((2, 3), (2, 3), (2,)), ("real", "real", "positive"), params={"full": 1}),
                   Sample(((2, 3), (3,), (2, 1)), ("real", "real", "positive"), params={"reduction": "sum"}),
                   Sample(((2, 3), (2, 3), ()), ("real", "real", "positive"), params={"reduction": "none", "eps": 0.7})),
          kinks=(Kink(([1.0], [0.0], [0.0]), ([1e6], [-1e6], [-5e11 + 5e5]), params={"eps": 1e-6},
                      note="var below eps takes eps's value and passes its gradient, as PyTorch", noted=False),))


# -- losses of embeddings: pairs of vectors against a target of +1 or -1 ------------------------

def _cosine_embedding(x1, x2, target, margin=0.0, reduction="mean"):
    if target.ndim > 1 or x1.ndim != target.ndim + 1:
        raise GradcliError(f"cosine_embedding_loss takes vectors (shape (D,)) and a target of shape (), or rows (shape "
                           f"(N, D)) and a target of shape (N,): not inputs of shapes {format_shape(x1.shape)}, "
                           f"{format_shape(x2.shape)} and a target of shape {format_shape(target.shape)}",
                           kind="shape", param="target")
    axis = target.ndim
    # As torch's kernel: each squared length plus its EPSILON (float32's 1e-12), the cosine through one sqrt.
    product = F.sum(x1 * x2, axis=axis)
    squares1 = F.sum(x1 * x1, axis=axis) + EPSILON
    squares2 = F.sum(x2 * x2, axis=axis) + EPSILON
    cosine = product / F.sqrt(squares1 * squares2)
    loss = F.where(F.eq(target, 1.0), 1.0 - cosine, 0.0) + \
        F.where(F.eq(target, -1.0), F.clamp_min(cosine - margin, 0.0), 0.0)
    return reduce(loss, reduction)


def _sympy_cosine_embedding(sp, x1, x2, target, margin=0.0, reduction="mean"):
    axis = target.ndim
    x1, x2 = np.broadcast_arrays(x1, x2)
    cosine = np.sum(x1 * x2, axis=axis) / np.vectorize(sp.sqrt, otypes=[object])(
        (np.sum(x1 * x1, axis=axis) + EPSILON) * (np.sum(x2 * x2, axis=axis) + EPSILON))
    entries = np.vectorize(lambda c, t: sp.Piecewise((1 - c, sp.Eq(t, 1)), (sp.Max(0, c - margin), sp.Eq(t, -1)),
                                                      (0, True)), otypes=[object])(cosine, target)
    return sympy_reduce(sp, entries, reduction)


composite(name="cosine_embedding_loss", family="loss", arity=3, inputs=("input1", "input2", "target"),
          sympy=_sympy_cosine_embedding,
          composite=_cosine_embedding, keywords=("margin", "reduction"), kinds={**REDUCTION_KIND, "margin": "real"},
          torch_name=last_step("AddBackward0"),
          positional=1, signature="cosine_embedding_loss(input1, input2, target, margin=0, reduction='mean')",
          doc="1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1 (0 elsewhere), the "
              "cosine along the last axis with 1e-12 added to each squared length, as PyTorch; on the hinge the "
              "gradient passes, as clamp_min; the target gets no gradient",
          samples=(Sample(((2, 3), (2, 3), (2,)), ("real", "real", "mask")),
                   Sample(((3,), (3,), ()), ("real", "real", "mask"), params={"margin": 0.2, "reduction": "sum"}),
                   Sample(((2, 3), (2, 3), (2,)), ("real", "real", "mask"), params={"margin": -0.5,
                                                                                       "reduction": "none"})))


# -- margin losses of scores against class indices --------------------------------------------

def _above_zero(z, p=1):
    """z**p where z > 0, else 0 (a nan too): the terms PyTorch's margin kernels count, `if (z > 0)`."""
    return F.where(F.gt(z, 0.0), z if p == 1 else z * z, 0.0)


def _multi_margin(x, target, weight=None, p=1, margin=1.0, reduction="mean"):
    if p not in (1, 2):
        raise GradcliError(f"multi_margin_loss takes p=1 or p=2, as PyTorch, not {p}", kind="value", param="p")
    if x.ndim > 2:
        raise GradcliError(f"multi_margin_loss takes scores of shape (C,) or (N, C), not {format_shape(x.shape)}",
                           kind="shape")
    if x.ndim == 1 and target.shape == (1,):  # (as PyTorch: one row, its loss of shape (1,))
        x = F.reshape(x, src=x.shape, dst=(1,) + x.shape)
    axis = class_axis(x)
    classes = x.shape[axis]
    if target.shape != x.shape[:axis]:
        raise GradcliError(f"multi_margin_loss takes one class index per row, a target of shape "
                           f"{format_shape(x.shape[:axis])}, not {format_shape(target.shape)}", kind="shape",
                           param="target")
    if given(weight) is not None and weight.ndim == 0:
        raise GradcliError("multi_margin_loss's third argument is weight (one number per class): give p and margin "
                           "by name, as multi_margin_loss(x, t, p=2, margin=0.5)", kind="value", param="weight")
    weight = along_classes(weight, x, axis)
    hot = Tensor(computed(lambda h: h.astype(x.dtype), one_hot(target, classes, axis, None)))
    picked = F.sum(F.where(hot, x, 0.0), axis=axis, keepdims=True)
    # As torch's kernel: (margin - x[target]) + x[c] for each other class c, counted where it is above 0 (so
    # at 0 no gradient flows, and a nan is left out), squared for p=2, times the target's weight; the sum over C.
    hinge = _above_zero((kept(margin, picked) - picked) + x, p)
    if weight is not None:
        hinge = hinge * F.sum(F.where(hot, weight, 0.0), axis=axis, keepdims=True)
    return reduce(F.sum(F.where(hot, 0.0, hinge), axis=axis) / float(classes), reduction)


composite(name="multi_margin_loss", family="loss", arity=3, inputs=("input", "target", "weight"),
          optional={"weight": 1.0}, composite=_multi_margin, keywords=("p", "margin", "reduction"),
          kinds={**REDUCTION_KIND, "margin": "real"}, positional=0,
          signature="multi_margin_loss(input, target, p=1, margin=1, weight=None, reduction='mean')",
          doc="the multi-class hinge: sum over the classes c other than the target's of max(0, margin - input[target] "
              "+ input[c])**p (p 1 or 2), times weight[target], divided by the number of classes; class indices "
              "(shape of the input without its class axis) get no gradient, weight gets its gradient (PyTorch "
              "refuses a weight that requires grad); at the hinge no gradient flows, as in PyTorch's kernel",
          samples=(Sample(((2, 3), (2,)), ("real", "mask")), Sample(((3,), ()), ("real", "mask"),
                                                                    params={"p": 2, "reduction": "sum"}),
                   Sample(((2, 3), (2,), (3,)), ("real", "mask", "positive"), params={"margin": 0.5}),
                   Sample(((4, 3), (4,), (3,)), ("real", "mask", "positive"), params={"p": 2, "reduction": "none"})),
          kinks=(Kink(([0.5, 1.5], [1.0]), ([0.0, 0.0],), note="at the hinge (margin - input[target] + input[c] = 0) "
                      "no gradient flows, as PyTorch's kernel", noted=False),))


def _label_pairs(t, classes: int) -> np.ndarray:
    """For each row of targets (class indices up to the first negative one, as PyTorch reads them): an array
    (C, C) counting how often class c is a target, where class i is not one: the pairs (c, i) the loss compares."""
    rows = t.reshape(-1, classes)
    pairs = np.zeros((len(rows), classes, classes))
    for r, row in enumerate(rows):
        ends = np.flatnonzero(row < 0)
        labels = row[:ends[0] if len(ends) else classes]
        bad = labels[(labels != np.round(labels)) | (labels >= classes) | ~np.isfinite(labels)]
        if len(bad):
            raise GradcliError(f"target {bad[0]:g} is not a class index: multilabel_margin_loss's targets are class "
                               f"indices from 0 to {classes - 1}, ended by -1", kind="value", param="target")
        counts = np.bincount(labels.astype(int), minlength=classes)
        pairs[r] = counts[:, None] * (counts == 0)[None, :]
    return pairs.reshape(t.shape + (classes,))


def _multilabel_margin(x, target, reduction="mean"):
    if x.ndim not in (1, 2) or target.shape != x.shape:
        raise GradcliError(f"multilabel_margin_loss takes scores of shape (C,) or (N, C) and a target of class "
                           f"indices of the same shape, not {format_shape(x.shape)} and {format_shape(target.shape)}",
                           kind="shape", param="target")
    classes = x.shape[-1]
    pairs = Tensor(computed(lambda t: _label_pairs(t, classes).astype(x.dtype), target))
    # z[c, i] = (1 - x[c]) + x[i] for each target class c and each class i that is not a target, counted where
    # it is above 0 (no gradient at 0, and a nan left out, as PyTorch's kernel), over the number of classes.
    above = F.reshape(kept(1.0, x) - x, src=x.shape, dst=x.shape + (1,))
    beside = F.reshape(x, src=x.shape, dst=x.shape[:-1] + (1, classes))
    hinge = F.where(pairs, _above_zero(above + beside), 0.0) * pairs
    return reduce(F.sum(hinge, axis=(x.ndim - 1, x.ndim)) / float(classes), reduction)


composite(name="multilabel_margin_loss", family="loss", arity=2, inputs=("input", "target"),
          composite=_multilabel_margin, keywords=("reduction",), kinds=REDUCTION_KIND, positional=0,
          signature="multilabel_margin_loss(input, target, reduction='mean')",
          doc="the multi-label hinge: for each target class j (the target's class indices up to its first -1) and "
              "each class i not among them, max(0, 1 - (input[j] - input[i])), summed and divided by the number of "
              "classes; the target gets no gradient; at the hinge no gradient flows, as in PyTorch's kernel",
          samples=(Sample(((2, 3), (2, 3)), ("real", "mask")), Sample(((4,), (4,)), ("real", "mask"),
                                                                      params={"reduction": "sum"}),
                   Sample(((2, 4), (2, 4)), ("real", "mask"), params={"reduction": "none"})))


def _triplet_margin(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=0, reduction="mean"):
    if margin <= 0:
        raise GradcliError(f"triplet_margin_loss takes a margin above 0, as PyTorch, not {margin:g}", kind="value",
                           param="margin")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise GradcliError(f"triplet_margin_loss takes anchor, positive and negative of one number of axes, not "
                           f"{anchor.ndim}, {positive.ndim} and {negative.ndim}", kind="shape")
    # As torch's kernel: pairwise distances (eps added to each difference), the negative's the nearer of the
    # anchor's and the positive's with swap=True, and the hinge clamped at 0 (where the gradient passes).
    near = F.pairwise_distance(anchor, positive, p=p, eps=eps)
    far = F.pairwise_distance(anchor, negative, p=p, eps=eps)
    if swap:
        far = F.minimum(far, F.pairwise_distance(positive, negative, p=p, eps=eps))
    return reduce(F.clamp_min(kept(margin, near) + near - far, 0.0), reduction)


def _sympy_distance(sp, x1, x2, p, eps):
    """pairwise_distance as SymPy: the p-norm of x1 - x2 + eps along the last axis."""
    diff = np.asarray(x1 - x2 + eps, dtype=object)
    rows = diff.reshape(-1, diff.shape[-1]) if diff.ndim else diff.reshape(1, 1)
    if p == np.inf:
        norms = [sp.Max(*(sp.Abs(d) for d in row)) for row in rows]
    else:
        norms = [sp.Add(*(sp.Abs(d) ** sp.nsimplify(p) for d in row)) ** (1 / sp.nsimplify(p)) for row in rows]
    return np.array(norms, dtype=object).reshape(diff.shape[:-1])


def _sympy_triplet_margin(sp, anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=0, reduction="mean"):
    near = _sympy_distance(sp, anchor, positive, p, eps)
    far = _sympy_distance(sp, anchor, negative, p, eps)
    if swap:
        far = np.vectorize(sp.Min, otypes=[object])(far, _sympy_distance(sp, positive, negative, p, eps))
    entries = np.vectorize(lambda a, b: sp.Max(0, margin + a - b), otypes=[object])(near, far)
    return sympy_reduce(sp, np.asarray(entries, dtype=object), reduction)


composite(name="triplet_margin_loss", family="loss", arity=3, inputs=("anchor", "positive", "negative"),
          composite=_triplet_margin, sympy=_sympy_triplet_margin, keywords=("margin", "p", "eps", "swap", "reduction"), positional=4,
          kinds={**REDUCTION_KIND, "margin": "real", "p": "real", "eps": "real"},
          torch_name=last_step("ClampMinBackward0"),
          signature="triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, "
                    "reduction='mean')",
          doc="max(0, margin + d(anchor, positive) - d(anchor, negative)), d pairwise_distance along the last axis "
              "(p-norm of the difference plus eps); swap=True takes the negative's distance to the positive where "
              "it is smaller; on the hinge the gradient passes, as clamp_min; every input gets its gradient",
          samples=(Sample(((2, 3), (2, 3), (2, 3))), Sample(((3,), (3,), (3,)), params={"margin": 0.5,
                                                                                       "reduction": "sum"}),
                   Sample(((2, 3), (2, 3), (2, 3)), params={"swap": 1, "p": 1.0, "reduction": "none"}),
                   Sample(((4, 2), (4, 2), (4, 2)), params={"p": 3.0, "margin": 2.0, "eps": 0.0})))
