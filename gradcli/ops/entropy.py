"""The terms of entropies and log-likelihoods, as torch.special's: entr(x) = -x log x and
xlog1py(x, y) = x log1p(y), each 0 where x is 0 (as xlogy, in ops/special_binary.py).

Values and rules are PyTorch's (derivatives.yaml): entr is -inf below 0 and its gradient
-(1 + log x), inf at 0; xlog1py's x gets log1p(y), 0 where x == 0 and y <= -1, and y gets
x / (1 + y).
"""

from __future__ import annotations

import numpy as np

from gradcli.autodiff import taylor as T
from gradcli.autodiff.op import Kink
from gradcli.ops.binary import binary
from gradcli.ops.common import F
from gradcli.ops.elementwise import unary


def entr(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 0, -x * np.log(x), np.where(x == 0, 0.0, -np.inf))
    return np.asarray(np.where(np.isnan(x), x, out), dtype=np.result_type(x, 0.0))


def _entr_taylor(n, x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -T.cauchy(x, T.log(x))


unary("entr", entr, lambda n, g: (g * -(F.log(n.x) + 1.0),),
      lambda sp, x: sp.Piecewise((-x * sp.log(x), x > 0), (0, sp.Eq(x, 0)), (-sp.oo, True)),
      "the entropy term -x log x, 0 at 0 and -inf below (gradient -(1 + log x): inf at 0)", domain="positive",
      local="-(1 + log(x))", taylor=_entr_taylor, torch_name="SpecialEntrBackward0",
      kinks=(Kink((0.0,), (np.inf,), note="entr(0) = 0, its gradient -(1 + log 0) = inf, as PyTorch",
                  noted=False),))


def xlog1py(x, y):
    # As torch.special.xlog1py: nan where y is nan, else 0 where x == 0 (also where log1p(y) is -inf or nan).
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log1p(y))


def _xlog1py_taylor(n, x, y):
    # x log1p(y), and 0 where x == 0 and y <= -1 (where the rule gives x 0 too)
    with np.errstate(divide="ignore", invalid="ignore"):
        product = T.cauchy(x, T.log(T.offset(y, 1.0)))
    return T.select((x[0] == 0) & (y[0] <= -1), T.zero(n, x, y), product)


binary("xlog1py", "", xlog1py,
       lambda n, g: (F.where(F.eq(n.x, 0.0) * F.le(n.y, -1.0), 0.0, F.xlog1py(g, n.y)) if n.needs[0] else None,
                     g * n.x / (n.y + 1.0) if n.needs[1] else None),
       lambda sp, x, y: sp.Piecewise((0, sp.Eq(x, 0)), (x * sp.log(1 + y), True)),
       "x * log1p(y), and 0 where x == 0 (unless y is nan), as torch.special.xlog1py", domain=("real", "positive"),
       local=("where((a == 0)*(b <= -1), 0, log1p(b))", "a/(1 + b)"), taylor=_xlog1py_taylor,
       torch_name="SpecialXlog1PyBackward0",
       kinks=(Kink((0.0, -1.0), (0.0, np.nan), note="d/dx xlog1py(x, y) = 0 at x = 0 where y <= -1, as PyTorch",
                   noted=False),))
