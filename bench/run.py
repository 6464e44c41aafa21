"""gradcli against numpy and PyTorch: `python bench/run.py [--quick] [--only NAME ...]`.

Scenarios: startup, terms (long expressions), gradients (large, in-process and whole CLI
runs), jacobians, hessians, check (cross-check cost), points (batches of points), descend
(many small gradients), forward (forward mode) and higher (derivatives of order 10). Each
prints one table of medians with their min-max spread and ratios taken in the same run, and the whole run
is saved as JSON under bench/runs/ (ignored by git; bench/results/ keeps the run the docs
cite). References that are not installed (PyTorch, JAX) or gradcli commands that do not
exist yet are reported as such. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# The in-process cases measure this checkout's gradcli, not whichever copy is installed.
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import timing
from forward_mode import forward_mode
from references import (
    HESSIAN_EXPR,
    HIGHER_EXPR,
    HIGHER_POINT,
    JACOBIAN_EXPRS,
    gradcli_compiled,
    gradcli_terms,
    LARGE_EXPRS,
    jax_available,
    jax_hessian,
    jax_jacobian,
    jax_jet_derivatives,
    jax_large,
    numpy_hessian,
    numpy_jacobian,
    numpy_large,
    sympy_derivative,
    sympy_derivatives,
    torch_available,
    torch_hessian,
    TORCH_JACOBIANS,
    torch_jacobian,
    torch_large,
    torch_terms,
)
from timing import (
    describe_machine,
    fmt_seconds,
    interleaved,
    interleaved_apart,
    machine,
    peak_extra_mib,
    process_timer,
    render_table,
    save,
    summary,
)

import gradcli
from gradcli.api import functional, higher

GRADCLI = shutil.which("gradcli") or "gradcli"
SIZES = {
    "full": {"terms": (10**3, 10**4, 10**5), "large": (10**5, 10**6, 10**7), "jacobian": (100, 300, 1000), "hessian": (100, 300),
             "check": (10, 10**3, 10**5), "points": 10**5, "repeats": 7, "startup_repeats": 15, "whole_runs": 3},
    "quick": {"terms": (10**3, 10**4), "large": (10**5, 10**6), "jacobian": (100, 300), "hessian": (100,),
              "check": (10, 10**3), "points": 10**4, "repeats": 3, "startup_repeats": 3, "whole_runs": 1},
}


def ratio(a: dict, b: dict | None) -> str:
    return f"{a['median'] / b['median']:.2f}x" if b else "n/a"


def _jax_cell(times: dict) -> str:
    return fmt_seconds(times["jax"]) if "jax" in times else "not installed"


# -- 1. start-up ---------------------------------------------------------------------------
def startup(cfg: dict, quick: bool) -> dict:
    expr = ["grad", "mean(2*x)", "--x", "1,2,3"]
    torch_line = ("import torch; x = torch.tensor([1., 2., 3.], dtype=torch.float64, requires_grad=True); "
                  "(2 * x).mean().backward(); print(x.grad.tolist())")
    cases = {
        "gradcli grad (JSON)": process_timer([GRADCLI, *expr, "--format", "json"]),
        "gradcli grad (table)": process_timer([GRADCLI, *expr, "--format", "table"]),
        "minimal typer app (numpy + rich table)": process_timer([sys.executable, os.path.join(HERE, "minimal_typer_app.py")]),
        "typer app with one option": process_timer([sys.executable, os.path.join(HERE, "typer_app_with_option.py")]),
        'python -c "import numpy"': process_timer([sys.executable, "-c", "import numpy"]),
    }
    if torch_available():
        cases["torch one-liner"] = process_timer([sys.executable, "-c", torch_line])
    s = {k: summary(v) for k, v in interleaved(cases, cfg["startup_repeats"]).items()}
    app = s["minimal typer app (numpy + rich table)"]
    torch = s.get("torch one-liner")
    rows = [[name, fmt_seconds(v), ratio(v, app), ratio(torch, v) if torch else "n/a"] for name, v in s.items()]
    return {"title": "Start-up: whole process, `gradcli grad \"mean(2*x)\" --x 1,2,3`",
            "columns": ["command", "median [min-max]", "vs typer app", "torch one-liner is ...x slower"],
            "rows": rows, "raw": s,
            "notes": ["targets: JSON <= 1.0x the minimal typer app, table <= 1.1x, both >= 6x faster than torch",
                      f"gradcli run as installed: {GRADCLI}"]}


# -- 2. large gradients --------------------------------------------------------------------
def large(cfg: dict, quick: bool) -> dict:
    rows, raw = [], {}
    rng = np.random.default_rng(0)
    workdir = tempfile.mkdtemp(prefix="gradcli-bench-")
    for label, spec in LARGE_EXPRS.items():
        for n in cfg["large"]:
            data = {name: make(rng, n) for name, make in spec["data"].items()}
            cases: dict[str, Callable[[], Any]] = {
                "gradcli": partial(functional.grad, spec["expr"], data, wrt=spec["wrt"]),
                "gradcli compiled": partial(gradcli_compiled, label, data),
                "numpy": partial(numpy_large, label, data),
            }
            if torch_available():
                cases["torch"] = partial(torch_large, label, data)
            if jax_available():
                cases["jax"] = partial(jax_large, label, data)
            times = {k: summary(v) for k, v in interleaved_apart(cases, cfg["repeats"]).items()}
            # Memory and whole runs cost a process each: at every size in a full run, the largest in --quick.
            whole = not quick or n == cfg["large"][-1]
            memory = {tool: peak_extra_mib(_memory_probe(label, tool, n))
                      for tool in ("gradcli", "gradcli compiled", "torch", "numpy") if tool in cases} if whole else {}
            cli = _cli_runs(label, spec, data, workdir, cfg["whole_runs"]) if whole else {}
            key = f"{label} n={n:.0e}"
            raw[key] = {"in_process": times, "extra_peak_mib": memory, "whole_process": cli}
            g, t, npy = times["gradcli"], times.get("torch"), times["numpy"]
            c = times["gradcli compiled"]
            rows.append([label, f"{n:.0e}", fmt_seconds(g), fmt_seconds(c), fmt_seconds(t) if t else "n/a",
                         fmt_seconds(npy), ratio(g, t), ratio(g, npy), ratio(c, npy),
                         " / ".join(f"{memory[k]:.0f}" for k in ("gradcli", "gradcli compiled", "torch", "numpy")
                                    if k in memory) or "-",
                         fmt_seconds(cli["gradcli CLI"]) if cli else "-",
                         fmt_seconds(cli["torch script"]) if "torch script" in cli else "-", _jax_cell(times),
                         ratio(c, times.get("jax"))])
    shutil.rmtree(workdir, ignore_errors=True)
    return {"title": "Large gradients (float64): in-process `gradcli.api.functional.grad` and whole CLI runs",
            "columns": ["expression", "n", "gradcli", "gradcli compiled", "torch fwd+bwd", "numpy hand-fused",
                        "gradcli/torch", "gradcli/numpy", "compiled/numpy",
                        "extra peak MiB gradcli / compiled / torch / numpy", "CLI --x @x.npy --output g.npz",
                        "torch script (load, grad, save)", "jax (jit)", "compiled/jax"],
            "rows": rows, "raw": raw,
            "notes": ["targets at 1e7: <= 1.0x torch, <= 1.4x hand-fused numpy, extra peak memory <= torch's; "
                      "compiled: sinexp <= 1.0x jax (jit), mse <= 1.0x hand-fused numpy, memory <= 0.5x torch's",
                      "gradcli compiled: `gradient_program` (api/compiled.py) after its first call, which records the "
                      "program (fused block by block at size), as jax (jit) is timed after its first call compiles",
                      "memory and whole-process columns: every size in a full run, the largest size with --quick",
                      "sinexp: sum(sin(x)*exp(-x**2)) w.r.t. x; mse: mean((w*x - y)**2) w.r.t. the scalar w",
                      "extra peak memory: growth of the resident high-water mark over one call in a fresh process"]}


def _memory_probe(label: str, tool: str, n: int) -> str:
    # Each tool first runs once on 10 entries (imports, thread pools), then the data is made.
    # The compiled program is measured after its first call at size n, which records it; the
    # high-water mark is then reset (clear_refs 5), so that it shows the replay's own peak.
    call = {"gradcli": "functional.grad(spec['expr'], data, wrt=spec['wrt'])",
            "gradcli compiled": f"gradcli_compiled({label!r}, data)",
            "torch": f"torch_large({label!r}, data)", "numpy": f"numpy_large({label!r}, data)"}[tool]
    first = f"{call}\nopen('/proc/self/clear_refs', 'w').write('5')" if tool == "gradcli compiled" else ""
    return (f"import sys; sys.path.insert(0, {HERE!r})\nimport numpy as np\n"
            f"from references import LARGE_EXPRS, gradcli_compiled, numpy_large, torch_large\n"
            f"from gradcli.api import functional\n"
            f"spec = LARGE_EXPRS[{label!r}]\nrng = np.random.default_rng(0)\n"
            f"def make(n): return {{k: make(rng, n) for k, make in spec['data'].items()}}\n"
            f"data = make(10)\n{call}\ndata = make({n})\n{first}\n"
            f"def run(): {call}\n")


def _cli_runs(label: str, spec: dict, data: dict, workdir: str, repeats: int) -> dict:
    args = []
    for name, value in data.items():
        if np.ndim(value) == 0:
            args += [f"--{name}", repr(float(value))]
        else:
            np.save(os.path.join(workdir, f"{name}.npy"), value)
            args += [f"--{name}", f"@{name}.npy"]
    cases = {"gradcli CLI": process_timer([GRADCLI, "grad", spec["expr"], *args, "--wrt", spec["wrt"],
                                           "--output", "g.npz"], cwd=workdir)}
    if torch_available():
        script = (f"import sys; sys.path.insert(0, {HERE!r})\nimport numpy as np\nfrom references import torch_large\n"
                  f"data = {{k: np.load(k + '.npy') for k in {[k for k in data if np.ndim(data[k])]!r}}}\n"
                  f"data.update({ {k: float(v) for k, v in data.items() if np.ndim(v) == 0}!r})\n"
                  f"np.savez('t.npz', g=torch_large({label!r}, data))\n")
        cases["torch script"] = process_timer([sys.executable, "-c", script], cwd=workdir)
    return {k: summary(v) for k, v in interleaved(cases, repeats, warmup=0).items()}


# -- 2b. long expressions: the cost of one operation ------------------------------------------
def terms(cfg: dict, quick: bool) -> dict:
    rows, raw = [], {}
    first = None
    for n in cfg["terms"]:
        cases: dict[str, Callable[[], Any]] = {"gradcli": partial(gradcli_terms, n)}
        if torch_available():
            cases["torch"] = partial(torch_terms, n)
        s = {k: summary(v) for k, v in interleaved_apart(cases, max(3, cfg["repeats"] // 2)).items()}
        raw[f"n={n}"] = s
        g, t = s["gradcli"], s.get("torch")
        first = first or (n, g)
        rows.append([f"{n:.0e}", fmt_seconds(g), f"{g['median'] / n * 1e6:.0f} µs",
                     fmt_seconds(t) if t else "n/a", ratio(g, t),
                     f"{g['median'] / first[1]['median']:.1f}x for {n // first[0]}x the terms"])
    return {"title": "Long expressions: gradient of `sin(x*1)*1 + sin(x*2)*2 + ...`, x scalar, in-process, parsing included",
            "columns": ["terms", "gradcli", "per term", "torch eager", "gradcli/torch", "growth"],
            "rows": rows, "raw": raw,
            "notes": ["targets: 1e4 terms <= 1.0x torch eager; 1e5 terms <= 12x the 1e4 figure"]}


# -- 3. Jacobians ----------------------------------------------------------------------------
def jacobians(cfg: dict, quick: bool) -> dict:
    rows, raw = [], {}
    rng = np.random.default_rng(1)
    for label, expr in JACOBIAN_EXPRS.items():
        for n in cfg["jacobian"]:
            values = {"x": rng.standard_normal(n)}
            if "W" in expr:
                values["W"] = rng.standard_normal((n, n)) / np.sqrt(n)
            cases: dict[str, Callable[[], Any]] = {
                "gradcli batched": partial(functional.jacobian, expr, values, wrt="x"),
                "gradcli loop": partial(functional.jacobian, expr, values, wrt="x", method="loop"),
                "numpy batched VJP": partial(numpy_jacobian, label, values),
            }
            if torch_available():
                cases.update({k: partial(torch_jacobian, label, values, m) for k, m in TORCH_JACOBIANS.items()})
            if jax_available():
                cases["jax"] = partial(jax_jacobian, label, values)
            repeats = cfg["repeats"]
            s = {k: summary(v) for k, v in interleaved_apart(cases, repeats).items()}
            raw[f"{label} n={n}"] = s
            b = s["gradcli batched"]
            rows.append([label, n, fmt_seconds(b), fmt_seconds(s["gradcli loop"]), ratio(s["gradcli loop"], b),
                         fmt_seconds(s["numpy batched VJP"]), ratio(b, s["numpy batched VJP"]),
                         *(x for k in ("torch jacrev", "torch jacobian (vectorize off)", "torch jacobian (vectorize on)")
                           for x in ((fmt_seconds(s[k]), ratio(b, s[k])) if k in s else ("n/a", "n/a"))),
                         _jax_cell(s)])
    return {"title": "Jacobians w.r.t. x",
            "columns": ["expression", "n", "gradcli batched", "gradcli loop", "loop/batched", "numpy batched VJP",
                        "gradcli/numpy", "torch jacrev", "gradcli/jacrev", "torch vectorize off", "gradcli/off",
                        "torch vectorize on", "gradcli/on", "jax jacrev (jit)"],
            "rows": rows, "raw": raw,
            "notes": [("targets at n=1000: <= 1.0x jacrev, >= 5x faster than torch's row loop (vectorize off), "
                       "batched >= 3x faster than gradcli's loop")]}


# -- 4. Hessians ------------------------------------------------------------------------------
def hessians(cfg: dict, quick: bool) -> dict:
    rows, raw = [], {}
    rng = np.random.default_rng(2)
    for n in cfg["hessian"]:
        values = {"x": rng.standard_normal(n), "W": rng.standard_normal((n, n)) / np.sqrt(n)}
        cases: dict[str, Callable[[], Any]] = {
            "gradcli": partial(functional.hessian, HESSIAN_EXPR, values, wrt="x"),
            "numpy closed form": partial(numpy_hessian, values),
        }
        if torch_available():
            cases["torch.func.hessian"] = partial(torch_hessian, values)
        if jax_available():
            cases["jax"] = partial(jax_hessian, values)
        s = {k: summary(v) for k, v in interleaved_apart(cases, cfg["repeats"]).items()}
        raw[f"n={n}"] = s
        t = s.get("torch.func.hessian")
        rows.append([n, fmt_seconds(s["gradcli"]), fmt_seconds(t) if t else "n/a", ratio(s["gradcli"], t),
                     fmt_seconds(s["numpy closed form"]), ratio(s["gradcli"], s["numpy closed form"]), _jax_cell(s)])
    return {"title": f"Hessians of `{HESSIAN_EXPR}` w.r.t. x",
            "columns": ["n", "gradcli", "torch.func.hessian", "gradcli/torch", "numpy closed form", "gradcli/numpy",
                        "jax hessian (jit)"],
            "rows": rows, "raw": raw, "notes": ["target: <= 1.5x torch.func.hessian"]}


# -- 5. cross-check cost and 6. batches of points -----------------------------------------------
def _has(args: list[str], needle: str) -> bool:
    done = subprocess.run([GRADCLI, *args, "--help"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and needle in done.stdout


def _timed_process(argv: list[str], repeats: int, cwd: str | None = None) -> tuple[dict, int, str]:
    times, code, err = [], 0, ""
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd,
                              check=False)
        times.append(time.perf_counter() - start)
        code, err = done.returncode, done.stderr.strip()[-300:]
    return summary(times), code, err


def check_cost(cfg: dict, quick: bool) -> dict:
    title = "Cross-check cost: `gradcli check \"sum(sin(x)*exp(-x**2))\" --x randn(n)`"
    if not _has(["check"], "Usage"):
        return {"title": title, "columns": ["status"], "rows": [["gradcli check does not exist yet: not timed"]],
                "raw": {}, "notes": []}
    rows, raw = [], {}
    for n in cfg["check"]:
        s, code, err = _timed_process([GRADCLI, "check", "sum(sin(x)*exp(-x**2))", "--x", f"randn({n})"],
                                      1 if quick or n >= 10**5 else 3)
        raw[f"n={n}"] = {**s, "exit": code}
        rows.append([f"{n:.0e}", fmt_seconds(s), code, err.splitlines()[-1] if code not in (0, 1) and err else ""])
    return {"title": title, "columns": ["n", "whole process", "exit status", "error"], "rows": rows, "raw": raw,
            "notes": ["target: <= 3 s at n = 1e5 (exit 1 means the check ran and found a disagreement)"]}


VECTOR_W = "[[0.5, -1, 0.2], [0.3, 0.8, -0.4], [1.1, 0.1, 0.6]]"


def points(cfg: dict, quick: bool) -> dict:
    n = cfg["points"]
    title = f"Batches of points: {n:.0e} points through `--points`, JSON out"
    if not _has(["grad"], "--points"):
        return {"title": title, "columns": ["status"], "rows": [["gradcli grad --points does not exist yet: not timed"]],
                "raw": {}, "notes": []}
    workdir = tempfile.mkdtemp(prefix="gradcli-bench-")
    rng = np.random.default_rng(3)
    np.savetxt(os.path.join(workdir, "points.csv"), rng.standard_normal((n, 2)), delimiter=",", header="x,y",
               comments="")
    with open(os.path.join(workdir, "vectors.jsonl"), "w") as f:
        f.writelines(f'{{"x": [{a!r}, {b!r}, {c!r}]}}\n' for a, b, c in rng.standard_normal((n, 3)).tolist())
    cases = {"`x*y + sin(x)`, scalar x, y (CSV)": ["x*y + sin(x)", "--points", "points.csv"],
             "`sum(tanh(W @ x))`, a 3-vector x per point (JSON Lines)": [
                 "sum(tanh(W @ x))", "--W", VECTOR_W, "--wrt", "x", "--points", "vectors.jsonl"]}
    rows, raw = [], {}
    for name, args in cases.items():
        s, code, err = _timed_process([GRADCLI, "grad", *args, "--format", "json"], 3, cwd=workdir)
        raw[name] = {**s, "exit": code}
        rows.append([name, fmt_seconds(s), ratio(s, next(iter(raw.values()))), code,
                     err.splitlines()[-1] if code and err else ""])
    shutil.rmtree(workdir, ignore_errors=True)
    return {"title": title, "columns": ["points", "whole process", "vs scalar points", "exit status", "error"],
            "rows": rows, "raw": raw,
            "notes": ["targets: <= 2 s end to end for 1e5 points; vector points <= 3x the scalar points"]}


# -- 7. repeated small gradients: gradient descent ---------------------------------------------
ROSENBROCK = "(1 - w[0])**2 + 100*(w[1] - w[0]**2)**2"
DESCENT_STEPS = 10**4
NUMPY_DESCENT = f"""import numpy as np
w = np.array([-1.0, 1.0]); m = np.zeros(2); s = np.zeros(2); lr = 0.01
for t in range(1, {DESCENT_STEPS} + 1):
    g = np.array([-2 * (1 - w[0]) - 400 * w[0] * (w[1] - w[0] ** 2), 200 * (w[1] - w[0] ** 2)])
    m = 0.9 * m + 0.1 * g
    s = 0.999 * s + 0.001 * g * g
    w = w - lr * m / (1 - 0.9 ** t) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-8)
