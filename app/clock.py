"""The one clock: instants are stored as aware UTC, people read and enter Beijing time.

Every "now", "today", "this year" and every time shown to a user comes from here. Stored
timestamps come back aware in UTC (``models.UtcDateTime``); naive values are accepted only as UTC
for values that predate it. Asia/Shanghai has had no daylight saving since 1991.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """Return the current instant, aware in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Return today's date in Beijing, whatever the server's time zone."""
    return datetime.now(CST).date()


def this_year() -> int:
    """Return the current year in Beijing."""
    return today().year


def as_utc(value: datetime | None) -> datetime | None:
    """Return a timestamp as an aware UTC value (naive means UTC)."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def local_time(value: datetime | None) -> datetime | None:
    """Return a stored timestamp as aware Beijing time."""
    value = as_utc(value)
    return None if value is None else value.astimezone(CST)


def local_naive(value: datetime | None) -> datetime | None:
    """Return a stored timestamp as naive Beijing wall time (spreadsheet cells)."""
    value = local_time(value)
    return None if value is None else value.replace(tzinfo=None)


def at_local(day: date, wall: time) -> datetime:
    """Return the UTC instant of a Beijing wall-clock time on a day (a meeting at 09:00)."""
    return datetime.combine(day, wall, CST).astimezone(UTC)


def fmt(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """Format a stored timestamp in Beijing time ('' for None); also a Jinja filter."""
    value = local_time(value)
    return value.strftime(pattern) if value else ""


def day_start(day: date) -> datetime:
    """Return the UTC instant at which a Beijing calendar day begins."""
    return at_local(day, time.min)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """Return the UTC instants [start, end) of a Beijing calendar year."""
    return day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """Return the UTC instants [start, end) of a Beijing calendar month."""
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return day_start(date(year, month, 1)), day_start(nxt)


def parse_day(text: str) -> date:
    """Parse a date written 年-月-日 (2026-03-01); raises ValueError."""
    return date.fromisoformat(text.strip())


def days_ago(n: int) -> datetime:
    """Return the instant n days before now."""
    return now() - timedelta(days=n)
