"""Python's operators beyond arithmetic: a // b, and `and` / `or` on masks (also torch.floor_divide,
torch.logical_and and torch.logical_or, and their methods).

a % b is torch.remainder, whose record (ops/special_binary.py) has % as its symbol.
// has no gradient, as a floor. `and` and `or` combine masks entry by entry
(nonzero is true) into a mask of 0.0 and 1.0 with no gradient; `not m` is m == 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.ops.binary import pair_samples
from gradcli.ops.common import F, broadcast_shapes
from gradcli.autodiff.op import Sample, composite, primitive

primitive(
    name="floor_divide", doc="floor(a / b), as Python's // (no gradient)", signature="a // b", family="operator",
    forward=np.floor_divide, shape=broadcast_shapes, differentiable=False, arity=2, symbol="//",
    aliases=("floor_divide",),  # torch.floor_divide(a, b), a.floor_divide(b)
    samples=pair_samples(("real", "nonzero")),
)


def _nonzero(x: Any) -> Any:
    return F.ne(x, 0.0)


for _name, _word, _combine, _doc in (
    ("logical_and", "and", lambda a, b: _nonzero(a) * _nonzero(b), "1.0 where a and b are both nonzero"),
    ("logical_or", "or", lambda a, b: _nonzero(F.ne(a, 0.0) + F.ne(b, 0.0)), "1.0 where a or b is nonzero"),
):
    composite(name=_name, doc=f"{_doc}, else 0.0 (masks; no gradient)", signature=f"a {_word} b",
              family="comparison", composite=_combine, arity=2, symbol=_word, aliases=(_name,), elementwise=True,
              differentiable=False,
              samples=(*pair_samples("mask"), Sample(((3,), ()), ("real", "real"))))
