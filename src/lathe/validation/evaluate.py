"""What `lathe evaluate` adds from validation: slices (`--by`) with worst slices, and
per-language metrics for text models whose rows are in more than one language.

`Model.evaluate` calls the `sections` hook built here with the rows it already predicted,
so the slices cost no second prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lathe.model import Model, Sections

__all__ = ["split_columns", "evaluation_sections"]


def split_columns(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """`"a,b"` or `["a", "b"]` -> `["a", "b"]` (blanks dropped).

    >>> split_columns("sex, race"), split_columns(None)
    (['sex', 'race'], [])
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def evaluation_sections(model: Model, by: list[str], source: str) -> Sections | None:
    """The `sections` hook of `Model.evaluate`: `slices`/`worst_slices` for `by` columns,
    and `by_language` when the model reads text in more than one language."""
    text = model.schema.names_of("text")
    if not by and not text:
        return None

    def sections(frame: Any, X: Any, y: Any, raw: Any) -> dict[str, Any]:
        from lathe.validation._scored import scored_from
        from lathe.validation.suite import language_section, slice_section

        scored = scored_from(model, frame, X, y, raw, source)
        out: dict[str, Any] = {}
        if by:
            out.update(slice_section(model, scored, by))
        if text:
            by_language = language_section(model, scored)
            if by_language:
                out["by_language"] = by_language
        return out

    return sections
