"""The forward-mode scenario of bench/run.py: a Jacobian of few inputs and many outputs
(auto mode against torch.func.jacfwd and against reverse mode) and a Hessian-vector
product (against torch.func.jvp over grad, and against one gradient), ratios from one run."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from gradcli.api import functional
from gradcli.api.forward import hvp
from references import torch_available
from timing import fmt_seconds, interleaved_apart, summary

CURVE = "sin(a*t + b) * exp(-c*t)"
SOFTPLUS_SUM = "sum(log(1 + exp(A @ x)))"


def _curve_values(n: int) -> dict:
    return {"a": 1.5, "b": 0.3, "c": 0.2, "t": np.linspace(0, 10, n)}


def _softplus_values(n: int) -> dict:
    rng = np.random.default_rng(5)
    return {"A": rng.standard_normal((1000, n)) / np.sqrt(n), "x": rng.standard_normal(n), "v": rng.standard_normal(n)}


def gradcli_curve(n: int, mode: str) -> Any:
    return functional.jacobian(CURVE, _curve_values(n), wrt="a,b,c", mode=mode)


def torch_jacfwd_curve(n: int) -> Any:
    import torch
    import torch.func

    t = torch.tensor(_curve_values(n)["t"])
    f = lambda a, b, c: torch.sin(a * t + b) * torch.exp(-c * t)  # noqa: E731
    args = tuple(torch.tensor(v, dtype=torch.float64) for v in (1.5, 0.3, 0.2))
    return torch.func.jacfwd(f, argnums=(0, 1, 2))(*args)


def gradcli_hvp(values: dict) -> Any:
    return hvp(SOFTPLUS_SUM, {"A": values["A"], "x": values["x"]}, {"x": values["v"]}, wrt="x")


def gradcli_gradient(values: dict) -> Any:
    return functional.grad(SOFTPLUS_SUM, {"A": values["A"], "x": values["x"]}, wrt="x")


def torch_hvp(values: dict) -> Any:
    import torch
    import torch.func

    A = torch.tensor(values["A"])
    f = lambda x: torch.sum(torch.log(1 + torch.exp(A @ x)))  # noqa: E731
    return torch.func.jvp(torch.func.grad(f), (torch.tensor(values["x"]),), (torch.tensor(values["v"]),))


def ratio(a: dict, b: dict | None) -> str:
    return f"{a['median'] / b['median']:.3g}x" if b else "n/a"


def forward_mode(cfg: dict, quick: bool) -> dict:
    rows, raw = [], {}
    n = 10**4 if quick else 10**5
    cases: dict[str, Callable[[], Any]] = {"gradcli auto": partial(gradcli_curve, n, "auto")}
    if torch_available():
        cases["torch.func.jacfwd"] = partial(torch_jacfwd_curve, n)
    s = {k: summary(v) for k, v in interleaved_apart(cases, cfg["repeats"]).items()}
    # Reverse mode takes one backward pass per output entry, n of them: n^2 work. It is timed once, at
    # n/10 too (a hundredth of the work), to keep the run short.
    small = n // 10
    slow = {k: summary(v) for k, v in interleaved_apart({
        "gradcli reverse": partial(gradcli_curve, small, "reverse"),
        "gradcli auto": partial(gradcli_curve, small, "auto")}, 1 if not quick else 1).items()}
    raw[f"jacobian n={n}"], raw[f"jacobian n={small}"] = s, slow
    auto, jacfwd = s["gradcli auto"], s.get("torch.func.jacfwd")
    rows.append([f"Jacobian of `{CURVE}` w.r.t. a, b, c, t of {n:.0e}", fmt_seconds(auto),
                 fmt_seconds(jacfwd) if jacfwd else "n/a", ratio(auto, jacfwd), "-"])
    rows.append([f"the same, t of {small:.0e}: reverse mode / auto", fmt_seconds(slow["gradcli auto"]),
                 fmt_seconds(slow["gradcli reverse"]), "-", ratio(slow["gradcli reverse"], slow["gradcli auto"])])
    m = 10**3 if quick else 10**4
    values = _softplus_values(m)
    cases = {"gradcli hvp": partial(gradcli_hvp, values), "gradcli gradient": partial(gradcli_gradient, values)}
    if torch_available():
        cases["torch jvp over grad"] = partial(torch_hvp, values)
    h = {k: summary(v) for k, v in interleaved_apart(cases, cfg["repeats"]).items()}
    raw[f"hvp n={m}"] = h
    rows.append([f"H·v of `{SOFTPLUS_SUM}`, A 1000 x {m:.0e}", fmt_seconds(h["gradcli hvp"]),
                 fmt_seconds(h["torch jvp over grad"]) if "torch jvp over grad" in h else "n/a",
                 ratio(h["gradcli hvp"], h.get("torch jvp over grad")), ratio(h["gradcli hvp"], h["gradcli gradient"])])
    return {"title": "Forward mode: Jacobians by columns and Hessian-vector products (in-process)",
            "columns": ["work", "gradcli", "torch (jacfwd / jvp over grad; reverse row: gradcli reverse)",
                        "gradcli/torch", "vs reverse or vs one gradient"],
            "rows": rows, "raw": raw,
            "notes": ["targets: Jacobian auto <= 1.0x torch.func.jacfwd and >= 100x faster than reverse mode; "
                      "H·v <= 1.0x torch and <= 4x one gradient"]}
