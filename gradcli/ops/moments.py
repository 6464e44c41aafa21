"""var_mean and std_mean, as PyTorch's: the pair (spread, mean) of x over dim, both with gradients.

Used whole, a call is its first part, the variance (the standard deviation); torch.var_mean(x)[1]
is the mean, computed by the record's pair, var_mean_mean, with the same arguments (api/evaluate.py takes
the pair apart as it takes max's). Each part is reductions.py's var, std or mean, with PyTorch's
divisor n - 1 unless correction= says otherwise.
"""

from __future__ import annotations

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
