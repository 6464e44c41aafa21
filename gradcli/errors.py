"""The one error type of gradcli, and where in the expression it points.

Errors are raised deep (parser, shape checks, value parsing, the engine) with the
character span of the sub-expression at fault, and rendered once, at the CLI edge.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

Span = tuple[int, int]  # 0-based, half-open character offsets into the expression


class GradcliError(Exception):
    """A user-facing error: a message, a kind, and optionally a span into `source`.

    kind is one of: syntax, name, value, shape, index, limit, file, grad, usage, check.
    """

    def __init__(self, message: str, *, kind: str = "usage", span: Span | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.span = span
        self.source = source

    def with_source(self, source: str) -> GradcliError:
        """Attach the expression text, unless a more specific one is already there."""
        if self.source is None:
            self.source = source
        return self

    def caret_lines(self) -> list[str]:
        """The expression line and a `^~~~` underline of the span, or nothing without both."""
        if self.span is None or self.source is None:
            return []
        return caret_lines(self.source, self.span)

    def __str__(self) -> str:
        return "\n".join([self.message, *self.caret_lines()])


def caret_lines(source: str, span: Span) -> list[str]:
    """Two lines: the (single-line view of the) source and an underline of span."""
    line = source.replace("\n", " ").replace("\t", " ")
    start = max(0, min(span[0], len(line)))
    end = max(start + 1, min(span[1], len(line) + 1))
    # NOTE: very long expressions are shown as a window around the span.
    width = 100
    offset = 0
    if len(line) > width:
        offset = max(0, min(start - width // 3, len(line) - width))
        line = line[offset:offset + width]
        start -= offset
        end = min(end - offset, width + 1)
    underline = " " * start + "^" + "~" * max(0, end - start - 1)
    return ["  " + line, "  " + underline]


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to `name`, for 'did you mean' hints."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def format_shape(shape: tuple[int, ...]) -> str:
    """A shape as Python writes a tuple: (3,), (2, 3), ()."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
