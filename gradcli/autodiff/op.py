"""The operation record and the registry every other layer reads.

An operation is defined once, in one file of `gradcli.ops`: its surface name, a one-line
doc, forward (numpy), backward rule (in the engine's own differentiable operations),
output-shape rule, SymPy counterpart, its derivative in words, the check that notes an
evaluation at a kink, whether it acts entry by entry, and the sample inputs the tests draw
from (with DOMAINS, the sampler of each domain). The parser, `gradcli ops`, the engine's
fast paths, the SymPy translation, `gradcli explain` and the test suite all walk OPS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, ...]


def _spd(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    n = shape[-1]
    b = rng.standard_normal(shape)
    return b @ np.swapaxes(b, -1, -2) + n * np.eye(n)


# The domains test values are drawn from, each with its sampler (rng, shape) -> array. Values
# are kept away from a domain's edges, so that central differences stay accurate.
DOMAINS: dict[str, Callable[[np.random.Generator, Shape], np.ndarray]] = {
    "real": lambda rng, shape: rng.standard_normal(shape),
    "positive": lambda rng, shape: rng.uniform(0.5, 2.0, shape),
    "unit": lambda rng, shape: rng.uniform(-0.8, 0.8, shape),
    "nonzero": lambda rng, shape: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape),
    "above_one": lambda rng, shape: rng.uniform(1.5, 3.0, shape),
    "mask": lambda rng, shape: rng.integers(0, 2, shape).astype(np.float64),  # selects: no derivative
    "spd": _spd,  # symmetric positive definite matrices
}


@dataclass(frozen=True)
class Sample:
    """One test input for an operation: shapes of its tensor inputs, their domains, params.

    domain is one name from DOMAINS for every input, or a tuple with one name per input.
    """

    shapes: tuple[Shape, ...]
    domain: str | tuple[str, ...] = "real"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [d for d in self.domains() if d not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown sample domain {unknown[0]!r}: one of {', '.join(DOMAINS)}")

    def domains(self) -> tuple[str, ...]:
        if isinstance(self.domain, str):
            return (self.domain,) * len(self.shapes)
        return self.domain

    def draw(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One array per input, from its domain's sampler."""
        return [DOMAINS[d](rng, s) for d, s in zip(self.domains(), self.shapes)]


class Elementwise:
    """A function of arrays the engine runs as it runs a plain numpy ufunc (on threads, in an
    input's buffer, as a traced step, block by block): it broadcasts its inputs, takes out=, and
    computes each entry from the same entries of its inputs whatever the slice. A subclass
    defines __call__(*arrays, out=None), where out may also be ... (a 0-d result as an array,
    as numpy's ufuncs take it) (autodiff/power.py)."""

    signature = None
    nout = 1


@dataclass(frozen=True)
class Kink:
    """A documented value where the derivative needs care (a kink, a pole): inputs, gradients.

    `grads` are the gradients of sum(op(*inputs)) with respect to each input, the
    convention gradcli follows (PyTorch's). noted: the operation's kink check fires here
    (False for a value that is only documented: a pole such as log at 0, or a point that
    has a derivative but needs care, such as det of a singular matrix).
    """

    inputs: tuple[Any, ...]
    grads: tuple[Any, ...]
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    noted: bool = True


@dataclass(frozen=True)
class KinkCheck:
    """Which entries of an evaluation sit at a kink, and what gradcli did there.

    at(node) marks them (None: not applicable) from the node's saved inputs; says is the
    note, with {where} for how many entries and {op} for the operation's name.
    """

    at: Callable[[Any], np.ndarray | None]
    says: str


@dataclass(frozen=True)
class Words:
    """An operation's derivative in words, for `gradcli explain`.

    args: names of the inputs. An elementwise rule gives `local`: per input, d out / d arg
    in the expression language over args and `out` (the forward value), or None where no
    gradient flows; explain substitutes the sub-expressions and evaluates it. Other rules
    give `vjp`: per input, words for the cotangent it receives, with g for the upstream
    gradient and {arg} or {out} for sub-expressions. An operation of any number of inputs
    (stack) gives one arg and one vjp with {i} for the input's position.
    """

    args: tuple[str, ...]
    local: tuple[str | None, ...] = ()
    vjp: tuple[str, ...] = ()

    def for_inputs(self, count: int) -> Words:
        """The words for a node of count inputs."""
        if "{i}" not in self.args[0]:
            return self
        each = [str(i) for i in range(count)]
        return Words(tuple(self.args[0].replace("{i}", i) for i in each),
                     vjp=tuple(self.vjp[0].replace("{i}", i) for i in each))


