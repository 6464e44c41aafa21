"""Twins and generator forms of the losses (gradcli/ops/losses.py) and softmin, cosine_similarity.

A twin calls torch.nn.functional with gradcli's keyword names. A target shaped like the
input without its class axis holds class indices: torch wants them as integers. A weight
that is a variable gets its gradient in gradcli, where torch refuses one that requires
grad (nll_loss, class-index cross_entropy, binary_cross_entropy and its logits form): the
twin then writes torch's formula out in torch's operations, as the parameters of elu are.
"""

from __future__ import annotations

import random

import torch

TF = torch.nn.functional
T = torch.float64
REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _class_axis(x):
    return 0 if x.ndim == 1 else 1


def _indices(x, target):
    """Class indices as torch's integers, when target lacks the input's class axis."""
    return target.long() if target.shape != x.shape else target


def _needs_writing(*weights):
    return any(w is not None and w.requires_grad for w in weights)


def _nll_written(logp, target, weight, reduction, ignore_index):
    """nll_loss in torch's operations, differentiable in weight: (loss, each entry's weight)."""
    axis = _class_axis(logp)
    kept = target != ignore_index
    safe = torch.where(kept, target, torch.zeros_like(target))
    zero = torch.zeros((), dtype=T)
    per_entry = torch.where(kept, torch.broadcast_to(weight, (logp.shape[axis],))[safe], zero)
    picked = torch.where(kept, logp.gather(axis, safe.unsqueeze(axis)).squeeze(axis), zero)
    loss = -picked * per_entry
    return (loss.sum() / per_entry.sum() if reduction == "mean" else _reduce(loss, reduction)), per_entry


def _cross_entropy_written(x, target, weight, reduction, ignore_index, label_smoothing):
    axis = _class_axis(x)
    logp = torch.log_softmax(x, axis)
    nll, per_entry = _nll_written(logp, target, weight, reduction, ignore_index)
    if not label_smoothing:
        return nll
    shaped = weight.reshape((-1,) + (1,) * (x.ndim - axis - 1)) if weight.ndim else weight
    smooth = torch.where(target != ignore_index, -(logp * shaped).sum(axis), torch.zeros((), dtype=T))
    smooth = smooth.sum() / per_entry.sum() if reduction == "mean" else _reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / x.shape[axis])


def cross_entropy(x, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0):
    target = _indices(x, target)
    if target.dtype == torch.long and _needs_writing(weight):
        return _cross_entropy_written(x, target, weight, reduction, ignore_index, label_smoothing)
    return TF.cross_entropy(x, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                            label_smoothing=label_smoothing)


def nll_loss(x, target, weight=None, reduction="mean", ignore_index=-100):
    target = _indices(x, target)
    if _needs_writing(weight):
        return _nll_written(x, target, weight, reduction, ignore_index)[0]
    return TF.nll_loss(x, target, weight=weight, reduction=reduction, ignore_index=ignore_index)


def nll_loss_selected(x, target, weight=None, reduction="mean", ignore_index=-100):
    """gradcli's convention: the picked entries selected by indexing, as written out."""
    target = _indices(x, target)
    one = torch.ones((), dtype=T)
    return _nll_written(x, target, one if weight is None else weight, reduction, ignore_index)[0]


def cross_entropy_selected(x, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0):
    target = _indices(x, target)
    if target.dtype != torch.long:
        return cross_entropy(x, target, weight, reduction, ignore_index, label_smoothing)
    one = torch.ones((), dtype=T)
    return _cross_entropy_written(x, target, one if weight is None else weight, reduction, ignore_index,
                                  label_smoothing)


