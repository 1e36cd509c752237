"""The filter bar's date ranges as exact runs of local days, today included; the last day
a window covers (for captions); the period before a range, of the same length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from promoter.analytics.query import Window

#: The presets: key (in the URL) -> label. Each ends today; "all" starts at the first
#: response.
RANGES = {
    "7": "Last 7 days",
    "30": "Last 30 days",
    "90": "Last 90 days",
    "365": "Last 12 months",
    "all": "All time",
}
DEFAULT_RANGE = "365"
MONTHS = "365"


@dataclass(frozen=True, slots=True)
class Days:
    """Local days from ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def count(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class Period:
    """The period before a range, and how the page names it ("previous 30 days")."""

    days: Days
    label: str


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (following - timedelta(days=1)).day))


def preset_days(key: str, today: date) -> Days:
    """The days of a preset other than "all": "365" is the 12 months ending today (from
    the day after the same date a year ago), the others that many days ending today."""
    if key == MONTHS:
        return Days(months_before(today, 12) + timedelta(days=1), today)
    return Days(today - timedelta(days=int(key) - 1), today)


def previous(key: str, days: Days) -> Period:
    """The period just before ``days``, as long: the previous 12 months for "365", else
    the same number of days."""
    if key == MONTHS:
        return Period(preset_days(MONTHS, days.first - timedelta(days=1)), "previous 12 months")
    n = days.count
    earlier = Days(days.first - timedelta(days=n), days.first - timedelta(days=1))
    return Period(earlier, "previous day" if n == 1 else f"previous {n} days")


def last_day(window: Window, zone: ZoneInfo) -> date:
    """The last local day a half-open window covers: a window that ends at midnight ends
    with the day before."""
    return (window.until - timedelta(microseconds=1)).astimezone(zone).date()


def first_day(window: Window, zone: ZoneInfo) -> date:
    return window.since.astimezone(zone).date()


def today_in(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def window_of(days: Days, zone: ZoneInfo) -> Window:
    """The half-open window of those local days: from the first's midnight to the
    midnight after the last."""
    return Window(
        datetime.combine(days.first, time(), zone),
        datetime.combine(days.last + timedelta(days=1), time(), zone),
    )
