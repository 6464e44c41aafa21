"""Many points, one expression: derivatives at each point, vectorised where the points allow.

The expression is parsed once. A chunk of points whose values have one shape per
variable is evaluated in one pass (a vmap, autodiff/vmap.py): each variable a point gives
is stacked with a leading point axis, and every operation runs its batching rule on the
whole arrays. Because the points are independent,

    d sum_i f(x_i) / d x_j = f'(x_j),

so one backward pass from sum(f) gives every point's gradient; a Jacobian takes one pass
per entry of one point's output (seeded with that entry at every point); and a Hessian
one pass per entry of each gradient, from the first pass's graph. An expression that
reads shapes outside the engine (indexing, list literals, .shape, len) or a grad_output
falls back to one computation per point, as does a chunk whose points differ in shape.
Reading the points is points.py's.

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
from gradcli.api.compiled import GradientFunction, gradient_program
from gradcli.api.diagnose import finite
from gradcli.api.evaluate import SIZE_METHODS, variables
from gradcli.api.points import BadRow, Point, PointReader, bounded, chunks, open_lines
from gradcli.autodiff.engine import Tensor, as_array, dtype_of, run_backward
from gradcli.autodiff.vmap import Points, at_points
from gradcli.errors import GradcliError, param, value_hint, variable
from gradcli.lang.parser import parse
from gradcli.lang.tree import Expr, postorder

CHUNK = 8192  # points per vectorised pass
POINT_ENTRIES = 1 << 20  # at most this many entries of one variable in a pass (vectors and matrices take fewer points)
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


# What an expression may hold to run at many points at once. Indexing, list literals, .shape and
# len() read a value's shape outside the engine, where a point axis would be counted in.
_BATCHABLE = {"num", "str", "name", "unary", "binary", "call", "tuple", "attr", "let", "program"}


def batchable(tree: Expr) -> bool:
    """Whether every node of tree can take values with a leading point axis (autodiff/vmap.py)."""
    for node in postorder(tree):
        if node.kind not in _BATCHABLE or (node.kind == "attr" and node.value in ("shape", "ndim")) or \
                (node.kind == "call" and node.value == "len" and not node.text) or \
                (node.kind == "call" and node.value in SIZE_METHODS and node.text.startswith(".")):
            return False
    return True


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
        self.vectorise = grad_output is None and batchable(self.tree)
        # One by one, a gradient replays a traced program (a Jacobian or Hessian runs eagerly).
        self.replays = kind == "grad" and grad_output is None
        self._gradient: GradientFunction | None = None

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
        if self.vectorise and len(points) > 1 and _same_shapes(points):
            try:
                size = max(1, POINT_ENTRIES // max(np.size(v) for v in points[0].values.values()))
                together = [self._vectorised(points[i:i + size]) for i in range(0, len(points), size)]
            except GradcliError:
                together = []  # one by one finds the point at fault and reports it with its line
            if together:
                yield from (self._diagnosed(r, points[i * size:(i + 1) * size]) for i, r in enumerate(together))
                return
        for point in points:
            yield self._replayed(point) if self.replays else self._single(point)
            if self.on_point is not None:
                self.on_point(1)

    def _replayed(self, point: Point) -> Results | BadRow:
        """A gradient at one point, as a traced program replayed at every point after the first of
        its shapes (api/compiled.py). A point whose numbers are not all finite, or that the
        program refuses, is computed again eagerly: its warnings, or its error, are the engine's."""
        values = {**self.fixed, **point.values}
        try:
            if self._gradient is None:
                self._gradient = gradient_program(functional.problem(
                    self.tree, values, self.wrt, source=self.source, dtype=self.dtype))
            value, gradients = self._gradient(values)
        except GradcliError:
            return self._single(point)
        if not (finite(value) and all(finite(g) for g in gradients.values())):
            return self._single(point)
        return Results("grad", list(gradients), [point.line], {n: as_array(v, self.dtype)[None] for n, v in values.items()},
                       value[None], gradients={n: g[None] for n, g in gradients.items()}, warnings=[[]])

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
        """The points as one evaluation with a leading point axis: a variable a point gives, or a
        fixed one that is differentiated (its gradient is per point), is stacked; any other fixed
        value is shared by every point."""
        n = len(points)
        shared = functional.problem(self.tree, {**self.fixed, **points[0].values}, self.wrt, source=self.source,
                                    dtype=self.dtype)
        stacked = {name: np.stack([np.asarray(pt.values[name], dtype=np.float64) for pt in points])
                   if name not in self.fixed else np.broadcast_to(self.fixed[name], (n,) + np.shape(self.fixed[name]))
                   for name in self.names if name not in self.fixed or name in shared.wrt}
        p = functional.problem(self.tree, {**self.fixed, **stacked}, self.wrt, source=self.source, dtype=self.dtype)
        leaves = p.leaves()
        at = Points(n)
        for name in stacked:
            at.mark(leaves[name])
        with at_points(at):
            out, leaves = p.forward(leaves)
        if id(out) not in at.batched:  # (the output depends on no point: one value for all)
            raise GradcliError("the output does not depend on the points", kind="shape")
        shape = out.shape[1:]
        if self.kind != "jacobian" and shape != ():
            raise GradcliError("the output is not one number per point", kind="shape")
        values = {name: v if name in stacked else np.broadcast_to(v, (n,) + v.shape) for name, v in p.values.items()}
        result = Results(self.kind, list(p.wrt), [pt.line for pt in points], values, out.data.copy())
        with np.errstate(all="ignore"):
            if self.kind == "jacobian":
                rows = [_per_point(out, leaves, p.wrt, n, entry) for entry in np.ndindex(shape)]
                result.jacobian = {name: np.stack([np.asarray(r[name].data) for r in rows], axis=1).reshape(
                    (n,) + shape + leaves[name].shape[1:]) for name in p.wrt}
                return _no_warnings(result)
            grads = _per_point(out, leaves, p.wrt, n, (), create_graph=self.kind == "hessian")
            result.gradients = {name: np.array(g.data) for name, g in grads.items()}
            if self.kind == "hessian":
                result.hessian = {a: {} for a in p.wrt}
                for a in p.wrt:
                    a_shape = leaves[a].shape[1:]
                    rows = [_per_point(grads[a], leaves, p.wrt, n, entry) for entry in np.ndindex(a_shape)]
                    for b in p.wrt:
                        result.hessian[a][b] = np.stack([np.asarray(r[b].data) for r in rows], axis=1).reshape(
                            (n,) + a_shape + leaves[b].shape[1:])
        return _no_warnings(result)

    def _diagnosed(self, result: Results, points: list[Point]) -> Results:
        """Points whose numbers are not all finite are re-run alone, to say where they stopped being finite."""
        def everywhere(a: np.ndarray) -> np.ndarray:
            return np.isfinite(a).reshape(len(a), -1).all(axis=1)

        finite = everywhere(result.value)
        for block in (result.gradients, result.jacobian, *(result.hessian or {}).values()):
            for a in (block or {}).values():
                finite &= everywhere(a)
        for count, i in enumerate(np.flatnonzero(~finite) if self.diagnose else ()):
            if count >= DIAGNOSED_PER_CHUNK:
                result.warnings[i] = ["the value or a derivative is not finite"]
                continue
            single = self._single(points[i])
            result.warnings[i] = single.warnings[0] if isinstance(single, Results) else [single.error.message]
        if self.on_point is not None:
            self.on_point(len(points))
        return result


