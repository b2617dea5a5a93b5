"""Beijing time for the web layer: timestamps are stored in UTC, users read UTC+8.

SQLite hands stored UTC timestamps back naive, PostgreSQL aware; both are accepted. Asia/Shanghai
has had no daylight saving since 1991, so a fixed offset is exact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def as_utc(value: datetime | None) -> datetime | None:
    """Return a stored timestamp as an aware UTC value (naive means UTC)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local_time(value: datetime | None) -> datetime | None:
    """Return a stored timestamp as aware Beijing time."""
    value = as_utc(value)
    return None if value is None else value.astimezone(CST)


def local_naive(value: datetime | None) -> datetime | None:
    """Return a stored timestamp as naive Beijing wall time (pages and spreadsheet cells)."""
    value = local_time(value)
    return None if value is None else value.replace(tzinfo=None)


def fmt(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """Format a stored timestamp in Beijing time ('' for None); also a Jinja filter."""
    value = local_time(value)
    return value.strftime(pattern) if value else ""


def day_start(day: date) -> datetime:
    """Return the UTC instant at which a Beijing calendar day begins."""
    return datetime.combine(day, time.min, CST).astimezone(UTC)


def today_cst() -> date:
    """Return today's date in Beijing, whatever the server's time zone."""
    return datetime.now(CST).date()
