"""torch.autograd for gradcli: backward, grad, Function, Variable, the grad-mode switches, anomaly detection,
functional.

Backward passes are the engine's (gradcli.autodiff.backward): passes.py gives them PyTorch's
signatures and raises PyTorch's errors, with PyTorch's words, where PyTorch raises them.
"""

import gradcli.torch.autograd.functional as functional  # torch.autograd.functional
from gradcli.torch.autograd.anomaly import detect_anomaly, set_detect_anomaly
from gradcli.torch.autograd.function import Function, FunctionCtx
from gradcli.torch.autograd.grads import backward, grad
from gradcli.torch.creation import Variable
from gradcli.torch.grad_mode import enable_grad, no_grad, set_grad_enabled

__all__ = ["Function", "FunctionCtx", "Variable", "backward", "detect_anomaly", "enable_grad", "functional", "grad",
           "no_grad", "set_detect_anomaly", "set_grad_enabled"]
