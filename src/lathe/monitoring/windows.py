"""Windows: N consecutive rows, or a span of time on the prediction log.

`--window 1000` is a count of rows; `--window 1d` (also `s`, `m`, `h`, `w`, e.g. `90m`,
`12h`, `2w`) a duration. For performance a duration cuts the log into consecutive spans of
that length, from `--since` (or the first logged prediction) on; a span without a logged
prediction is left out. For drift and retraining a duration is the most recent span: from
`--until` (or now) back.

>>> parse_window("1000"), parse_window("1d")
(1000, datetime.timedelta(days=1))
>>> parse_window("90m").total_seconds(), parse_window(250)
(5400.0, 250)
>>> import numpy as np
>>> t = np.array(["2026-01-01T00:00", "2026-01-01T05:00", "2026-01-02T01:00"], "datetime64[s]")
>>> [(a, b) for a, b, _ in window_bounds(3, parse_window("1d"), t)]
[(0, 2), (2, 3)]
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from lathe.errors import UsageError

__all__ = ["Window", "parse_window", "window_bounds", "recent_span", "as_utc"]

Window = int | timedelta
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_window(value: Any, *, option: str = "--window") -> Window:
    """Rows (a whole number) or a duration (a number and s, m, h, d or w)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        rows = value
    else:
        text = str(value).strip()
        match = _PATTERN.match(text.lower())
        if match:
            span = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
            if span.total_seconds() <= 0:
                raise UsageError(f"{option} {text}: a time window must be longer than zero")
            return span
        if not text.isdigit():
            raise UsageError(f"{option} {text!r} is neither a number of rows nor a duration",
                             hint="e.g. --window 1000 (rows) or --window 1d (also s, m, h, w)")
        rows = int(text)
    if rows < 1:
        raise UsageError(f"{option} must be a positive number of rows, got {rows}")
    return rows


def as_utc(value: Any) -> datetime | None:
    """A time given as ISO text, epoch seconds or a datetime, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{value!r} is not a time",
                             hint="use ISO text such as 2026-12-07 or 2026-12-07T19:00:00Z"
                             ) from None
    if not isinstance(value, datetime):
        raise UsageError(f"expected a time, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def recent_span(window: Window | None, since: Any, until: Any, *, now: datetime | None = None
                ) -> tuple[datetime | None, datetime | None]:
    """(since, until) for reading the log: a duration window ends at `until` (or now) and
    starts `window` earlier, unless `since` is given too (then since/until win)."""
    start, end = as_utc(since), as_utc(until)
    if isinstance(window, timedelta) and start is None:
        start = (end or now or datetime.now(UTC)) - window
    if start is not None and end is not None and start >= end:
        raise UsageError(f"--since {start.isoformat()} is not before --until {end.isoformat()}")
    return start, end


def window_bounds(rows: int, window: Window, times: np.ndarray | None = None,
                  since: Any = None) -> list[tuple[int, int, dict[str, Any]]]:
    """(start, end, extra) row ranges: `window` rows at a time, or, for a duration, the rows
    whose time falls in each consecutive span (`times` sorted; extra holds the span)."""
    if not isinstance(window, timedelta):
        return [(s, min(s + window, rows), {}) for s in range(0, rows, window)]
    if times is None:
        raise UsageError("a time window (e.g. --window 1d) needs the prediction log (log:URL), "
                         "whose rows carry their times",
                         hint="give a number of rows for a data file, e.g. --window 1000")
    stamps = np.asarray(times, dtype="datetime64[us]")
    if rows == 0:
        return []
    step = np.timedelta64(int(window.total_seconds() * 1_000_000), "us")
    first = as_utc(since)
    origin = (np.datetime64(first.replace(tzinfo=None), "us") if first is not None
              else stamps[0])
    index = ((stamps - origin) // step).astype(np.int64)
    out = []
    for k in np.unique(index):
        lo, hi = np.searchsorted(index, [k, k + 1])
        begin = origin + k * step
        out.append((int(lo), int(hi), {"since": _iso(begin), "until": _iso(begin + step)}))
    return out


def _iso(stamp: np.datetime64) -> str:
    return str(np.datetime_as_string(stamp, unit="s")) + "Z"
