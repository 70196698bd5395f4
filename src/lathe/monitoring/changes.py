"""Where did the model start to decay? Concept-drift detectors from River (ADWIN, Page-
Hinkley) run over the stream of errors (1 = wrong, 0 = right; absolute error for
regression) of the labelled rows, in file order. Only increases of the error are reported.

River's own examples (its ADWIN and PageHinkley docstrings) are reproduced in the tests:
a 0/1 stream that jumps to 4..7 at row 1000 is caught at row 1023 (ADWIN) and 1006
(Page-Hinkley).

>>> import numpy as np
>>> errors = np.r_[np.zeros(600), np.ones(50), (np.arange(600) % 2 == 0) * 1.0]
>>> found = change_points(errors, np.arange(len(errors)))
>>> found[0]["detector"], found[0]["row"], found[0]["detected_at"]  # errors begin at 600
('adwin', 584, 639)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lathe.errors import ConfigError, MissingDependency

__all__ = ["change_points", "DETECTORS"]

DETECTORS = ("adwin", "page_hinkley")


def _detector(name: str) -> Any:
    try:
        from river import drift
    except ImportError as err:
        raise MissingDependency("concept-drift detection needs River",
                                hint="pip install 'lathe[monitor]'") from err
    if name == "adwin":
        return drift.ADWIN()
    if name == "page_hinkley":
        return drift.PageHinkley(mode="up")
    raise ConfigError(f"unknown drift detector {name!r}", hint="use adwin or page_hinkley")


def change_points(errors: np.ndarray, rows: np.ndarray, detector: str = "adwin"
                  ) -> list[dict[str, Any]]:
    """Each detection where the error went up: the row it was detected at, the row the new
    regime is estimated to have begun (ADWIN: detection minus its kept window), and the
    error rate before and after."""
    det = _detector(detector)
    found: list[dict[str, Any]] = []
    last = 0
    for i, e in enumerate(np.asarray(errors, dtype=float)):
        det.update(float(e))
        if not det.drift_detected:
            continue
        width = int(getattr(det, "width", 0) or 0) if detector == "adwin" else 0
        began = max(i - width + 1, last) if width else i
        before = float(np.mean(errors[last:began])) if began > last else None
        after = float(np.mean(errors[began:i + 1]))
        if before is None or after > before:
            found.append({"detector": detector, "row": int(rows[began]),
                          "detected_at": int(rows[i]), "error_before": before,
                          "error_after": after})
        last = i + 1
    return found
