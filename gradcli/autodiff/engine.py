"""The reverse-mode engine in one import: Tensor with its operators and backward installed.

It is split by concern: `mode` (grad mode and the other per-thread settings), `tensor`
(Tensor), `graph` (nodes and their order), `call` (applying an operation, and the one place
that decides memory reuse), `backward` (the backward pass). Importing this module loads them
all, so a Tensor from here has every operator; callers import these names from here.
"""

from gradcli.autodiff.backward import accumulate, run_backward, seed_cotangent, sum_to
from gradcli.autodiff.call import call, check_size, function, operate
from gradcli.autodiff.graph import LeafNode, Node, creation_order, edge_of, reachable, topological_order
from gradcli.autodiff.mode import (default_dtype, element_limit, enable_grad, is_grad_enabled, no_grad, reusing, source_span,
                                   without_donation)
from gradcli.autodiff.tensor import DTYPES, Tensor, as_array, dtype_of, lift, normalize_key

__all__ = ["DTYPES", "LeafNode", "Node", "Tensor", "accumulate", "as_array", "call", "check_size", "creation_order",
           "default_dtype",
           "dtype_of", "edge_of",
           "element_limit", "enable_grad", "function", "is_grad_enabled", "lift", "no_grad", "normalize_key",
           "operate", "reachable", "reusing", "run_backward", "seed_cotangent", "source_span", "sum_to", "topological_order",
           "without_donation"]
