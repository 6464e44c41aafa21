"""An expression's value and gradient as traced programs: for work that repeats at one shape.

`gradient_program(p)` is a function of the values (a dict of name -> array of p's dtype)
giving the value and the gradients, as `grad` does; `value_program(p)` gives the value
alone. The first call at given shapes and dtype runs the eager engine and records it
(autodiff/trace.py); later calls replay the recording, with bit-identical numbers:

    >>> from gradcli.api.problem import problem
    >>> p = problem("sum(x**2)", {"x": [1.0, 2.0]})
    >>> f = gradient_program(p)
    >>> value, gradients = f({"x": np.array([3.0, 4.0])})
    >>> float(value), gradients["x"]
    (25.0, array([6., 8.]))

Neither gives kink notes nor non-finite warnings (`grad` does): callers that report them
call `grad` once where they show a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from gradcli.api.problem import Problem, differentiating
from gradcli.autodiff.engine import Tensor, as_array, run_backward
from gradcli.autodiff.trace import Traced
from gradcli.errors import GradcliError, format_shape

GradientFunction = Callable[[Mapping[str, np.ndarray]], tuple[np.ndarray, dict[str, np.ndarray]]]


def gradient_program(p: Problem) -> GradientFunction:
    """values -> (value, gradients of a scalar output, each shaped like its variable); values are
    taken as arrays of p's dtype (an array of it is used as it is)."""
    def eager(values: dict[str, np.ndarray]) -> list[np.ndarray | None]:
        out, leaves = p.forward({n: Tensor(v, requires_grad=n in p.wrt) for n, v in values.items()})
        if out.size != 1:
            raise GradcliError(f"the output has shape {format_shape(out.shape)}, not a scalar: a gradient "
                               f"needs a scalar", kind="grad")
        with differentiating(p):
            found = run_backward([(out, Tensor(np.ones_like(out.data)))]) if out.requires_grad else {}
        by_tensor = {id(node.tensor): ct.data for node, ct in found.items()}
        return [out.data, *(by_tensor.get(id(leaves[name])) for name in p.wrt)]

    traced = Traced(eager)

    def gradient(values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        value, *grads = traced({n: as_array(v, p.dtype) for n, v in values.items()})
        return value, {name: np.zeros(np.shape(values[name]), p.dtype) if g is None else g
                       for name, g in zip(p.wrt, grads)}

    gradient.traced = traced
    return gradient


def value_program(p: Problem) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """values -> the expression's value (no graph recorded)."""
    def eager(values: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [p.forward({n: Tensor(v) for n, v in values.items()})[0].data]

    traced = Traced(eager)

    def value(values: Mapping[str, np.ndarray]) -> np.ndarray:
        return traced({n: as_array(v, p.dtype) for n, v in values.items()})[0]

    value.traced = traced
    return value
