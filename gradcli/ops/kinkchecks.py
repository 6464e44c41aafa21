"""What kink checks share: reading a node's saved inputs, and the kinks of several operations.

A check marks the entries of one evaluation that sit at a non-differentiable point, from
the inputs the node saved (it runs before backward frees them); `api.kinks` words the note.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def saved_inputs(node: Any) -> list[np.ndarray]:
    return [t.data for t in node.saved]


def broadcast_mask(mask: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    """mask spread over the broadcast shape of arrays (the output's entries)."""
    return np.broadcast_to(mask, np.broadcast_shapes(*(a.shape for a in arrays)))


def first_input_at_zero(node: Any) -> np.ndarray:
    return np.asarray(saved_inputs(node)[0] == 0)


def equal_arguments(node: Any) -> np.ndarray:
    a, b = saved_inputs(node)
    return broadcast_mask(a == b, a, b)
