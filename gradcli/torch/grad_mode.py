"""torch.no_grad, torch.enable_grad, torch.set_grad_enabled: the engine's grad mode, as context managers
and as decorators (PyTorch's classes are both)."""

from __future__ import annotations

import functools
from typing import Any

from gradcli.autodiff import engine
from gradcli.autodiff.mode import mode as state, setting


class _GradMode:
    enabled = True

    def __new__(cls, *args: Any) -> Any:
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return cls()(args[0])  # @torch.no_grad without parentheses, as PyTorch allows
        return super().__new__(cls)

    def __init__(self, *_: Any) -> None:
        self._setting: Any = None

    def __enter__(self) -> None:
        self._setting = setting("grad_enabled", self.enabled)
        self._setting.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._setting.__exit__(*exc)

    def __call__(self, func: Any) -> Any:
        @functools.wraps(func)
        def inside(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)
        return inside


class no_grad(_GradMode):
    """Operations inside record no graph."""

    enabled = False


class enable_grad(_GradMode):
    """Operations inside record a graph again."""

    enabled = True


class set_grad_enabled(_GradMode):
    """set_grad_enabled(mode): as a call, switches grad mode; as a context, for its body only."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.enabled = bool(mode)
        self._before = engine.is_grad_enabled()
        state.grad_enabled = self.enabled

    def __enter__(self) -> None:
        pass  # (the call has switched already)

    def __exit__(self, *exc: Any) -> None:
        state.grad_enabled = self._before


def is_grad_enabled() -> bool:
    return engine.is_grad_enabled()
