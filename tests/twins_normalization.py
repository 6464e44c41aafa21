"""The normalization family's torch twins and generator forms for the differential suite: layer_norm,
rms_norm, batch_norm, instance_norm, group_norm and local_response_norm, dropout's identities
(gradcli/ops/normalization.py), and the activations hardshrink, softshrink, threshold, glu, prelu and
celu with its alpha (gradcli/ops/activations.py), written as PyTorch code writes them
(F.layer_norm(x, (3,), w, b), F.batch_norm(x, torch.tensor([...]), torch.tensor([...]), training=False),
F.prelu(x, w), F.dropout(x, training=False)).

A norm needs axes a value of the suite's shapes may lack (batch_norm's channels, instance_norm's
spatial axes): the form builds it on a shape with trailing axes added and takes one entry of each
(y[..., 1, 0]), so a norm reaches every shape, the scalars of second order too. Running
statistics are constants (torch.tensor([...]) in the text), as PyTorch refuses ones that require grad.
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF

T = torch.float64


# Each twin takes gradcli's inputs by position and its parameters by gradcli's names, as the registry's
# samples pass them (tests/test_float32.py), and calls torch's function.
def celu(x, alpha=None):
    if alpha is None or not torch.is_tensor(alpha):
        return TF.celu(x) if alpha is None else TF.celu(x, alpha)
    # (an alpha with a gradient, which gradcli takes: PyTorch's celu written out)
    return torch.where(x > 0, x, alpha * torch.expm1(x / alpha))


def layer_norm(x, weight=None, bias=None, *, normalized_shape, eps=1e-5):
    return TF.layer_norm(x, _listed(normalized_shape), weight, bias, eps)


def rms_norm(x, weight=None, *, normalized_shape, eps=None):
    return TF.rms_norm(x, _listed(normalized_shape), weight, eps)


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    return TF.batch_norm(x, running_mean, running_var, weight, bias, bool(training), momentum, eps)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    return TF.instance_norm(x, running_mean, running_var, weight, bias, bool(use_input_stats), momentum, eps)


def group_norm(x, weight=None, bias=None, *, num_groups, eps=1e-5):
    return TF.group_norm(x, num_groups, weight, bias, eps)


def glu(x, axis=-1):
    return TF.glu(x, axis)


# gradcli's norms are composites: their gradients are torch's fused backward formulas to rounding, but an inf
# cotangent meets their parts differently (torch's (g - mean(g) - xhat mean(g xhat)) keeps it at its own entry;
# the composite's mean and variance spread it as nan over the row): docs/differences.md, norm-composite-rule.
# These variants are the composites written in torch's operations.
def _statistics(x, axes, eps):
    return x.mean(axes, keepdim=True), torch.rsqrt(x.var(axes, unbiased=False, keepdim=True) + eps)


def _scaled(x, mean, rstd, weight, bias):
    scale = rstd if weight is None else rstd * weight
    shift = mean * scale
    return x * scale + ((0.0 - shift) if bias is None else bias - shift)


def _channels(value, ndim):
    return None if value is None else value.reshape((-1,) + (1,) * (ndim - 2))


def layer_norm_composite(x, weight=None, bias=None, *, normalized_shape, eps=1e-5):
    mean, rstd = _statistics(x, tuple(range(-len(_listed(normalized_shape)), 0)), eps)
    return (x - mean) * rstd * (1.0 if weight is None else weight) + (0.0 if bias is None else bias)


def batch_norm_composite(x, running_mean=None, running_var=None, weight=None, bias=None, training=False,
                         momentum=0.1, eps=1e-5, axes=None):
    weight, bias = _channels(weight, x.ndim), _channels(bias, x.ndim)
    if training:
        return _scaled(x, *_statistics(x, axes or (0, *range(2, x.ndim)), eps), weight, bias)
    return _scaled(x, _channels(running_mean, x.ndim), torch.rsqrt(_channels(running_var, x.ndim) + eps), weight,
                   bias)


def instance_norm_composite(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                            momentum=0.1, eps=1e-5):
    return batch_norm_composite(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps,
                                tuple(range(2, x.ndim)))


def group_norm_composite(x, weight=None, bias=None, *, num_groups, eps=1e-5):
    grouped = x.reshape(x.shape[0], num_groups, x.shape[1] // num_groups, -1)
    by_group = [None if v is None else v.reshape(num_groups, -1, 1) for v in (weight, bias)]
    return _scaled(grouped, *_statistics(grouped, (-2, -1), eps), *by_group).reshape(x.shape)


def _listed(shape):
    return list(shape) if isinstance(shape, (tuple, list)) else [shape]


DROPOUTS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")
ACTIVATIONS = ("hardshrink", "softshrink", "threshold", "glu", "prelu", "celu")
NORMS = ("layer_norm", "rms_norm", "batch_norm", "instance_norm", "group_norm", "local_response_norm")
NAMES = (*NORMS, *ACTIVATIONS, *DROPOUTS)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    rule = "norm-composite-rule"
    d.TWINS.update({"layer_norm": d.Twin(layer_norm, "norm", {rule: layer_norm_composite}),
                    "rms_norm": d.Twin(rms_norm, "norm"),
                    "batch_norm": d.Twin(batch_norm, "norm", {rule: batch_norm_composite}),
                    "instance_norm": d.Twin(instance_norm, "norm", {rule: instance_norm_composite}),
                    "group_norm": d.Twin(group_norm, "norm", {rule: group_norm_composite}),
                    "local_response_norm": d.Twin(TF.local_response_norm, "norm"),
                    "hardshrink": d.Twin(TF.hardshrink, "activation"), "softshrink": d.Twin(TF.softshrink, "activation"),
                    "threshold": d.Twin(TF.threshold, "activation"), "glu": d.Twin(glu, "activation"),
                    "prelu": d.Twin(TF.prelu, "activation"),
                    **{name: d.Twin(getattr(TF, name), "dropout") for name in DROPOUTS}})
    # celu takes its alpha here; the unary form (tests/differential.py) calls it with x alone
    d.TWINS["celu"] = d._unary(celu, **d.TWINS["celu"].variants)
    d.FORMS.append((lambda shape: True, lambda b, shape, depth: _normalization(d, b, shape, depth)))


def _normalization(d, b, shape, depth):
    form = b.pick([_norm] * 3 + [_activation] * 2 + [_dropout])
    return form(d, b, shape, depth)


def _spelled(b, name):
    return b.pick([f"F.{name}", f"torch.nn.functional.{name}"] + ([f"torch.{name}"] if name != "rms_norm" else []))


def _summed(d, b, shape, node):
    """node with one entry taken on each axis past shape's (nothing to do when it is shaped so): a sum there
    would add up a normalized row, 0 but for rounding."""
    if node.shape == shape:
        return node
    at = tuple(b.rng.randrange(n) for n in node.shape[len(shape):])
    written = ", ".join(map(str, at))
    return d.Node(shape, [node], lambda c: f"({c[0]})[..., {written}]", lambda v: v[0][(..., *at)])


def _grown(b, shape, least, spatial=False):
    """shape with trailing axes of 1 to 3 entries added, to at least `least` axes (the last of 2 or 3
    entries where spatial: instance_norm's statistics need more than one entry)."""
    grown = tuple(shape)
    while len(grown) < least or b.rng.random() < 0.2 and len(grown) < 4:
        grown += (b.rng.randint(1, 3),)
    if spatial and (len(grown) < 3 or all(n == 1 for n in grown[2:])):
        grown += (b.rng.randint(2, 3),)
    return grown


def _constant(values):
    return f"torch.tensor({[float(v) for v in values]})"


def _norm(d, b, shape, depth):
    name = b.pick(NORMS)
    spelled = _spelled(b, name)
    if name in ("layer_norm", "rms_norm"):
        full = _grown(b, shape, 1)
        kept = full[len(full) - b.rng.randint(1, len(full)):]
        written = b.pick([str(kept), str(list(kept))])
        x = b.expr(full, depth)
        children, text = [x], f"{spelled}(" + "{0}" + f", {written}"
        affine = b.rng.randint(0, 2 if name == "layer_norm" else 1)
        children += [b.expr(kept, depth) for _ in range(affine)]
        text += "".join(f", {{{i + 1}}}" for i in range(affine))
        eps = b.pick([None, None, "0.1", "1e-3"])
        text += f", eps={eps})" if eps else ")"
        params = {"eps": float(eps)} if eps else {}
        node = d._op_node(full, children, lambda c, t=text: t.format(*c), name,
                          lambda v, fn: fn(*v, normalized_shape=kept, **params))
        return _summed(d, b, shape, node)
    if name == "batch_norm":
        full = _grown(b, shape, 2)
        channels = full[1]
        x = b.expr(full, depth)
        per_channel = int(torch.tensor(full).prod()) // channels
        training = per_channel > 1 and b.rng.random() < 0.6  # (PyTorch's batch statistics need two entries)
        mean = [b.pick([0.0, 0.5, -1.0, 2.0]) for _ in range(channels)]
        var = [b.pick([0.25, 1.0, 2.0, 0.0]) for _ in range(channels)]
        affine = b.rng.randint(0, 2)
        children = [x] + [b.expr((channels,), depth) for _ in range(affine)]
        eps = b.pick([None, "0.1"])
        stats = f"{_constant(mean)}, {_constant(var)}"
        named = b.rng.random() < 0.5
        weights = "".join(f", {'weight=' if named else ''}{{{i + 1}}}" if i == 0 else
                          f", {'bias=' if named else ''}{{{i + 1}}}" for i in range(affine))
        text = f"{spelled}({{0}}, {stats}{weights}" + (", training=True" if training else
                                                       b.pick(["", ", training=False"])) + \
            (f", eps={eps})" if eps else ")")
        params = {"eps": float(eps)} if eps else {}
        node = d._op_node(full, children, lambda c, t=text: t.format(*c), name,
                          lambda v, fn: fn(v[0], torch.tensor(mean, dtype=T), torch.tensor(var, dtype=T), *v[1:],
                                           training=training, **params))
        return _summed(d, b, shape, node)
    if name == "instance_norm":
        full = _grown(b, shape, 3, spatial=True)
        x = b.expr(full, depth)
        affine = b.rng.randint(0, 2)
        children = [x] + [b.expr((full[1],), depth) for _ in range(affine)]
        keywords = "".join(f", {('weight', 'bias')[i]}={{{i + 1}}}" for i in range(affine))
        text = f"{spelled}({{0}}{keywords})"
        node = d._op_node(full, children, lambda c, t=text: t.format(*c), name,
                          lambda v, fn: fn(v[0], None, None, *v[1:]))
        return _summed(d, b, shape, node)
    if name == "group_norm":
        full = _grown(b, shape, 2)
        size = int(torch.tensor(full).prod())
        groups = b.pick([g for g in range(1, full[1] + 1) if full[1] % g == 0 and size // g > 1] or [None])
        if groups is None:  # (PyTorch refuses one value per group)
            full += (2,)
            groups = full[1]
        x = b.expr(full, depth)
        affine = b.rng.randint(0, 2)
        children = [x] + [b.expr((full[1],), depth) for _ in range(affine)]
        eps = b.pick([None, "0.1"])
        text = f"{spelled}({{0}}, {groups}" + "".join(f", {{{i + 1}}}" for i in range(affine)) + \
            (f", eps={eps})" if eps else ")")
        params = {"eps": float(eps)} if eps else {}
        node = d._op_node(full, children, lambda c, t=text: t.format(*c), name,
                          lambda v, fn: fn(*v, num_groups=groups, **params))
        return _summed(d, b, shape, node)
    full = _grown(b, shape, 3)  # local_response_norm
    size = b.rng.randint(1, 4)
    extra = b.pick([("", {}), (", alpha=0.5", {"alpha": 0.5}), (", 1.0, 0.5, 2.0", {"alpha": 1.0, "beta": 0.5,
                                                                                    "k": 2.0})])
    x = b.expr(full, depth)
    node = d._op_node(full, [x], lambda c: f"{spelled}({c[0]}, {size}{extra[0]})", name,
                      lambda v, fn: fn(v[0], size=size, **extra[1]))
    return _summed(d, b, shape, node)


def _activation(d, b, shape, depth):
    name = b.pick(ACTIVATIONS if shape else [n for n in ACTIVATIONS if n != "glu"])
    spelled = b.pick([f"F.{name}", f"torch.nn.functional.{name}"])
    if name in ("hardshrink", "softshrink"):
        lambd = b.pick([None, "0.5", "1", "0"])
        x = b.expr(shape, depth)
        written = "" if lambd is None else b.pick([f", {lambd}", f", lambd={lambd}"])
        if name == "hardshrink" and b.rng.random() < 0.3:
            text = lambda c: f"({c[0]}).hardshrink({written[2:]})"  # noqa: E731
        else:
            text = lambda c: f"{spelled}({c[0]}{written})"  # noqa: E731
        return d._op_node(shape, [x], text, name,
                          lambda v, fn: fn(v[0]) if lambd is None else fn(v[0], lambd=float(lambd)))
    if name == "threshold":
        threshold, value = b.pick(["0", "0.5", "-1"]), b.pick(["0", "2.0", "-0.5"])
        x = b.expr(shape, depth)
        written = b.pick([f"{threshold}, {value}", f"threshold={threshold}, value={value}"])
        return d._op_node(shape, [x], lambda c: f"{spelled}({c[0]}, {written})", name,
                          lambda v, fn: fn(v[0], threshold=float(threshold), value=float(value)))
    if name == "celu":
        alpha = b.pick(["2.0", "0.5", "1", "3"])
        x = b.expr(shape, depth)
        written = b.pick([f", {alpha}", f", alpha={alpha}"])
        return d._op_node(shape, [x], lambda c: f"{spelled}({c[0]}{written})", name,
                          lambda v, fn: fn(v[0], float(alpha)))
    if name == "glu":
        axis = b.rng.randrange(len(shape))
        source = shape[:axis] + (2 * shape[axis],) + shape[axis + 1:]
        dim = b.pick([str(axis), str(axis - len(shape))])
        written = "" if dim == "-1" and b.rng.random() < 0.5 else f", {b.pick(['', 'dim='])}{dim}"
        x = b.expr(source, depth)
        return d._op_node(shape, [x], lambda c: f"{spelled}({c[0]}{written})", name,
                          lambda v, fn: fn(v[0], axis=int(dim)))
    channels = shape[1] if len(shape) > 1 else 1  # prelu
    weight_shape = b.pick([(channels,), (1,), ()] if channels > 1 else [(1,), ()])
    x, weight = b.expr(shape, depth), b.expr(weight_shape, depth)
    return d._op_node(shape, [x, weight], lambda c: f"{spelled}({c[0]}, {c[1]})", name, lambda v, fn: fn(*v))


def _dropout(d, b, shape, depth):
    name = b.pick(DROPOUTS if len(shape) in (2, 3) else [n for n in DROPOUTS if n != "dropout1d"])
    spelled = _spelled(b, name)
    # (text, p, training): eval mode, or p = 0
    identity = [("training=False", 0.5, False), ("p=0.0", 0.0, True), ("0.3, False", 0.3, False),
                ("0.5, training=False", 0.5, False), ("p=0.0, training=True", 0.0, True)]
    if name in ("alpha_dropout", "feature_alpha_dropout"):  # (their training= defaults to False)
        identity += [("", 0.5, False), ("0.5", 0.5, False), ("p=0.2", 0.2, False)]
    written, p, training = b.pick(identity)
    x = b.expr(shape, depth)
    return d._op_node(shape, [x], lambda c: f"{spelled}({c[0]}{', ' if written else ''}{written})", name,
                      lambda v, fn: fn(v[0], p=p, training=training))
