"""Text to tokens: one findall over the whole text, giving each token with the spaces and
comments after it; the tokens as parallel lists (texts, start offsets), and a character no
token starts with as an error, with a hint when it looks like an operator (− for -); and where
an offset stands in the source, for messages (`place`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import accumulate
from typing import NamedTuple

from gradcli.errors import GradcliError, Span

LOOKALIKES = {"−": "-", "–": "-", "×": "*", "·": "*", "÷": "/", "＊": "*", "＋": "+", "（": "(", "）": ")",
              "，": ",", "²": "**2", "³": "**3"}
# A token, then the spaces and comments after it (possessive: a comment is never cut short to find a
# token inside it); at the end, an empty token. One findall reads the whole text in C, as one string
# a token with its gap (no group: no tuple a token), and a token starts where the strings before it
# end. The commonest tokens are tried first; a number before the dots, so that .5 is a number.
# Spaces first, then comments each with the spaces after it, and runs of digits read whole: the same
# tokens as a gap of (spaces or a comment)* and digits read one by one, in a tenth fewer instructions
# of the regular expression engine. The repeated groups (a gap's comments, a number's fraction and
# exponent) are possessive too, as nothing after one could make it give back: a fifth fewer again,
# with no backtracking to prepare for.
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
PIECE = re.compile(TOKEN + GAP.pattern, re.VERBOSE)
# PIECE for a text with no comment: no comment to look for after each token, an eighth fewer again.
SPACED = re.compile(TOKEN + r"\s*+", re.VERBOSE)
ONE = re.compile(TOKEN, re.VERBOSE)  # the token of a piece
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
    # Each token with the gap after it, from the end of the gap the text opens with; a token starts where
    # the piece before it ends. The last piece is the end token, alone.
    first = GAP.match(source).end()
    if "#" in source:
        pieces = PIECE.findall(source, first)
        texts = [ONE.match(piece).group() for piece in pieces]
    else:  # the gaps are spaces, and no token ends with one (str.rstrip's spaces are \s's)
        pieces = SPACED.findall(source, first)
        texts = list(map(str.rstrip, pieces))
    starts = list(accumulate(map(len, pieces), initial=first))
    if starts.pop() != len(source):  # findall skipped a character no token starts with
        _unexpected(source, _first_gap(source))
    lines: frozenset[int] = frozenset()
    if "\n" in source:
        lines = frozenset(_line_starts(pieces, texts))
    return Tokens(texts, starts, lines)


def _line_starts(pieces: list[str], texts: list[str]) -> Iterator[int]:
    depth = 0  # of brackets: a newline inside them continues the line
    for i, text in enumerate(texts):
        if i and text and depth == 0 and "\n" in pieces[i - 1]:  # (no token holds a newline: the gap does)
            yield i
        if text == "(" or text == "[":
            depth += 1
        elif text == ")" or text == "]":
            depth = max(0, depth - 1)


def _first_gap(source: str) -> int:
    """Where reading token after token stops: the first character no token starts with."""
    pos = GAP.match(source).end()
    for m in PIECE.finditer(source, pos):
        if m.start() != pos:
            break
        pos = m.end()
    return pos


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