def _same_shapes(points: list[Point]) -> bool:
    """Whether every point gives each variable in one shape (so that the points stack)."""
    first = {name: np.shape(v) for name, v in points[0].values.items()}
    return all({name: np.shape(v) for name, v in pt.values.items()} == first for pt in points)


def _per_point(out: Tensor, leaves: Mapping[str, Tensor], wrt: list[str], n: int, entry: tuple[int, ...], *,
               create_graph: bool = False) -> dict[str, Tensor]:
    """d out[i][entry] / d leaf[i] at every point i, from one backward pass: the points are
    independent, so the pass from the sum over points leaves each point's own derivative
    (zeros where none flowed)."""
    if not out.requires_grad:
        return {name: Tensor(np.zeros(leaves[name].shape, leaves[name].dtype)) for name in wrt}
    seed = np.zeros(out.shape, out.dtype)
    seed[(slice(None),) + entry] = 1
    found = run_backward([(out, Tensor(seed))], create_graph=create_graph, retain_graph=True)
    return {name: Tensor(np.zeros(leaves[name].shape, leaves[name].dtype)) if ct is None else ct
            for name, ct in functional.leaf_cotangents(leaves, wrt, found).items()}


def _no_warnings(result: Results) -> Results:
    result.warnings = [[] for _ in result.lines]
    return result


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
