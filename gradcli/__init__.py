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

from . import ops  # noqa: F401  (registers every operation)
from .engine import Tensor, enable_grad, is_grad_enabled, no_grad
from .errors import GradcliError
from .functional import grad, hessian, jacobian
from .ops.common import F

__all__ = ["F", "GradcliError", "Tensor", "enable_grad", "grad", "hessian", "is_grad_enabled", "jacobian",
           "no_grad"]
__version__ = "0.1.0"
