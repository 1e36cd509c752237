from __future__ import annotations

from datetime import UTC, datetime

from promoter.domain.schedule import send_time, zone

PARIS = zone("Europe/Paris", "UTC")


def when(local: str, tz: str = "Europe/Paris") -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=zone(tz, "UTC")).astimezone(UTC)


def at(triggered: datetime, **options: object) -> datetime:
    settings: dict[str, object] = {
        "delay_minutes": 0,
        "weekdays_only": False,
        "window_start": None,
        "window_end": None,
        "tz": PARIS,
    }
    settings.update(options)
    return send_time(triggered_at=triggered, **settings)  # type: ignore[arg-type]


def test_no_rules_sends_at_once() -> None:
    t = when("2026-06-10T12:00")
    assert at(t) == t


def test_delay() -> None:
    assert at(when("2026-06-10T12:00"), delay_minutes=90) == when("2026-06-10T13:30")


def test_weekend_moves_to_monday() -> None:
    saturday = when("2026-06-13T10:00")
    assert at(saturday, weekdays_only=True) == when("2026-06-15T00:00")
    assert at(saturday, weekdays_only=True, window_start=9, window_end=17) == when(
        "2026-06-15T09:00"
    )


def test_window_in_the_contacts_time_zone() -> None:
    early = when("2026-06-10T06:30")
    assert at(early, window_start=9, window_end=17) == when("2026-06-10T09:00")
    late = when("2026-06-10T18:00")
    assert at(late, window_start=9, window_end=17) == when("2026-06-11T09:00")
    friday_night = when("2026-06-12T20:00")
    assert at(friday_night, window_start=9, window_end=17, weekdays_only=True) == when(
        "2026-06-15T09:00"
    )
    tokyo = zone("Asia/Tokyo", "UTC")
    noon_utc = datetime(2026, 6, 10, 12, tzinfo=UTC)  # 21:00 in Tokyo
    assert at(noon_utc, window_start=9, window_end=17, tz=tokyo) == when(
        "2026-06-11T09:00", "Asia/Tokyo"
    )


def test_zone_falls_back() -> None:
    assert zone(None, "Europe/Paris").key == "Europe/Paris"
    assert zone("Nowhere/Land", "Asia/Tokyo").key == "Asia/Tokyo"
    assert zone(None, "bad").key == "UTC"
