"""The text of a sub-expression from its span, with the brackets its operands were written in.

A binary node's span runs from its left operand's span to its right one's, and a
parenthesised operand's span leaves its brackets out, so `(a - b)**2` would read
`a - b)**2`; these helpers put the brackets back.

    >>> span_text("(a - b)**2", (1, 10))
    '(a - b)**2'
"""

from __future__ import annotations


def balanced_span(source: str, span: tuple[int, int]) -> tuple[int, int]:
    """span widened to the nearest brackets that balance the ones it holds."""
    start, end = span
    text = source[start:end]
    for opener, closer in ("()", "[]"):
        missing_open = text.count(closer) - text.count(opener)
        while missing_open > 0 and start > 0:
            start = source.rindex(opener, 0, start) if opener in source[:start] else 0
            missing_open -= 1
        missing_close = text.count(opener) - text.count(closer)
        while missing_close > 0 and closer in source[end:]:
            end = source.index(closer, end) + 1
            missing_close -= 1
        text = source[start:end]
    return start, end


def span_text(source: str, span: tuple[int, int]) -> str:
    """The balanced text of span in source."""
    start, end = balanced_span(source, span)
    return source[start:end]
