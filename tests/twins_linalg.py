"""Linear algebra's torch twins and generator forms: solve, logdet, slogdet, cholesky, matrix_power,
expm, eigvalsh, svdvals, pinv, kron, cross, tensordot, einsum.

Inputs that need a square, symmetric or positive definite matrix are built as expressions
that are so for any values: X @ X.T + n eye(n) (positive definite) and X + X.T (symmetric).
"""

from __future__ import annotations

import torch

from gradcli.autodiff.op import OPS
from gradcli.ops.decompositions import svd_vectors


def _symmetric_part(a):
    return (a + a.mT) / 2


def _slogdet(a):
    return torch.stack(torch.linalg.slogdet(a), -1)


def _cross_two_roundings(a, b, axis=-1):
    """a x b as gradcli computes it: each entry a product minus a product, without a fused multiply-add."""
    a, b = torch.broadcast_tensors(a, b)
    a, b = a.movedim(axis, -1), b.movedim(axis, -1)
    parts = [a[..., (i + 1) % 3] * b[..., (i + 2) % 3] - a[..., (i + 2) % 3] * b[..., (i + 1) % 3] for i in range(3)]
    return torch.stack(parts, -1).movedim(-1, axis)


def _torch_norm(x, axis=None, keepdims=False, p=None):
    """torch.norm (x.norm(p)) with gradcli's keywords: a vector norm, 'fro' the 2-norm, 'nuc' of a matrix."""
    if p == "nuc":
        return torch.linalg.matrix_norm(x, "nuc", (-2, -1) if axis is None else axis, keepdims)
    return torch.linalg.vector_norm(x, 2 if p in (None, "fro") else p, axis, keepdims)


def _numpy(name):
    """gradcli's forward of an operation (numpy's LU factorisation) as a torch value."""
    return lambda a: torch.tensor(OPS[name].forward(a.detach().numpy()), dtype=a.dtype)


def _cross(a, b, axis=-1):
    """torch.linalg.cross, broadcast; of 2-vectors (which torch refuses) numpy's z component."""
    a, b = torch.broadcast_tensors(a, b)
    if a.shape[axis] == 2:
        a, b = a.movedim(axis, -1), b.movedim(axis, -1)
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return torch.linalg.cross(a, b, dim=axis)


def _svdvals_rank_deficient(d):
    """svdvals whose gradient where the rank drops or a singular value repeats is U diag(g) Vᵀ from
    numpy's SVD (gradcli's choice)."""
    def rule(grad, a, out):
        tol = max(a.shape[-2:]) * torch.finfo(a.dtype).eps * out[..., :1]
        if not bool((out[..., -1:] <= tol).any() or (-torch.diff(out, dim=-1) <= tol).any()):
            return torch.func.vjp(torch.linalg.svdvals, a)[1](grad)[0]
        u, _, vh = (torch.tensor(m, dtype=a.dtype) for m in svd_vectors(a.detach().numpy()))
        return (u * grad[..., None, :]) @ vh
    return d._with_rule(torch.linalg.svdvals, rule)


def _spectral_rank_deficient(d):
    """matrix_norm whose 'nuc', 2 and -2 read the singular values as gradcli's svdvals does."""
    svdvals = _svdvals_rank_deficient(d)

    def norm(x, p="fro", axis=(-2, -1), keepdims=False):
        if p not in ("nuc", 2.0, -2.0):
            return torch.linalg.matrix_norm(x, p, axis, keepdims)
        values = svdvals(x.movedim(axis, (-2, -1)))
        out = values.sum(-1) if p == "nuc" else values.amax(-1) if p > 0 else values.amin(-1)
        for a in sorted(a % x.ndim for a in axis) if keepdims else ():
            out = out.unsqueeze(a)
        return out
    return norm


