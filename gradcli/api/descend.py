"""Gradient descent on a scalar expression: the training loop written by hand, as one call.

Each step computes the gradient g of the loss at the current values and updates the
chosen variables v (the optimisers follow PyTorch's torch.optim defaults):

    sgd       v <- v - lr * g
    momentum  b <- mu * b + g;  v <- v - lr * b
    adam      m <- b1 m + (1 - b1) g;  s <- b2 s + (1 - b2) g²;
              v <- v - lr * m / (1 - b1^t) / (sqrt(s / (1 - b2^t)) + eps)

    >>> d = descend("(w*x - y)**2", {"w": 1.0, "x": 2.0, "y": 4.0}, "w", lr=0.1, steps=2)
    >>> [float(s.values["w"]) for s in d.history]
    [1.0, 1.8, 1.96]

history[k] holds the values after k updates, the loss there and the gradient norm there.
Every step after the first replays the gradient as a traced program (api/compiled.py):
the same numbers as the eager engine, without walking the expression again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcli.api import functional
from gradcli.api.compiled import gradient_program
from gradcli.autodiff.scalar import TINY_ENTRIES
from gradcli.errors import GradcliError, param
from gradcli.errors import format_shape

OPTIMIZERS = ("sgd", "momentum", "adam")
BETAS = (0.9, 0.999)
EPS = 1e-8


@dataclass
class Step:
    step: int
    loss: float
    values: dict[str, np.ndarray]  # the variables being fitted, after `step` updates
    grad_norm: float  # the 2-norm of every gradient entry together, at these values


@dataclass
class Descent:
    expression: str
    optimizer: str
    lr: float
    wrt: list[str]
    history: list[Step]
    stopped: str  # steps (all done), tol (gradient norm below it) or diverged (loss not finite)
    dtype: np.dtype = np.dtype(np.float64)  # every step computes in it


def _check(lr: float, steps: int, optimizer: str, tol: float | None, momentum: float) -> None:
    if optimizer not in OPTIMIZERS:
        raise GradcliError(f"unknown optimizer {optimizer!r}: use {', '.join(OPTIMIZERS)}", kind="usage")
    if not (math.isfinite(lr) and lr > 0):
        raise GradcliError(f"{param('lr')} must be a positive number, not {lr}", kind="usage")
    if steps < 0:
        raise GradcliError(f"{param('steps')} must be 0 or more", kind="usage")
    if tol is not None and not tol >= 0:
        raise GradcliError(f"{param('tol')} must be 0 or more", kind="usage")
    if not 0 <= momentum < 1:
        raise GradcliError(f"{param('momentum')} must be in [0, 1)", kind="usage")


def descend(expr: str, values: Mapping[str, Any], wrt: Iterable[str] | str | None, *, lr: float, steps: int,
            optimizer: str = "sgd", tol: float | None = None, momentum: float = 0.9,
            on_step: Callable[[Step], None] | None = None, dtype: Any = None) -> Descent:
    """Run up to `steps` updates of the variables in wrt; the loss must be a scalar. wrt may be
    left out (None) when the loss has one variable.

    dtype "float32" rounds the values once and keeps every step in float32, as a torch.optim
    loop over float32 tensors does (the updates too: lr and the optimizer's constants are
    Python numbers)."""
    _check(lr, steps, optimizer, tol, momentum)
    p = functional.problem(expr, values, wrt, dtype=dtype)
    if wrt is None and len(p.wrt) > 1:  # (as torch.optim is given its parameters: the rest is data)
        raise GradcliError(f"descent updates the variables named in {param('wrt')} and keeps the others fixed; "
                           f"this loss has {', '.join(p.wrt)}: name the ones to update", kind="usage")
    loss, _ = p.forward()
    if loss.size != 1:
        raise GradcliError(f"the loss has shape {format_shape(loss.shape)}: gradient descent needs "
                           f"a scalar loss (use sum(...) or mean(...))", kind="grad")
    state: dict[str, dict[str, np.ndarray]] = {name: {} for name in p.wrt}
    history: list[Step] = []
    stopped = "steps"
    gradient = gradient_program(p)
    for name in p.wrt:  # (each update below makes new arrays: the history keeps them as they are)
        p.values[name] = np.array(p.values[name])
    for k in range(steps + 1):
        value, grads = gradient(p.values)
        flat = grads[p.wrt[0]].reshape(-1) if len(grads) == 1 else np.concatenate([g.reshape(-1) for g in grads.values()])
        norm = math.hypot(*flat.tolist())  # no overflow in g²
        step = Step(k, float(value), {name: p.values[name] for name in p.wrt}, norm)
        history.append(step)
        if on_step is not None:
            on_step(step)
        if not (math.isfinite(step.loss) and math.isfinite(norm)):
            stopped = "diverged"
            break
        if tol is not None and norm < tol:
            stopped = "tol"
            break
        if k == steps:
            break
        for name in p.wrt:
            p.values[name] = _update(optimizer, state[name], p.values[name], grads[name], k + 1, lr, momentum)
    return Descent(p.expression, optimizer, lr, list(p.wrt), history, stopped, p.dtype)


def _update(optimizer: str, state: dict[str, Any], v: np.ndarray, g: np.ndarray, t: int, lr: float,
            momentum: float) -> np.ndarray:
    """v after update number t (a new array), keeping the optimizer's state per variable.

    A few float64 entries are updated one by one as Python floats, whose + - * / and sqrt
    round as numpy's do: the same numbers as the update of whole arrays, without numpy's
    cost per call."""
    if v.dtype == np.float64 and v.size <= TINY_ENTRIES:
        if v.ndim != 1:
            return _update(optimizer, state, v.reshape(-1), g.reshape(-1), t, lr, momentum).reshape(v.shape)
        return np.array([_step(optimizer, state, i, ve, ge, t, lr, momentum, math.sqrt)
                         for i, (ve, ge) in enumerate(zip(v.tolist(), g.tolist()))])
    return np.asarray(_step(optimizer, state, "all", v, g, t, lr, momentum, np.sqrt))


def _step(optimizer: str, state: dict[Any, Any], key: Any, v: Any, g: Any, t: int, lr: float, momentum: float,
          sqrt: Callable[[Any], Any]) -> Any:
    """v - lr * direction for update number t, by the formulas above, on numbers of one kind (arrays
    or floats); state[key] holds what the optimizer keeps between updates for these numbers."""
    if optimizer == "sgd":
        return v - lr * g
    if optimizer == "momentum":
        # NOTE: PyTorch starts the buffer at the first gradient, not at zero.
        buf = g if key not in state else state[key] * momentum + g
        state[key] = buf
        return v - lr * buf
    b1, b2 = BETAS
    m, s = state.get(key, (0.0, 0.0))
    m = m * b1 + g * (1 - b1)
    s = s * b2 + g * (1 - b2) * g
    state[key] = m, s
    return v - lr * (m / (1 - b1 ** t) / (sqrt(s / (1 - b2 ** t)) + EPS))
