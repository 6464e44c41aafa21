"""Python's operators beyond arithmetic: a % b and a // b, and `and` / `or` on masks.

They are written as in Python and PyTorch and called by their symbol only (torch.remainder
and friends are functions of their own). % follows torch.remainder: its result takes the
sign of b, d/da = 1 and d/db = -floor(a / b), also where a / b is a whole number and the
value jumps. // has no gradient, as a floor. `and` and `or` combine masks entry by entry
(nonzero is true) into a mask of 0.0 and 1.0 with no gradient; `not m` is m == 0.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from gradcli.ops.binary import pair_samples
from gradcli.ops.common import F, broadcast_shapes, sympy_elementwise
from gradcli.autodiff.op import Kink, Sample, Words, composite, primitive

primitive(
    name="floor_divide", doc="floor(a / b), as Python's // (no gradient)", signature="a // b", family="operator",
    forward=np.floor_divide, shape=broadcast_shapes, differentiable=False, arity=2, symbol="//", method=False,
    samples=pair_samples(("real", "nonzero")),
)


@functools.cache
def _flat_floor(sp: Any) -> Any:
    """SymPy's floor with derivative 0 (PyTorch's convention at the jumps too), so that
    SymPy differentiates a % b as gradcli does rather than leaving Derivative(floor) behind."""
    class floor(sp.Function):  # shown as floor; only its derivative differs
        @classmethod
        def eval(cls, x):
            return sp.floor(x) if x.is_Number else None

        def fdiff(self, argindex=1):
            return sp.S.Zero

    return floor


primitive(
    name="mod", doc="a - b*floor(a / b), as Python's % and torch.remainder: the sign of b; gradient 1 and "
    "-floor(a / b)", signature="a % b", family="operator",
    forward=np.remainder, shape=broadcast_shapes, arity=2, symbol="%", method=False, elementwise=True,
    backward=lambda n, g: (g if n.needs[0] else None, -g * F.floor_divide(n.x, n.y) if n.needs[1] else None),
    sympy=sympy_elementwise(lambda sp, a, b: a - b * _flat_floor(sp)(a / b)),
    samples=pair_samples(("real", "nonzero")), torch_name="RemainderBackward0",
    words=Words(("a", "b"), ("1", "-(a // b)")),
    kinks=(Kink((3.0, 1.5), (1.0, -2.0), note="at a jump (a / b whole) the gradients stay 1 and -floor(a / b), "
                "as PyTorch", noted=False),),
)


def _nonzero(x: Any) -> Any:
    return F.ne(x, 0.0)


for _name, _word, _combine, _doc in (
    ("logical_and", "and", lambda a, b: _nonzero(a) * _nonzero(b), "1.0 where a and b are both nonzero"),
    ("logical_or", "or", lambda a, b: _nonzero(F.ne(a, 0.0) + F.ne(b, 0.0)), "1.0 where a or b is nonzero"),
):
    composite(name=_name, doc=f"{_doc}, else 0.0 (masks; no gradient)", signature=f"a {_word} b",
              family="comparison", composite=_combine, arity=2, symbol=_word, method=False, elementwise=True,
              differentiable=False,
              samples=(*pair_samples("mask"), Sample(((3,), ()), ("real", "real"))))
