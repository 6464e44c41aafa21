"""gradcli: a gradient calculator. Expressions in, values and derivatives out.

Library use:
    >>> from gradcli import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * 2).mean().backward()
    >>> x.grad
    array([0.66666667, 0.66666667, 0.66666667])
    >>> import gradcli
    >>> gradcli.grad("mean(2*x)", {"x": [1, 2, 3]}).gradients["x"]
    array([0.66666667, 0.66666667, 0.66666667])
"""

from __future__ import annotations

import importlib
from typing import Any

# Exported names and the module each lives in. They load on first use, so that the
# command's entry point can start (and take Ctrl-C cleanly) before numpy is imported.
_EXPORTS = {
    "Tensor": "autodiff.engine", "enable_grad": "autodiff.engine", "is_grad_enabled": "autodiff.engine",
    "no_grad": "autodiff.engine", "GradcliError": "errors", "F": "ops.common",
    "grad": "api.functional", "jacobian": "api.functional", "hessian": "api.functional",
    "jvp": "api.forward", "hvp": "api.forward",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gradcli' has no attribute {name!r}")
    importlib.import_module(".ops", __name__)  # registers every operation the engine calls by name
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
