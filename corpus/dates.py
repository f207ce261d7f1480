"""The one date model of the researcher's side.

A text record's `date` is ISO 8601 as the page states it: with the source's UTC offset when it
gives one (`2026-11-24T00:30:00+02:00`), a wall-clock time without offset, or only a day. The
publication's day is the date part of that value: the day its readers saw, not the UTC day
(00:30 in Kyiv is still the 23rd in UTC). `--since/--until`, the manifests' date range and the
export's `pub_date` all use this local day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def local_day(value: str | None) -> date | None:
    """The publication's own day of an ISO 8601 date or date-time, None when there is none."""
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def moment(value: str | None) -> datetime | None:
    """The instant of an ISO 8601 date-time, in its own offset (UTC when it states none);
    None for a day without time, and for anything that is not ISO 8601."""
    if not value or len(value) <= 10:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def iso_moment(value: str | None) -> str | None:
    """`value` as `YYYY-MM-DDTHH:MM:SS+HH:MM`, its offset kept: one shape for every row, which
    DuckDB's read_json detects as a timestamp and pandas.to_datetime(utc=True) parses."""
    parsed = moment(value)
    return parsed.isoformat(timespec="seconds") if parsed else None


def utc(value: str | None) -> datetime | None:
    parsed = moment(value)
    return parsed.astimezone(UTC) if parsed else None
