"""torch.nn.functional: every operation of gradcli's registry by its name (F.relu, F.softmax,
F.binary_cross_entropy_with_logits, F.mse_loss, ...), with PyTorch's keywords."""

from typing import Any

from gradcli.torch.tensor import function


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return function(name)
