"""Loss functions as torch.nn.functional has them: cross_entropy, nll_loss, l1, huber, kl_div, ...
(the margin and likelihood losses are in ops/margin_losses.py)

Each is a composite of the engine's operations (bce and huber are primitives of
ops/loss_rules.py, with PyTorch's rules), so its gradient and second order come from its
parts, with PyTorch's values at the kinks (abs'(0) = 0; huber and smooth_l1 take the slope
±delta, ±1 at |d| = delta, beta; the hinge passes the gradient at 0, as clamp_min). Every
loss takes reduction="mean" (the default), "sum" or "none"; the losses of a target shaped
like the input give their SymPy form whole (no constant of the composite's graph is lost).

Class indices: gradcli's values are floats, so cross_entropy and nll_loss decide by shape
where PyTorch decides by dtype: a target shaped like the input without its class axis
(axis 1, or 0 for an input of shape (C,)) holds class indices, one shaped like the input
holds probabilities. Class indices are read as constants: they get no gradient.
"""

from __future__ import annotations

import numpy as np

from gradcli.errors import GradcliError, format_shape
from gradcli.ops.loss_rules import huber_entry
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


def class_axis(x) -> int:
    if x.ndim == 0:
        raise GradcliError("the input of a classification loss needs a class axis: shape (C,), (N, C) or "
                           "(N, C, d1, ...), not a number", kind="shape")
    return 0 if x.ndim == 1 else 1


def along_classes(weight, x, axis: int):
    """weight (C,) shaped to broadcast along x's class axis; None where the call gave none."""
    classes = x.shape[axis]
    if given(weight) is None:
        return None
    if weight.shape != (classes,):
        raise GradcliError(f"weight must hold one number per class, shape ({classes},), not "
                           f"{format_shape(weight.shape)}", kind="shape", param="weight")
    trailing = x.ndim - axis - 1
    return F.reshape(weight, src=weight.shape, dst=(classes,) + (1,) * trailing) if trailing else weight


def one_hot(target, classes: int, axis: int, ignore_index: int | None) -> np.ndarray:
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
    hot = one_hot(target, logp.shape[axis], axis, ignore_index)
    hot = Tensor(computed(lambda h: h.astype(logp.dtype), hot))
    per_entry = Tensor(computed(lambda h: h.sum(axis=axis), hot)) if weight is None else \
        F.sum(F.where(hot, weight, 0.0), axis=axis)  # an inf elsewhere stays out
    picked = F.sum(F.where(hot, logp, 0.0), axis=axis)
    loss = -(picked * per_entry)
    if reduction == "mean":  # PyTorch's weighted mean: divided by the weights of the targets
        return F.sum(loss) / F.sum(per_entry), per_entry
    return reduce(loss, reduction), per_entry


def _nll_loss(x, target, weight=None, reduction="mean", ignore_index=IGNORE_INDEX):
    axis = class_axis(x)
    if _target_kind(x, target, axis, "nll_loss") != "indices":
        raise GradcliError("nll_loss takes class indices: a target shaped like the input without its class axis",
                           kind="shape", param="target")
    weight = along_classes(weight, x, axis)
    return _weighted_nll(x, target, weight, axis, reduction, ignore_index)[0]


def _cross_entropy(x, target, weight=None, reduction="mean", ignore_index=IGNORE_INDEX, label_smoothing=0.0):
    axis = class_axis(x)
    classes = x.shape[axis]
    if not 0.0 <= label_smoothing <= 1.0:
        raise GradcliError(f"label_smoothing must be between 0 and 1, not {label_smoothing:g}", kind="value",
                           param="label_smoothing")
    weight = along_classes(weight, x, axis)
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


def _cross_entropy_name(shapes, params):
    """PyTorch's node for cross_entropy, the last of its parts: nll_loss's against class indices (an add once
    smoothed); against probabilities, the mean's division or the negated sum."""
    if tuple(shapes[1]) == tuple(shapes[0]):
        return "DivBackward1" if params.get("reduction", "mean") == "mean" else "NegBackward0"
    return "NllLossBackward0" if not params.get("label_smoothing") else "AddBackward0"


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
          kinds={**REDUCTION_KIND, "label_smoothing": "real"}, torch_name=_cross_entropy_name,
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


