"""VALUE strings to arrays: numbers, lists, matrices, JSON, constructors and files.

    2   -1.5   1,2,3   1,2;3,4   [[1,2],[3,4]]   zeros(2,3)   linspace(0,1,5)   randn(5,3)
    @data.npy   @data.csv   @data.json   @-  (standard input)

Nothing is evaluated as code: JSON is parsed, CSV is split, .npy loads with pickles
refused. Integers become float64. A list on the command line may also be written as
Python and PyTorch write one, `[[1., 2.], [3., .5]]` or `(1, 2,)`: read token by token,
numbers as float() reads them.

Non-finite numbers are read in every form: nan, inf and -inf in lists and CSV cells (any
case, and infinity, as Python's float() reads them), and in JSON as the strings gradcli
writes ("nan", "inf", "-inf"; also "NaN", "Infinity", "-Infinity") or as the bare
NaN, Infinity, -Infinity that Python's json module writes.
"""

from __future__ import annotations

import os
import re
import sys
import zlib
from typing import IO

import numpy as np

from gradcli.errors import GradcliError, variable
from gradcli.limits import LIMITS

CONSTRUCTOR = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.DOTALL)
CONSTRUCTORS = ("zeros", "ones", "eye", "linspace", "arange", "rand", "randn", "full")
# The JSON strings that stand for a non-finite number: what float() reads as nan or ±inf.
NON_FINITE = re.compile(r"\s*[+-]?(nan|inf|infinity)\s*", re.IGNORECASE)


def parse_value(text: str, name: str, *, seed: int = 0, stdin: IO[str] | None = None) -> np.ndarray:
    """The array a VALUE string stands for; errors name the variable."""
    try:
        return _parse(text.strip(), name, seed, stdin)
    except GradcliError as err:
        if err.variable is None:
            err.words, err.variable = f"{variable(name)}: {err.words}", name
        raise


def _parse(text: str, name: str, seed: int, stdin: IO[str] | None) -> np.ndarray:
    if not text:
        raise GradcliError("the value is empty", kind="value")
    if text.startswith("@"):
        return load_file(text[1:], stdin=stdin)
    if text.startswith("[") or text.startswith("(") or text.startswith('"'):  # '"nan"': a JSON number gradcli wrote
        return _from_list(text)
    m = CONSTRUCTOR.match(text)
    if m:
        return _construct(m.group(1), m.group(2), name, seed)
    return parse_numbers(text)


def parse_numbers(text: str) -> np.ndarray:
    """A number, a comma list (vector) or rows split by ';' (matrix)."""
    if ";" in text:
        rows = [r for r in text.split(";")]
        cells = [[_number(c) for c in row.split(",")] for row in rows]
        if len({len(r) for r in cells}) != 1:
            raise GradcliError(f"the rows have different lengths ({', '.join(str(len(r)) for r in cells)})",
                               kind="value")
        return np.array(cells, dtype=np.float64)
    if "," in text:
        return np.array([_number(c) for c in text.split(",")], dtype=np.float64)
    return np.array(_number(text), dtype=np.float64)


def _number(cell: str) -> float:
    cell = cell.strip()
    try:
        if "_" in cell:
            raise ValueError
        return float(cell)
    except ValueError:
        shown = cell if len(cell) <= 40 else cell[:37] + "..."
        if len(cell.split()) > 1 and _numbers(cell.split()):
            raise GradcliError(f"{shown!r} is not a number: separate entries with commas, as in "
                               f"{','.join(cell.split()[:3])}", kind="value") from None
        raise GradcliError(f"{shown!r} is not a number" if cell else "an entry is empty", kind="value") from None


def _numbers(texts: list[str]) -> bool:
    """Whether every text reads as a number (1 2 3 written for 1,2,3)."""
    try:
        [float(t) for t in texts]
    except ValueError:
        return False
    return True


def _from_json(text: str, where: str) -> np.ndarray:
    import json  # (start-up: a value of plain numbers needs no JSON)

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise GradcliError(f"{where} is not valid JSON ({err})", kind="value") from None
    return numeric_array(data, where)


# The tokens of a list written as Python writes one: brackets, commas, numbers as float() reads them.
_LIST_TOKEN = re.compile(r"\s*(?:([\[\](),])|([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf(?:inity)?)))",
                         re.IGNORECASE)


def _from_list(text: str) -> np.ndarray:
    """A value in brackets: JSON, or a list as Python writes one ([1., .5], (1, 2), a comma before the end)."""
    try:
        return _from_json(text, "the value")
    except GradcliError as err:
        items = _python_list(text)
        if items is None:
            raise GradcliError(f"{err.words}, nor a list of numbers as Python writes one", kind="value") from None
    return numeric_array(items, "the value")


