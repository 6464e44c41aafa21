"""The nn_extras family's torch twins and generator forms for the differential suite."""

from __future__ import annotations


def add(d) -> None:
    """Put the twins in d.TWINS and the generator forms in d.FORMS."""