def binary_cross_entropy(x, y, weight=None, reduction="mean"):
    if _needs_writing(weight):
        loss = -(y * torch.clamp_min(torch.log(x), -100) + (1 - y) * torch.clamp_min(torch.log1p(-x), -100))
        return _reduce(loss * weight, reduction)
    return TF.binary_cross_entropy(x, y, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(z, y, weight=None, pos_weight=None, reduction="mean"):
    if _needs_writing(weight, pos_weight):
        scale = 1 if pos_weight is None else (pos_weight - 1) * y + 1
        loss = (1 - y) * z - scale * TF.logsigmoid(z)
        return _reduce(loss if weight is None else loss * weight, reduction)
    return TF.binary_cross_entropy_with_logits(z, y, weight=weight, reduction=reduction, pos_weight=pos_weight)


def kl_div(x, target, reduction="mean", log_target=0):
    return TF.kl_div(x, target, reduction=reduction, log_target=bool(log_target))


def soft_margin_loss(x, target, reduction="mean"):
    if target.requires_grad:  # torch refuses a target that requires grad: its kernel written out
        return _reduce(torch.log1p(torch.exp(-x * target)), reduction)
    return TF.soft_margin_loss(x, target, reduction=reduction)


def poisson_nll_loss(x, target, log_input=1, full=0, eps=1e-8, reduction="mean"):
    return TF.poisson_nll_loss(x, target, bool(log_input), bool(full), eps=eps, reduction=reduction)


def gaussian_nll_loss(x, target, var, full=0, eps=1e-6, reduction="mean"):
    """A var of one entry as torch takes a Python number: var * ones_like(input)."""
    if var.ndim == 0:
        var = var * torch.ones_like(x)
    return TF.gaussian_nll_loss(x, target, var, full=bool(full), eps=eps, reduction=reduction)


def multi_margin_loss(x, target, weight=None, p=1, margin=1.0, reduction="mean"):
    target = target.long()
    if not _needs_writing(weight):
        return TF.multi_margin_loss(x, target, p=int(p), margin=margin, weight=weight, reduction=reduction)
    # torch's kernel in torch's operations, differentiable in weight
    axis = _class_axis(x)
    at = target.unsqueeze(axis)
    hinge = torch.relu(margin - x.gather(axis, at) + x)
    hinge = hinge * hinge if p == 2 else hinge
    hinge = hinge * weight[at]
    others = torch.ones_like(x, dtype=torch.bool).scatter(axis, at, False)
    return _reduce(torch.where(others, hinge, torch.zeros((), dtype=T)).sum(axis) / x.shape[axis], reduction)


def multilabel_margin_loss(x, target, reduction="mean"):
    return TF.multilabel_margin_loss(x, target.long(), reduction=reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=0, reduction="mean"):
    return TF.triplet_margin_loss(anchor, positive, negative, margin, p, eps, bool(swap), reduction=reduction)


def cosine_similarity(x1, x2, axis=1, eps=1e-8):
    return TF.cosine_similarity(x1, x2, dim=axis, eps=eps)


def softmin(x, axis=-1):
    return TF.softmin(x, axis) if x.ndim else torch.ones((), dtype=T)


def softplus(x, beta=1.0, threshold=None):
    """torch's softplus with gradcli's names: threshold=20 where none is given (PyTorch's default)."""
    return TF.softplus(x, beta, 20.0 if threshold is None else threshold)


def softplus_without_threshold(x, beta=1.0, threshold=None):
    """gradcli's convention: without threshold=, log(1 + exp(beta x)) / beta everywhere."""
    if threshold is not None:
        return TF.softplus(x, beta, threshold)
    return torch.logaddexp(x * beta, torch.zeros((), dtype=T)) / beta


def add(d):
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    loss = lambda fn: d.Twin(fn, "loss")
    elu, leaky_relu = d.TWINS["elu"].torch, d.TWINS["leaky_relu"].torch
    d.TWINS.update({
        "cross_entropy": d.Twin(cross_entropy, "classes", {"nll-other-classes": cross_entropy_selected}),
        "nll_loss": d.Twin(nll_loss, "classes", {"nll-other-classes": nll_loss_selected}),
        "l1_loss": loss(TF.l1_loss), "mse_loss": loss(TF.mse_loss),
        "huber_loss": loss(TF.huber_loss), "smooth_l1_loss": loss(TF.smooth_l1_loss),
        "kl_div": loss(kl_div), "margin_ranking_loss": loss(TF.margin_ranking_loss),
        "binary_cross_entropy": loss(binary_cross_entropy),
        "binary_cross_entropy_with_logits": loss(binary_cross_entropy_with_logits),
        "soft_margin_loss": loss(soft_margin_loss), "hinge_embedding_loss": loss(TF.hinge_embedding_loss),
        "poisson_nll_loss": loss(poisson_nll_loss),
        "multilabel_soft_margin_loss": loss(TF.multilabel_soft_margin_loss),
        # (of a target or a var without the input's last axis, or of class indices: not broadcast to its shape)
        "gaussian_nll_loss": d.Twin(gaussian_nll_loss, "classes"),
        "cosine_embedding_loss": d.Twin(TF.cosine_embedding_loss, "classes"),
        "multi_margin_loss": d.Twin(multi_margin_loss, "classes"),
        "multilabel_margin_loss": d.Twin(multilabel_margin_loss, "classes"),
        "triplet_margin_loss": loss(triplet_margin_loss),
        "cosine_similarity": d.Twin(cosine_similarity, "cosine"), "softmin": d.Twin(softmin, "softmax"),
        "softplus": d._unary(softplus, **{"softplus-threshold": softplus_without_threshold}),
        # a parameter given as a number is torch's own; as an array, written out (differential.py)
        "elu": d._unary(lambda x, alpha=None: TF.elu(x, alpha) if isinstance(alpha, float) else elu(x, alpha)),
        "leaky_relu": d._unary(lambda x, slope=None: TF.leaky_relu(x, slope) if isinstance(slope, float) else
                               leaky_relu(x, slope)),
        "gelu": d._unary(lambda x, approximate="none": TF.gelu(x, approximate=approximate)),
    })
    # Each form builds a value of a shape it accepts; the loss form takes it to a scalar.
    # (the pairwise losses are eight, the class losses two: they come up as often as the others together)
    builders = [*[(lambda shape: True, _pairwise(d))] * 3, *[(lambda shape: len(shape) <= 2, _classes(d))] * 2,
                (lambda shape: len(shape) <= 1, _cosine(d)), (lambda shape: bool(shape), _softmin(d)),
                (lambda shape: True, _activation(d))]
    margins = [(lambda shape: True, _pairwise(d, MARGINS)), (lambda shape: len(shape) <= 1, _rows(d))]
    d.LOSS_FORMS.append(_to_scalar(d, builders, margins))


# -- generator forms --------------------------------------------------------------------------
def _to_scalar(d, builders, margins):
    """A scalar: a form's value of shape (), or of shape (n,) or (1, n) summed or indexed. One time in
    MARGIN_SHARE the form is one of the margin and likelihood losses' (margins), decided by a stream
    of its own: the cases that take another form stay as they were before those losses came."""
    def build(b, shape, depth):
        state = b.rng.getstate()[1]
        forms = margins if random.Random(str((state[:8], state[-1]))).random() < MARGIN_SHARE else builders
        size = b.rng.randint(1, 3)
        made = b.pick([(), (), (size,), (1, size)])
        form = b.pick([build for accepts, build in forms if accepts(made)])
        node = form(b, made, depth)
        if made == ():
            return node
        if b.rng.random() < 0.5:
            return d.Node((), [node], lambda c: f"sum({c[0]})", lambda v: v[0].sum())
        at = (0,) * (len(made) - 1) + (b.rng.randint(0, size - 1),)
        listed = ", ".join(map(str, at))
        return d.Node((), [node], lambda c: f"({c[0]})[{listed}]", lambda v: v[0][at])
    return build


PAIRWISE = {  # name: (inputs, keyword choices)
    "l1_loss": (2, {}), "mse_loss": (2, {}), "huber_loss": (2, {"delta": ("0.5", "1", "2")}),
    "smooth_l1_loss": (2, {"beta": ("0", "0.5", "1")}), "kl_div": (2, {"log_target": ("True", "False")}),
    "margin_ranking_loss": (3, {"margin": ("0", "0.5")}), "binary_cross_entropy": (2, {}),
    "binary_cross_entropy_with_logits": (2, {}),
}
MARGIN_SHARE = 0.3
MARGINS = {  # the margin and likelihood losses of a target shaped like the input, as PAIRWISE
    "soft_margin_loss": (2, {}), "hinge_embedding_loss": (2, {"margin": ("0.5", "1", "2")}),
    "poisson_nll_loss": (2, {"log_input": ("True", "False"), "full": ("True", "False"), "eps": ("0.5",)}),
    "gaussian_nll_loss": (3, {"full": ("True", "False"), "eps": ("0.5", "1e-6")}),
}
SIGNS = ("soft_margin_loss", "hinge_embedding_loss")  # losses of a target of +1 and -1


def _spelled(b, name):
    return b.pick([name, name, "F." + name, "torch.nn.functional." + name])


def _keywords(b, name, choices, reduction):
    """The keyword text of a call and its parameters under gradcli's names (Python values for torch)."""
    chosen = {k: b.pick(v) for k, v in choices.items() if b.rng.random() < 0.6}
    if reduction != "mean" or b.rng.random() < 0.3:
        chosen["reduction"] = repr(reduction)
    text = "".join(f", {k}={v}" for k, v in chosen.items())
    params = {k: {"True": 1, "False": 0}.get(v, None) if v in ("True", "False") else
              (v.strip("'") if k == "reduction" else float(v)) for k, v in chosen.items()}
    return text, params


def _pairwise(d, table=PAIRWISE):
    def build(b, shape, depth):
        name = b.pick(sorted(table))
        count, choices = table[name]
        reduction = "none" if shape else b.pick(["mean", "sum"])
        inner = shape or tuple(b.rng.randint(1, 3) for _ in range(b.rng.randint(0, 2)))
        args = [b.expr(inner, depth) for _ in range(count)]
        text_keywords, params = _keywords(b, name, choices, reduction)
        if name == "binary_cross_entropy":  # probabilities, as torch demands
            args[0] = d.Node(inner, [args[0]], lambda c: f"sigmoid({c[0]})", lambda v: torch.sigmoid(v[0]))
        # soft_margin_loss's target as PyTorch users write it, a constant: torch refuses one that requires grad
        # (tests/test_losses.py checks the gradient gradcli gives it)
        if name == "soft_margin_loss" or (name in SIGNS and b.rng.random() < 0.5):
            args[1] = _signs(d, b, inner)
        # positive where the loss takes a log of it: a rate (log_input=False), counts (full=True), a variance
        positive = {"poisson_nll_loss": [0] * (params.get("log_input") == 0) + [1] * bool(params.get("full")),
                    "gaussian_nll_loss": [2]}.get(name, [])
        for i in positive:
            args[i] = d.Node(inner, [args[i]], lambda c: f"exp({c[0]})", lambda v: torch.exp(v[0]))
        spelled = _spelled(b, name)
        return d._op_node(shape, args, lambda c: f"{spelled}({', '.join(c)}{text_keywords})", name,
                          lambda v, fn: fn(*v, **params))
    return build


def _classes(d):
    """cross_entropy or nll_loss of an (N, C) or (C,) input, against indices or probabilities."""
    def build(b, shape, depth):
        name = b.pick(["cross_entropy", "cross_entropy", "nll_loss"])
        classes = b.rng.randint(2, 3)
        if len(shape) == 2:
            lead, reduction = shape, "none"
            inner = (shape[0], classes, shape[1])
        elif len(shape) == 1:
            lead, reduction = shape, "none"
            inner = (shape[0], classes)
        else:
            lead = b.pick([(), (b.rng.randint(1, 3),)])
            reduction = b.pick(["mean", "sum"])
            inner = (classes,) if lead == () else (lead[0], classes)
        x = b.expr(inner, depth)
        probabilities = name == "cross_entropy" and b.rng.random() < 0.3
        if probabilities:
            target = b.expr(inner, depth)
        else:
            picks = [b.rng.randint(0, classes - 1) for _ in range(int(torch.Size(lead).numel()))]
            values = torch.tensor(picks, dtype=T).reshape(lead)
            literal = str(values.long().tolist())
            target = d.Node(lead, [], lambda _: literal, lambda _: values.clone())
        children = [x, target]
        weighted = b.rng.random() < 0.4
        if weighted:
            if b.rng.random() < 0.5:  # a constant weight: torch's own function computes the twin
                numbers = [b.pick([0.5, 1.0, 2.0]) for _ in range(classes)]
                children.append(d.Node((classes,), [], lambda _: str(numbers),
                                       lambda _: torch.tensor(numbers, dtype=T)))
            else:
                children.append(b.expr((classes,), depth))
        choices = {"label_smoothing": ("0.1", "0.3")} if name == "cross_entropy" else {}
        if not probabilities:
            choices["ignore_index"] = tuple(str(i) for i in range(classes))
        text_keywords, params = _keywords(b, name, choices, reduction)
        params = {k: int(v) if k == "ignore_index" else v for k, v in params.items()}
        spelled = _spelled(b, name)
        return d._op_node(shape, children, lambda c: f"{spelled}({', '.join(c)}{text_keywords})", name,
                          lambda v, fn: fn(*v, **params))
    return build


def _cosine(d):
    def build(b, shape, depth):
        n = b.rng.randint(1, 3)
        axis = 0 if not shape else b.pick([1, -1])
        inner = (n,) if not shape else (shape[0], n)
        a, c = b.expr(inner, depth), b.expr(inner, depth)
        eps = b.pick([None, None, "0.5"])
        extra = f", dim={axis}" + (f", eps={eps}" if eps else "")
        params = {"axis": axis, **({"eps": float(eps)} if eps else {})}
        spelled = _spelled(b, "cosine_similarity")
        return d._op_node(shape, [a, c], lambda k: f"{spelled}({k[0]}, {k[1]}{extra})",
                          "cosine_similarity", lambda v, fn: fn(*v, **params))
    return build


def _softmin(d):
    def build(b, shape, depth):
        axis = b.rng.randint(-len(shape), len(shape) - 1)
        inner = b.expr(shape, depth)
        return d._op_node(shape, [inner], lambda c: f"softmin({c[0]}, dim={axis})", "softmin",
                          lambda v, fn: fn(v[0], axis))
    return build


def _activation(d):
    """A PyTorch parameter of an activation, given as a number: softplus, gelu, elu, leaky_relu."""
    def build(b, shape, depth):
        name, text, args, params = b.pick([
            ("softplus", "beta=2", (), {"beta": 2.0}), ("softplus", "beta=0.5, threshold=1", (),
                                                        {"beta": 0.5, "threshold": 1.0}),
            ("softplus", "2, 3", (), {"beta": 2.0, "threshold": 3.0}), ("gelu", "approximate='tanh'", (),
                                                                          {"approximate": "tanh"}),
            ("elu", "alpha=0.5", (0.5,), {}), ("leaky_relu", "negative_slope=0.1", (0.1,), {}),
        ])
        inner = b.expr(shape, depth)
        spelled = _spelled(b, name)
        return d._op_node(shape, [inner], lambda c: f"{spelled}({c[0]}, {text})", name,
                          lambda v, fn: fn(v[0], *args, **params))
    return build


def _signs(d, b, shape):
    """A constant of +1 and -1 entries (a target of the margin losses), written as a list."""
    values = torch.tensor([b.pick([1.0, -1.0]) for _ in range(int(torch.Size(shape).numel()))], dtype=T)
    values = values.reshape(shape)
    literal = str(values.tolist())
    return d.Node(shape, [], lambda _: literal, lambda _: values.clone())


def _rows(d):
    """A loss of rows (N, C) or of one row (C,): of a shape () it is reduced, of a shape (N,) it is not:
    multilabel_soft_margin_loss, cosine_embedding_loss, multi_margin_loss, multilabel_margin_loss and
    triplet_margin_loss, each target written as PyTorch users write it (indices, +1 and -1)."""
    def build(b, shape, depth):
        name = b.pick(["multilabel_soft_margin_loss", "cosine_embedding_loss", "multi_margin_loss",
                       "multilabel_margin_loss", "triplet_margin_loss"])
        width = b.rng.randint(1, 3)
        if shape:
            lead, reduction = shape, "none"
        else:
            lead = b.pick([(), (b.rng.randint(1, 3),)])
            reduction = "none" if lead == () else b.pick(["mean", "sum"])
        inner = lead + (width,)
        x = b.expr(inner, depth)
        choices = {}
        if name == "multilabel_soft_margin_loss":
            children = [x, b.expr(inner, depth)] + [b.expr((width,), depth)] * (b.rng.random() < 0.3)
        elif name == "cosine_embedding_loss":
            target = _signs(d, b, lead) if b.rng.random() < 0.7 else b.expr(lead, depth)
            children, choices = [x, b.expr(inner, depth), target], {"margin": ("0.5", "-0.2")}
        elif name == "multi_margin_loss":
            picks = torch.tensor([b.rng.randint(0, width - 1) for _ in range(int(torch.Size(lead).numel()))],
                                 dtype=T).reshape(lead)
            literal = str(picks.long().tolist())
            children = [x, d.Node(lead, [], lambda _: literal, lambda _: picks.clone())]
            if b.rng.random() < 0.3:
                children.append(b.expr((width,), depth))
            choices = {"p": ("1", "2"), "margin": ("0.5", "1", "2")}
        elif name == "multilabel_margin_loss":
            rows = []
            for _ in range(int(torch.Size(lead).numel())):
                labels = [b.rng.randint(-1, width - 1) for _ in range(width)]
                rows.append(labels)
            labels = torch.tensor(rows, dtype=T).reshape(inner)
            literal = str(labels.long().tolist())
            children = [x, d.Node(inner, [], lambda _: literal, lambda _: labels.clone())]
        else:
            children = [x, b.expr(inner, depth), b.expr(inner, depth)]
            choices = {"margin": ("0.5", "1", "2"), "p": ("1", "2", "3"), "swap": ("True", "False")}
        text_keywords, params = _keywords(b, name, choices, reduction)
        spelled = _spelled(b, name)
        return d._op_node(shape, children, lambda c: f"{spelled}({', '.join(c)}{text_keywords})", name,
                          lambda v, fn: fn(*v, **params))
    return build
