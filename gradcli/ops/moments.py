"""var_mean, std_mean and aminmax, as PyTorch's: the pairs (spread, mean) and (min, max) of x over dim, both
parts with gradients; and amax and amin, which with aminmax differ from max and min where a slice holds a
NaN: PyTorch gives each of its entries the gradient NaN (max and min give the NaN entries all of it).

Used whole, a call is its first part, the variance (the standard deviation); torch.var_mean(x)[1]
is the mean, computed by the record's pair, var_mean_mean, with the same arguments (api/evaluate.py takes
the pair apart as it takes max's). Each part is reductions.py's var, std or mean, with PyTorch's
divisor n - 1 unless correction= says otherwise.
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff.op import Sample, composite
from gradcli.ops.common import F


def _spread(name):
    def spread(x, axis=None, ddof=1, keepdims=False):
        return getattr(F, name)(x, axis=axis, keepdims=keepdims, ddof=ddof)
    return spread


def _mean(x, axis=None, ddof=1, keepdims=False):
    return F.mean(x, axis=axis, keepdims=keepdims)


_SAMPLES = (Sample(((4,),)), Sample(((2, 3),), params={"axis": 1}),
            Sample(((3, 2),), params={"axis": 0, "ddof": 0, "keepdims": 1}))
for _name, _what in (("var", "variance"), ("std", "standard deviation")):
    composite(name=f"{_name}_mean", family="array", signature=f"{_name}_mean(x, dim=None, correction=1, keepdim=False)",
              doc=f"the pair ({_what}, mean) over dim, as torch.{_name}_mean (divided by n - correction); used "
                  f"whole, the {_what}: [0] and [1] take the parts",
              composite=_spread(_name), keywords=("axis", "ddof", "keepdims"), batching="loop",
              torch_name=f"{_name.capitalize()}MeanBackward0", samples=_SAMPLES, pair=f"{_name}_mean_mean")
    composite(name=f"{_name}_mean_mean", family="internal", public=False, signature=f"{_name}_mean_mean(x)",
              doc=f"the mean of {_name}_mean's pair", composite=_mean, keywords=("axis", "ddof", "keepdims"),
              batching="loop", samples=_SAMPLES)


def _extreme(name):
    def extreme(x, axis=None, keepdims=False):
        # PyTorch's aminmax gives every entry of a slice holding a NaN the gradient NaN (its max and min give the
        # NaN entries all of it): less a term that is 0, or NaN with the gradient NaN, there.
        holds_nan = F.max(F.ne(x, x), axis=axis, keepdims=True)  # (x != x: a NaN)
        poison = F.sum(F.where(holds_nan, x, 0.0) * F.where(holds_nan, np.nan, 0.0), axis=axis, keepdims=keepdims)
        return getattr(F, name)(x, axis=axis, keepdims=keepdims) - poison
    return extreme


_EXTREME_SAMPLES = (Sample(((4,),)), Sample(((2, 3),), params={"axis": 1}),
                    Sample(((3, 2),), params={"axis": 0, "keepdims": 1}))
composite(name="aminmax", family="array", signature="aminmax(x, *, dim=None, keepdim=False)",
          doc="the pair (min, max) over dim (one axis) or the whole array, as torch.aminmax (equal entries share the "
              "gradient; a slice holding a NaN gives each of its entries NaN, as PyTorch's); used whole, the min: "
              "[0], [1], .min and .max take the parts",
          composite=_extreme("min"), keywords=("axis", "keepdims"), positional=0, batching="loop",
          torch_name="AminmaxBackward0", samples=_EXTREME_SAMPLES, pair="aminmax_max", pair_fields=("min", "max"))
composite(name="aminmax_max", family="internal", public=False, signature="aminmax_max(x)",
          doc="the max of aminmax's pair", composite=_extreme("max"), keywords=("axis", "keepdims"),
          batching="loop", samples=_EXTREME_SAMPLES)
for _name, _what in (("amax", "max"), ("amin", "min")):
    composite(name=_name, family="reduction", signature=f"{_name}(x, dim=(), keepdim=False)",
              doc=f"the {_what}imum over dim (one axis or several; all by default), as torch.{_name}: equal entries "
                  f"share the gradient; a slice holding a NaN gives each of its entries NaN, as PyTorch's",
              composite=_extreme(_what), keywords=("axis", "keepdims"), batching="loop",
              torch_name=f"{_name.capitalize()}Backward0",
              samples=(Sample(((4,),)), Sample(((2, 3),), params={"axis": 1}),
                       Sample(((2, 3, 2),), params={"axis": (0, 2), "keepdims": 1})))
