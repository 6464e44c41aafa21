"""Anomaly detection, as torch.autograd's: while it is on, a backward pass stops at the first node whose
rule gives a NaN, with PyTorch's words ("Function 'SqrtBackward0' returned nan values in its 0th output.").
torch.autograd.set_detect_anomaly(mode) switches it, as a call or for a with block; detect_anomaly() turns it
on for a with block; torch.is_anomaly_enabled() reads it."""

from __future__ import annotations

from typing import Any

import numpy as np

import gradcli.torch.core as core


class set_detect_anomaly:
    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._before = core.ANOMALY["on"]
        core.ANOMALY["on"] = bool(mode) and bool(check_nan)

    def __enter__(self) -> None:
        pass  # (the call has switched already)

    def __exit__(self, *exc: Any) -> None:
        core.ANOMALY["on"] = self._before


class detect_anomaly(set_detect_anomaly):
    def __init__(self, check_nan: bool = True) -> None:
        super().__init__(True, check_nan)


def is_anomaly_enabled() -> bool:
    return core.ANOMALY["on"]


def check_for_nan(node: Any, g: Any, cts: tuple) -> None:
    """A backward pass's observer: the first cotangent with a NaN that a node's rule gives stops the pass."""
    for i, ct in enumerate(cts):
        if ct is not None and np.isnan(getattr(ct, "data", ct)).any():
            raise RuntimeError(f"Function '{node.name}' returned nan values in its {i}th output.")
