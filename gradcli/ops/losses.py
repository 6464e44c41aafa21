"""Loss functions as torch.nn.functional has them: cross_entropy, nll_loss, l1, huber, kl_div, ...

Each is a composite of the engine's operations (bce and huber are primitives of
ops/loss_rules.py, with PyTorch's rules), so its gradient and second order come from its
parts, with PyTorch's values at the kinks (abs'(0) = 0; huber and smooth_l1 take the slope
±delta, ±1 at |d| = delta, beta; the hinge passes the gradient at 0, as clamp_min). Every
loss takes reduction="mean" (the default), "sum" or "none"; the losses of a target shaped
like the input give their SymPy form whole (no constant of the composite's graph is lost).

The margin losses (hinge_embedding, cosine_embedding, multi_margin, multilabel_margin, triplet_margin)
follow PyTorch's kernels at the hinge: a clamp_min passes the gradient there, the class-index kernels
(multi_margin, multilabel_margin) pass none. poisson_nll_loss and gaussian_nll_loss are PyTorch's
compositions (gaussian's clamp of var at eps passes var's gradient unchanged, as torch's no_grad clamp).

Class indices: gradcli's values are floats, so cross_entropy and nll_loss decide by shape
where PyTorch decides by dtype: a target shaped like the input without its class axis
(axis 1, or 0 for an input of shape (C,)) holds class indices, one shaped like the input
holds probabilities. Class indices are read as constants: they get no gradient.
"""

from __future__ import annotations

import numpy as np

from gradcli.errors import GradcliError, format_shape
from gradcli.ops.loss_rules import EPSILON, huber_entry
from gradcli.ops.common import F
from gradcli.autodiff.engine import Tensor
from gradcli.autodiff.op import Kink, Sample, composite
from gradcli.autodiff.trace import computed, decide

REDUCTIONS = ("mean", "sum", "none")
REDUCTION_KIND = {"reduction": REDUCTIONS}
IGNORE_INDEX = -100  # PyTorch's default: no class is ignored


def last_step(unreduced: str | None = None):
    """The grad_fn name PyTorch gives a loss it composes of operations: its reduction's (MeanBackward0,
    SumBackward0), or with reduction='none' its last operation's, `unreduced`."""
    def name(shapes, params):
        reduction = params.get("reduction", "mean")
        return unreduced if reduction == "none" else "SumBackward0" if reduction == "sum" else "MeanBackward0"
    return name


def reduce(loss, reduction: str = "mean"):
    """The loss entries reduced as PyTorch's reduction= says."""
    if reduction == "none":
        return loss
    if reduction == "batchmean":  # kl_div's: the sum over the first axis's length
        return F.sum(loss) / float(loss.shape[0]) if loss.ndim else F.sum(loss)
    return F.sum(loss) if reduction == "sum" else F.mean(loss)


def given(weight, default: float = 1.0):
    """A weight (or a bias) as given, or None where the call left it out (its default: the constant 1, or default)."""
    if weight is None or (weight.ndim == 0 and not weight.requires_grad and weight.grad_fn is None
                          and decide(float, weight) == default):
        return None
    return weight


def _class_axis(x) -> int:
    if x.ndim == 0:
        raise GradcliError("the input of a classification loss needs a class axis: shape (C,), (N, C) or "
                           "(N, C, d1, ...), not a number", kind="shape")
    return 0 if x.ndim == 1 else 1


def _along_classes(weight, x, axis: int):
    """weight (C,) shaped to broadcast along x's class axis; None where the call gave none."""
    classes = x.shape[axis]
    if given(weight) is None:
        return None
    if weight.shape != (classes,):
        raise GradcliError(f"weight must hold one number per class, shape ({classes},), not "
                           f"{format_shape(weight.shape)}", kind="shape", param="weight")
    trailing = x.ndim - axis - 1
    return F.reshape(weight, src=weight.shape, dst=(classes,) + (1,) * trailing) if trailing else weight


def _one_hot(target, classes: int, axis: int, ignore_index: int | None) -> np.ndarray:
    """The class indices as a mask along the class axis (all False where ignored), a constant."""
    return computed(lambda t: _class_mask(t, classes, axis, ignore_index), target)


