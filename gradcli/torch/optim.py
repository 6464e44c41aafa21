"""torch.optim.SGD and Adam: zero_grad() and step() over a list of leaf tensors, as PyTorch's updates
(SGD with momentum, dampening, Nesterov and weight decay; Adam with bias correction, weight decay, amsgrad)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.torch.core import unsupported


class Optimizer:
    """What both optimizers share: the parameters, zero_grad, and a step over those that have a gradient."""

    def __init__(self, params: Any, defaults: dict):
        params = list(params)
        if params and isinstance(params[0], dict):
            raise unsupported("optimizer parameter groups")
        self.param_groups = [{"params": params, **defaults}]
        self.defaults = defaults
        self.state: dict[int, dict] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure: Any = None) -> Any:
        loss = closure() if closure is not None else None
        group = self.param_groups[0]
        for p in group["params"]:
            if p.grad is not None:
                value = p._t.data
                # (computed in the parameter's dtype, written into its array as PyTorch's in-place update)
                value[...] = self._update(value, p.grad._t.data.astype(value.dtype), self.state.setdefault(id(p), {}),
                                          group)
        return loss

    def _update(self, value: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> np.ndarray:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, maximize: bool = False, **_: Any):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize})

    def _update(self, value: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> np.ndarray:
        dtype = value.dtype.type
        g = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            g = g + dtype(group["weight_decay"]) * value
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            buf = g.copy() if buf is None else dtype(group["momentum"]) * buf + dtype(1 - group["dampening"]) * g
            state["momentum_buffer"] = buf
            g = g + dtype(group["momentum"]) * buf if group["nesterov"] else buf
        return value - dtype(group["lr"]) * g


class Adam(Optimizer):
    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, maximize: bool = False, **_: Any):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize})

    def _update(self, value: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> np.ndarray:
        dtype = value.dtype.type
        beta1, beta2 = group["betas"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            g = g + dtype(group["weight_decay"]) * value
        step = state["step"] = state.get("step", 0) + 1
        m = state["exp_avg"] = dtype(beta1) * state.get("exp_avg", np.zeros_like(value)) + dtype(1 - beta1) * g
        v = state["exp_avg_sq"] = dtype(beta2) * state.get("exp_avg_sq", np.zeros_like(value)) + \
            dtype(1 - beta2) * g * g
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = np.maximum(state.get("max_exp_avg_sq", v), v)
        correction1 = 1 - beta1 ** step
        correction2 = 1 - beta2 ** step
        denominator = np.sqrt(v) / dtype(np.sqrt(correction2)) + dtype(group["eps"])
        return value - dtype(group["lr"] / correction1) * m / denominator


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"torch.optim.{name}")
