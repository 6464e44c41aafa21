"""The examples in module docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gradcli

MODULES = sorted(m.name for m in pkgutil.walk_packages(gradcli.__path__, "gradcli.") if m.name != "gradcli.__main__")


def test_the_package_has_modules_with_examples():
    """The walk below finds the examples (a finder that saw none would pass every module)."""
    finder = doctest.DocTestFinder()
    with_examples = [name for name in MODULES
                     if any(test.examples for test in finder.find(importlib.import_module(name)))]
    assert len(with_examples) >= 10, with_examples


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
