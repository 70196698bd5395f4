"""Windows of rows or of time (`--window 1000`, `--window 1d`) and the log's recent span."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lathe.errors import UsageError
from lathe.monitoring.windows import as_utc, parse_window, recent_span, window_bounds


def test_rows_and_durations_parse_and_bad_ones_say_what_is_valid() -> None:
    assert parse_window("250") == 250 and parse_window(" 12h ") == timedelta(hours=12)
    assert parse_window("2w") == timedelta(weeks=2) and parse_window("1.5d") == timedelta(hours=36)
    for bad in ("0", "-3", "1y", "day", "0s"):
        with pytest.raises(UsageError):
            parse_window(bad)


def test_row_windows_cover_every_row_and_the_last_may_be_shorter() -> None:
    assert [(a, b) for a, b, _ in window_bounds(2500, 1000)] == [
        (0, 1000), (1000, 2000), (2000, 2500)]
    assert window_bounds(0, 10) == []


def test_time_windows_skip_empty_spans_and_start_at_since() -> None:
    t = np.array(["2026-01-01T23:00", "2026-01-02T01:00", "2026-01-04T12:00",
                  "2026-01-04T13:00"], dtype="datetime64[s]")
    spans = window_bounds(4, timedelta(days=1), t, since="2026-01-01")
    assert [(a, b) for a, b, _ in spans] == [(0, 1), (1, 2), (2, 4)]  # 3 January is empty
    assert [s["since"] for _, _, s in spans] == [
        "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-04T00:00:00Z"]
    with pytest.raises(UsageError, match="needs the prediction log"):
        window_bounds(4, timedelta(days=1))


def test_recent_span_ends_at_until_or_now() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert recent_span(timedelta(days=1), None, None, now=now) == (now - timedelta(days=1), None)
    start, end = recent_span(timedelta(hours=6), None, "2026-12-01T06:00:00Z")
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, 6, tzinfo=UTC))
    assert recent_span(timedelta(days=1), "2026-11-01", None)[0] == as_utc("2026-11-01")
    with pytest.raises(UsageError, match="is not before"):
        recent_span(None, "2026-12-02", "2026-12-01")
    with pytest.raises(UsageError, match="not a time"):
        as_utc("yesterday")
