"""A small registry per concern, so plug-ins are found by name.

>>> widgets: Registry[type] = Registry("widget")
>>> @widgets.register("plain")
... class Plain: ...
>>> widgets.get("plain") is Plain
True
>>> widgets.get("plian")
Traceback (most recent call last):
lathe.errors.ConfigError: unknown widget 'plian'; did you mean 'plain'? Fix: choose one of: plain
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from lathe.errors import ConfigError, did_you_mean

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Name -> implementation. Registration happens at import of the implementing module."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ConfigError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; {did_you_mean(name, self._items)}",
                hint="choose one of: " + ", ".join(sorted(self._items)),
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