print(w)
"""
TORCH_DESCENT = f"""import torch
w = torch.tensor([-1.0, 1.0], dtype=torch.float64, requires_grad=True)
opt = torch.optim.Adam([w], lr=0.01)
for t in range({DESCENT_STEPS}):
    opt.zero_grad()
    loss = (1 - w[0])**2 + 100*(w[1] - w[0]**2)**2
    loss.backward()
    opt.step()
print(w.tolist())
"""


def descent(cfg: dict, quick: bool) -> dict:
    """Whole processes: gradcli descend (this checkout's code), a hand-written numpy loop, a torch.optim loop."""
    workdir = tempfile.mkdtemp(prefix="gradcli-bench-")
    scripts = {"numpy": NUMPY_DESCENT, "torch": TORCH_DESCENT}
    for name, text in scripts.items():
        with open(os.path.join(workdir, f"descent_{name}.py"), "w") as f:  # (numpy.py would shadow numpy)
            f.write(text)
    root = os.path.dirname(os.path.dirname(os.path.abspath(gradcli.__file__)))
    cases = {"gradcli descend": process_timer(
        [sys.executable, "-m", "gradcli", "descend", ROSENBROCK, "--w=-1,1", "--wrt", "w", "--optimizer", "adam",
         "--lr", "0.01", "--steps", str(DESCENT_STEPS), "--format", "json"], env={"PYTHONPATH": root},
        cwd=workdir),  # (python -m puts the working directory first on the path)
        "numpy script": process_timer([sys.executable, os.path.join(workdir, "descent_numpy.py")])}
    if torch_available():
        cases["torch script"] = process_timer([sys.executable, os.path.join(workdir, "descent_torch.py")])
    s = {k: summary(v) for k, v in interleaved(cases, cfg["whole_runs"]).items()}
    shutil.rmtree(workdir, ignore_errors=True)
    g = s["gradcli descend"]
    rows = [[name, fmt_seconds(v), ratio(g, v) if name != "gradcli descend" else "-"] for name, v in s.items()]
    return {"title": f"Gradient descent: Rosenbrock, adam, {DESCENT_STEPS:,} steps, whole process",
            "columns": ["program", "median [min-max]", "gradcli is ...x this"], "rows": rows, "raw": s,
            "notes": ["targets: <= 2.0x the numpy script, <= 0.2x the torch script",
                      f"gradcli: python -m gradcli with the checkout at {root}"]}


# -- 8. derivatives of higher order ------------------------------------------------------------------
def higher_order(cfg: dict, quick: bool) -> dict:
    """derivative --order 10 in process (Taylor mode) against SymPy's diff + evalf and jax.experimental.jet."""
    order = 10
    values = {"x": HIGHER_POINT}
    cases: dict[str, Callable[[], Any]] = {
        "gradcli derivative": partial(higher.derivative, HIGHER_EXPR, values, order=order),
        "sympy diff(f, x, 10)": partial(sympy_derivative, order),
        "sympy diff, k = 0..10": partial(sympy_derivatives, order),
    }
    if jax_available():
        cases["jax jet (jit)"] = partial(jax_jet_derivatives, order)
    ours = higher.derivative(HIGHER_EXPR, values, order=order).derivatives
    agree = np.allclose(ours, sympy_derivatives(order), rtol=1e-9)
    s = {k: summary(v) for k, v in interleaved_apart(cases, 3 if quick else cfg["repeats"]).items()}
    g = s["gradcli derivative"]
    rows = [[k, fmt_seconds(v), ratio(v, g)] for k, v in s.items()]
    return {"title": f"derivative --order {order} of `{HIGHER_EXPR}` at x = {HIGHER_POINT}",
            "columns": ["", "time", "this/gradcli"], "rows": rows, "raw": {**s, "agree with sympy": bool(agree)},
            "notes": [(f"targets: gradcli <= 20 ms in process and <= 1.0x sympy's diff(f, x, 10) evaluated at the "
                       f"point; the numbers agree with sympy's to 1e-9: {agree}")]}


SCENARIOS = {"startup": startup, "terms": terms, "gradients": large, "jacobians": jacobians, "hessians": hessians,
             "check": check_cost, "points": points, "forward": forward_mode, "higher": higher_order,
             "descend": descent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (under a minute)")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="run only these scenarios")
    parser.add_argument("--results", default=os.path.join(HERE, "runs"), help="where the JSON goes")
    args = parser.parse_args()
    cfg = SIZES["quick" if args.quick else "full"]
    if args.quick:
        timing.PAUSE = 0.02
    started = dt.datetime.now(dt.UTC)
    info = machine()
    print(f"machine: {describe_machine(info)}\n", flush=True)
    if not torch_available():
        print("PyTorch is not installed: its columns say n/a (pip install torch to compare)\n")
    # As a user runs it: bytecode compiled (PYTHONDONTWRITEBYTECODE may keep imports from caching it).
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(gradcli.__file__)], check=True)
    tables = {}
    for name in args.only or SCENARIOS:
        begin = time.perf_counter()
        table = SCENARIOS[name](cfg, args.quick)
        table["seconds"] = time.perf_counter() - begin
        tables[name] = table
        print(render_table(table["title"], table["columns"], table["rows"], table["notes"]), flush=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
    path = os.path.join(args.results, f"{stamp}.json")
    save(path, {"started": started.isoformat(), "quick": args.quick, "machine": info, "scenarios": tables})
    print(f"saved {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