@dataclass(frozen=True)
class Op:
    """One operation of the language or of the engine's internals.

    A primitive has forward/backward/shape/sympy; a composite is built from other
    operations (`composite`) and inherits their derivatives and SymPy forms (unless it
    gives its own `sympy`, which a translation then uses instead of expanding it).

    forward(*arrays, **params) -> ndarray
    backward(node, g) -> tuple of cotangents, one per input (None where not needed);
        `node.x`, `node.y`, `node.inputs`, `node.ans`, `node.params`, `node.needs`
        are at hand, and from the pass `node.batch` (g's leading batch axes) and
        `node.uniform` (the one number g holds when it is a sum's broadcast scalar, else
        None). Rules work on trailing axes. A rule that reads g once on every path may
        have the pass give g up to the operation that reads it (autodiff/backward.py).
    jvp(node, tangents) -> the output's tangent J·t (tangents: one per input, None for a
        constant; with the pass's leading batch axes): optional, forward mode derives it
        from backward where a record gives none (autodiff/forward.py)
    shape(*shapes, **params) -> output shape (raises GradcliError when shapes do not fit)
    sympy(sp, *object_arrays, **params) -> object array of SymPy expressions; an operation
        without a gradient may leave it out (its numeric value is a constant to SymPy)
    words: its derivative in words (explain); kink_check: notes an evaluation at one of its
        documented `kinks` (required when a kink is `noted`)
    elementwise: entry i of the output depends on entry i of each input only (after
        broadcasting), so Jacobians are diagonal, a point axis passes through, and SymPy may
        translate entry by entry; decided at registration when not declared: a forward
        that is a plain numpy ufunc (or an `Elementwise` function) is. `ufunc` is then that
        function: the engine runs it on threads when large and may write its result into an
        input nobody reads again.
    selector: the first input chooses, entry by entry, which of the others passes (where),
        so a gradient it masks out is still computed for the branch not taken
    max_sizes: most whole numbers a constructor takes (eye(n, m): 2)
    aliases: the other names it is called by (PyTorch's and numpy's among them); every
        public operation that takes a tensor first is a method of any value as well
    keywords: its parameters a call may name (PyTorch's names in KEYWORD_SPELLINGS come
        free); the first `positional` of them may also follow the tensor inputs without a
        name (x.sum(0)); norm takes none so, as torch's x.norm(2) means p=2, not an axis
    spelled: the other library's names of its own keywords, e.g. numpy's tril(x, k=1) for
        torch's diagonal= ({"k": "diagonal"})
    kinds: what a keyword takes where it is not a whole number (axis= takes an axis or a
        tuple of them, as does a keyword of kind "axis": reshape's shape): "axis pairs" (a
        whole number or a tuple of axis tuples: tensordot's dims), "real" (any number:
        beta=0.5), "reals" (a number or a tuple of them: interpolate's scale_factor), "text"
        (any string: an einsum subscript), or a tuple of the words it takes, with "real" among
        them when a number may stand there too (norm's p: 1, 2, inf, "fro", "nuc")
    sequence: its tensor inputs come as one list or tuple of arrays, the first argument
        (cat([x, y], 0), torch.cat((x, y), dim=0)); their shapes need not broadcast
    rest: the keyword that takes every value written past the tensor inputs, as a tuple
        (x.reshape(2, 3) is x.reshape((2, 3)); x.permute(1, 0))
    example: what an example call of a constructor passes, where sizes alone are not enough
        (full: "3, 0.5"); `gradcli ops NAME` runs it
    torch_only: names it has as PyTorch's only, refused under np. where numpy's function of
        that name differs (np.repeat repeats each entry; torch's x.repeat tiles)
    replay: (ans, **params) -> the step a traced program runs instead of forward (autodiff/
        trace.py), made once when the program is recorded, for an operation whose forward
        redoes work that depends on the shapes alone; ans is the recorded result. Either a
        function of the input arrays returning the result (exactly forward's numbers), or
        a pair (function, array): the function writes the result into the array (passed
        as out=), which the program keeps between runs; or None: forward is the step
    batching: how it acts on many points at once, when some inputs carry a leading point
        axis (autodiff/vmap.py): rule(n, inputs, batched, **params) -> the batched result, or
        "trailing" (its forward and params act on trailing axes: run on the whole arrays), or
        "loop" (once per point); None derives it (elementwise: align the point axis; with a
        `prepare`, which puts params in trailing-axis form: trailing; else loop)
    taylor(n, *series) -> series: the truncated power series of the output from its inputs'
        (autodiff/taylor.py): each series is an array of K+1 coefficients on a leading axis;
        `n.ans` is the forward output, `n.params` the parameters, `n.forward(*arrays)` the
        forward with them. None: no Taylor rule (higher order of one variable refuses it)
    leading: keywords a call gives by position between its first and second inputs, as PyTorch's
        gather(x, dim, index) (unless the call names them)
    preceding: keywords a function call (not a method) gives by position before its first input,
        as torch.polygamma(n, x) (unless the call names them); the method x.polygamma(n) has them after
    pair: the operation giving the second part of the pair a call by its own name answers with in
        PyTorch: torch.sort(x) gives (values, indices), the indices argsort's; torch.var_mean(x)
        gives (var, mean). Used whole, the call is its first part; [1] or .indices takes the
        second (see paired). pair_along: only when a dim is given (torch.max(x, 0); torch.max(x)
        is one number). pair_fields: PyTorch's names of the two results (torch.return_types.X), where they are
        not (values, indices); without a pair, the two the operation stacks on a last axis (slogdet's sign and
        logabsdet). pair_when: a keyword that, given true, makes a call the pair (max_pool's return_indices);
        without it the call gives its values
    masks: inputs PyTorch reads by truth when given a bool tensor and adds as numbers otherwise
        (scaled_dot_product_attention's attn_mask): one written as a mask (a comparison, .bool(),
        not) reaches the operation as 0 where true and -inf where false, as PyTorch's bool mask
    parts(shape, **params) -> how many arrays PyTorch's function gives as a tuple (x.chunk(3));
        the walk takes one apart by the index written after the call, passing it as part=
        (one of its keywords), and refuses the call used whole; `gradcli run` gives the tuple
    inputs: names a call may give its tensor inputs by (clamp(x, min=0)); optional: the
        value of an input a call leaves out; needs_one: optional inputs of which a call gives one at least
        (clamp's min and max, as torch.clamp); method: whether x.name() calls it; torch_defaults: parameters a
        PyTorch spelling (a method, torch., F.) sets where PyTorch's default differs from numpy's; linalg: those
        torch.linalg.NAME sets where it differs from torch.NAME (torch.linalg.diagonal's dim1=-2, dim2=-1)
    """

    name: str
    doc: str
    signature: str
    family: str
    forward: Callable[..., Any] | None = None
    backward: Callable[..., tuple] | None = None
    jvp: Callable[..., Any] | None = None
    taylor: Callable[..., Any] | None = None
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
    spelled: dict[str, str] = field(default_factory=dict, compare=False)  # another name -> keyword
    kinds: dict[str, str | tuple[str, ...]] = field(default_factory=dict, compare=False)
    arity: int | None = 1  # number of tensor inputs; None means any number
    constructor: bool = False  # called with whole numbers (a shape), not tensors
    symbol: str = ""  # infix spelling for operators, e.g. "+"
    words: Words | None = None
    kink_check: KinkCheck | None = None
    elementwise: bool | None = None
    selector: bool = False
    max_sizes: int | None = None
    positional: int = 1
    leading: tuple[str, ...] = ()  # keywords a call gives by position before its second input
    preceding: tuple[str, ...] = ()  # keywords a function call gives by position before its first input
    method: bool = True
    pair: str = ""
    pair_along: bool = False
    pair_fields: tuple[str, str] | tuple[()] = ()
    pair_when: str = ""
    parts: Callable[..., int] | None = field(default=None, compare=False)
    masks: tuple[str, ...] = ()
    sequence: bool = False
    rest: str = ""
    torch_only: tuple[str, ...] = ()
    example: str = ""
    inputs: tuple[str, ...] = ()
    optional: dict[str, float] = field(default_factory=dict, compare=False)
    needs_one: tuple[str, ...] = ()
    torch_defaults: dict[str, Any] = field(default_factory=dict, compare=False)
    linalg: dict[str, Any] = field(default_factory=dict, compare=False)
    batching: Callable[..., Any] | str | None = field(default=None, compare=False)
    replay: Callable[..., Any] | None = field(default=None, compare=False)
    ufunc: np.ufunc | Elementwise | None = field(init=False, default=None, repr=False, compare=False)
    # A plain ufunc's functions of tensors, without and with memory reuse (call.py), made on first use.
    applied: tuple[Callable[..., Any], Callable[..., Any]] | None = field(init=False, default=None, repr=False,
                                                                        compare=False)

    def __post_init__(self) -> None:
        # NOTE: np.matmul is a ufunc too, but a generalized one (it has a signature): not elementwise.
        plain = isinstance(self.forward, Elementwise) or (
            isinstance(self.forward, np.ufunc) and self.forward.signature is None and self.forward.nout == 1)
        object.__setattr__(self, "ufunc", self.forward if plain else None)
        if self.elementwise is None:
            object.__setattr__(self, "elementwise", plain)
        elif plain and not self.elementwise:
            raise ValueError(f"operation {self.name!r}: a plain ufunc forward is elementwise")
        if plain and (self.keywords or self.prepare is not None):  # (call.py's function(op) passes none)
            raise ValueError(f"operation {self.name!r}: a plain ufunc forward takes no keywords and no prepare")
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
        if not self.samples and not self.constructor:
            raise ValueError(f"operation {self.name!r} declares no test samples")
        if any(k.noted for k in self.kinks) and self.kink_check is None:
            raise ValueError(f"operation {self.name!r} documents a kink but has no kink_check to note it")
        if self.kink_check is not None and not any(k.noted for k in self.kinks):
            raise ValueError(f"operation {self.name!r} has a kink_check but documents no kink it fires at")

        if (self.pair_along or self.pair_when) and not self.pair:
            raise ValueError(f"operation {self.name!r}: pair_along or pair_when without a pair")
        if self.parts is not None and "part" not in self.keywords:
            raise ValueError(f"operation {self.name!r}: a function of parts takes part= among its keywords")
        if self.batching not in (None, "loop", "trailing") and not callable(self.batching):
            raise ValueError(f"operation {self.name!r}: batching is a rule, \"trailing\", \"loop\" or None")
        if self.rest and self.rest not in self.keywords:
            raise ValueError(f"operation {self.name!r}: rest names one of its keywords")
        if set(self.optional) - set(self.inputs) or set(self.needs_one) - set(self.optional) or \
                set(self.torch_defaults) - set(self.keywords) or set(self.leading) - set(self.keywords) or \
                set(self.preceding) - set(self.keywords) or set(self.kinds) - set(self.keywords) or \
                set(self.spelled.values()) - set(self.keywords):
            raise ValueError(f"operation {self.name!r}: optional inputs and torch defaults must be declared "
                             f"in inputs and keywords (kinds and spellings too)")

    @property
    def is_method(self) -> bool:
        """Whether x.name(...) calls it: every public operation whose first argument is a tensor,
        unless it says otherwise (where: torch's x.where(cond, y) would read x as the value)."""
        return self.public and not self.constructor and self.method

    def spellings(self) -> tuple[str, ...]:
        """Every keyword a call may pass: its inputs' names, its keywords and their other names."""
        torch_names = [k for k, v in KEYWORD_SPELLINGS.items() if v in self.keywords]
        return (*self.inputs[1:], *self.keywords, *torch_names, *self.spelled)

    def keyword(self, key: str) -> str:
        """The keyword a call's key names (dim= is axis=, numpy's k= is tril's diagonal=)."""
        if key in self.keywords:
            return key
        return self.spelled.get(key) or KEYWORD_SPELLINGS.get(key, key)

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


# PyTorch's keyword names beside numpy's: an operation that takes axis= takes dim= too (and p=, ord=).
KEYWORD_SPELLINGS = {"dim": "axis", "keepdim": "keepdims", "correction": "ddof", "unbiased": "ddof", "ord": "p"}

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


def paired(name: str) -> Op | None:
    """The operation giving the second part of the pair PyTorch's function name answers with (see Op.pair),
    or None. By the operation's own name only: torch.amax, an alias of max, gives the values alone."""
    op = FUNCTIONS.get(name)
    return OPS[op.pair] if op is not None and op.pair and op.name == name else None


def unregister(op: Op) -> None:
    """Remove op and the names it is called by (an operation defined for a while, as in a test)."""
    if OPS.get(op.name) is not op:
        raise ValueError(f"operation {op.name!r} is not registered")
    del OPS[op.name]
    for name in [n for n, o in FUNCTIONS.items() if o is op]:
        del FUNCTIONS[name]


def primitive(**fields: Any) -> Op:
    return register(Op(**fields))


def composite(**fields: Any) -> Op:
    return register(Op(**fields))
