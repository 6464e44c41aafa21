"""Applying an operation to tensors, and the one place that decides memory reuse.

`call(op, *inputs, **params)` runs op's forward on the inputs' arrays, refuses a result
over the element limit before computing it, and records a Node when a graph is being
built. The Tensor operators (through `operate`) and `function(op)` (F.<name>, the vocabulary
of backward rules) may also write an elementwise result into an input's array. They do so
only when nothing can read that array again:

- the input Tensor is an interpreter temporary (`a*b` in `a*b + c`, `cos(x)` in
  `g * cos(x)`): at the check a temporary shows a fixed number of references and a value
  with a name (or held by a list, a dict, a graph node) at least one more. That number
  is calibrated on first use, for each of the two entries, by sending a known temporary
  and a known named value down these very paths; where the two read the same (another
  Python), nothing is ever written into an input through that entry;
- it has no weak reference, is not a leaf that requires grad, and its array is of the
  result's dtype (a float64 array never takes a float32 result, nor the reverse), its own
  (not a view), writeable, C-contiguous, shaped like the result, and held by that Tensor
  alone (no view of it, no graph node, no caller keeps it);
- the new node does not keep its inputs for the backward pass.

A backward pass may also give up the cotangent of a rule that reads it at most once
(backward.py): that Tensor may show the extra references of the rule's own name for it.

What no reference count shows: a reference C code lends without counting it, as when
`operator.mul(*pair)` or `itertools.starmap(operator.mul, pairs)` hands a Tensor operator
the items of a tuple that lives on. (A tuple unpacked in Python, `F.mul(*pair)`, is
counted.) Rules and the expression walk never do that, and only they reuse memory: it
happens inside `reusing()` (mode.py), which the expression walk and the backward pass
enter; a library caller's own Tensor code never has an input written into.

`without_donation()` (mode.py) turns reuse off in a thread: the same numbers, more memory.

A plain ufunc operation on 0-d tensors takes a short path instead (`_short_first`), in the
one Python call of its function: a long scalar expression is all such operations.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any
from weakref import getweakrefcount

import numpy as np

from gradcli.errors import GradcliError, format_shape
from gradcli.autodiff.graph import recorded_node
from gradcli.autodiff.mode import RECORDING, mode, setting
from gradcli.autodiff.op import OPS, Op
from gradcli.autodiff.parallel import apply_ufunc
from gradcli.autodiff.tensor import Tensor, as_array, lift


def call(name_or_op: str | Op, *inputs: Any, **params: Any) -> Tensor:
    """Apply an operation (by name or record) to tensors (or array-likes); no input is written into."""
    op = OPS[name_or_op] if isinstance(name_or_op, str) else name_or_op
    if op.ufunc is not None and not params:
        return (op.applied or _applied(op))[KEEPING](*inputs)
    return _apply(op, inputs, params, KEEPING)


def operate(name_or_op: str | Op, *inputs: Any, **params: Any) -> Tensor:
    """As call, but an elementwise result may take the array of an input that is a temporary."""
    op = OPS[name_or_op] if isinstance(name_or_op, str) else name_or_op
    if op.ufunc is not None and not params:  # (a rule's g * cos(x))
        return (op.applied or _applied(op))[OPERATOR](*inputs)
    return _apply(op, inputs, params, OPERATOR)


def function(op: Op) -> Callable[..., Tensor]:
    """op as a function of tensors, as F.<name> gives it to rules: function(OPS['mul'])(a, b)."""
    if op.ufunc is not None:  # (a ufunc takes no keywords: no dictionary to make for each call)
        return (op.applied or _applied(op))[FUNCTION]

    def apply(*inputs: Any, **params: Any) -> Tensor:
        return _apply(op, inputs, params, FUNCTION)

    apply.__name__ = op.name
    apply.__doc__ = op.doc
    return apply


Tensor._operate = staticmethod(operate)
_new = object.__new__
_NO_PARAMS: dict = {}  # the parameters of every ufunc's node (nothing writes into a node's parameters)
# How an operation was entered, which decides whether its result may take an input's array, and
# what a temporary input shows there: call() (never), a Tensor operator or operate(), F.<name>.
KEEPING, OPERATOR, FUNCTION = 0, 1, 2


def _applied(op: Op) -> tuple[Callable[..., Tensor], ...]:
    """A plain ufunc op's functions of tensors, one for each entry (KEEPING, OPERATOR, FUNCTION): made
    once, kept on the record."""
    made = (_short_first(op, KEEPING), _short_first(op, OPERATOR), _short_first(op, FUNCTION))
    object.__setattr__(op, "applied", made)
    return made


def _short_first(op: Op, entry: int) -> Callable[..., Tensor]:
    """A plain ufunc op as a function of tensors: the short path on 0-d tensors of one dtype, the
    general one (_apply, entered as entry) for any other call.

    The short path does what the general path does on such inputs, without its checks and in
    this one Python call: one entry is within any element limit but 0, there is no memory to
    reuse, and the ufunc's loop for these dtypes computes the entry. (A long scalar expression
    is all such operations, forward and backward.) out=... makes the ufunc give a 0-d array
    where it would give a numpy scalar, which costs a conversion more; a comparison's bool is
    cast to the dtype. The thread's settings are read after the inputs: an array input, the
    common miss, is turned away sooner.
    """
    ufunc, differentiable = op.ufunc, op.differentiable

    def apply(*inputs: Any) -> Tensor:
        ans = None
        count = len(inputs)
        if count == 2:  # (most operations: the pair read without a loop, nor a list to unpack)
            a, b = inputs
            if type(a) is Tensor and type(b) is Tensor:
                x, y = a.data, b.data
                dtype = x.dtype
                if not x.ndim and not y.ndim and y.dtype is dtype and (short := mode.short):
                    ans = ufunc(x, y, out=...)
                    needs = a.requires_grad or b.requires_grad
        elif count == 1:
            a, = inputs
            if type(a) is Tensor:
                x = a.data
                dtype = x.dtype
                if not x.ndim and (short := mode.short):
                    ans = ufunc(x, out=...)
                    needs = a.requires_grad
        elif [type(t) for t in inputs].count(Tensor) == count:
            arrays = [t.data for t in inputs]
            dtype = arrays[0].dtype
            if not any([x.ndim for x in arrays]) and [x.dtype for x in arrays].count(dtype) == count and \
                    (short := mode.short):
                ans = ufunc(*arrays, out=...)
                needs = True in [t.requires_grad for t in inputs]
        if ans is None:
            # (what _donor counts: the inputs' holders here are this call's tuple alone, whatever the arity)
            a = b = x = y = arrays = None
            return _apply(op, inputs, _NO_PARAMS, entry)
        if ans.dtype is not dtype:
            ans = ans.astype(dtype)
        node = recorded_node(op, inputs, ans, _NO_PARAMS) if needs and differentiable and short == RECORDING else None
        result = _new(Tensor)  # (Tensor._result's fields, without its call: every result of a scalar pass)
        result.data = ans
        result.requires_grad = node is not None
        result.grad = None
        result.grad_fn = node
        result._leaf_node = None
        return result

    apply.__name__ = op.name
    apply.__doc__ = op.doc
    return apply


def _apply(op: Op, inputs: tuple, params: dict, entry: int) -> Tensor:
    points = mode.vmap
    if points is not None and points.holds(inputs):
        return points.apply(op, inputs, params)  # its batching rule (vmap.py)
    dtype = _dtype(inputs)
    if op.composite is not None:
        return op.composite(*(lift(x, dtype) for x in inputs), **params)
    # (list comprehensions rather than generators here and below: this runs for every operation)
    tensors = [x if isinstance(x, Tensor) else lift(x, dtype) for x in inputs]
    if op.prepare is not None:
        params = op.prepare(*(t.shape for t in tensors), **params)
    ufunc = op.ufunc  # see Op: a plain ufunc runs on threads and may reuse memory
    if mode.max_elements is not None and not (ufunc is not None and _same_shape_within(tensors, mode.max_elements)):
        check_size(op, tensors, params)
    record = mode.grad_enabled and op.differentiable and True in [t.requires_grad for t in tensors]
    donor = None
    if ufunc is not None:
        arrays = tuple([t.data for t in tensors])
        # (a result of one entry gains nothing from reuse worth the checks: all inputs 0-d give one)
        if entry and mode.donate and not (record and op.saves in _KEEPS_INPUTS) and \
                (True in [a.ndim != 0 for a in arrays]):
            donor = _donor(tensors, dtype, entry)
        ans = apply_ufunc(ufunc, arrays, None if donor is None else donor.data)
    else:
        ans = op.forward(*(t.data for t in tensors), **params)
    if type(ans) is not np.ndarray or (ans.dtype is not dtype and ans.dtype != dtype):
        ans = as_array(ans, dtype)  # a numpy scalar, or a constructor's zeros and ones (exact in float32)
    if mode.recorder is not None:
        mode.recorder.op(op, [t.data for t in tensors], params, ans)
    result = Tensor._result(ans, recorded_node(op, tensors, ans, params) if record else None)
    if mode.trace is not None:  # (holding the inputs keeps any of them from taking a later result)
        mode.trace.append((op, tensors, params, result, mode.span))
    if donor is not None and mode.given is not None and mode.given[0] == id(donor):
        # The rule's own name still holds the cotangent it gave up (it reads it no more): let go
        # of the array (after the node has read the input's shape), so the result is the array's
        # only holder and can be given on in turn.
        donor.data = _SPENT
    return result


_KEEPS_INPUTS = ("inputs", "both")  # Op.saves that keep the inputs for the backward pass


def _dtype(inputs: tuple) -> np.dtype:
    """The dtype an operation computes in: its tensor inputs' (float64 where they mix, as numpy and
    PyTorch promote), else the thread's default. Numbers and arrays given beside tensors take it."""
    dtype = None
    for x in inputs:
        if isinstance(x, Tensor):
            if dtype is None:
                dtype = x.data.dtype
            elif x.data.dtype is not dtype and x.data.dtype != dtype:
                return np.dtype(np.float64)
    return mode.dtype if dtype is None else dtype


