"""The one error type of gradcli, where in the expression it points, and whom it names.

Errors are raised deep (parser, shape checks, value parsing, the engine) with the
character span of the sub-expression at fault, and rendered once, at the CLI edge.

Messages speak the library's language: `chunk must be at least 1`, `x: 'a' is not a
number`. A parameter or variable named in a message is marked with `param`, `variable`
or `value_hint`, and spelled when the message is read, by the spelling in force: the
library's by default (`chunk`, `x`, `x=VALUE`); the command line installs its own
(`--chunk`, `--x`, `--x VALUE`) with `spelling`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Span = tuple[int, int]  # 0-based, half-open character offsets into the expression

# NOTE: marks are private-use characters, which user text has no reason to contain, so
# an expression or value copied into a message is not taken for a mark.
_MARK = re.compile("\ue000(param|variable|value):([^\ue001]*)\ue001")
Spelling = Callable[[str, str], str]  # (mark kind, name) -> the text a reader sees


def param(name: str) -> str:
    """A parameter of the library named in a message: `chunk`; on the command line `--chunk`."""
    return f"\ue000param:{name}\ue001"


def variable(name: str) -> str:
    """A variable of the expression named in a message: `x`; on the command line `--x`."""
    return f"\ue000variable:{name}\ue001"


def value_hint(name: str) -> str:
    """How to give variable `name` a value: `x=VALUE`; on the command line `--x VALUE`."""
    return f"\ue000value:{name}\ue001"


def library_spelling(kind: str, name: str) -> str:
    """How a library caller reads a marked name: chunk, x, x=VALUE."""
    return f"{name}=VALUE" if kind == "value" else name


_SPELLING: ContextVar[Spelling] = ContextVar("gradcli_spelling", default=library_spelling)


@contextmanager
def spelling(spell: Spelling) -> Iterator[None]:
    """Read every error message with `spell` for the marked names, within the block."""
    token = _SPELLING.set(spell)
    try:
        yield
    finally:
        _SPELLING.reset(token)


def spelled(words: str, spell: Spelling | None = None) -> str:
    """`words` with each marked name spelled by `spell`, or by the spelling in force."""
    spell = spell or _SPELLING.get()
    return _MARK.sub(lambda m: spell(m[1], m[2]), words)


class GradcliError(Exception):
    """A user-facing error: a message, a kind, optionally a span into `source`, and the
    parameter or variable it is about (by default, the first name its message marks).

    kind is one of: syntax, name, value, shape, index, limit, file, grad, usage, check.
    `words` is the message with its names marked (see `param`); `message` reads it.
    """

    def __init__(self, message: str, *, kind: str = "usage", span: Span | None = None, source: str | None = None,
                 param: str | None = None, variable: str | None = None):
        super().__init__()
        self.words = message
        self.kind = kind
        self.span = span
        self.source = source
        first = _MARK.search(message)
        if param is None and variable is None and first:
            # The first name a message marks is what it is about, unless told otherwise.
            param, variable = (first[2], None) if first[1] == "param" else (None, first[2])
        self.param = param
        self.variable = variable
        self.origin: str | None = None  # the file the source came from (model.gc), for multi-line sources

    @property
    def words(self) -> str:
        return self._words

    @words.setter
    def words(self, words: str) -> None:
        self._words = words
        self.args = (spelled(words, library_spelling),)

    @property
    def message(self) -> str:
        return spelled(self.words)

    def with_source(self, source: str) -> GradcliError:
        """Attach the expression text, unless a more specific one is already there."""
        if self.source is None:
            self.source = source
        return self

    def caret_lines(self) -> list[str]:
        """The expression line and a `^~~~` underline of the span, or nothing without both."""
        if self.span is None or self.source is None:
            return []
        return caret_lines(self.source, self.span, self.origin)

    def __str__(self) -> str:
        return "\n".join([self.message, *self.caret_lines()])


def caret_lines(source: str, span: Span, origin: str | None = None) -> list[str]:
    """Two lines: the source and an underline of span; a program of several lines shows the line
    the span starts on, after its place (model.gc:3:7, or line 3, column 7)."""
    if "\n" in source.strip() or origin:
        first = source.rfind("\n", 0, span[0]) + 1
        last = source.find("\n", first)
        last = len(source) if last < 0 else last
        number, column = source.count("\n", 0, first) + 1, span[0] - first + 1
        place = f"{origin}:{number}:{column}" if origin else f"line {number}, column {column}"
        return ["  " + place, *caret_lines(source[first:last], (span[0] - first, min(span[1], last) - first))]
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
    """The known name that `name` is most likely a typo of, for 'did you mean' hints; or None.

    Only a typo counts: a name that differs in case only, or by one edit (an insertion, a
    deletion, a change or a swap of two neighbours; two edits for names of more than 5
    letters), with the same digits, and not every letter of a name changed. So `sinn`
    finds `sin`, `formt` finds `format`, `Sin` finds `sin`; `round` does not find
    `prod`, `log10` does not find `log1p`, and `y` does not find `x`.
    """
    typed = name.lower()
    allowed = 1 if len(typed) <= 5 else 2
    best: tuple[int, float, str] | None = None
    for candidate in known:
        other = candidate.lower()
        if _digits(other) != _digits(typed):
            continue
        edits = _edits(typed, other)
        if edits > allowed or (edits and edits >= max(len(typed), len(other))):
            continue
        # Among equally close names, the one most alike in letters (difflib's ratio) wins.
        rank = (edits, -difflib.SequenceMatcher(None, typed, other).ratio(), candidate)
        if best is None or rank < best:
            best = rank
    return best[2] if best else None


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _edits(a: str, b: str) -> int:
    """Insertions, deletions, changes and swaps of neighbours that turn a into b."""
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        previous, row = row, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
        before = previous
    return row[-1]


def format_shape(shape: tuple[int, ...]) -> str:
    """A shape as Python writes a tuple: (3,), (2, 3), ()."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