def _class_mask(t, classes: int, axis: int, ignore_index: int | None) -> np.ndarray:
    valid = t != ignore_index if ignore_index is not None else np.ones(t.shape, dtype=bool)
    if not np.all(np.isfinite(t) & (t == np.round(t))) or np.any(valid & ((t < 0) | (t >= classes))):
        bad = t[~(np.isfinite(t) & (t == np.round(t))) | (valid & ((t < 0) | (t >= classes)))].flat[0]
        raise GradcliError(f"target {bad:g} is not a class index: class indices are whole numbers from 0 to "
                           f"{classes - 1}", kind="value", param="target")
    hot = np.expand_dims(t, axis) == np.arange(classes).reshape((classes,) + (1,) * (t.ndim - axis))
    return hot & np.expand_dims(valid, axis)


def _target_kind(x, target, axis: int, name: str) -> str:
    if target.shape == x.shape:
        return "probabilities"
    if target.shape == x.shape[:axis] + x.shape[axis + 1:]:
        return "indices"
    raise GradcliError(f"{name}: a target of shape {format_shape(target.shape)} fits neither class indices "
                       f"(shape {format_shape(x.shape[:axis] + x.shape[axis + 1:])}) nor probabilities (shape "
                       f"{format_shape(x.shape)}) for an input of shape {format_shape(x.shape)}",
                       kind="shape", param="target")


def _weighted_nll(logp, target, weight, axis, reduction, ignore_index):
    """nll_loss of log-probabilities against class indices, and each entry's weight (0 where ignored)."""
    hot = _one_hot(target, logp.shape[axis], axis, ignore_index)
    hot = Tensor(computed(lambda h: h.astype(logp.dtype), hot))
    per_entry = Tensor(computed(lambda h: h.sum(axis=axis), hot)) if weight is None else \
        F.sum(F.where(hot, weight, 0.0), axis=axis)  # an inf elsewhere stays out
    picked = F.sum(F.where(hot, logp, 0.0), axis=axis)
    loss = -(picked * per_entry)
    if reduction == "mean":  # PyTorch's weighted mean: divided by the weights of the targets
        return F.sum(loss) / F.sum(per_entry), per_entry
    return reduce(loss, reduction), per_entry


def _nll_loss(x, target, weight=None, reduction="mean", ignore_index=IGNORE_INDEX):
    axis = _class_axis(x)
    if _target_kind(x, target, axis, "nll_loss") != "indices":
        raise GradcliError("nll_loss takes class indices: a target shaped like the input without its class axis",
                           kind="shape", param="target")
    weight = _along_classes(weight, x, axis)
    return _weighted_nll(x, target, weight, axis, reduction, ignore_index)[0]


def _cross_entropy(x, target, weight=None, reduction="mean", ignore_index=IGNORE_INDEX, label_smoothing=0.0):
    axis = _class_axis(x)
    classes = x.shape[axis]
    if not 0.0 <= label_smoothing <= 1.0:
        raise GradcliError(f"label_smoothing must be between 0 and 1, not {label_smoothing:g}", kind="value",
                           param="label_smoothing")
    weight = _along_classes(weight, x, axis)
    logp = F.log_softmax(x, axis=axis)
    if _target_kind(x, target, axis, "cross_entropy") == "probabilities":
        if ignore_index != IGNORE_INDEX:
            raise GradcliError("ignore_index is for class indices, not a target of probabilities", kind="value",
                               param="ignore_index")
        rows = x.size // classes if classes else 0
        loss = _against(_weighted(logp * target, weight), axis, reduction, rows)
        if label_smoothing == 0.0:
            return loss
        # The smoothed target (1 - s) target + s / C, as a sum of the two losses (no constant added in the graph).
        uniform = _against(_weighted(logp, weight), axis, reduction, rows)
        return loss * (1.0 - label_smoothing) + uniform * (label_smoothing / classes)
    nll, per_entry = _weighted_nll(logp, target, weight, axis, reduction, ignore_index)
    if label_smoothing == 0.0:
        return nll
    kept = Tensor(computed(lambda t: np.asarray(t != ignore_index, dtype=x.dtype), target))
    # the loss against the uniform distribution, 0 where ignored
    smooth = F.where(kept, -F.sum(_weighted(logp, weight), axis=axis), 0.0)
    smooth = F.sum(smooth) / F.sum(per_entry) if reduction == "mean" else reduce(smooth, reduction)
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def _weighted(terms, weight):
    return terms if weight is None else terms * weight


