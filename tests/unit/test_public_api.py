"""The public API is explicit: `lathe.__all__` names exactly what is exported, lazily."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import lathe


def test_every_exported_name_resolves() -> None:
    for name in lathe.__all__:
        assert getattr(lathe, name) is not None, name
    assert lathe.__version__ == "0.1.0"


def test_all_names_exactly_the_public_members() -> None:
    """As httpx's test_exported_members: every public member of `lathe` is in `__all__`,
    and nothing else is (submodules aside, which importing binds as attributes)."""
    for name in lathe.__all__:
        getattr(lathe, name)  # resolve the lazy exports
    public = {name for name, value in vars(lathe).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert public == set(lathe.__all__) - {"__version__"}
    assert lathe.__all__ == sorted(lathe.__all__[:-1]) + ["__version__"]


def test_every_verb_is_exported_from_the_api() -> None:
    import lathe.api as api

    verbs = {"train", "tune", "compress", "explain", "evaluate", "predict", "register",
             "compare", "check", "load"}
    assert verbs <= set(lathe.__all__)
    for verb in verbs:
        assert getattr(lathe, verb) is getattr(api, verb), verb
    # defined by the api package itself (lathe.api or one of its private modules)
    own = {name for name, value in vars(api).items() if not name.startswith("_")
           and str(getattr(value, "__module__", "")).split(".")[:2] == ["lathe", "api"]}
    assert set(api.__all__) - {"Model", "Metrics"} <= own


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
