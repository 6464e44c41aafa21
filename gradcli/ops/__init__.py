"""The operations of gradcli, one family a file; importing this package registers them all."""

from . import binary, elementwise, linalg, nn, reductions, shape  # noqa: F401
from .registry import FUNCTIONS, OPS, Kink, Op, Sample

__all__ = ["FUNCTIONS", "OPS", "Kink", "Op", "Sample"]