def _against(terms, axis, reduction, entries):
    """-sum of terms (log-probability times target) along the class axis, reduced as PyTorch: the mean is
    over the entries without the class axis, whatever the weights."""
    if reduction == "none":
        return -F.sum(terms, axis=axis)
    total = -F.sum(terms)
    return total if reduction == "sum" else total / float(entries if entries else np.nan)


CLASS_SAMPLES = (
    Sample(((2, 3), (2,)), ("real", "mask")),
    Sample(((3,), ()), ("real", "mask"), params={"reduction": "sum"}),
    Sample(((2, 3, 2), (2, 2), (3,)), ("real", "mask", "positive"), params={"reduction": "none"}),
    Sample(((2, 3), (2,), (3,)), ("real", "mask", "positive")),
)
WEIGHT_DOC = ("weight (one number per class) gets its gradient (PyTorch refuses a weight that requires grad "
              "for class indices; with probabilities it gives the same gradient)")
composite(name="cross_entropy", family="loss", arity=3, inputs=("input", "target", "weight"),
          optional={"weight": 1.0},
          signature="cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean', "
                    "label_smoothing=0.0)",
          doc="log_softmax along the class axis, then nll_loss against class indices (a target shaped like the "
              "input without its class axis: no gradient) or -sum(target * log_softmax) against probabilities "
              "(a target shaped like the input: it gets its gradient); " + WEIGHT_DOC,
          composite=_cross_entropy, keywords=("reduction", "ignore_index", "label_smoothing"), positional=0,
          kinds={**REDUCTION_KIND, "label_smoothing": "real"},
          samples=CLASS_SAMPLES + (
              Sample(((2, 3), (2, 3)), ("real", "probability")),
              Sample(((2, 3), (2,), (3,)), ("real", "mask", "positive"), params={"label_smoothing": 0.2}),
              Sample(((2, 3, 2), (2, 3, 2), (3,)), ("real", "probability", "positive"),
                     params={"label_smoothing": 0.1, "reduction": "sum"}),
              Sample(((4, 3), (4,)), ("real", "mask"), params={"ignore_index": 1, "label_smoothing": 0.3}),
          ))
composite(name="nll_loss", family="loss", arity=3, inputs=("input", "target", "weight"),
          optional={"weight": 1.0},
          signature="nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean')",
          doc="negative log-likelihood: -input at each target's class (class indices, shaped like the input "
              "without its class axis: no gradient), the mean weighted by the targets' weights; " + WEIGHT_DOC,
          composite=_nll_loss, keywords=("reduction", "ignore_index"), positional=0, kinds=REDUCTION_KIND,
          samples=CLASS_SAMPLES + (Sample(((4, 3), (4,)), ("real", "mask"), params={"ignore_index": 0}),))


# -- losses of an input against a target of its shape ---------------------------------------

def reduced_sympy(entry):
    """The SymPy form of a loss whose entries are entry(sp, *scalars, **params), reduced by reduction=."""
    def rule(sp, *arrays, reduction="mean", **params):
        arrays = np.broadcast_arrays(*(a for a in arrays if a is not None))
        entries = np.empty(arrays[0].shape, dtype=object)
        for index in np.ndindex(entries.shape):
            entries[index] = entry(sp, *(a[index] for a in arrays), **params)
        return sympy_reduce(sp, entries, reduction)
    return rule


def sympy_reduce(sp, entries: np.ndarray, reduction: str) -> np.ndarray:
    """A SymPy object array of loss entries reduced as reduction= says."""
    if reduction == "none":
        return entries
    total = sp.Add(*entries.flat)
    count = {"sum": 1, "batchmean": entries.shape[0] if entries.ndim else 1}.get(reduction, entries.size)
    return np.array(total / count, dtype=object)


def kept(value: float, like):
    """The number value as a node of like's graph (its shape; no gradient flows to like). An add or a sub
    with a Python number keeps no copy of it, so the SymPy translation of a composite could not read it."""
    return F.where(1.0, value, like)


