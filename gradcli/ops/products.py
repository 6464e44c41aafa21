"""Products of arrays: kron, cross, tensordot and einsum.

kron, cross and tensordot are built from reshapes, indexing, permutes and matrix products,
whose rules carry their derivatives; einsum's rule is einsum again, with the subscripts
rearranged.
"""

from __future__ import annotations

import string

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.errors import GradcliError, format_shape
from gradcli.ops.common import F, broadcast_shapes
from gradcli.autodiff.op import Sample, Words, composite, primitive


# -- kron ---------------------------------------------------------------------------------------
def _kron(a, b):
    ndim = max(a.ndim, b.ndim)
    sa, sb = (1,) * (ndim - a.ndim) + a.shape, (1,) * (ndim - b.ndim) + b.shape
    # Entry (i, j) of the result is a[i // p] * b[i % p]: interleave a's axes with b's, multiply, merge.
    spread_a = F.reshape(a, src=a.shape, dst=tuple(n for m in sa for n in (m, 1)))
    spread_b = F.reshape(b, src=b.shape, dst=tuple(n for m in sb for n in (1, m)))
    product = spread_a * spread_b
    return F.reshape(product, src=product.shape, dst=tuple(m * n for m, n in zip(sa, sb)))


composite(name="kron", torch_name="UnsafeViewBackward0", batching="loop",
          doc="the Kronecker product (block (i, j) is a[i, j] * b), of any number of axes as torch.kron",
          signature="kron(a, b)", family="linalg", composite=_kron, arity=2,
          samples=(Sample(((2, 2), (2, 3))), Sample(((3,), (2,))), Sample(((2, 1, 2), (2, 2)))))


# -- cross --------------------------------------------------------------------------------------
def _cross(a, b, axis=-1):
    shape = broadcast_shapes(a.shape, b.shape)
    if not shape or not -len(shape) <= axis < len(shape) or shape[axis] not in (2, 3):
        raise GradcliError(f"cross needs 3 (or 2) entries along axis {axis}, not shapes {format_shape(a.shape)} and "
                           f"{format_shape(b.shape)}", kind="shape")
    axis = axis % len(shape)
    a, b = F.expand(a, src=a.shape, dst=shape), F.expand(b, src=b.shape, dst=shape)

    def part(x, i):
        return F.index(x, key=(slice(None),) * axis + (i,), src=shape)

    if shape[axis] == 2:  # numpy's cross of 2-vectors: the z component, that axis gone
        return part(a, 0) * part(b, 1) - part(a, 1) * part(b, 0)
    parts = [part(a, (i + 1) % 3) * part(b, (i + 2) % 3) - part(a, (i + 2) % 3) * part(b, (i + 1) % 3)
             for i in range(3)]
    # Stacked along a new first axis, which then moves to its place.
    stacked = F.stack(*parts, item_ndim=len(shape) - 1)
    return F.permute(stacked, perm=tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, len(shape))))


composite(name="cross", torch_name="LinalgCrossBackward0",
          doc="the cross product of 3-vectors along axis (dim=, default -1), broadcast as "
                            "torch.linalg.cross (of 2-vectors: the z component, as numpy's)",
          signature="cross(a, b, axis=-1)", family="linalg", composite=_cross, arity=2, keywords=("axis",),
          samples=(Sample(((3,), (3,))), Sample(((2, 3), (3,))), Sample(((3, 2), (3, 2)), params={"axis": 0}),
                   Sample(((2, 2), (2,)))))


# -- tensordot ----------------------------------------------------------------------------------
def _tensordot_axes(a_shape, b_shape, dims):
    if isinstance(dims, (int, np.integer)):
        if not 0 <= dims <= min(len(a_shape), len(b_shape)):
            raise GradcliError(f"tensordot: dims={dims} for shapes {format_shape(a_shape)} and "
                               f"{format_shape(b_shape)}", kind="shape")
        return list(range(len(a_shape) - dims, len(a_shape))), list(range(dims))
    if len(dims) != 2:
        raise GradcliError(f"tensordot: dims is a whole number or a pair of axis lists, as ([1], [0]), not {dims}",
                           kind="value")
    left, right = ([d % len(s) for d in (side if isinstance(side, (tuple, list)) else (side,))]
                   for side, s in zip(dims, (a_shape, b_shape)))
    if len(left) != len(right) or any(a_shape[i] != b_shape[j] for i, j in zip(left, right)):
        raise GradcliError(f"tensordot: axes {left} of {format_shape(a_shape)} and {right} of "
                           f"{format_shape(b_shape)} differ in size", kind="shape")
    return left, right


