"""The public API is explicit: `lathe.__all__` names exactly what is exported, lazily."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys

import pytest

import lathe


def test_every_exported_name_resolves() -> None:
    for name in lathe.__all__:
        assert getattr(lathe, name) is not None, name
    assert lathe.__version__ == "0.1.0"


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError):
        lathe.does_not_exist  # noqa: B018


def test_import_is_light() -> None:
    code = "import sys, lathe; print(sorted(m for m in ('pandas', 'lightgbm', 'torch') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


LIGHT_MODULES = [
    info.name
    for info in pkgutil.walk_packages(lathe.__path__, "lathe.")
    if not any(
        heavy in info.name for heavy in ("text", "mlp", "_encoder", "_torch", "loop", "serving")
    )
]


@pytest.mark.parametrize("module_name", LIGHT_MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module):
        runner.run(test)
    assert runner.failures == 0, f"{module_name}: {runner.failures} doctest failure(s)"
