"""Monitoring: input drift, performance over windows (with delayed labels), alerts and
retraining a challenger. See `lathe monitor --help`.

Layer: below lathe.api, above the registry; reads data, models and the prediction log.
"""

from __future__ import annotations

__all__: list[str] = []
