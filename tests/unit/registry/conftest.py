"""Fixtures for registry unit tests: a fresh SQLite registry and fake artifacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lathe.registry import ModelRegistry, open_registry
from lathe.registry.testing import fake_artifact


@pytest.fixture()
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    with open_registry(f"sqlite:///{tmp_path}/reg/lathe.db") as reg:
        yield reg


@pytest.fixture()
def make_artifact(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def make(seed: int | None = None, **kwargs) -> Path:
        n = next(counter)
        return fake_artifact(tmp_path / "src" / f"a{n}", seed=n if seed is None else seed, **kwargs)

    return make