def holders(t: Tensor) -> tuple[int, int] | None:
    """(references to t, references to its array) when that array could take a result, else None.

    The counts include this call's own; callers compare them with calibrated ones.
    """
    a = t.data
    if not _may_take(t, a, a.dtype):
        return None
    return sys.getrefcount(t), sys.getrefcount(a)


def _may_take(t: Tensor, a: np.ndarray, dtype: np.dtype) -> bool:
    """Whether t's array a is of a kind a result of dtype may be written into (references aside)."""
    flags = a.flags
    if a.dtype != dtype or not (flags.owndata and flags.writeable and flags.c_contiguous):
        return False
    # (a leaf that requires grad: the node about to be made keeps it)
    return not getweakrefcount(t) and not (t.requires_grad and t.grad_fn is None)


# what _donor reads on a temporary input, by entry (OPERATOR, FUNCTION); (0, 0): no reuse through it
_temporary: dict[int, tuple[int, int]] = {}


def temporary_holders(entry: int = FUNCTION) -> tuple[int, int]:
    """(references to a temporary input, to its array) as _donor reads them for an operation entered
    as entry; (0, 0) when nothing is reused through it."""
    if not _temporary:
        _calibrate()
    return _temporary.get(entry, (0, 0))


_SPENT = np.empty(0)  # what a given-up cotangent holds once its array went to a result
_SPENT.flags.writeable = False