def _python_list(text: str) -> list | float | None:
    """The nested lists of a Python list or tuple of numbers, or None when text is not one. As in Python,
    brackets ( ) around one item and no comma group it: (5.) is 5.0, (5.,) a tuple."""
    levels: list[list] = [[[], "", False]]  # per open bracket: its items, the bracket, whether a comma came
    pos, expect_item = 0, True
    while pos < len(text):
        m = _LIST_TOKEN.match(text, pos)
        if m is None:
            break
        pos, bracket, number = m.end(), m.group(1), m.group(2)
        if number is not None:
            if not expect_item:
                return None
            levels[-1][0].append(float(number))
            expect_item = False
        elif bracket in "[(":
            if not expect_item or len(levels) > 32:
                return None
            levels.append([[], bracket, False])
        elif bracket == ",":
            if expect_item:
                return None
            expect_item, levels[-1][2] = True, True
        else:  # a closing bracket: after an item, a comma (as Python allows) or its opening
            items, opener, comma = levels.pop()
            if not levels or opener != ("(" if bracket == ")" else "["):
                return None
            grouped = opener == "(" and len(items) == 1 and not comma
            levels[-1][0].append(items[0] if grouped else items)
            expect_item = False
    items = levels[0][0]
    return items[0] if len(levels) == 1 and len(items) == 1 and not text[pos:].strip() else None


def numeric_array(data: object, where: str) -> np.ndarray:
    """A rectangular nested list of numbers (already parsed JSON) as a float64 array.

    The strings "nan", "inf", "-inf" (see NON_FINITE) stand for those numbers.
    """

    def check(item: object, depth: int) -> None:
        if depth > 32:
            raise GradcliError(f"{where} is nested too deeply", kind="value")
        if isinstance(item, list):
            for sub in item:
                check(sub, depth + 1)
        elif not _json_number(item):
            import json

            raise GradcliError(f"{where} holds {json.dumps(item)[:40]}, which is not a number", kind="value")

    # A flat list of numbers, the common case, needs no walk (True is not one: its type is bool).
    if not (type(data) is list and all(type(v) is float or type(v) is int for v in data)):
        check(data, 0)
    try:
        # NOTE: numpy reads the non-finite strings as float() does; no other string gets here.
        return np.array(data, dtype=np.float64)
    except (ValueError, OverflowError):
        raise GradcliError(f"{where} is not a rectangular array of numbers", kind="value") from None


def _json_number(item: object) -> bool:
    if isinstance(item, str):
        return NON_FINITE.fullmatch(item) is not None
    return isinstance(item, (int, float)) and not isinstance(item, bool)


def _construct(kind: str, args_text: str, name: str, seed: int) -> np.ndarray:
    if kind not in CONSTRUCTORS:
        raise GradcliError(f"unknown constructor {kind!r} (one of: {', '.join(CONSTRUCTORS)})", kind="value")
    args = [_number(a) for a in args_text.split(",")] if args_text.strip() else []
    if kind in ("linspace", "arange", "full"):
        return _range_like(kind, args)
    dims = _dims(kind, args)
    _check_size(dims)
    if kind == "zeros":
        return np.zeros(dims)
    if kind == "ones":
        return np.ones(dims)
    if kind == "eye":
        return np.eye(*dims)
    # NOTE: each variable draws from its own stream, so the order of options does not matter.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return rng.random(dims) if kind == "rand" else rng.standard_normal(dims)


def _dims(kind: str, args: list[float]) -> tuple[int, ...]:
    if not args or any(not a.is_integer() or a < 0 for a in args) or (kind == "eye" and len(args) > 2):
        raise GradcliError(f"{kind}(...) takes sizes as whole numbers, e.g. {kind}(3)" +
                           ("" if kind == "eye" else f" or {kind}(2,3)"), kind="value")
    dims = tuple(int(a) for a in args)
    return (dims[0], dims[-1]) if kind == "eye" else dims


