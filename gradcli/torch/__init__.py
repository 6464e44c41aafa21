"""gradcli.torch: the subset of PyTorch's API that autograd tutorials use, on gradcli's engine.

`gradcli run FILE.py` answers the file's `import torch` with this package. Tensors are float32 by
default, as PyTorch's; every function of gradcli's expression language is here under its torch
name (torch.matmul, torch.exp, torch.nn.functional.relu, ...), from the registry of operations;
creation functions, the autograd surface, torch.autograd.Function, torch.optim.SGD/Adam and the
legacy Variable are in the modules beside this one. Anything else raises NotImplementedError
naming it (docs/torch.md lists what is here).
"""

from __future__ import annotations

from typing import Any

# (torch.autograd, torch.nn, torch.optim; imported first: they load the modules the names below come from)
import gradcli.torch.autograd as autograd
import gradcli.torch.cuda as cuda
import gradcli.torch.linalg as linalg
import gradcli.torch.nn as nn
import gradcli.torch.optim as optim
import gradcli.torch.special as special
from gradcli.torch.core import Unsupported, device, dtype, float32, float64
from gradcli.torch.core import bool_ as bool  # torch.bool (shadows the builtin here only)
from gradcli.torch.creation import (DoubleTensor, FloatTensor, arange, as_tensor, empty, empty_like, eye, from_numpy,
                                    full, full_like, get_default_dtype, linspace, manual_seed, ones, ones_like, rand,
                                    rand_like, randint, randn, randn_like, randperm, set_default_dtype, stack, tensor,
                                    zeros, zeros_like)
from gradcli.torch.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from gradcli.torch.tensor import Size, Tensor, function  # function: torch.<op name>, in __getattr__

__version__ = "2.13.0+gradcli"
float = float32  # torch.float and torch.double, as PyTorch spells them
double = float64

__all__ = ["allclose", "arange", "as_tensor", "autograd", "bool", "cuda", "device", "double",
           "DoubleTensor", "dtype", "empty", "empty_like", "enable_grad", "equal", "eye", "float",
           "float32", "float64", "FloatTensor", "from_numpy", "full", "full_like", "get_default_dtype",
           "is_grad_enabled", "linalg", "linspace", "manual_seed", "nn", "no_grad", "ones", "ones_like",
           "optim", "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "set_default_dtype",
           "set_grad_enabled", "Size", "special", "stack", "Tensor", "tensor", "Unsupported", "zeros",
           "zeros_like"]


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return input.allclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def equal(input: Tensor, other: Tensor) -> bool:
    return input.equal(other)


def is_anomaly_enabled() -> bool:
    return autograd.anomaly.is_anomaly_enabled()


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    return t.numel()


def __getattr__(name: str) -> Any:
    # torch.matmul, torch.exp, torch.mm, ...: the operations of the registry under their torch names
    if name.startswith("__"):
        raise AttributeError(name)
    return function(name)