def add(d):
    T, Twin, _op_node = d.T, d.Twin, d._op_node
    d.TWINS.update({
        "solve": Twin(torch.linalg.solve, "linalg"),
        "logdet": Twin(torch.logdet, "linalg", {"det-nonfinite": d._nan_rule_if_nonfinite(torch.logdet,
                                                                                        _numpy("logdet"))}),
        "slogdet": Twin(_slogdet, "linalg", {"det-nonfinite": d._nan_rule_if_nonfinite(_slogdet, _numpy("slogdet"))}),
        "cholesky": Twin(torch.linalg.cholesky, "linalg",
                         {"symmetric-part": lambda a: torch.linalg.cholesky(_symmetric_part(a))}),
        "matrix_power": Twin(lambda a, n=1: torch.linalg.matrix_power(a, n), "linalg"),
        "expm": Twin(torch.linalg.matrix_exp, "linalg"),
        "eigvalsh": Twin(torch.linalg.eigvalsh, "linalg",
                         {"symmetric-part": lambda a: torch.linalg.eigvalsh(_symmetric_part(a))}),
        "svdvals": Twin(torch.linalg.svdvals, "linalg", {"svdvals-rank-deficient": _svdvals_rank_deficient(d)}),
        "pinv": Twin(torch.linalg.pinv, "linalg"),
        "kron": Twin(torch.kron, "linalg"),
        "cross": Twin(_cross, "linalg",
                      {"cross-rounding": _cross_two_roundings}),
        "tensordot": Twin(lambda a, b, dims=2: torch.tensordot(a, b, dims=dims), "linalg"),
        "norm": Twin(_torch_norm, "reduction", {"svdvals-rank-deficient": lambda x, axis=None, keepdims=False, p=None:
                                                _spectral_rank_deficient(d)(x, p, (-2, -1) if axis is None else axis,
                                                                            keepdims) if p == "nuc" else
                                                _torch_norm(x, axis, keepdims, p)}),
        "vector_norm": Twin(lambda x, p=2.0, axis=None, keepdims=False: torch.linalg.vector_norm(x, p, axis, keepdims),
                            "linalg"),
        "matrix_norm": Twin(lambda x, p="fro", axis=(-2, -1), keepdims=False:
                            torch.linalg.matrix_norm(x, p, axis, keepdims), "linalg",
                            {"svdvals-rank-deficient": _spectral_rank_deficient(d)}),
        "einsum": Twin(lambda *xs, equation: torch.einsum(equation, *xs), "linalg"),
    })

    def positive_definite(b, n, depth):
        """X @ X.T + n eye(n): positive definite for any finite X."""
        inner = b.expr((n, n), depth)
        return d.Node((n, n), [inner], lambda c: f"({c[0]}) @ ({c[0]}).T + {n} * eye({n})",
                      lambda v: v[0] @ v[0].T + n * torch.eye(n, dtype=T))

    def symmetric(b, n, depth):
        inner = b.expr((n, n), depth)
        return d.Node((n, n), [inner], lambda c: f"({c[0]}) + ({c[0]}).T", lambda v: v[0] + v[0].T)

    def scalar(b, shape, depth):
        n = b.rng.randint(1, 3)
        pick = b.pick(["logdet", "slogdet", "tensordot", "einsum", "norm", "norm", "matrix_norm", "cholesky"])
        if pick == "cholesky":
            factor = _op_node((n, n), [positive_definite(b, n, depth)], lambda c: f"cholesky({c[0]})", "cholesky",
                              lambda v, fn: fn(v[0]))
            return d.Node(shape, [factor], lambda c: f"sum({c[0]})", lambda v: v[0].sum())
        if pick == "norm":
            p = b.pick(["1", "3", "0.5", "inf", "-inf", "0", "1.5", "-1", "'fro'"])
            x = b.expr((b.rng.randint(1, 3),), depth)
            spelled = b.pick(["norm", "vector_norm"]) if p != "'fro'" else "norm"
            value = float(p) if p != "'fro'" else "fro"
            def call(v, fn):
                return fn(v[0], p=value) if spelled == "vector_norm" else fn(v[0], None, False, value)
            return _op_node(shape, [x], lambda c: f"{spelled}({c[0]}, {p})", spelled, call)
        if pick == "matrix_norm":
            p = b.pick(["1", "-1", "2", "-2", "inf", "-inf", "'fro'", "'nuc'"])
            x = b.expr((b.rng.randint(1, 3), b.rng.randint(1, 3)), depth)
            value = p.strip("'") if "'" in p else float(p)
            if p == "'nuc'" and b.rng.random() < 0.5:
                return _op_node(shape, [x], lambda c: f"norm({c[0]}, 'nuc')", "norm",
                                lambda v, fn: fn(v[0], None, False, "nuc"))
            return _op_node(shape, [x], lambda c: f"matrix_norm({c[0]}, {p})", "matrix_norm",
                            lambda v, fn: fn(v[0], p=value))
        if pick == "logdet":
            a = positive_definite(b, n, depth)
            return _op_node(shape, [a], lambda c: f"{b.spelled('logdet')}({c[0]})", "logdet", lambda v, fn: fn(v[0]))
        if pick == "slogdet":
            a = positive_definite(b, n, depth)
            return _op_node(shape, [a], lambda c: f"slogdet({c[0]})[1]", "slogdet", lambda v, fn: fn(v[0])[1])
        if pick == "tensordot":
            x, y = b.expr((n, 2), depth), b.expr((n, 2), depth)
            return _op_node(shape, [x, y], lambda c: f"tensordot({c[0]}, {c[1]}, dims=2)", "tensordot",
                            lambda v, fn: fn(v[0], v[1], dims=2))
        equation = b.pick(["ii", "ij,ij->", "i,i"])
        args = [b.expr((n, n) if equation == "ii" else (n, 2) if "j" in equation else (n,), depth)
                for _ in equation.split("->")[0].split(",")]
        return _op_node(shape, args, lambda c: f"einsum(\"{equation}\", {', '.join(c)})", "einsum",
                        lambda v, fn: fn(*v, equation=equation))

    def vector(b, shape, depth):
        n = shape[0]
        pick = b.pick(["solve", "eigvalsh", "svdvals", "einsum", "cross" if n == 3 else "slogdet"])
        if pick == "solve":
            a, x = positive_definite(b, n, depth), b.expr((n,), depth)
            return _op_node(shape, [a, x], lambda c: f"solve({c[0]}, {c[1]})", "solve", lambda v, fn: fn(*v))
        if pick == "eigvalsh":
            a = symmetric(b, n, depth)
            return _op_node(shape, [a], lambda c: f"eigvalsh({c[0]})", "eigvalsh", lambda v, fn: fn(v[0]))
        if pick == "svdvals":
            k = b.rng.randint(n, max(n, 3))  # svdvals of (n, k) has min(n, k) entries: k >= n
            a = b.expr((n, k) if b.rng.random() < 0.5 else (k, n), depth)
            return _op_node(shape, [a], lambda c: f"svdvals({c[0]})", "svdvals", lambda v, fn: fn(v[0]))
        if pick == "cross":
            x, y = b.expr(shape, depth), b.expr(shape, depth)
            return _op_node(shape, [x, y], lambda c: f"cross({c[0]}, {c[1]})", "cross", lambda v, fn: fn(*v))
        if pick == "slogdet" and n == 2:
            a = b.expr((3, 3), depth) if b.rng.random() < 0.3 else positive_definite(b, 3, depth)
            return _op_node(shape, [a], lambda c: f"slogdet({c[0]})", "slogdet", lambda v, fn: fn(v[0]))
        k = b.rng.randint(1, 3)
        a, x = b.expr((n, k), depth), b.expr((k,), depth)
        return _op_node(shape, [a, x], lambda c: f"einsum('ij,j->i', {c[0]}, {c[1]})", "einsum",
                        lambda v, fn: fn(*v, equation="ij,j->i"))

    def matrix(b, shape, depth):
        n, m = shape
        square = ["cholesky", "cholesky", "expm", "expm", "matrix_power", "matrix_power"] if n == m else []
        pick = b.pick([*square, "pinv", "kron", "tensordot", "einsum", "solve", "cross" if m == 3 else "pinv"])
        if pick == "cholesky":
            a = positive_definite(b, n, depth)
            return _op_node(shape, [a], lambda c: f"cholesky({c[0]})", "cholesky", lambda v, fn: fn(v[0]))
        if pick == "expm":
            a = b.expr(shape, depth)
            spelled = b.pick(["expm", "matrix_exp"])
            return _op_node(shape, [a], lambda c: f"{spelled}({c[0]})", "expm", lambda v, fn: fn(v[0]))
        if pick == "matrix_power":
            k = b.pick([0, 1, 2, 3, 5])
            a = b.expr(shape, depth)
            return _op_node(shape, [a], lambda c: f"matrix_power({c[0]}, {k})", "matrix_power",
                            lambda v, fn: fn(v[0], k))
        if pick == "pinv":
            a = b.expr((m, n), depth)
            return _op_node(shape, [a], lambda c: f"pinv({c[0]})", "pinv", lambda v, fn: fn(v[0]))
        if pick == "kron":
            p, q = b.pick([f for f in (1, n) if n % f == 0]), b.pick([f for f in (1, m) if m % f == 0])
            x, y = b.expr((p, q), depth), b.expr((n // p, m // q), depth)
            return _op_node(shape, [x, y], lambda c: f"kron({c[0]}, {c[1]})", "kron", lambda v, fn: fn(*v))
        if pick == "solve":
            a, x = positive_definite(b, n, depth), b.expr(shape, depth)
            return _op_node(shape, [a, x], lambda c: f"solve({c[0]}, {c[1]})", "solve", lambda v, fn: fn(*v))
        if pick == "cross":
            x, y = b.expr(shape, depth), b.expr(shape, depth)
            return _op_node(shape, [x, y], lambda c: f"cross({c[0]}, {c[1]}, dim=-1)", "cross",
                            lambda v, fn: fn(*v))
        k = b.rng.randint(1, 3)
        x, y = b.expr((n, k), depth), b.expr((k, m), depth)
        if pick == "tensordot":
            return _op_node(shape, [x, y], lambda c: f"tensordot({c[0]}, {c[1]}, dims=1)", "tensordot",
                            lambda v, fn: fn(*v, dims=1))
        return _op_node(shape, [x, y], lambda c: f"einsum('ik,kj->ij', {c[0]}, {c[1]})", "einsum",
                        lambda v, fn: fn(*v, equation="ik,kj->ij"))

    d.FORMS.extend([(lambda shape: shape == (), scalar), (lambda shape: len(shape) == 1, vector),
                    (lambda shape: len(shape) == 2, matrix)])