def _pairwise(name: str, signature: str, doc: str, loss, sympy, *, keywords=(), kinds=None, samples=(), kinks=(),
              domain=("real", "real"), inputs=("input", "target"), optional=None, positional=0, torch_name=""):
    """A loss of broadcast inputs whose entries loss(...) gives (sympy(sp, *scalars, **params) each), reduced
    by reduction=. Its own SymPy form spares the translation a constant inside the composite. The first
    `positional` keywords may follow the inputs unnamed (PyTorch's hinge_embedding_loss(x, y, 0.5)); reduction
    comes after them."""
    composite(name=name, family="loss", signature=signature, doc=doc, arity=len(inputs), inputs=inputs,
              optional=optional or {}, sympy=reduced_sympy(sympy),
              composite=lambda *xs, reduction="mean", **params: reduce(loss(*xs, **params), reduction),
              keywords=(*keywords, "reduction") if positional else ("reduction", *keywords), positional=positional,
              torch_name=torch_name,
              kinds={**REDUCTION_KIND, **(kinds or {})},
              kinks=kinks, samples=(Sample(((3,),) * len(inputs), domain),
                                    Sample(((2, 3), (3,)) + ((2, 3),) * (len(inputs) - 2), domain,
                                           params={"reduction": "sum"}),
                                    Sample(((2, 3),) * len(inputs), domain, params={"reduction": "none"}),
                                    *samples))


def _smooth_l1(x, y, beta=1.0):
    # As PyTorch: huber_loss with delta = beta, divided by beta; l1_loss at beta = 0.
    return F.huber(x, y, delta=beta) / beta if beta else F.abs_diff(x, y)


def _sympy_kl_div(sp, x, target, log_target=0):
    if log_target:
        return sp.exp(target) * (target - x)
    return sp.Piecewise((0, sp.Eq(target, 0)), (target * sp.log(target), True)) - target * x


def _kl_div(x, target, log_target=0):
    if log_target:
        return F.exp(target) * (target - x)
    return F.xlogy(target, target) - target * x


_pairwise("l1_loss", "l1_loss(input, target, reduction='mean')",
          "mean absolute error: mean(|input - target|) (gradient 0 where they are equal, as PyTorch)",
          lambda x, y: F.abs_diff(x, y), lambda sp, x, y: sp.Abs(x - y),
          kinks=(Kink(([1.0], [1.0]), ([0.0], [0.0]), note="l1_loss'(0) = 0, as PyTorch's sign(0)", noted=False),))
_pairwise("huber_loss", "huber_loss(input, target, reduction='mean', delta=1.0)",
          "0.5 d**2 where |d| < delta, else delta (|d| - delta/2), d = input - target (at |d| = delta the "
          "gradient is ±delta and the second derivative 0, as PyTorch)",
          lambda x, y, delta=1.0: F.huber(x, y, delta=delta), lambda sp, x, y, delta=1.0: huber_entry(sp, x - y, delta),
          keywords=("delta",), kinds={"delta": "real"},
          samples=(Sample(((3,), (3,)), params={"delta": 0.5}),),
          kinks=(Kink(([2.0], [1.5]), ([0.5], [-0.5]), params={"delta": 0.5},
                      note="at |d| = delta the gradient is delta, from either side", noted=False),))
_pairwise("smooth_l1_loss", "smooth_l1_loss(input, target, reduction='mean', beta=1.0)",
          "0.5 d**2 / beta where |d| < beta, else |d| - beta/2, d = input - target (beta=0: l1_loss; at |d| = "
          "beta the gradient is ±1 and the second derivative 0, as PyTorch)",
          _smooth_l1, lambda sp, x, y, beta=1.0: huber_entry(sp, x - y, beta) / beta if beta else sp.Abs(x - y),
          keywords=("beta",), kinds={"beta": "real"},
          samples=(Sample(((3,), (3,)), params={"beta": 0.5}), Sample(((3,), (3,)), params={"beta": 0.0})),
          kinks=(Kink(([2.0], [1.5]), ([1.0], [-1.0]), params={"beta": 0.5},
                      note="at |d| = beta the gradient is 1, from either side", noted=False),))
_pairwise("kl_div", "kl_div(input, target, reduction='mean', log_target=False)",
          "Kullback-Leibler divergence of target from exp(input), input a log-probability: target * (log(target) "
          "- input), or exp(target) * (target - input) with log_target=True (reduction='batchmean' divides the "
          "sum by the first axis's length, as PyTorch recommends); the target gets its gradient",
          _kl_div, _sympy_kl_div, keywords=("log_target",), kinds={"reduction": (*REDUCTIONS, "batchmean")},
          domain=("real", "probability"),
          samples=(Sample(((2, 3), (2, 3)), params={"log_target": 1, "reduction": "batchmean"}),))