def _donor(tensors: Sequence[Tensor], dtype: np.dtype, entry: int) -> Tensor | None:
    """An input nothing reads again whose array can take the elementwise result (of dtype), if any."""
    probing = mode.probing
    temporary = temporary_holders(entry) if probing is None else (0, 0)
    if probing is None and not temporary[0]:
        return None
    given = mode.given
    shape = None
    for t in tensors:
        refs = sys.getrefcount(t)  # first, as it turns most inputs (named ones) away at once
        if probing is None and refs != temporary[0] and not (
                given is not None and given[0] == id(t) and refs == temporary[0] + given[1]):
            continue
        a = t.data
        if not _may_take(t, a, dtype):
            continue
        if probing is not None:
            probing.append((refs, sys.getrefcount(a)))
            continue
        if sys.getrefcount(a) != temporary[1]:
            continue
        if shape is None:
            try:
                shape = np.broadcast_shapes(*(u.shape for u in tensors))
            except ValueError:
                return None  # the operation itself reports the mismatch
        if a.shape == shape:
            return t
    return None


def _calibrate() -> None:
    """Measure what a temporary and a named input show at the check, through both entries that reuse."""
    neg = OPS.get("neg")
    if neg is None or not hasattr(sys, "getrefcount"):
        _temporary.update({OPERATOR: (0, 0), FUNCTION: (0, 0)})
        return
    seen: list = []
    with setting("probing", seen), setting("donate", True):
        -_probe()  # a Tensor operator on a temporary
        named = _probe()
        -named  # noqa: B018 (the same on a named value)
        function(neg)(_probe())  # F.<name> on a temporary
        function(neg)(named)
    if len(seen) != 4:
        _temporary.update({OPERATOR: (0, 0), FUNCTION: (0, 0)})
        return
    op_temporary, op_named, f_temporary, f_named = seen
    # (a named value shows one reference more than a temporary, else the counts tell nothing)
    for entry, temporary, named in ((OPERATOR, op_temporary, op_named), (FUNCTION, f_temporary, f_named)):
        _temporary[entry] = temporary if named == (temporary[0] + 1, temporary[1]) else (0, 0)


def _probe() -> Tensor:
    return Tensor._result(np.zeros(2), None)


def _same_shape_within(tensors: Sequence[Tensor], limit: int) -> bool:
    """Whether the inputs share one shape (the result's, then) of at most limit entries.

    Other cases go through the shape rule, which also names mismatched shapes.
    """
    first = tensors[0].data
    shape = first.shape
    return first.size <= limit and [t.data.shape for t in tensors].count(shape) == len(tensors)


def check_size(op: Op, tensors: Sequence[Tensor], params: dict) -> None:
    """Raise before allocating when op's result would exceed the element limit."""
    shape = op.shape(*(t.shape for t in tensors), **params)
    size = 1
    for n in shape:
        size *= n
    if size > mode.max_elements:
        raise GradcliError(
            f"{op.name} would make an array of shape {format_shape(shape)} ({size:,} entries); the limit "
            f"is {mode.max_elements:,} entries (GRADCLI_MAX_ELEMENTS)", kind="limit")
