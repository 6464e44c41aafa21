"""The operations of gradcli, one family a file; importing this package registers them all."""

from gradcli.ops import activations  # noqa: F401
from gradcli.ops import affine  # noqa: F401
from gradcli.ops import arrays  # noqa: F401
from gradcli.ops import arithmetic  # noqa: F401
from gradcli.ops import attention  # noqa: F401
from gradcli.ops import bessel  # noqa: F401
from gradcli.ops import binary  # noqa: F401
from gradcli.ops import builders  # noqa: F401
from gradcli.ops import convolution  # noqa: F401
from gradcli.ops import decompositions  # noqa: F401
from gradcli.ops import distances  # noqa: F401
from gradcli.ops import elementwise  # noqa: F401
from gradcli.ops import entropy  # noqa: F401
from gradcli.ops import gamma  # noqa: F401
from gradcli.ops import gather  # noqa: F401
from gradcli.ops import linalg  # noqa: F401
from gradcli.ops import lookups  # noqa: F401
from gradcli.ops import loss_rules  # noqa: F401
from gradcli.ops import losses  # noqa: F401
from gradcli.ops import margin_losses  # noqa: F401
from gradcli.ops import matrix_functions  # noqa: F401
from gradcli.ops import moments  # noqa: F401
from gradcli.ops import nn  # noqa: F401
from gradcli.ops import nonfinite  # noqa: F401
from gradcli.ops import normal  # noqa: F401
from gradcli.ops import normalization  # noqa: F401
from gradcli.ops import norms  # noqa: F401
from gradcli.ops import pooling  # noqa: F401
from gradcli.ops import products  # noqa: F401
from gradcli.ops import operators  # noqa: F401
from gradcli.ops import ranges  # noqa: F401
from gradcli.ops import reductions  # noqa: F401
from gradcli.ops import reshaping  # noqa: F401
from gradcli.ops import scatter  # noqa: F401
from gradcli.ops import sequences  # noqa: F401
from gradcli.ops import shape  # noqa: F401
from gradcli.ops import sorting  # noqa: F401
from gradcli.ops import special  # noqa: F401
from gradcli.ops import special_binary  # noqa: F401
from gradcli.ops import splitting  # noqa: F401
from gradcli.ops import statistics  # noqa: F401
from gradcli.autodiff.op import FUNCTIONS, OPS, Kink, Op, Sample

__all__ = ["FUNCTIONS", "OPS", "Kink", "Op", "Sample"]
