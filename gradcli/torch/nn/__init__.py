"""torch.nn for gradcli: its functional module (the operations of the registry) and nothing more."""

from typing import Any

from gradcli.torch.core import unsupported
import gradcli.torch.nn.functional as functional  # torch.nn.functional

__all__ = ["functional"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"torch.nn.{name}")
