"""x.nan_to_num(nan=0.0, posinf=None, neginf=None): nan, inf and -inf replaced by numbers, as PyTorch's.

posinf and neginf left out are the dtype's largest and smallest finite numbers. The
gradient is derivatives.yaml's, grad * isfinite(x): g where x is finite, 0 elsewhere (a
product, so an inf in g meets a 0 there and gives nan, as in torch).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Kink, Sample, Words, primitive
from gradcli.ops.common import F, same_shape, sympy_elementwise
from gradcli.ops.elementwise import SAMPLE_SHAPES

primitive(name="finite_mask", doc="1.0 where x is finite, else 0.0 (torch.isfinite as numbers; no gradient)",
          signature="finite_mask(x)", family="internal", public=False, differentiable=False, elementwise=True,
          forward=lambda x: np.isfinite(x).astype(np.result_type(x, 0.0)), shape=same_shape,
          samples=(Sample(((3,),)),))


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)


def _nan_to_num_taylor(n, x):
    return T.select(np.isfinite(x[0]), x, T.constant(n.ans, len(x) - 1))


primitive(name="nan_to_num", doc="x with nan, inf and -inf replaced by nan=, posinf= and neginf= (by default 0 and "
                                 "the dtype's largest and smallest numbers); gradient g where x is finite, else 0",
          signature="nan_to_num(x, nan=0.0, posinf=None, neginf=None)", family="elementwise", forward=_nan_to_num,
          backward=lambda n, g: (g * F.finite_mask(n.x),), shape=lambda s, **_: s, elementwise=True,
          keywords=("nan", "posinf", "neginf"), positional=3,
          kinds={"nan": "real", "posinf": "real", "neginf": "real"}, batching="trailing",
          sympy=lambda sp, x, **_: sympy_elementwise(lambda sp_, v: v)(sp, x), taylor=_nan_to_num_taylor,
          words=Words(("x",), ("x - x == 0",)),
          samples=(*(Sample((s,)) for s in SAMPLE_SHAPES), Sample(((3,),), params={"nan": 1.0, "posinf": 2.0})),
          kinks=(Kink(([np.inf, np.nan, 1.0],), ([0.0, 0.0, 1.0],),
                      note="x.nan_to_num() has gradient 0 where x is not finite, as PyTorch", noted=False),))
