"""grad_fn objects as PyTorch shows them: `<MulBackward0 object at 0x...>`, `.name()`, `.next_functions`.

Each wraps one node of the engine's graph; its class is named after the node (type(z.grad_fn).__name__
is MulBackward0), as PyTorch's are.
"""

from __future__ import annotations

from typing import Any

from gradcli.autodiff.graph import LeafNode
from gradcli.torch.core import MODULE

_CLASSES: dict[tuple[str, str], type] = {}


class Node:
    """A node of the recorded graph, seen from torch code."""

    __slots__ = ("_node",)
    custom = False  # a torch.autograd.Function's node: PyTorch prints its module
    wrap: Any = None  # tensor.wrap, installed by tensor.py (which imports this module)

    def __init__(self, node: Any):
        self._node = node

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad" if isinstance(self._node, LeafNode) else type(self).__name__

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        return tuple((grad_fn_of(edge), 0) for edge in self._node.next_functions)

    @property
    def variable(self) -> Any:
        if not isinstance(self._node, LeafNode):
            raise AttributeError(f"'{self.name()}' object has no attribute 'variable'")
        return self.wrap(self._node.tensor)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other._node is self._node

    def __hash__(self) -> int:
        return hash(id(self._node))

    def __repr__(self) -> str:
        module = f"{type(self).__module__}." if self.custom else ""
        return f"<{module}{type(self).__name__} object at {hex(id(self))}>"


def grad_fn_of(node: Any, title: str | None = None) -> Node | None:
    """The torch-side object for an engine node (None for none), named title when given."""
    if node is None:
        return None
    name = title or node.name
    module = MODULE if not isinstance(node, LeafNode) and node.op.family == MODULE else ""
    cls = _CLASSES.get((name, module))
    if cls is None:
        attributes = {"__slots__": ()}
        if module:
            attributes.update(custom=True, __module__=module)
        cls = _CLASSES[(name, module)] = type(name, (Node,), attributes)
    return cls(node)
