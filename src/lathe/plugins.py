"""A small registry per concern, so plug-ins are found by name.

>>> widgets: Registry[type] = Registry("widget")
>>> @widgets.register("plain")
... class Plain: ...
>>> widgets.get("plain") is Plain
True
>>> widgets.get("plian")
Traceback (most recent call last):
lathe.errors.ConfigError: unknown widget 'plian'; did you mean 'plain'? Fix: choose one of: plain

Implementations that are slow to import are declared by module instead (`lazy`): the module is
imported on the first `get` of one of its names, and registers itself as above. This is the
only place where a string names a module to import: a lazy module must live inside the package
that owns the registry (`package=`), so no layer reaches another through a string, unseen by
the import contract (.importlinter).

>>> fams: Registry[type] = Registry("family", package="json")
>>> fams.lazy("decoder", "json.decoder")
>>> fams.names()
['decoder']
>>> fams.lazy("x", "email.parser")
Traceback (most recent call last):
ValueError: family 'x': module 'email.parser' is outside json; register it from its own package
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from lathe.errors import ConfigError, did_you_mean

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Name -> implementation. Registration happens at import of the implementing module."""

    def __init__(self, kind: str, *, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}

    def lazy(self, name: str, module: str) -> None:
        """Declare `name` as implemented by `module`, imported on first `get(name)`."""
        inside = self.package is not None and (
            module == self.package or module.startswith(self.package + "."))
        if not inside:
            raise ValueError(f"{self.kind} {name!r}: module {module!r} is outside "
                             f"{self.package}; register it from its own package")
        self._lazy[name] = module

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ConfigError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        if name not in self._items and name in self._lazy:
            importlib.import_module(self._lazy[name])  # registers itself on import
        try:
            return self._items[name]
        except KeyError:
            known = self.names()
            raise ConfigError(
                f"unknown {self.kind} {name!r}; {did_you_mean(name, known)}",
                hint="choose one of: " + ", ".join(known),
            ) from None

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy
