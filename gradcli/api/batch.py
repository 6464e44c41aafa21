"""Many points, one expression: derivatives at each point, vectorised where the points allow.

The expression is parsed once. When it is built only from elementwise operations and
every value is a scalar, a chunk of points is evaluated in one pass: each variable
becomes a vector with a leading point axis. Because the points are independent,

    d sum_i f(x_i) / d x_j = f'(x_j),

so one backward pass from sum(f) gives every point's gradient; each point's output is
one number, so its Jacobian is that gradient; and a second pass from each sum(df/da)
gives every point's Hessian entries (df/da at one point depends on that point alone).
Anything else (arrays, reductions, a grad_output) falls back to one computation per
point. Reading the points is points.py's.

    >>> b = Batch("grad", "x*y", {}, None)
    >>> [r.gradients["x"] for r in b.compute([Point(2, {"x": 1.0, "y": 3.0})])]
    [array([3.])]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from gradcli.api import functional
from gradcli.api.evaluate import variables
from gradcli.api.points import BadRow, Point, PointReader, bounded, chunks, open_lines
from gradcli.autodiff.engine import Tensor, dtype_of, run_backward
from gradcli.autodiff.op import FUNCTIONS, OPS
from gradcli.errors import GradcliError, param, value_hint, variable
from gradcli.lang.parser import Expr, parse, postorder

CHUNK = 8192  # points per vectorised pass
DIAGNOSED_PER_CHUNK = 32  # non-finite points of a vectorised chunk re-run one by one for their warning


@dataclass
class Results:
    """Results at consecutive points: every array has a leading point axis of length n.

    inputs[v] is (n,) + v.shape; value is (n,) + out.shape; gradients[v] (n,) + v.shape;
    jacobian[v] (n,) + out.shape + v.shape; hessian[a][b] (n,) + a.shape + b.shape.
    """

    kind: str
    wrt: list[str]
    lines: list[int]
    inputs: dict[str, np.ndarray]
    value: np.ndarray
    gradients: dict[str, np.ndarray] | None = None
    jacobian: dict[str, np.ndarray] | None = None
    hessian: dict[str, dict[str, np.ndarray]] | None = None
    warnings: list[list[str]] = field(default_factory=list)  # per point

    def __len__(self) -> int:
        return len(self.lines)


def from_result(r: functional.Result, line: int) -> Results:
    """One point's Result as Results of length 1."""
    def one(a: Any) -> np.ndarray:
        return np.asarray(a)[None]

    return Results(
        r.kind, list(r.wrt), [line], {n: one(v) for n, v in r.problem.values.items()}, one(r.value),
        gradients=None if r.gradients is None else {n: one(g) for n, g in r.gradients.items()},
        jacobian=None if r.jacobian is None else {n: one(j) for n, j in r.jacobian.items()},
        hessian=None if r.hessian is None else {a: {b: one(h) for b, h in row.items()} for a, row in r.hessian.items()},
        warnings=[[w.message for w in r.warnings]])


def elementwise(tree: Expr) -> bool:
    """Whether every operation of tree acts entry by entry (so a point axis passes through)."""
    for node in postorder(tree):
        if node.kind in ("num", "name", "unary"):
            continue
        op = OPS.get(node.value) if node.kind == "binary" else FUNCTIONS.get(node.value) if node.kind == "call" else None
        if op is None or not op.elementwise:
            return False
    return True


def _scalar(v: Any) -> bool:
    return isinstance(v, float) or np.ndim(v) == 0


class Batch:
    """One expression (parsed once) with its fixed values, computed at many points.

    kind is grad, jacobian or hessian; fixed values apply to every point; a point gives
    the other variables. on_point(n) is told after each point computed one by one. dtype:
    float64 (default) or float32, as the functional API's.
    """

    def __init__(self, kind: str, expr: str, fixed: Mapping[str, Any], wrt: str | None, *,
                 grad_output: Any = None, method: str = "batched", chunk: int | None = None,
                 diagnose: bool = True, on_point: Callable[[int], None] | None = None, dtype: Any = None):
        self.kind, self.source, self.fixed = kind, expr, dict(fixed)
        self.dtype = dtype_of(dtype)
        self.tree = parse(expr)
        self.names = variables(self.tree)
        self.wrt = wrt
        functional.check_method(method, chunk)
        self.grad_output, self.method, self.chunk = grad_output, method, chunk
        self.diagnose, self.on_point = diagnose, on_point
        self.vectorise = (grad_output is None and elementwise(self.tree)
                          and all(_scalar(v) for v in self.fixed.values()))

    def check_columns(self, columns: Iterable[str]) -> None:
        """Reject a CSV header that leaves a variable without a value or gives one twice."""
        columns = list(columns)
        twice = [c for c in columns if c in self.fixed]
        if twice:
            raise GradcliError(f"{param('points')}: {', '.join(twice)} is given both as a column and as {variable(twice[0])}",
                               kind="usage")
        extra = [c for c in columns if c not in self.names]
        if extra:
            raise GradcliError(f"{param('points')}: the column {extra[0]!r} is not a variable of the expression "
                               f"(its variables: {', '.join(self.names)})", kind="name")
        missing = [n for n in self.names if n not in columns and n not in self.fixed]
        if missing:
            raise GradcliError(f"{param('points')}: no value for {', '.join(missing)}: add a column "
                               f"{missing[0]} or give {value_hint(missing[0])}", kind="name")

    def point_error(self, point: Point) -> BadRow | None:
        missing = [n for n in self.names if n not in point.values and n not in self.fixed]
        extra = [n for n in point.values if n not in self.names or n in self.fixed]
        if missing:
            return BadRow(point.line, GradcliError(f"no value for {', '.join(missing)}", kind="name"))
        if extra:
            why = "given twice" if all(n in self.fixed for n in extra) else "not a variable of the expression"
            return BadRow(point.line, GradcliError(f"{', '.join(extra)}: {why}", kind="name"))
        return None

    def compute(self, points: list[Point]) -> Iterator[Results | BadRow]:
        """Results for the points, vectorised when they allow it, else one by one."""
        if self.vectorise and len(points) > 1 and all(_scalar(v) for p in points for v in p.values.values()):
            try:
                yield self._diagnosed(self._vectorised(points), points)
                return
            except GradcliError:
                pass  # one by one finds the point at fault and reports it with its line
        for point in points:
            yield self._single(point)
            if self.on_point is not None:
                self.on_point(1)

    def _single(self, point: Point) -> Results | BadRow:
        try:
            p = functional.problem(self.tree, {**self.fixed, **point.values}, self.wrt, source=self.source,
                                   dtype=self.dtype)
            if self.kind == "grad":
                r = functional.grad(p, None, grad_output=self.grad_output)
            elif self.kind == "jacobian":
                r = functional.jacobian(p, None, method=self.method, chunk=self.chunk)
            else:
                r = functional.hessian(p, None, method=self.method, chunk=self.chunk)
        except GradcliError as err:
            return BadRow(point.line, err.with_source(self.source))
        return from_result(r, point.line)

    def _vectorised(self, points: list[Point]) -> Results:
        n = len(points)
        values = {name: np.full(n, float(self.fixed[name])) if name in self.fixed
                  else np.array([p.values[name] for p in points], dtype=np.float64) for name in self.names}
        p = functional.problem(self.tree, values, self.wrt, source=self.source, dtype=self.dtype)
        values = p.values  # (rounded to the dtype)
        out, leaves = p.forward()
        if out.shape != (n,):
            raise GradcliError("the output is not one number per point", kind="shape")
        lines = [pt.line for pt in points]
        with np.errstate(all="ignore"):
            first = run_backward([(out, Tensor(np.ones(n, p.dtype)))], create_graph=self.kind == "hessian",
                                 retain_graph=True) if out.requires_grad else {}
            grads = _by_name(leaves, p.wrt, first, n)
            result = Results(self.kind, list(p.wrt), lines, values, out.data.copy())
            if self.kind == "jacobian":
                result.jacobian = {name: np.array(g.data) for name, g in grads.items()}
            else:
                result.gradients = {name: np.array(g.data) for name, g in grads.items()}
            if self.kind == "hessian":
                result.hessian = {}
                for a in p.wrt:
                    second = run_backward([(grads[a], Tensor(np.ones(n, p.dtype)))], retain_graph=True) \
                        if grads[a].requires_grad else {}
                    result.hessian[a] = {b: np.array(h.data) for b, h in _by_name(leaves, p.wrt, second, n).items()}
        result.warnings = [[] for _ in points]
        return result

    def _diagnosed(self, result: Results, points: list[Point]) -> Results:
        """Points whose numbers are not all finite are re-run alone, to say where they stopped being finite."""
        finite = np.isfinite(result.value)
        for block in (result.gradients, result.jacobian, *(result.hessian or {}).values()):
            for a in (block or {}).values():
                finite &= np.isfinite(a)
        for count, i in enumerate(np.flatnonzero(~finite) if self.diagnose else ()):
            if count >= DIAGNOSED_PER_CHUNK:
                result.warnings[i] = ["the value or a derivative is not finite"]
                continue
            single = self._single(points[i])
            result.warnings[i] = single.warnings[0] if isinstance(single, Results) else [single.error.message]
        if self.on_point is not None:
            self.on_point(len(points))
        return result


def _by_name(leaves: Mapping[str, Tensor], wrt: list[str], found: Mapping[Any, Tensor], n: int) -> dict[str, Tensor]:
    """Cotangents at the leaves by variable name, zeros (one per point) where none flowed."""
    return {name: Tensor(np.zeros(n, leaves[name].dtype)) if ct is None else ct
            for name, ct in functional.leaf_cotangents(leaves, wrt, found).items()}


def run(batch: Batch, points: str, *, stdin: IO[str] | None = None, seed: int = 0,
        size: int = CHUNK) -> Iterator[Results | BadRow]:
    """Read the points file ('-': standard input) and compute at each point, in input order."""
    lines, streaming = open_lines(points, stdin)
    reader = PointReader(seed)
    try:
        for block in chunks(bounded(lines, points), size, streaming, points):
            segment: list[Point] = []
            for number, text in block:
                had_columns = reader.columns is not None
                item = reader.read(number, text)
                if reader.columns is not None and not had_columns:
                    batch.check_columns(reader.columns)
                if item is None:
                    continue
                bad = item if isinstance(item, BadRow) else batch.point_error(item)
                if bad is None:
                    segment.append(item)
                    continue
                yield from batch.compute(segment)
                segment = []
                yield bad
            yield from batch.compute(segment)
        if reader.jsonl is None:
            raise GradcliError(f"{param('points')}: {'standard input' if points == '-' else repr(points)} holds no points",
                               kind="file")
    finally:
        if not streaming:
            lines.close()  # type: ignore[attr-defined]
