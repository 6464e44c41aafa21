"""Limits that keep any input from hanging or exhausting the machine, checked before work.

Each can be set by an environment variable, read once at start-up: GRADCLI_MAX_LENGTH,
GRADCLI_MAX_DEPTH, GRADCLI_MAX_NODES (tokens of the expression), GRADCLI_MAX_ELEMENTS,
GRADCLI_MAX_TEXT (bytes of a value read as text: a .csv or .json file, standard input).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return max(1, int(text))
    except ValueError:
        return default


@dataclass
class Limits:
    max_length: int = _env_int("GRADCLI_MAX_LENGTH", 1_000_000)  # characters of an expression
    max_depth: int = _env_int("GRADCLI_MAX_DEPTH", 200)  # nesting of the expression
    max_nodes: int = _env_int("GRADCLI_MAX_NODES", 1_000_000)  # parts (tokens) of the expression
    max_elements: int = _env_int("GRADCLI_MAX_ELEMENTS", 100_000_000)  # entries of any array
    max_text: int = _env_int("GRADCLI_MAX_TEXT", 256 * 2**20)  # bytes of a value given as text


LIMITS = Limits()
