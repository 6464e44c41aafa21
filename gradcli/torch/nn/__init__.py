"""torch.nn for gradcli: its functional module (the operations of the registry) and Parameter; no modules."""

from typing import Any

from gradcli.torch.core import unsupported
import gradcli.torch.nn.functional as functional  # torch.nn.functional
from gradcli.torch.nn.parameter import Parameter

__all__ = ["Parameter", "functional"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"torch.nn.{name}")