def _range_like(kind: str, args: list[float]) -> np.ndarray:
    if kind == "linspace":
        if len(args) not in (2, 3) or (len(args) == 3 and (not args[2].is_integer() or args[2] < 1)):
            raise GradcliError("linspace(start, stop[, num]) takes num as a whole number", kind="value")
        num = int(args[2]) if len(args) == 3 else 50
        _check_size((num,))
        return np.linspace(args[0], args[1], num)
    if kind == "full":
        if len(args) < 2:
            raise GradcliError("full(n, ..., fill) takes sizes and a fill value", kind="value")
        dims = _dims(kind, args[:-1])
        _check_size(dims)
        return np.full(dims, args[-1])
    if not 1 <= len(args) <= 3 or (len(args) == 3 and args[2] == 0):
        raise GradcliError("arange(stop), arange(start, stop) or arange(start, stop, step)", kind="value")
    start, stop, step = (0.0, args[0], 1.0) if len(args) == 1 else (args[0], args[1], args[2] if len(args) == 3 else 1.0)
    count = max(0, int(np.ceil((stop - start) / step))) if np.isfinite((stop - start) / step) else LIMITS.max_elements + 1
    _check_size((count,))
    return np.arange(start, stop, step, dtype=np.float64)


def _check_size(dims: tuple[int, ...], where: str = "") -> None:
    size = 1
    for d in dims:
        size *= d
    if size > LIMITS.max_elements:
        prefix = f"{where}: " if where else ""
        count = f"{size:,}" if size < 10**15 else f"{float(size):.3g}"  # arange(1e300) has 301 digits
        raise GradcliError(f"{prefix}{count} entries is over the limit of {LIMITS.max_elements:,} "
                           f"(GRADCLI_MAX_ELEMENTS)", kind="limit")


def load_file(path: str, *, stdin: IO[str] | None = None) -> np.ndarray:
    """An array from .npy (no pickles), .csv, .json, or '-' (standard input, JSON or text)."""
    if path == "-":
        # NOTE: read at most one character past the limit: an endless pipe cannot fill memory.
        text = (stdin or sys.stdin).read(LIMITS.max_text + 1)
        if len(text) > LIMITS.max_text:
            raise _too_long("standard input")
        stripped = text.strip()
        if stripped.startswith("["):
            return _from_json(stripped, "standard input")
        return _from_csv(stripped, "standard input")
    where = f"file {path!r}"
    lower = path.lower()
    try:
        if lower.endswith(".npy"):
            return _load_npy(path, where)
        if os.path.getsize(path) > LIMITS.max_text:
            raise _too_long(where)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise GradcliError(f"{where} does not exist", kind="file") from None
    except IsADirectoryError:
        raise GradcliError(f"{where} is a folder, not a file", kind="file") from None
    except PermissionError:
        raise GradcliError(f"{where} cannot be read (permission denied)", kind="file") from None
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise GradcliError(f"{where} cannot be read ({err.__class__.__name__}: {err})", kind="file") from None
    if lower.endswith(".json"):
        return _from_json(text, where)
    if lower.endswith(".csv") or lower.endswith(".txt"):
        return _from_csv(text.strip(), where)
    raise GradcliError(f"{where}: use a .npy, .csv or .json file", kind="file")


def _too_long(where: str) -> GradcliError:
    return GradcliError(f"{where} is longer than the limit of {LIMITS.max_text:,} bytes for a value given as "
                        f"text (GRADCLI_MAX_TEXT; a .npy file has no such limit)", kind="limit")


def _load_npy(path: str, where: str) -> np.ndarray:
    """A .npy file's numbers: the header is checked (shape, dtype) before any data is read."""
    with open(path, "rb") as fh:
        # NOTE: without the magic bytes np.load falls back to unpickling, and its refusal
        # then advises loading the file unsafely: say what the file is instead.
        if fh.read(6) != b"\x93NUMPY":
            raise GradcliError(f"{where} is not a .npy file", kind="file")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        text = str(err).lower()
        reason = ("it holds Python objects, and pickles are never loaded" if "object" in text else
                  "it is shorter than its header says" if "mmap length" in text else err)
        raise GradcliError(f"{where} cannot be read as .npy ({reason})", kind="file") from None
    if data.dtype.kind not in "biuf":
        raise GradcliError(f"{where} holds {data.dtype} values, not numbers", kind="file")
    _check_size(data.shape, where)
    return np.array(data, dtype=np.float64)


def _from_csv(text: str, where: str) -> np.ndarray:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise GradcliError(f"{where} holds no numbers", kind="file")
    try:
        rows = [[_number(c) for c in line.replace(";", ",").split(",")] for line in lines]
    except GradcliError as err:
        raise GradcliError(f"{where}: {err.words}", kind="file") from None
    if len({len(r) for r in rows}) != 1:
        raise GradcliError(f"{where}: the rows have different lengths", kind="file")
    array = np.array(rows, dtype=np.float64)
    if array.shape == (1, 1):
        return array.reshape(())  # one number is a 0-d value, as the VALUE "5" and np.loadtxt give
    if array.shape[0] == 1:
        return array[0]
    return array[:, 0] if array.shape[1] == 1 else array
