"""The distances family's torch twins and generator forms for the differential suite: dist,
pairwise_distance, cdist and pdist (gradcli/ops/distances.py), the affine products addmm, addmv, addr,
baddbmm and addbmm, inner and vdot (gradcli/ops/affine.py), written as PyTorch code writes them
(torch.cdist(x, y, p=1), F.pairwise_distance(a, b, keepdim=True), c.addmm(a, b, beta=0.5)).

torch refuses a second derivative of cdist and pdist (_cdist_backward and _pdist_backward have none):
their twins take torch's own first derivative, and under create_graph the same formulas written in
torch operations, so that a Hessian has a reference too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF

PS = ["0", "1", "2", "inf", "0.5", "1.5", "3"]


def _shares(grad, diff, dist, p):
    """torch's _cdist_backward per coordinate (DistanceOpsKernel.cpp's backward of each p), differentiable."""
    zero = torch.zeros((), dtype=diff.dtype)
    if p == 0:
        return diff * zero
    # the kernels' sign (nan at a nan difference) and p = inf mask (nan where |diff| - dist is), constants
    sign = (torch.clamp(diff.ceil(), 0, 1) + torch.clamp(diff.floor(), -1, 0)).detach()
    if p == 1:
        return grad * sign
    if math.isinf(p):
        return grad * sign * (1 - torch.clamp((diff.abs() - dist).abs().ceil(), max=1)).detach()
    at_zero = dist == 0
    safe = torch.where(at_zero, torch.ones((), dtype=dist.dtype), dist)
    if p == 2:
        return torch.where(at_zero, zero, grad * diff / safe)
    if p < 1:  # (a zero coordinate's share is 0: its power kept finite, so that no 0 * inf reaches a Hessian)
        flat = diff == 0
        size = torch.where(flat, torch.ones((), dtype=diff.dtype), diff.abs())
        share = sign * size ** (p - 1) * grad / safe ** (p - 1)
        return torch.where(at_zero, zero, torch.where(flat, zero, share))
    if p < 2:
        return torch.where(at_zero, zero, sign * diff.abs() ** (p - 1) * grad / safe ** (p - 1))
    return torch.where(at_zero, zero, diff * diff.abs() ** (p - 2) * grad / safe ** (p - 1))


def _torch_first_order(d, forward, second):
    """forward, whose first derivative is torch's own and whose derivative of that is second's."""
    def rule(grad, *inputs_and_out):
        *inputs, out = inputs_and_out
        if torch.is_grad_enabled():  # (create_graph: a differentiable pass)
            return second(grad, *inputs, out)
        detached = [x.detach().requires_grad_() for x in inputs]
        with torch.enable_grad():
            made = forward(*detached)
        return torch.autograd.grad(made, detached, grad, allow_unused=True)
    return d._with_rule(forward, rule)


def cdist(d):
    def make(x1, x2, p=2.0):
        def second(grad, a, b, out):
            diff = a[..., :, None, :] - b[..., None, :, :]
            g, dist = grad[..., None], out[..., None]
            return (d._to_shape(_shares(g, diff, dist, p).sum(-2), a),
                    d._to_shape(_shares(g, -diff, dist, p).sum(-3), b))
        return _torch_first_order(d, lambda a, b: torch.cdist(a, b, p=p), second)(x1, x2)
    return make


def pdist(d):
    def make(x, p=2.0):
        first, second_row = torch.triu_indices(x.shape[0], x.shape[0], 1)

        def second(grad, a, out):
            diff = a[first] - a[second_row]
            g, dist = grad[:, None], out[:, None]
            return (torch.zeros_like(a).index_add(0, first, _shares(g, diff, dist, p))
                    .index_add(0, second_row, _shares(g, -diff, dist, p)),)
        return _torch_first_order(d, lambda a: TF.pdist(a, p=p), second)(x)
    return make


def _affine(name):
    return lambda c, a, b, beta=1.0, alpha=1.0: getattr(torch, name)(c, a, b, beta=beta, alpha=alpha)


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
    Twin = d.Twin
    d.TWINS.update({
        "dist": Twin(lambda a, b, p=2.0: torch.dist(a, b, p), "distance"),
        "pairwise_distance": Twin(lambda x1, x2, p=2.0, eps=1e-6, keepdims=False:
                                  TF.pairwise_distance(x1, x2, p, eps, keepdims), "distance"),
        "cdist": Twin(cdist(d), "distance"), "pdist": Twin(pdist(d), "distance"),
        **{name: Twin(_affine(name), "matmul") for name in ("addmm", "addmv", "addr", "baddbmm", "addbmm")},
        "inner": Twin(torch.inner, "matmul"), "vdot": Twin(torch.vdot, "matmul"),
    })
    d.FORMS.append((lambda shape: len(shape) <= 2, lambda b, shape, depth: _form(d, b, shape, depth)))


def _form(d, b, shape, depth):
    forms = {0: [_dist, _vdot, _inner], 1: [_pairwise, _pdist, _addmv, _inner],
             2: [_cdist, _addmm, _addr, _baddbmm, _addbmm, _inner]}[len(shape)]
    return b.pick(forms)(d, b, shape, depth)


def _p(b):
    text = b.pick(PS)
    return text, float(text)


def _dist(d, b, shape, depth):
    """torch.dist(a, b, p) or a.dist(b, p) of two values that broadcast (p = 0 left out: torch's gradient raises)."""
    n = b.rng.randint(1, 3)
    left = b.pick([(n,), (2, n)])
    x, y = b.expr(left, depth), b.expr(b.pick([left, left[-1:]]), depth)
    text, p = b.pick([("", 2.0), *[(", " + t, float(t)) for t in PS if t != "0"]])
    written = b.pick([lambda c: f"torch.dist({c[0]}, {c[1]}{text})", lambda c: f"({c[0]}).dist({c[1]}{text})"])
    return d._op_node(shape, [x, y], written, "dist", lambda v, fn: fn(v[0], v[1], p))


def _vdot(d, b, shape, depth):
    n = b.rng.randint(1, 3)
    x, y = b.expr((n,), depth), b.expr((n,), depth)
    written = b.pick([lambda c: f"torch.vdot({c[0]}, {c[1]})", lambda c: f"({c[0]}).vdot({c[1]})"])
    return d._op_node(shape, [x, y], written, "vdot", lambda v, fn: fn(*v))


def _inner(d, b, shape, depth):
    """torch.inner(a, b): a's leading axes, then b's, over a shared last axis; or a number times b."""
    k = b.rng.randint(1, 3)
    split = b.rng.randint(0, len(shape))
    if shape and b.rng.random() < 0.15:
        x, y = b.expr((), depth), b.expr(shape, depth)
    else:
        x, y = b.expr(shape[:split] + (k,), depth), b.expr(shape[split:] + (k,), depth)
    written = b.pick([lambda c: f"torch.inner({c[0]}, {c[1]})", lambda c: f"({c[0]}).inner({c[1]})"])
    return d._op_node(shape, [x, y], written, "inner", lambda v, fn: fn(*v))


def _pairwise(d, b, shape, depth):
    """F.pairwise_distance(x1, x2, p, eps): rows of x1 against rows (or one row) of x2."""
    m = b.rng.randint(1, 3)
    x, y = b.expr(shape + (m,), depth), b.expr(b.pick([shape + (m,), (m,)]), depth)
    p_text, p = b.pick([(None, 2.0), *[(t, float(t)) for t in PS]])
    eps_text = b.pick([None, None, "0", "0.5"])
    params = {"p": p, "eps": float(eps_text) if eps_text else 1e-6}
    written = (f", p={p_text}" if p_text else "") + (f", eps={eps_text}" if eps_text else "")
    spelled = b.pick(["F.pairwise_distance", "torch.pairwise_distance", "torch.nn.functional.pairwise_distance"])
    return d._op_node(shape, [x, y], lambda c: f"{spelled}({c[0]}, {c[1]}{written})", "pairwise_distance",
                      lambda v, fn: fn(v[0], v[1], **params))


def _pdist(d, b, shape, depth):
    """F.pdist(x, p) of a matrix whose N(N-1)/2 pairs make the vector asked for (else a pairwise_distance)."""
    rows = {1: 2, 3: 3, 6: 4}.get(shape[0])
    if rows is None:
        return _pairwise(d, b, shape, depth)
    x = b.expr((rows, b.rng.randint(1, 3)), depth)
    text, p = _p(b)
    spelled = b.pick(["F.pdist", "torch.pdist"])
    return d._op_node(shape, [x], lambda c: f"{spelled}({c[0]}, {text})", "pdist", lambda v, fn: fn(v[0], p))


def _cdist(d, b, shape, depth):
    """torch.cdist(x1, x2, p) of rows (P, M) and (R, M); or a batch of one, taken apart."""
    m = b.rng.randint(1, 3)
    text, p = _p(b)
    if b.rng.random() < 0.2:
        x, y = b.expr((1,) + shape[:1] + (m,), depth), b.expr(shape[1:] + (m,), depth)
        return d._op_node(shape, [x, y], lambda c: f"torch.cdist({c[0]}, {c[1]}, p={text})[0]", "cdist",
                          lambda v, fn: fn(v[0], v[1], p)[0])
    x, y = b.expr(shape[:1] + (m,), depth), b.expr(shape[1:] + (m,), depth)
    return d._op_node(shape, [x, y], lambda c: f"torch.cdist({c[0]}, {c[1]}, {text})", "cdist",
                      lambda v, fn: fn(v[0], v[1], p))


def _scalars(b):
    """beta= and alpha= as a call writes them (or not), and their values."""
    beta, alpha = b.pick([None, None, "0.5", "0", "-2"]), b.pick([None, None, "3", "0", "-0.5"])
    written = (f", beta={beta}" if beta else "") + (f", alpha={alpha}" if alpha else "")
    return written, {"beta": float(beta or 1), "alpha": float(alpha or 1)}


def _affine_node(d, b, shape, name, children, written, params, then=("", lambda t: t)):
    suffix, take = then
    text = b.pick([lambda c: f"torch.{name}({', '.join(c)}{written}){suffix}",
                   lambda c: f"({c[0]}).{name}({', '.join(c[1:])}{written}){suffix}"])
    return d._op_node(shape, children, text, name, lambda v, fn: take(fn(*v, **params)))


def _input(b, shape, depth):
    """The added value: of the result's shape, or of a shape that broadcasts to it."""
    return b.expr(b.pick([shape, shape, shape[1:], ()]), depth)


def _addmm(d, b, shape, depth):
    k = b.rng.randint(1, 3)
    written, params = _scalars(b)
    children = [_input(b, shape, depth), b.expr((shape[0], k), depth), b.expr((k, shape[1]), depth)]
    return _affine_node(d, b, shape, "addmm", children, written, params)


def _addmv(d, b, shape, depth):
    k = b.rng.randint(1, 3)
    written, params = _scalars(b)
    children = [_input(b, shape, depth), b.expr((shape[0], k), depth), b.expr((k,), depth)]
    return _affine_node(d, b, shape, "addmv", children, written, params)


def _addr(d, b, shape, depth):
    written, params = _scalars(b)
    children = [_input(b, shape, depth), b.expr(shape[:1], depth), b.expr(shape[1:], depth)]
    return _affine_node(d, b, shape, "addr", children, written, params)


def _batches(b, shape, depth):
    count, k = b.rng.randint(1, 3), b.rng.randint(1, 3)
    return count, [b.expr((count, shape[0], k), depth), b.expr((count, k, shape[1]), depth)]


def _addbmm(d, b, shape, depth):
    written, params = _scalars(b)
    _, factors = _batches(b, shape, depth)
    return _affine_node(d, b, shape, "addbmm", [_input(b, shape, depth), *factors], written, params)


def _baddbmm(d, b, shape, depth):
    """baddbmm's batch of results, summed over the batch for the matrix asked for."""
    written, params = _scalars(b)
    count, factors = _batches(b, shape, depth)
    added = _input(b, b.pick([(count,) + shape, shape]), depth)
    return _affine_node(d, b, shape, "baddbmm", [added, *factors], written, params,
                        then=(".sum(0)", lambda t: t.sum(0)))

