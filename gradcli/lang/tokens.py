"""Text to tokens: one findall over the whole text, giving each token with the spaces and
comments before it; the tokens as parallel lists (texts, start offsets), and a character no
token starts with as an error, with a hint when it looks like an operator (− for -); and where
an offset stands in the source, for messages (`place`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import accumulate
from operator import sub
from typing import NamedTuple

from gradcli.errors import GradcliError, Span

LOOKALIKES = {"−": "-", "–": "-", "×": "*", "·": "*", "÷": "/", "＊": "*", "＋": "+", "（": "(", "）": ")",
              "，": ",", "²": "**2", "³": "**3"}
# A token, after the spaces and comments before it (possessive: a comment is never cut short to
# find a token inside it); at the end, the spaces and comments left and an empty token. One findall
# reads the whole text in C, as one string a token, with its gap (no group: no tuple a token). The
# commonest tokens are tried first; a number before the dots, so that .5 is a number. Spaces first,
# then comments each with the spaces after it, and runs of digits read whole: the same tokens as a
# gap of (spaces or a comment)* and digits read one by one, in a tenth fewer instructions of the
# regular expression engine. The repeated groups (a gap's comments, a number's fraction and exponent)
# are possessive too, as nothing after one could make it give back (the token ends the pattern): a
# fifth fewer again, with no backtracking to prepare for.
GAP = re.compile(r"\s*+(?:\#[^\n]*+\s*+)*+")
TOKEN = r"""
    (?: \*\*|//|<=|>=|==|!=|[-+*/%@^<>()\[\],:=;]
    | [A-Za-z_][A-Za-z_0-9]*
    | 0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*
    | (?:\d++(?:_\d++)*+(?:\.(?:\d++(?:_\d++)*+)?+)?+|\.\d++(?:_\d++)*+)(?:[eE][+-]?\d++(?:_\d++)*+)?+
    | \.\.\.|\.
    | '[^'\\\n]*'|"[^"\\\n]*"
    | \Z)
"""
PIECE = re.compile(GAP.pattern + TOKEN, re.VERBOSE)
# PIECE for a text with no comment: no comment to look for before each token, an eighth fewer again.
SPACED = re.compile(r"\s*+" + TOKEN, re.VERBOSE)
QUOTES = ("'", '"')


class Token(NamedTuple):
    kind: str  # number, name, string, op, end
    text: str
    span: Span
    line_start: bool = False  # the first token of a line outside brackets: a statement may start here


class Tokens(NamedTuple):
    """A text's tokens as parallel lists, the last the empty end token at len(source)."""

    texts: list[str]
    starts: list[int]
    lines: frozenset[int]  # the tokens that start a line outside brackets: a statement may start there


def tokenize(source: str) -> Tokens:
    # Each token with the gap before it; a token ends where its piece does, and starts its length before.
    if "#" in source:
        pieces = PIECE.findall(source)
        texts = [piece[GAP.match(piece).end():] for piece in pieces]
    else:  # the gaps are spaces, and no token starts with one (str.lstrip's spaces are \s's)
        pieces = SPACED.findall(source)
        texts = list(map(str.lstrip, pieces))
    if len(texts) > 1 and not texts[-2]:
        del pieces[-1], texts[-1]  # a second, empty match at the end, after the one that read the last spaces
    ends = list(accumulate(map(len, pieces)))
    if ends[-1] != len(source):  # findall skipped a character no token starts with
        _unexpected(source, _first_gap(source))
    lines: frozenset[int] = frozenset()
    if "\n" in source:
        lines = frozenset(_line_starts(pieces, texts))
    return Tokens(texts, list(map(sub, ends, map(len, texts))), lines)


def _line_starts(pieces: list[str], texts: list[str]) -> Iterator[int]:
    depth = 0  # of brackets: a newline inside them continues the line
    for i, (piece, text) in enumerate(zip(pieces, texts)):
        if i and text and depth == 0 and "\n" in piece:  # (no token holds a newline: it is the gap's)
            yield i
        if text == "(" or text == "[":
            depth += 1
        elif text == ")" or text == "]":
            depth = max(0, depth - 1)


def _first_gap(source: str) -> int:
    """Where reading token after token stops: the first character no token starts with."""
    pos = 0
    for m in PIECE.finditer(source):
        if m.start() != pos:
            break
        pos = m.end()
    return GAP.match(source, pos).end()


def _unexpected(source: str, pos: int) -> None:
    ch = source[pos]
    hint = LOOKALIKES.get(ch)
    message = f"unexpected character {ch!r}"
    if hint:
        message += f": did you mean {hint!r}?"
    elif ch == "'" or ch == '"':
        message = f"a string starting here has no closing {ch} (strings have no escapes: \\)"
    raise GradcliError(message, kind="syntax", span=(pos, pos + 1), source=source)


def token_kind(text: str) -> str:
    """number, name, string, op, or end for the empty end token."""
    if not text:
        return "end"
    first = text[0]
    if first.isdigit() or (first == "." and text[1:2].isdigit()):
        return "number"
    if first.isalpha() or first == "_":
        return "name"
    return "string" if first in QUOTES else "op"


def place(source: str, offset: int) -> str:
    """Where a character offset is: column 7, or line 3, column 7 in a source of several lines."""
    first = source.rfind("\n", 0, offset) + 1
    column = f"column {offset - first + 1}"
    return column if "\n" not in source.strip() else f"line {source.count(chr(10), 0, first) + 1}, {column}"
