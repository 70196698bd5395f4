"""What a 200 response forgave in its input: fields the model does not use and categories it
never saw in training (predicted as missing), in the words `lathe predict` prints.

>>> from lathe.data.schema import Column, Schema
>>> schema = Schema([Column("age", "numeric"), Column("job", "categorical", categories=["a", "b"])],
...                 target="y")
>>> InputWarnings(schema).check([{"age": 1, "job": "a"}, {"age": 2, "job": "z", "agee": 3}])
["ignored 1 field(s) the model does not use: 'agee'", "field 'job': 1 row(s) have a category not seen in training (treated as missing): 'z'"]
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["InputWarnings"]

_SHOWN = 5


def _key(value: Any) -> str | None:
    """The text `Schema.conform` compares categories by (1, 1.0 and "1" agree)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


class InputWarnings:
    def __init__(self, schema: Any, *, row_id_field: str | None = None) -> None:
        self.known = set(schema.feature_names) | set(getattr(schema, "dropped", []) or [])
        if schema.target:
            self.known.add(schema.target)
        if row_id_field:
            self.known.add(row_id_field)
        self.categories = {
            c.name: {str(v) for v in (c.categories or [])}
            for c in schema.columns
            if c.kind == "categorical"
        }

    def check(self, rows: list[Any]) -> list[str]:
        """Warnings for these (already validated) rows; empty when nothing was forgiven."""
        known, categories = self.known, self.categories
        unknown: dict[str, None] = {}
        unseen: dict[str, dict[str, int]] = {}
        for row in rows:
            if type(row) is not dict:
                continue
            if not known.issuperset(row):
                for name in row:
                    if name not in known:
                        unknown[name] = None
            for name, allowed in categories.items():
                value = row.get(name)
                if value is None or (type(value) is str and value in allowed):
                    continue  # the common case, one set lookup (~0.1 us)
                key = _key(value)
                if key is not None and key not in allowed:
                    seen = unseen.setdefault(name, {})
                    seen[key] = seen.get(key, 0) + 1
        out = []
        if unknown:
            names = list(unknown)
            more = f" (and {len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
            out.append(
                f"ignored {len(names)} field(s) the model does not use: "
                + ", ".join(repr(n) for n in names[:_SHOWN])
                + more
            )
        for name, values in unseen.items():
            shown = ", ".join(repr(v) for v in list(values)[:_SHOWN])
            out.append(
                f"field {name!r}: {sum(values.values())} row(s) have a category not seen in "
                f"training (treated as missing): {shown}"
            )
        return out
