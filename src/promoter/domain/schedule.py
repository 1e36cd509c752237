"""When a triggered survey is sent: delay, weekdays, and a local send window."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Final

SATURDAY: Final = 5


def zone(name: str | None, fallback: str) -> zoneinfo.ZoneInfo:
    for candidate in (name, fallback):
        if candidate:
            try:
                return zoneinfo.ZoneInfo(candidate)
            except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def send_time(
    *,
    triggered_at: datetime,
    delay_minutes: int,
    weekdays_only: bool,
    window_start: int | None,
    window_end: int | None,
    tz: zoneinfo.ZoneInfo,
) -> datetime:
    """The first moment at or after ``triggered_at + delay`` that is on a weekday (when
    required) and within ``[window_start, window_end)`` o'clock in ``tz``; in UTC."""
    local = (triggered_at + timedelta(minutes=delay_minutes)).astimezone(tz)
    for _ in range(8):  # a week and a day always holds a permitted moment
        if weekdays_only and local.weekday() >= SATURDAY:
            local = _start_of_next_day(local, tz)
            continue
        if window_start is not None and local.hour < window_start:
            local = _at_hour(local, window_start, tz)
        if window_end is not None and local.hour >= window_end:
            local = _start_of_next_day(local, tz)
            continue
        return local.astimezone(UTC)
    raise ValueError("no permitted send time: check the campaign's send window")


def _start_of_next_day(local: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)


def _at_hour(local: datetime, hour: int, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(local.date(), time(hour), tzinfo=tz)
