"""Benchmark plumbing: interleaved timing, summaries, peak memory, the machine, tables.

Every figure is a median over repeated runs with its min-max spread. Cases compared in
one table run interleaved (case A, case B, case A, ...), so drift on a shared machine
hits all of them alike, and ratios are taken between medians of the same run. In-process
cases each run in a worker process of their own (interleaved_apart), so no library's
threads or allocator state slow another's calls.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MIB = 2**20


# Seconds of rest before each timed call: BLAS and OpenMP worker threads spin for a while
# after a call, and would otherwise steal the cores from the next library's call.
PAUSE = 0.1


def interleaved(cases: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each case, over `repeats` rounds that run every case once in turn."""
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            time.sleep(PAUSE)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_apart(cases: Mapping[str, Callable[[], Any]], repeats: int,
                      warmup: int = 2) -> dict[str, list[float]]:
    """As interleaved, but each case lives in a process of its own, timed there.

    One library's runtime cannot slow another's calls: every worker but the one being timed
    is stopped (SIGSTOP), so no thread of another library spins on a core meanwhile
    (torch's OpenMP workers keep spinning after a call: in one process, or merely running
    beside it, they doubled about every other gradcli call on 2 cores). Rounds still
    alternate the cases, so drift hits them alike. Cases must pickle (module-level
    functions, partial). A fresh process pays for its first large arrays (the kernel maps
    and zeroes their pages), so each case runs `warmup` times before it is timed.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    workers = {}
    try:
        for name, fn in cases.items():
            mine, theirs = context.Pipe()
            process = context.Process(target=_timed_worker, args=(theirs, fn, warmup, PAUSE), daemon=True)
            process.start()
            workers[name] = (process, mine)
            _answer(mine, name)  # warm: imports, thread pools, first-call caches
            _pause(process, True)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):
            for name, (process, pipe) in workers.items():
                _pause(process, False)
                pipe.send("run")
                times[name].append(_answer(pipe, name))
                _pause(process, True)
        return times
    finally:
        for process, pipe in workers.values():
            _pause(process, False)
            pipe.send("stop")
            process.join(timeout=30)


def _pause(process: Any, stop: bool) -> None:
    """Stop or resume a worker process (where the platform has the signals)."""
    import signal

    if hasattr(signal, "SIGSTOP") and process.is_alive():
        os.kill(process.pid, signal.SIGSTOP if stop else signal.SIGCONT)


def _answer(pipe: Any, name: str) -> Any:
    kind, value = pipe.recv()
    if kind == "error":
        raise RuntimeError(f"{name} failed in its worker process: {value}")
    return value


def _timed_worker(pipe: Any, fn: Callable[[], Any], warmup: int, pause: float) -> None:
    try:
        for _ in range(warmup):
            fn()
        pipe.send(("ready", None))
        while pipe.recv() == "run":
            time.sleep(pause)
            start = time.perf_counter()
            fn()
            pipe.send(("time", time.perf_counter() - start))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises
        pipe.send(("error", f"{type(err).__name__}: {err}"))


def process_timer(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                  cwd: str | None = None) -> Callable[[], float]:
    """A case that runs a whole process (stdout discarded) and fails loudly if it fails."""
    def run() -> None:
        done = subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=None if env is None else {**os.environ, **env}, cwd=cwd, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return run


def summary(times: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": len(times)}


def peak_extra_mib(code: str, *, cwd: str | None = None) -> float:
    """Extra peak resident memory (MiB) of `code`'s `run()` in a fresh Python process.

    code defines setup (imports, data) at top level and a function run(); the figure is
    the growth of the resident high-water mark (VmHWM) across run(), so data made in setup
    does not count. (ru_maxrss would not do: Linux carries it over from the parent process.)
    """
    probe = code + (
        "\ndef _hwm():\n"
        "    with open('/proc/self/status') as f:\n"
        "        return next(int(line.split()[1]) for line in f if line.startswith('VmHWM'))\n"
        "_before = _hwm()\n"
        "run()\n"
        "print((_hwm() - _before) / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr[-800:]}")
    return float(done.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    """What the figures depend on: CPU, cores, Python, numpy's BLAS kernel and threads."""
    import numpy as np

    info: dict[str, Any] = {
        "cpu": _cpu_model(), "cores_visible": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                           "MKL_NUM_THREADS", "GRADCLI_THREADS") if k in os.environ},
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    try:
        import jax

        info["jax"] = jax.__version__
    except ImportError:
        info["jax"] = None
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [{k: p.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
                               for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine(info: Mapping[str, Any]) -> str:
    pools = info["threadpools"]
    if isinstance(pools, list):
        blas = ", ".join(f"{p['internal_api']} {p['version']} {p['architecture']} x{p['num_threads']}" for p in pools)
    else:
        blas = pools
    env = " ".join(f"{k}={v}" for k, v in info["env"].items()) or "no thread/kernel variables set"
    return (f"{info['cpu']}, {info['cores_visible']} cores visible; Python {info['python']}, numpy {info['numpy']}, "
            f"torch {info['torch']} ({info.get('torch_threads')} threads), jax {info['jax']}; "
            f"thread pools: {blas}; {env}")


def fmt_seconds(s: Mapping[str, float]) -> str:
    return f"{_short(s['median'])} [{_short(s['min'])}-{_short(s['max'])}]"


def _short(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def render_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()) -> str:
    """A plain-text (Markdown) table: what the script prints and the README shows."""
    cells = [[str(c) for c in columns]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

    out = [f"### {title}", "", line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells[1:]]
    out += [""] + [f"- {n}" for n in notes]
    return "\n".join(out).rstrip() + "\n"


def save(path: str, payload: Mapping[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1, default=float)
        f.write("\n")
