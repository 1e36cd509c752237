"""The digest's week: Monday 00:00 to the next Monday 00:00 UTC, half-open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Week:
    """A week starting ``since`` (a Monday, 00:00 UTC)."""

    since: datetime

    @property
    def until(self) -> datetime:
        return self.since + WEEK

    @property
    def before(self) -> Week:
        return Week(self.since - WEEK)

    @property
    def key(self) -> str:
        """How the weeks queued name it: its Monday, YYYY-MM-DD."""
        return self.since.date().isoformat()

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(days=1)).date()

    @property
    def label(self) -> str:
        """ "Mar 3 to Mar 9"."""
        first, last = self.since, self.last_day
        return f"{first:%b} {first.day} to {last:%b} {last.day}"


def last_complete_week(now: datetime) -> Week:
    """The last week over by ``now``: on a Monday, the week that ended at its midnight."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday())
    return Week(datetime.combine(monday, time(), tzinfo=UTC) - WEEK)