def _tensordot(a, b, dims=2):
    left, right = _tensordot_axes(a.shape, b.shape, dims)
    free_a = [i for i in range(a.ndim) if i not in left]
    free_b = [j for j in range(b.ndim) if j not in right]
    inner = int(np.prod([a.shape[i] for i in left]))
    kept_a, kept_b = tuple(a.shape[i] for i in free_a), tuple(b.shape[j] for j in free_b)
    # The contracted axes last in a and first in b, both flattened: one matrix product.
    a2 = F.permute(a, perm=tuple(free_a + left)) if a.ndim else a
    b2 = F.permute(b, perm=tuple(right + free_b)) if b.ndim else b
    a2 = F.reshape(a2, src=kept_a + tuple(a.shape[i] for i in left), dst=(int(np.prod(kept_a)), inner))
    b2 = F.reshape(b2, src=tuple(b.shape[j] for j in right) + kept_b, dst=(inner, int(np.prod(kept_b))))
    product = a2 @ b2
    return F.reshape(product, src=product.shape, dst=kept_a + kept_b)


composite(name="tensordot", torch_name="ViewBackward0",
          doc="sum over the last dims axes of a and the first dims of b, or over the axes a pair "
                                "of lists names: dims=([1], [0])",
          signature="tensordot(a, b, dims=2)", family="linalg", composite=_tensordot, arity=2, keywords=("dims",),
          kinds={"dims": "axis pairs"}, spelled={"axes": "dims"},
          samples=(Sample(((2, 3), (3, 2)), params={"dims": 1}), Sample(((2, 3), (2, 3)), params={"dims": 2}),
                   Sample(((2, 3, 4), (4, 3)), params={"dims": ((1, 2), (1, 0))}),
                   Sample(((2, 3, 2), (3, 2, 2))), Sample(((2,), (3,)), params={"dims": 0})))


# -- einsum -------------------------------------------------------------------------------------
LETTERS = string.ascii_letters


def _einsum_parse(shapes, equation):
    """The subscripts of each operand and of the output: '...' replaced by letters, the output
    written out (numpy's implicit one: the '...' axes, then the letters used once, sorted)."""
    text = equation.replace(" ", "")
    given, arrow, output = text.partition("->")
    inputs = given.split(",")
    if len(inputs) != len(shapes):
        raise GradcliError(f"einsum: the subscripts {equation!r} name {len(inputs)} operand"
                           f"{'' if len(inputs) == 1 else 's'}, the call gives {len(shapes)}", kind="value")
    spare = [c for c in LETTERS if c not in text]
    named = [sub.replace("...", "") for sub in inputs]
    if not all(c in LETTERS for c in "".join(named) + output.replace("...", "")):
        raise GradcliError(f"einsum: subscripts are letters, '...', ',' and '->', not {equation!r}", kind="value")
    ellipsis = max((len(s) - len(n) for sub, n, s in zip(inputs, named, shapes) if "..." in sub), default=0)
    batch = "".join(spare[:ellipsis])
    subs = []
    for sub, bare, shape in zip(inputs, named, shapes):
        if "..." in sub:
            sub = sub.replace("...", batch[ellipsis - (len(shape) - len(bare)):])
        if len(sub) != len(shape):
            raise GradcliError(f"einsum: {sub!r} names {len(sub)} axes of an operand of shape "
                               f"{format_shape(shape)}", kind="shape")
        subs.append(sub)
    if arrow:
        output = output.replace("...", batch)
    else:
        used = "".join(subs)
        output = batch + "".join(sorted(c for c in set(used) if used.count(c) == 1 and c not in batch))
    return subs, output


def _diagonal(x, sub):
    """x's diagonal over a letter its subscript repeats, as a view would take it (no product with
    an identity, which would turn an inf off the diagonal into nan): (x, sub) with that letter once."""
    c = next(c for c in sub if sub.count(c) > 1)
    first, second = sub.index(c), sub.index(c, sub.index(c) + 1)
    rest = [i for i in range(len(sub)) if i not in (first, second)]
    size = x.shape[first]
    moved = F.permute(x, perm=tuple(rest) + (first, second))
    flat = F.reshape(moved, src=(size, size), dst=(size * size,))
    lead = len(rest)
    diagonal = F.index(flat, key=(slice(None),) * lead + (slice(0, size * size, size + 1),), src=flat.shape)
    return diagonal, "".join(sub[i] for i in rest) + c


def _einsum(*xs, equation=None):
    if equation is None:
        raise GradcliError("einsum takes its subscripts first, as in einsum(\"ij,j->i\", A, x)", kind="value",
                           param="equation")
    subs, output = _einsum_parse([x.shape for x in xs], equation)
    operands = []
    for x, sub in zip(xs, subs):
        while len(set(sub)) < len(sub):
            x, sub = _diagonal(x, sub)
        operands.append((x, sub))
    return F.contract(*(x for x, _ in operands), equation=",".join(s for _, s in operands) + "->" + output)


