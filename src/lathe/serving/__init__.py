"""Serving: `lathe serve` — a FastAPI prediction server with micro-batching, API keys,
metrics, a prediction log, hot reload and a web page.

>>> from lathe.serving import ServeSettings
>>> ServeSettings(models=["models/adult"]).max_batch
64
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only when an app is actually built.
    if name == "create_app":
        from lathe.serving.app import create_app

        return create_app
    if name == "ServeSettings":
        from lathe.serving.settings import ServeSettings

        return ServeSettings
    raise AttributeError(name)
