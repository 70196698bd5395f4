"""What `lathe.explain` returns: global importance and per-row contributions, JSON-ready,
with `.save(path)` writing the self-contained HTML report.

>>> from lathe.explain.result import explain_model  # doctest: +SKIP
>>> result = explain_model(model, frame, rows=3)  # doctest: +SKIP
>>> result.to_dict()["method"]  # doctest: +SKIP
'tree_shap'
>>> result.save("explain.html")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Explanation", "explain_model"]


@dataclass
class Explanation:
    """`contributions`: one row per explained row, one column per feature (attrs: method,
    units, base_value, explained_class); `importance`: per feature, permutation importance
    (NaN without labels) and mean |contribution|."""

    model: Any
    frame: pd.DataFrame
    rows: int
    contributions: pd.DataFrame
    importance: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        attrs = self.contributions.attrs
        classes = attrs.get("explained_class") or [None] * len(self.contributions)
        return {
            "method": attrs["method"],
            "units": attrs["units"],
            "global_importance": {
                str(name): {k: (None if v != v else float(v)) for k, v in row.items()}
                for name, row in self.importance.to_dict(orient="index").items()},
            "rows": [{"row": int(i) if isinstance(i, int) else str(i),
                      "explained_class": classes[n],
                      "base_value": attrs["base_value"][n],
                      "contributions": {str(k): float(v)
                                        for k, v in self.contributions.loc[i].items()}}
                     for n, i in enumerate(self.contributions.index)],
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained HTML report (atomically)."""
        from lathe.explain.report import write_explain_report

        return write_explain_report(path, self.model, self.frame, rows=self.rows)


def explain_model(model: Any, frame: pd.DataFrame, *, rows: int = 5) -> Explanation:
    """Contributions of the first `rows` rows and global importance over `frame`."""
    from lathe.explain.contributions import explain_rows, global_importance

    contributions = explain_rows(model, frame.iloc[: max(rows, 1)])
    importance = global_importance(model, frame)
    return Explanation(model, frame, rows, contributions, importance)