composite(name="einsum", doc="Einstein summation: einsum(\"ij,j->i\", A, x) (numpy's and torch's subscripts, "
                             "'...' and a repeated letter for a diagonal included)",
          signature="einsum(equation, *operands)", family="linalg", composite=_einsum, arity=None,
          keywords=("equation",), kinds={"equation": "text"}, method=False,
          samples=(Sample(((2, 3), (3,)), params={"equation": "ij,j->i"}),
                   Sample(((3, 3),), params={"equation": "ii->"}), Sample(((3, 3),), params={"equation": "ii->i"}),
                   Sample(((2, 3), (3, 2)), params={"equation": "ij,jk"}),
                   Sample(((2, 2, 3), (2, 3)), params={"equation": "bij,bj->bi"}),
                   Sample(((2, 3), (2,)), params={"equation": "ij,i->ij"}),
                   Sample(((2, 2, 3),), params={"equation": "iij->j"}),
                   Sample(((2, 2, 3), (3,)), params={"equation": "...j,j->..."})))


def _contract_sizes(shapes, equation):
    inputs, output = equation.split("->")
    sizes = {}
    for sub, shape in zip(inputs.split(","), shapes):
        for c, n in zip(sub, shape):
            if sizes.setdefault(c, n) != n:
                raise GradcliError(f"einsum: the axes named {c!r} differ in size ({sizes[c]} and {n})", kind="shape")
    if any(c not in sizes for c in output):
        raise GradcliError(f"einsum: the output names an axis no operand has: {equation!r}", kind="value")
    return sizes, output


def _contract_backward(n, g):
    # The cotangent of operand i is einsum of g and the other operands into operand i's
    # subscripts. g's leading batch axes get letters of their own; a letter only operand i
    # has (summed away) comes back through a ones operand, so the result has operand i's
    # shape. So the rule is einsum again (second order).
    inputs, output = n.params["equation"].split("->")
    subs = inputs.split(",")
    sizes, _ = _contract_sizes(n.in_shapes, n.params["equation"])
    spare = iter(c for c in LETTERS if c not in n.params["equation"])
    lead = "".join(next(spare) for _ in range(g.ndim - len(n.out_shape)))
    cotangents = []
    for i, sub in enumerate(subs):
        if not n.needs[i]:
            cotangents.append(None)
            continue
        operands, terms = [g], [lead + output]
        operands += [x for j, x in enumerate(n.inputs) if j != i]
        terms += [other for j, other in enumerate(subs) if j != i]
        alone = [c for c in sub if c not in "".join(terms)]
        if alone:
            operands.append(np.ones(tuple(sizes[c] for c in alone)))
            terms.append("".join(alone))
        cotangents.append(F.contract(*operands, equation=",".join(terms) + "->" + lead + sub))
    return tuple(cotangents)


def _contract_shape(*shapes, equation):
    sizes, output = _contract_sizes(shapes, equation)
    return tuple(sizes[c] for c in output)


def _sympy_contract(sp, *xs, equation):
    sizes, output = _contract_sizes([x.shape for x in xs], equation)
    subs = equation.split("->")[0].split(",")
    summed = [c for c in sizes if c not in output]
    out = np.empty(tuple(sizes[c] for c in output), dtype=object)
    for index in np.ndindex(out.shape):
        fixed = dict(zip(output, index))
        terms = []
        for rest in np.ndindex(tuple(sizes[c] for c in summed)):
            at = {**fixed, **dict(zip(summed, rest))}
            term = 1
            for x, sub in zip(xs, subs):
                term = term * x[tuple(at[c] for c in sub)]
            terms.append(term)
        out[index] = sp.Add(*terms)
    return out


primitive(name="contract", batching="loop", doc="einsum whose operands each name an axis once, its output written out",
          taylor=T.multilinear,
          signature="contract(*operands, equation)", family="internal", public=False,
          forward=lambda *xs, equation: np.einsum(equation, *xs), backward=_contract_backward,
          shape=_contract_shape, sympy=_sympy_contract, arity=None, torch_name="EinsumBackward0",
          samples=(Sample(((2, 3), (3,)), params={"equation": "ij,j->i"}),
                   Sample(((2, 3), (3, 2)), params={"equation": "ij,jk->ik"}),
                   Sample(((2, 3), (2,)), params={"equation": "ij,i->ij"}),
                   Sample(((2, 3),), params={"equation": "ij->"}),
                   Sample(((2, 3), (4,)), params={"equation": "ij,k->kji"})),
          words=Words(("x{i}",), vjp=("einsum of g and the other operands into the subscripts of operand {i}",)))
