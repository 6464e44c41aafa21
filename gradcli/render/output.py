"""Results to output: a payload dict first, then JSON, plain text, files or rich tables.

JSON is strict (non-finite numbers become the strings "nan", "inf", "-inf"); plain text
uses the same syntax VALUE accepts, at full precision, so a result can be fed back in.
rich is imported only when a table is drawn.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcli.errors import GradcliError
from gradcli.api.problem import Result
from gradcli.lang.numbers import json_number

DERIVATIVE_KEY = {"grad": "gradients", "vjp": "gradients", "jacobian": "jacobian", "hessian": "hessian"}


def to_json(a: Any) -> Any:
    """A nested list (or a number for a 0-d array) with non-finite values as strings."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return json_number(float(arr))
    if np.isfinite(arr).all():
        return arr.tolist()
    return [to_json(row) for row in arr]


def payload(result: Result) -> dict[str, Any]:
    """The JSON object of a result: expression, value, shape, wrt and the derivatives."""
    out: dict[str, Any] = {
        "expression": result.expression,
        "value": to_json(result.value),
        "shape": list(result.shape),
        "wrt": list(result.wrt),
    }
    if result.grad_output is not None:
        out["grad_output"] = to_json(result.grad_output)
    if result.kind in ("grad", "vjp"):
        out["gradients"] = {k: to_json(v) for k, v in result.gradients.items()}
    elif result.kind == "jacobian":
        out["jacobian"] = {k: to_json(v) for k, v in result.jacobian.items()}
    else:
        out["gradients"] = {k: to_json(v) for k, v in result.gradients.items()}
        out["hessian"] = {a: {b: to_json(v) for b, v in row.items()} for a, row in result.hessian.items()}
    if result.warnings:
        out["warnings"] = [w.message for w in result.warnings]
    return out


def dumps(data: Any) -> str:
    return json.dumps(data, allow_nan=False)


def index_label(name: str, index: tuple[int, ...], separator: str = ", ") -> str:
    """name for a scalar's empty index, else name[i, j]."""
    return name if not index else f"{name}[{separator.join(str(i) for i in index)}]"


def entry_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """name[i,j] for every entry of an array of shape, in row-major order (name alone for a scalar)."""
    return [index_label(name, index, ",") for index in np.ndindex(shape)]


def plain_number(v: float) -> str:
    if v == 0:
        return "0"
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def plain_array(a: np.ndarray) -> str:
    """The VALUE syntax: 1.5 / 1,2,3 / 1,2;3,4; higher ranks as JSON."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return plain_number(float(a))
    # A vector of one entry, or a matrix of one row, would read back with fewer axes: JSON keeps them.
    if a.ndim == 1 and a.size > 1:
        return ",".join(plain_number(v) for v in a)
    if a.ndim == 2 and a.shape[0] > 1 and a.shape[1] > 0:
        return ";".join(",".join(plain_number(v) for v in row) for row in a)
    return dumps(to_json(a))


def plain(result: Result) -> str:
    """One line per variable in wrt order (Hessian: one line per block a,b)."""
    if result.kind == "hessian":
        return "\n".join(plain_array(result.hessian[a][b]) for a in result.wrt for b in result.wrt)
    table = result.jacobian if result.kind == "jacobian" else result.gradients
    return "\n".join(plain_array(table[name]) for name in result.wrt)


def arrays(result: Result) -> dict[str, np.ndarray]:
    """Named arrays for .npz output: value, then grad_x / jacobian_x / hessian_x_y."""
    out = {"value": np.asarray(result.value)}
    if result.kind == "hessian":
        out.update({f"hessian_{a}_{b}": result.hessian[a][b] for a in result.wrt for b in result.wrt})
    elif result.kind == "jacobian":
        out.update({f"jacobian_{k}": v for k, v in result.jacobian.items()})
    else:
        out.update({f"grad_{k}": v for k, v in result.gradients.items()})
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str, write: Callable[[Any], None], *, binary: bool) -> None:
    """Write through a temporary file in the same folder, renamed into place when complete."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise GradcliError(f"cannot write {path!r}: the folder {folder!r} does not exist", kind="file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gradcli-", suffix=".tmp", dir=folder)
    except OSError as err:
        raise GradcliError(f"cannot write {path!r}: {err.strerror}", kind="file") from None
    try:
        # mkstemp makes the file owner-only; give it the mode a plain open() would (or the old file's).
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o666 & ~_umask())
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise GradcliError(f"cannot write {path!r}: {err.strerror or err}", kind="file") from None
        raise


def write_output(result: Result, path: str) -> None:
    """Save a result as .json (the payload), .npy (one derivative array) or .npz (all arrays)."""
    lower = path.lower()
    if lower.endswith(".json"):
        text = dumps(payload(result)) + "\n"
        write_atomic(path, lambda fh: fh.write(text), binary=False)
    elif lower.endswith(".npz"):
        named = arrays(result)
        write_atomic(path, lambda fh: np.savez(fh, **named), binary=True)
    elif lower.endswith(".npy"):
        named = arrays(result)
        named.pop("value")
        if len(named) != 1:
            raise GradcliError(f"a .npy file holds one array and this result has {len(named)} "
                               f"({', '.join(named)}): use .npz", kind="usage")
        (only,) = named.values()
        write_atomic(path, lambda fh: np.save(fh, only, allow_pickle=False), binary=True)
    else:
        raise GradcliError(f"--output {path!r}: use a .json, .npy or .npz file", kind="usage")