def _reduced_name(unreduced: str):
    """The node name of a loss PyTorch computes as a composite: its reduction's, or unreduced for 'none'."""
    def name(shapes, params):
        return {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(params.get("reduction", "mean"), unreduced)
    return name


def _smooth_l1_name(shapes, params):
    # (beta = 0 is l1_loss in PyTorch)
    return _reduced_name("AbsBackward0")(shapes, params) if params.get("beta") == 0 else "SmoothL1LossBackward0"


def _kl_div_name(shapes, params):
    if params.get("reduction") == "batchmean":
        return "DivBackward0"
    return _reduced_name("MulBackward0" if params.get("log_target") else "SubBackward0")(shapes, params)


def pairwise_loss(name: str, signature: str, doc: str, loss, sympy, *, keywords=(), kinds=None, samples=(), kinks=(),
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


pairwise_loss("l1_loss", "l1_loss(input, target, reduction='mean')",
          "mean absolute error: mean(|input - target|) (gradient 0 where they are equal, as PyTorch)",
          lambda x, y: F.abs_diff(x, y), lambda sp, x, y: sp.Abs(x - y),
          kinks=(Kink(([1.0], [1.0]), ([0.0], [0.0]), note="l1_loss'(0) = 0, as PyTorch's sign(0)", noted=False),),
          torch_name=_reduced_name("AbsBackward0"))
pairwise_loss("huber_loss", "huber_loss(input, target, reduction='mean', delta=1.0)",
          "0.5 d**2 where |d| < delta, else delta (|d| - delta/2), d = input - target (at |d| = delta the "
          "gradient is ±delta and the second derivative 0, as PyTorch)",
          lambda x, y, delta=1.0: F.huber(x, y, delta=delta), lambda sp, x, y, delta=1.0: huber_entry(sp, x - y, delta),
          keywords=("delta",), kinds={"delta": "real"},
          samples=(Sample(((3,), (3,)), params={"delta": 0.5}),),
          kinks=(Kink(([2.0], [1.5]), ([0.5], [-0.5]), params={"delta": 0.5},
                      note="at |d| = delta the gradient is delta, from either side", noted=False),))
pairwise_loss("smooth_l1_loss", "smooth_l1_loss(input, target, reduction='mean', beta=1.0)",
          "0.5 d**2 / beta where |d| < beta, else |d| - beta/2, d = input - target (beta=0: l1_loss; at |d| = "
          "beta the gradient is ±1 and the second derivative 0, as PyTorch)",
          _smooth_l1, lambda sp, x, y, beta=1.0: huber_entry(sp, x - y, beta) / beta if beta else sp.Abs(x - y),
          keywords=("beta",), kinds={"beta": "real"},
          samples=(Sample(((3,), (3,)), params={"beta": 0.5}), Sample(((3,), (3,)), params={"beta": 0.0})),
          kinks=(Kink(([2.0], [1.5]), ([1.0], [-1.0]), params={"beta": 0.5},
                      note="at |d| = beta the gradient is 1, from either side", noted=False),),
          torch_name=_smooth_l1_name)
pairwise_loss("kl_div", "kl_div(input, target, reduction='mean', log_target=False)",
          "Kullback-Leibler divergence of target from exp(input), input a log-probability: target * (log(target) "
          "- input), or exp(target) * (target - input) with log_target=True (reduction='batchmean' divides the "
          "sum by the first axis's length, as PyTorch recommends); the target gets its gradient",
          _kl_div, _sympy_kl_div, keywords=("log_target",), kinds={"reduction": (*REDUCTIONS, "batchmean")},
          domain=("real", "probability"),
          samples=(Sample(((2, 3), (2, 3)), params={"log_target": 1, "reduction": "batchmean"}),),
          torch_name=_kl_div_name)


def _margin_ranking(x1, x2, target, margin=0.0):
    return F.clamp_min(-target * (x1 - x2) + margin, 0.0)


pairwise_loss("margin_ranking_loss", "margin_ranking_loss(input1, input2, target, margin=0.0, reduction='mean')",
          "max(0, -target * (input1 - input2) + margin), target +1 or -1 (on the hinge the gradient passes, as "
          "PyTorch's clamp_min); every input gets its gradient",
          _margin_ranking, lambda sp, x1, x2, target, margin=0.0: sp.Max(0, -target * (x1 - x2) + margin),
          keywords=("margin",), kinds={"margin": "real"}, inputs=("input1", "input2", "target"),
          domain=("real", "real", "nonzero"),
          samples=(Sample(((3,), (3,), (3,)), ("real", "real", "nonzero"), params={"margin": 0.5}),),
          torch_name=_reduced_name("ClampMinBackward0"),
          kinks=(Kink(([1.0], [1.5], [1.0]), ([-1.0], [1.0], [0.5]), params={"margin": 0.5},
                      note="on the hinge (value 0) the gradient passes, as PyTorch's clamp_min", noted=False),))


pairwise_loss("binary_cross_entropy", "binary_cross_entropy(input, target, weight=None, reduction='mean')",
          "-weight * (target log(input) + (1 - target) log(1 - input)), input a probability (each log at least "
          "-100, as PyTorch); target and weight get their gradients (PyTorch refuses a weight that requires grad)",
          lambda x, y, weight=None: F.bce(x, y) if given(weight) is None else F.bce(x, y) * weight,
          lambda sp, x, y, weight=1: -weight * (y * sp.log(x) + (1 - y) * sp.log(1 - x)),
          inputs=("input", "target", "weight"), optional={"weight": 1.0},
          domain=("probability", "probability", "positive"),
          samples=(Sample(((2, 3), (2, 3)), "probability"),))
