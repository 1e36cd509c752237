"""Parsing ISO-8601 timestamps and Segment's clock-skew rule."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string; ``None`` if it is not one.

    A value without an offset is taken as UTC, as Segment does.
    """
    if not isinstance(value, str) or not 8 <= len(value) <= 64:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def corrected_timestamp(
    *, original: datetime, sent_at: datetime, received_at: datetime
) -> datetime:
    """Segment's rule: ``timestamp = receivedAt - (sentAt - originalTimestamp)``.

    The device's clock may be wrong, but the time between the event and the
    send is measured on that same clock, so it survives the correction.
    """
    return received_at - (sent_at - original)
