"""A CSV read as spans of the original text, so that a cell can be replaced while every other
byte of the file stays as it was (quotes, line endings, number formats, a trailing newline).

>>> text = 'id,note\\r\\n1,"a, ""b"" c"\\r\\n2,plain\\r\\n'
>>> records = split_records(text, ",")
>>> [[cell_value(text[s:e]) for s, e in r] for r in records]
[['id', 'note'], ['1', 'a, "b" c'], ['2', 'plain']]
>>> quote_cell("x,y", ","), quote_cell("xy", ",")
('"x,y"', 'xy')
"""

from __future__ import annotations

import re

__all__ = ["split_records", "cell_value", "quote_cell"]

_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(sep: str) -> re.Pattern[str]:
    if sep not in _PATTERNS:
        s = re.escape(sep)
        _PATTERNS[sep] = re.compile(rf'("(?:[^"]|"")*"|[^{s}\r\n]*)({s}|\r\n|\n|\r|$)')
    return _PATTERNS[sep]


def split_records(text: str, sep: str) -> list[list[tuple[int, int]]]:
    """Each record as a list of (start, end) spans of its raw cells (quotes included)."""
    pattern = _pattern(sep)
    records: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    pos, n = 0, len(text)
    while pos < n:
        match = pattern.match(text, pos)
        assert match is not None  # the pattern matches the empty string
        current.append(match.span(1))
        pos = match.end()
        if match.group(2) != sep:
            records.append(current)
            current = []
        elif pos == n:  # a trailing separator: one more empty cell
            current.append((pos, pos))
            records.append(current)
            current = []
    if current:
        records.append(current)
    return records


def cell_value(raw: str) -> str:
    """The value of a raw cell: quotes removed, doubled quotes undone."""
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        return raw[1:-1].replace('""', '"')
    return raw


def quote_cell(value: str, sep: str, was_quoted: bool = False) -> str:
    """A value written as a raw cell: quoted when it was, or when it must be."""
    if was_quoted or any(ch in value for ch in (sep, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value
