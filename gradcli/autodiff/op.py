"""The operation record and the registry every other layer reads.

An operation is defined once, in one file of this package: its surface name, a one-line
doc, forward (numpy), backward rule (in the engine's own differentiable operations),
output-shape rule, SymPy counterpart and the sample inputs the tests draw from. The
parser, `gradcli ops`, the SymPy translation and the test suite all walk OPS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]

# Domains sample values are drawn from in tests (and documented by `gradcli ops`).
DOMAINS = ("real", "positive", "unit", "nonzero", "above_one", "mask", "spd")


@dataclass(frozen=True)
class Sample:
    """One test input for an operation: shapes of its tensor inputs, their domains, params.

    domain is one name from DOMAINS for every input, or a tuple with one name per input.
    """

    shapes: tuple[Shape, ...]
    domain: str | tuple[str, ...] = "real"
    params: dict[str, Any] = field(default_factory=dict)

    def domains(self) -> tuple[str, ...]:
        if isinstance(self.domain, str):
            return (self.domain,) * len(self.shapes)
        return self.domain


@dataclass(frozen=True)
class Kink:
    """A documented value at a non-differentiable point: inputs and the gradient of each.

    `grads` are the gradients of sum(op(*inputs)) with respect to each input, the
    convention gradcli follows (PyTorch's).
    """

    inputs: tuple[Any, ...]
    grads: tuple[Any, ...]
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Op:
    """One operation of the language or of the engine's internals.

    A primitive has forward/backward/shape/sympy; a composite is built from other
    operations (`composite`) and inherits their derivatives and SymPy forms (unless it
    gives its own `sympy`, which a translation then uses instead of expanding it).

    forward(*arrays, **params) -> ndarray
    backward(node, g) -> tuple of cotangents, one per input (None where not needed);
        `node.x`, `node.y`, `node.inputs`, `node.ans`, `node.params`, `node.needs`
        are at hand. g carries any leading batch axes; rules work on trailing axes.
    shape(*shapes, **params) -> output shape (raises GradcliError when shapes do not fit)
    sympy(sp, *object_arrays, **params) -> object array of SymPy expressions; an operation
        without a gradient may leave it out (its numeric value is a constant to SymPy)
    """

    name: str
    doc: str
    signature: str
    family: str
    forward: Callable[..., Any] | None = None
    backward: Callable[..., tuple] | None = None
    shape: Callable[..., Shape] | None = None
    sympy: Callable[..., Any] | None = None
    composite: Callable[..., Any] | None = None
    prepare: Callable[..., dict] | None = None  # (*shapes, **params) -> params in stored form
    samples: tuple[Sample, ...] = ()
    kinks: tuple[Kink, ...] = ()
    saves: str = "inputs"  # what backward needs kept: inputs, output, both, none
    torch_name: str | Callable[..., str] = ""
    differentiable: bool = True
    public: bool = True
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # keyword parameters a call may pass, e.g. ("axis",)
    arity: int | None = 1  # number of tensor inputs; None means any number
    constructor: bool = False  # called with whole numbers (a shape), not tensors
    symbol: str = ""  # infix spelling for operators, e.g. "+"

    def __post_init__(self) -> None:
        if self.saves not in ("inputs", "output", "both", "none"):
            raise ValueError(f"{self.name}: saves must be inputs, output, both or none")
        if self.composite is None:
            missing = [f for f in ("forward", "shape") if getattr(self, f) is None]
            if self.differentiable and self.backward is None:
                missing.append("backward")
            if self.differentiable and self.sympy is None:
                missing.append("sympy")
            if missing:
                raise ValueError(f"operation {self.name!r} lacks {', '.join(missing)}")
        if self.public and not self.samples and not self.constructor:
            raise ValueError(f"operation {self.name!r} declares no test samples")

    @property
    def is_primitive(self) -> bool:
        return self.composite is None

    def node_name(self, in_shapes: tuple[Shape, ...], params: dict) -> str:
        """The PyTorch-style grad_fn name, e.g. MulBackward0."""
        if callable(self.torch_name):
            return self.torch_name(in_shapes, params)
        if self.torch_name:
            return self.torch_name
        return "".join(part.capitalize() for part in self.name.split("_")) + "Backward0"


OPS: dict[str, Op] = {}  # every operation by name
FUNCTIONS: dict[str, Op] = {}  # what an expression may call: public names and aliases


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"operation {op.name!r} registered twice")
    OPS[op.name] = op
    if op.public:
        # Operators (+, <, ...) are called by their symbol; an alias such as pow(a, b) still names them.
        for name in op.aliases if op.symbol else (op.name, *op.aliases):
            FUNCTIONS[name] = op
    return op


def primitive(**fields: Any) -> Op:
    return register(Op(**fields))


def composite(**fields: Any) -> Op:
    return register(Op(**fields))