def _margin_ranking(x1, x2, target, margin=0.0):
    return F.clamp_min(-target * (x1 - x2) + margin, 0.0)


_pairwise("margin_ranking_loss", "margin_ranking_loss(input1, input2, target, margin=0.0, reduction='mean')",
          "max(0, -target * (input1 - input2) + margin), target +1 or -1 (on the hinge the gradient passes, as "
          "PyTorch's clamp_min); every input gets its gradient",
          _margin_ranking, lambda sp, x1, x2, target, margin=0.0: sp.Max(0, -target * (x1 - x2) + margin),
          keywords=("margin",), kinds={"margin": "real"}, inputs=("input1", "input2", "target"),
          domain=("real", "real", "nonzero"),
          samples=(Sample(((3,), (3,), (3,)), ("real", "real", "nonzero"), params={"margin": 0.5}),),
          kinks=(Kink(([1.0], [1.5], [1.0]), ([-1.0], [1.0], [0.5]), params={"margin": 0.5},
                      note="on the hinge (value 0) the gradient passes, as PyTorch's clamp_min", noted=False),))


_pairwise("binary_cross_entropy", "binary_cross_entropy(input, target, weight=None, reduction='mean')",
          "-weight * (target log(input) + (1 - target) log(1 - input)), input a probability (each log at least "
          "-100, as PyTorch); target and weight get their gradients (PyTorch refuses a weight that requires grad)",
          lambda x, y, weight=None: F.bce(x, y) if given(weight) is None else F.bce(x, y) * weight,
          lambda sp, x, y, weight=1: -weight * (y * sp.log(x) + (1 - y) * sp.log(1 - x)),
          inputs=("input", "target", "weight"), optional={"weight": 1.0},
          domain=("probability", "probability", "positive"),
          samples=(Sample(((2, 3), (2, 3)), "probability"),))


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


_pairwise("soft_margin_loss", "soft_margin_loss(input, target, reduction='mean')",
          "log(1 + exp(-target * input)), computed as PyTorch (inf past -target * input = 709, and there a nan "
          "gradient); the target gets its gradient too (PyTorch refuses one that requires grad)",
          lambda x, y: F.soft_margin(x, y), lambda sp, x, y: sp.log(1 + sp.exp(-x * y)), domain=("real", "nonzero"))
_pairwise("hinge_embedding_loss", "hinge_embedding_loss(input, target, margin=1.0, reduction='mean')",
          "max(0, margin - input) where target is -1, input where it is 1 (both where it is neither, as PyTorch); "
          "on the hinge (input = margin) the gradient passes, as clamp_min; the target gets no gradient",
          _hinge_embedding, _sympy_hinge_embedding, keywords=("margin",), kinds={"margin": "real"}, positional=1,
          torch_name=last_step("AddBackward0"),
          domain=("real", "mask"),
          samples=(Sample(((2, 3), (2, 3)), ("real", "mask"), params={"margin": 0.5}),),
          kinks=(Kink(([0.5], [-1.0]), ([-1.0], [0.0]), params={"margin": 0.5},
                      note="on the hinge (input = margin) the gradient passes, as PyTorch's clamp_min", noted=False),))
_pairwise("poisson_nll_loss", "poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, "
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
    axis = _class_axis(x)
    classes = x.shape[axis]
    if target.shape != x.shape[:axis]:
        raise GradcliError(f"multi_margin_loss takes one class index per row, a target of shape "
                           f"{format_shape(x.shape[:axis])}, not {format_shape(target.shape)}", kind="shape",
                           param="target")
    if given(weight) is not None and weight.ndim == 0:
        raise GradcliError("multi_margin_loss's third argument is weight (one number per class): give p and margin "
                           "by name, as multi_margin_loss(x, t, p=2, margin=0.5)", kind="value", param="weight")
    weight = _along_classes(weight, x, axis)
    hot = Tensor(computed(lambda h: h.astype(x.dtype), _one_hot(target, classes, axis, None)))
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
