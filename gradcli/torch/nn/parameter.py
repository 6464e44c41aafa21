"""torch.nn.Parameter: a leaf tensor that requires grad unless told otherwise, holding the data of the
tensor it is made from (as PyTorch's shares its storage), printed as "Parameter containing:"."""

from __future__ import annotations


from gradcli.autodiff import engine
from gradcli.torch.creation import empty
from gradcli.torch.tensor import Tensor


class Parameter(Tensor):
    """nn.Parameter(data, requires_grad=True). Operations on it give plain tensors, as in PyTorch."""

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter takes a tensor, not {type(data).__name__}")
        self._t = engine.Tensor._result(data._t.data, None)  # a leaf, even when data is a result (as detach)
        self._t.requires_grad = bool(requires_grad)
        self._bool, self._grad, self._title = data._bool, None, None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
