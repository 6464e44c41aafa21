"""torch.cuda: no GPU here (gradcli computes on the CPU), so scripts that pick a device by
torch.cuda.is_available() take the CPU; anything else of torch.cuda is refused by name."""

from typing import Any

from gradcli.torch.core import unsupported


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"torch.cuda.{name}")
