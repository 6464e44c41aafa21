"""Structure: indexing (basic, and by arrays of indices), stacking, the internal permutes and
reshapes, broadcasting, constants, detach.

The internal operations (sum_to, expand, reshape, permute, index, index_put, take,
take_put, stack) act on trailing axes, so a cotangent with leading batch axes passes through them unchanged:
they are the vocabulary backward rules are written in, and each is the other's rule.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.errors import GradcliError
from gradcli.ops.common import F
from gradcli.errors import format_shape
from gradcli.autodiff.op import Sample, Words, primitive


def _g_words(words: str) -> Words:
    return Words(("x",), vjp=(words,))


def _lead(x: np.ndarray, trailing: tuple) -> int:
    return x.ndim - len(trailing)


def _sum_to(x, src, dst):
    lead = _lead(x, src)
    drop = len(src) - len(dst)
    if drop:
        x = x.sum(axis=tuple(range(lead, lead + drop)))
    keep = tuple(lead + i for i, (d, s) in enumerate(zip(dst, src[drop:])) if d == 1 and s != 1)
    return x.sum(axis=keep, keepdims=True) if keep else x


def _expand(x, src, dst):
    lead = _lead(x, src)
    padded = x.reshape(x.shape[:lead] + (1,) * (len(dst) - len(src)) + tuple(src))
    return np.broadcast_to(padded, x.shape[:lead] + tuple(dst))


def _sympy_sum_to(sp, x, src, dst):
    return _sum_to(x, src, dst)


def _sympy_expand(sp, x, src, dst):
    return np.array(_expand(x, src, dst), dtype=object)


primitive(name="sum_to", batching="trailing", doc="sum a broadcast value back to a shape (undoes expand)", signature="sum_to(x)",
          taylor=T.linear,
          family="internal", public=False, forward=_sum_to, saves="none",
          backward=lambda n, g: (F.expand(g, src=n.params["dst"], dst=n.params["src"]),),
          shape=lambda s, src, dst: tuple(dst), sympy=_sympy_sum_to, torch_name="SumBackward1",
          words=_g_words("g, broadcast back over the axes that were summed"),
          samples=(Sample(((2, 3),), params={"src": (2, 3), "dst": (3,)}),
                   Sample(((2, 3),), params={"src": (2, 3), "dst": (2, 1)})))
primitive(name="expand", batching="trailing", doc="broadcast to a larger shape", signature="expand(x)", family="internal",
          taylor=T.linear,
          public=False, forward=_expand, saves="none",
          backward=lambda n, g: (F.sum_to(g, src=n.params["dst"], dst=n.params["src"]),),
          shape=lambda s, src, dst: tuple(dst), sympy=_sympy_expand, torch_name="ExpandBackward0",
          words=_g_words("g, summed over the broadcast axes"),
          samples=(Sample(((3,),), params={"src": (3,), "dst": (2, 3)}),
                   Sample(((2, 1),), params={"src": (2, 1), "dst": (2, 3)})))
primitive(name="reshape", batching="trailing", doc="the same entries in a new shape", signature="reshape(x)", family="internal",
          taylor=T.linear,
          public=False, saves="none",
          forward=lambda x, src, dst: x.reshape(x.shape[:_lead(x, src)] + tuple(dst)),
          backward=lambda n, g: (F.reshape(g, src=n.params["dst"], dst=n.params["src"]),),
          shape=lambda s, src, dst: tuple(dst),
          sympy=lambda sp, x, src, dst: x.reshape(x.shape[:_lead(x, src)] + tuple(dst)),
          torch_name="ViewBackward0", words=_g_words("g, reshaped back to the shape of {x}"),
          samples=(Sample(((2, 3),), params={"src": (2, 3), "dst": (3, 2)}),))


def _permute(x, perm, written="permute"):  # (written names the node: PERMUTE_NAMES)
    lead = x.ndim - len(perm)
    return np.transpose(x, tuple(range(lead)) + tuple(lead + p for p in perm))


# A permute is named after the PyTorch function it was written as, as PyTorch's graph names it:
# x.permute(...), movedim and x.T are PermuteBackward0; transpose(x, 0, 1), swapaxes and x.mT
# TransposeBackward0; x.t() TBackward0. Its rule is the same function again, so named too.
PERMUTE_NAMES = {"permute": "PermuteBackward0", "transpose": "TransposeBackward0", "t": "TBackward0"}


def _permute_backward(n, g):
    written = n.params.get("written", "permute")
    return (F.permute(g, perm=tuple(np.argsort(n.params["perm"]).tolist()), written=written),)


primitive(name="permute", batching="trailing", doc="reorder the trailing axes", signature="permute(x)", family="internal",
          taylor=T.linear,
          public=False, forward=_permute, saves="none", backward=_permute_backward,
          shape=lambda s, perm, written="permute": tuple(s[p] for p in perm),
          sympy=lambda sp, x, perm, written="permute": _permute(x, perm),
          torch_name=lambda shapes, params: PERMUTE_NAMES[params.get("written", "permute")],
          words=_g_words("g, with the axes put back in their order"),
          samples=(Sample(((2, 3, 4),), params={"perm": (2, 0, 1)}),
                   Sample(((2, 3, 4),), params={"perm": (0, 2, 1), "written": "transpose"})))


def _full_key(key: tuple, src: tuple) -> tuple:
    return (Ellipsis, *key, *(slice(None),) * (len(src) - len(key)))


def _indexed_shape(shape: tuple, key: tuple) -> tuple:
    if len(key) <= len(shape) and all(type(k) is int or type(k) is slice for k in key):
        # (the keys normalize_key makes; a backward pass asks this at every index_put)
        kept = [len(range(*k.indices(n))) for k, n in zip(key, shape) if type(k) is slice]
        return (*kept, *shape[len(key):])
    # A zero-stride view: the shape of the result without allocating the array.
    return np.broadcast_to(np.empty((), dtype=np.bool_), shape)[key].shape


def _index_prepare(shape, key, src=None):
    # src, the shape the key was written for, is fixed when the graph is built; a batched
    # cotangent indexed later in a rule keeps it.
    return {"key": key, "src": tuple(shape) if src is None else tuple(src)}


def _index_put(g, key, src):
    lead = g.shape[:g.ndim - len(_indexed_shape(src, key))]
    out = np.zeros(lead + tuple(src), g.dtype)
    out[_full_key(key, src)] = g
    return out


def _index_put_replay(ans, key, src):
    # The zeros are made once: each run writes g at the same entries, the others stay 0.
    at = _full_key(key, src)

    def put(g, out):
        out[at] = g
    put.moves_entries = True  # (it only places g's entries: autodiff/scalar.py replays it on floats)
    return put, np.zeros_like(ans)


def _index_name(shapes, params):
    return "SelectBackward0" if any(not isinstance(k, slice) for k in params["key"]) else "SliceBackward0"


primitive(name="index", taylor=T.linear, doc="x[i], x[i, j], x[a:b:c]: numpy's basic indexing", signature="x[...]",
          family="internal", public=False, saves="none",
          forward=lambda x, key, src: x[_full_key(key, src)],
          replay=lambda ans, key, src: itemgetter(_full_key(key, src)),
          backward=lambda n, g: (F.index_put(g, key=n.params["key"], src=n.params["src"]),),
          shape=lambda s, key, src: _indexed_shape(s, key), prepare=_index_prepare, sympy=lambda sp, x, key, src: np.asarray(x[_full_key(key, src)], dtype=object),
          torch_name=_index_name, words=_g_words("g, placed at the indexed entries of zeros shaped like {x}"),
          samples=(Sample(((3, 4),), params={"key": (1, slice(None))}),
                   Sample(((5,),), params={"key": (slice(0, 5, 2),)}),
                   Sample(((3, 4),), params={"key": (slice(None, None, -1), 2)})))
primitive(name="index_put", batching="trailing", doc="scatter into zeros at an index (undoes index)", signature="index_put(g)",
          taylor=T.linear,
          family="internal", public=False, forward=_index_put, saves="none", replay=_index_put_replay,
          backward=lambda n, g: (F.index(g, key=n.params["key"], src=n.params["src"]),),
          shape=lambda s, key, src: tuple(src),
          sympy=lambda sp, g, key, src: _sympy_index_put(g, key, src), torch_name="IndexPutBackward0",
          words=_g_words("g, read back at the index"),
          samples=(Sample(((2,),), params={"key": (slice(0, 3, 2),), "src": (3,)}),
                   Sample(((4,),), params={"key": (1,), "src": (3, 4)})))


def _sympy_index_put(g, key, src):
    out = np.zeros(tuple(src), dtype=object)
    out[_full_key(key, src)] = g
    return out


def _positions(indices, index_shape):
    return np.asarray(indices, dtype=np.intp).reshape(index_shape)


def _take(x, axis, indices, index_shape, src):
    return np.take(x, _positions(indices, index_shape), axis=_lead(x, src) + axis)


def _take_shape(s, axis, indices, index_shape, src):
    return tuple(s[:axis]) + tuple(index_shape) + tuple(s[axis + 1:])


def _take_put(g, axis, indices, index_shape, src):
    lead = g.ndim - (len(src) - 1 + len(index_shape))
    out = np.zeros(g.shape[:lead] + tuple(src), dtype=g.dtype)
    # NOTE: add.at, not out[...] = g: an index that repeats gathers every one of its cotangents.
    np.add.at(out, (slice(None),) * (lead + axis) + (_positions(indices, index_shape),), g)
    return out


def _sympy_take_put(sp, g, axis, indices, index_shape, src):
    out = np.full(tuple(src), sp.S.Zero, dtype=object)
    np.add.at(out, (slice(None),) * axis + (_positions(indices, index_shape),), g)
    return out


_TAKE_SAMPLES = (Sample(((4, 3),), params={"axis": 0, "indices": (2, 0, 2), "index_shape": (3,), "src": (4, 3)}),
                 Sample(((2, 5),), params={"axis": 1, "indices": (4, 1, 1, 0), "index_shape": (2, 2),
                                           "src": (2, 5)}))
primitive(name="take", batching="trailing", doc="x[[i, j, ...]]: entries at an array of indices along one axis (numpy's take)",
          taylor=T.linear,
          signature="x[[i, j]]", family="internal", public=False, forward=_take, saves="none",
          backward=lambda n, g: (F.take_put(g, **n.params),), shape=_take_shape,
          sympy=lambda sp, x, axis, indices, index_shape, src: np.take(x, _positions(indices, index_shape), axis=axis),
          torch_name="IndexBackward0", words=_g_words("g, added into zeros shaped like {x} at the indices "
                                                       "(a repeated index adds up)"),
          samples=_TAKE_SAMPLES)
primitive(name="take_put", batching="trailing", doc="add into zeros at an array of indices (undoes take)", signature="take_put(g)",
          taylor=T.linear,
          family="internal", public=False, forward=_take_put, saves="none",
          backward=lambda n, g: (F.take(g, **n.params),), shape=lambda s, axis, indices, index_shape, src: tuple(src),
          sympy=_sympy_take_put, torch_name="IndexPutBackward0", words=_g_words("g, read back at the indices"),
          samples=tuple(Sample((_take_shape(s.shapes[0], **s.params),), params=s.params) for s in _TAKE_SAMPLES))


def _stack(*xs, item_ndim):
    return np.stack(xs, axis=-(item_ndim + 1))


def _stack_backward(n, g):
    k = n.params["item_ndim"]
    src = n.out_shape
    return tuple(F.index(g, key=(i,) + (slice(None),) * k, src=src) if need else None
                 for i, need in enumerate(n.needs))


def _stack_shape(*shapes, item_ndim):
    if len(set(shapes)) > 1:
        listed = ", ".join(format_shape(s) for s in shapes)
        raise GradcliError(f"list items must have one shape, not {listed}", kind="shape")
    return (len(shapes),) + shapes[0]


primitive(name="stack", batching="loop", doc="[a, b, ...]: stack items along a new first axis", signature="[a, b, ...]",
          taylor=T.linear,
          family="internal", public=False, forward=_stack, backward=_stack_backward, saves="none",
          shape=_stack_shape, sympy=lambda sp, *xs, item_ndim: np.stack(xs, axis=-(item_ndim + 1)),
          arity=None, words=Words(("x{i}",), vjp=("g[{i}]",)),
          samples=(Sample(((3,), (3,)), params={"item_ndim": 1}), Sample(((), (), ()), params={"item_ndim": 0})))

for _name in ("detach", "stop_gradient"):
    primitive(name=_name, doc="the value of x, through which no gradient flows", signature=f"{_name}(x)",
              family="gradient control", forward=lambda x: x, shape=lambda s: s, differentiable=False,
              samples=(Sample(((3,),)),), elementwise=True)

primitive(name="clone", doc="a copy of x (the gradient passes unchanged)", signature="clone(x)",
          family="gradient control", forward=np.copy, backward=lambda n, g: (g,), shape=lambda s: s,
          sympy=lambda sp, x: x, taylor=T.linear, saves="none", torch_name="CloneBackward0", elementwise=True,
          words=Words(("x",), ("1",)), samples=(Sample(((3,),)), Sample(((2, 3),))))

# torch.tensor(data) makes a new leaf from data's values: what flows into it takes no gradient (a
# list of numbers, [[1, 2], [3, 4]], is already a constant; torch.tensor(x) of a variable is x detached).
primitive(name="tensor", doc="a new constant holding data's values, as torch.tensor(data) copies them "
          "(no gradient flows to data)", signature="tensor(data)", family="constant", forward=np.array,
          shape=lambda s: s, differentiable=False, samples=(Sample(((3,),)), Sample(((2, 3),))), elementwise=True)


def _constructor(name: str, forward, shape, doc: str, signature: str, max_sizes: int | None = None) -> None:
    primitive(name=name, doc=doc, signature=signature, family="constant", forward=forward, shape=shape,
              differentiable=False, constructor=True, arity=0, max_sizes=max_sizes)


for _name, _fill in (("zeros_like", np.zeros_like), ("ones_like", np.ones_like)):
    primitive(name=_name, doc=f"an array of {_name[:-5]} shaped like x (no gradient flows to x)",
              signature=f"{_name}(x)", family="constant", forward=_fill, shape=lambda s: s, differentiable=False,
              samples=(Sample(((2, 3),)),), elementwise=True)
_constructor("zeros", lambda shape: np.zeros(shape), lambda shape: tuple(shape),
             "an array of zeros of the given shape", "zeros(n, ...)")
_constructor("ones", lambda shape: np.ones(shape), lambda shape: tuple(shape),
             "an array of ones of the given shape", "ones(n, ...)")
_constructor("eye", lambda shape: np.eye(*shape), lambda shape: (shape[0], shape[-1]),
             "the n-by-n identity matrix (eye(n, m): n-by-m)", "eye(n)", max_sizes=2)
