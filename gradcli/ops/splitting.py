"""PyTorch's functions that give a tuple of arrays: chunk, split, tensor_split and unbind.

`x.chunk(3)[1]` is one piece of x along dim; a call is taken apart by an index written after it
(the walk passes `part=`, see Op.parts), as `torch.max(x, 0)[1]` takes a pair apart, and a
call used whole is refused. Each piece is a slice of x (unbind's a select), so the gradient
goes back to where the piece came from; under `gradcli run` a call gives the tuple of pieces.
The pieces are PyTorch's: chunk's are ceil(n / chunks) long (fewer pieces than asked when
they fill x sooner), tensor_split's sections differ by one at most, the longer first.
"""

from __future__ import annotations

from gradcli.autodiff.op import Sample, composite
from gradcli.errors import GradcliError
from gradcli.ops.common import F, one_axis


def _pieces_chunk(n: int, chunks: int) -> list[tuple[int, int]]:
    if chunks < 1:
        raise GradcliError(f"chunk() takes chunks= as a whole number above 0, not {chunks}", kind="value")
    size = -(-n // chunks)
    if size == 0:  # (an empty axis: chunks empty pieces, as torch's)
        return [(0, 0)] * chunks
    return [(start, min(size, n - start)) for start in range(0, n, size)]


def _pieces_split(n: int, split_size_or_sections: int | tuple) -> list[tuple[int, int]]:
    if isinstance(split_size_or_sections, tuple):
        sizes = split_size_or_sections
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise GradcliError(f"split() takes sizes that add up to the axis's length {n}, not {list(sizes)}",
                               kind="value")
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return list(zip(starts, sizes))
    size = split_size_or_sections
    if size < 1 and n:
        raise GradcliError(f"split() takes a size above 0, not {size}", kind="value")
    return [(start, min(size, n - start)) for start in range(0, n, size)] if n else [(0, 0)]


def _pieces_tensor_split(n: int, indices_or_sections: int | tuple) -> list[tuple[int, int]]:
    if isinstance(indices_or_sections, tuple):
        bounds = [min(max(i if i >= 0 else i + n, 0), n) for i in indices_or_sections]
        edges = [0, *bounds, n]
        return [(a, max(b - a, 0)) for a, b in zip(edges, edges[1:])]
    sections = indices_or_sections
    if sections < 1:
        raise GradcliError(f"tensor_split() takes sections above 0, not {sections}", kind="value")
    longer, base = n % sections, n // sections
    sizes = [base + 1] * longer + [base] * (sections - longer)
    return list(zip([sum(sizes[:i]) for i in range(sections)], sizes))


_PIECES = {"chunk": _pieces_chunk, "split": _pieces_split, "tensor_split": _pieces_tensor_split}


def pieces(name: str, shape: tuple[int, ...], axis: int = 0, **params) -> list:
    """Where each piece of name's tuple starts along axis and how long it is; unbind's: the entries."""
    axis = one_axis(axis, len(shape))
    n = shape[axis] if shape else 1
    if name == "unbind":
        return list(range(n))
    (how,) = params.values()
    return _PIECES[name](n, how)


def _piece(name: str):
    def take(x, part=None, axis=0, **params):
        if part is None:  # (the walk passes the index written after the call)
            raise GradcliError(f"{name}() gives a tuple of arrays, as in PyTorch: take one with [k], as in "
                               f"x.{name}(...)[0]", kind="syntax")
        found = pieces(name, x.shape, axis, **params)
        if not -len(found) <= part < len(found):
            raise GradcliError(f"{name}() gives {len(found)} arrays here: [{part}] is past them (PyTorch: tuple "
                               f"index out of range)", kind="index")
        axis = one_axis(axis, x.ndim)
        lead = (slice(None),) * axis
        if name == "unbind":
            return F.index(x, key=lead + (found[part],), src=x.shape)
        start, length = found[part]
        return F.index(x, key=lead + (slice(start, start + length),), src=x.shape)
    return take


def _count(name: str):
    return lambda shape, axis=0, **params: len(pieces(name, shape, axis, **params))


def _split_name(shapes, params):
    return "SplitWithSizesBackward0" if isinstance(params.get("split_size_or_sections"), tuple) else "SplitBackward0"


_DOCS = {
    "chunk": ("chunk(x, chunks, dim=0)", ("chunks",), "SplitBackward0",
              "x in chunks pieces along dim, each ceil(n / chunks) long (the last shorter), as torch.chunk"),
    "split": ("split(x, split_size_or_sections, dim=0)", ("split_size_or_sections",), _split_name,
              "x in pieces of a size (the last shorter) or of the sizes listed, along dim, as torch.split"),
    "tensor_split": ("tensor_split(x, indices_or_sections, dim=0)", ("indices_or_sections",), "SliceBackward0",
                     "x in sections differing by one at most (the longer first), or cut at the indices listed, "
                     "as torch.tensor_split"),
    "unbind": ("unbind(x, dim=0)", (), "UnbindBackward0", "the entries of x along dim, each with that axis removed, "
               "as torch.unbind"),
}
_SAMPLES = {
    "chunk": (Sample(((7,),), params={"chunks": 3, "part": 2}), Sample(((2, 5),), params={"chunks": 2, "axis": 1,
                                                                                          "part": 0})),
    "split": (Sample(((7,),), params={"split_size_or_sections": 3, "part": 1}),
              Sample(((3, 4),), params={"split_size_or_sections": (1, 3), "axis": 1, "part": 1})),
    "tensor_split": (Sample(((7,),), params={"indices_or_sections": 3, "part": 0}),
                     Sample(((3, 4),), params={"indices_or_sections": (1, 3), "axis": 1, "part": 2})),
    "unbind": (Sample(((3,),), params={"part": 1}), Sample(((2, 3),), params={"axis": 1, "part": 2})),
}
for _name, (_signature, _how, _node, _doc) in _DOCS.items():
    composite(name=_name, family="array", signature=_signature, composite=_piece(_name),
              doc=f"{_doc}; [k] takes piece k (a call used whole is refused: it is a tuple)",
              keywords=(*_how, "axis", "part"), positional=len(_how) + 1, parts=_count(_name),
              kinds={k: "axis" for k in _how if k != "chunks"}, torch_name=_node, batching="loop", samples=_SAMPLES[_name],
              torch_only=("split",) if _name == "split" else ())  # (np.split(x, 3) cuts in 3 equal sections)
