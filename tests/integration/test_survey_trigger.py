"""Track events schedule surveys through active Segment campaigns (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from promoter.campaigns import service as campaigns
from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.orgs.service import set_cooldown
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, events, surveys
from promoter.surveys.trigger import SurveyTrigger
from tests.conftest import Org
from tests.dashboard.campaign_form import add_campaign

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday


class Clock(datetime):
    current = NOW

    @classmethod
    def now(cls, tz: Any = None) -> Clock:  # type: ignore[override]
        return cls.current  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _reset_clock() -> None:
    Clock.current = NOW


def send(database: Database, org: Org, *messages: dict[str, Any]) -> None:
    results = ingest_messages(
        database=database,
        ingestor=Ingestor([SurveyTrigger(Clock)]),
        organization_id=org.id,
        messages=list(messages),
        envelope=Envelope(received_at=Clock.current),
        allowed=TRACKING_API_TYPES,
    )
    assert all(r.status == "accepted" for r in results), results


def identify(user_id: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user_id, "traits": {"email": f"{user_id}@x.co", **traits}}


def track(user_id: str, event: str = "Logged In", **extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user_id, "event": event, **extra}


def notes(database: Database) -> list[tuple[str, str | None]]:
    with database.read() as conn:
        rows = conn.execute(select(events.c.name, events.c.trigger_note).order_by(events.c.id))
        return [(r.name, r.trigger_note) for r in rows]


def scheduled(database: Database) -> list[Any]:
    with database.read() as conn:
        return conn.execute(select(surveys).order_by(surveys.c.id)).all()


def the_campaign(database: Database, org: Org) -> campaigns.Campaign:
    with database.read() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
    return campaign


def change(database: Database, org: Org, **changes: Any) -> None:
    with database.write() as conn:
        campaigns.update_campaign(
            conn,
            organization_id=org.id,
            campaign_id=the_campaign(database, org).id,
            changes=changes,
        )


def test_first_track_schedules_a_survey_and_its_delivery(database: Database, org: Org) -> None:
    send(database, org, identify("u1"), track("u1"))
    (survey,) = scheduled(database)
    assert (survey.status, survey.scheduled_at, survey.created_at) == ("scheduled", NOW, NOW)
    assert len(survey.token) >= 32
    with database.read() as conn:
        (delivery,) = conn.execute(select(deliveries)).all()
    assert (delivery.survey_id, delivery.kind, delivery.status, delivery.due_at) == (
        survey.id,
        "survey",
        "pending",
        NOW,
    )
    (note,) = notes(database)
    assert note[1] == "Segment campaign: survey scheduled for 2026-06-10 12:00 UTC"


def test_later_triggers_are_dropped_with_a_reason(database: Database, org: Org) -> None:
    send(database, org, identify("u1"), track("u1"), track("u1", "Clicked"))
    Clock.current = NOW + timedelta(days=2)
    with database.write() as conn:
        conn.execute(update(surveys).values(status="sent"))
    send(database, org, track("u1", "Again"))
    Clock.current = NOW + timedelta(days=91)
    send(database, org, track("u1", "Much later"))
    assert [n for _, n in notes(database)] == [
        "Segment campaign: survey scheduled for 2026-06-10 12:00 UTC",
        "Segment campaign: a survey of this campaign is already scheduled",
        "Segment campaign: throttled: surveyed 2026-06-10 (at most once every 90 days)",
        "Segment campaign: survey scheduled for 2026-09-09 12:00 UTC",
    ]
    assert len(scheduled(database)) == 2


def test_unidentified_unsubscribed_and_old_events_get_no_survey(
    database: Database, org: Org
) -> None:
    send(database, org, track("stranger"))
    send(database, org, identify("gone"))
    with database.write() as conn:
        conn.execute(update(contacts).values(status="unsubscribed"))
    send(database, org, track("gone"))
    send(database, org, identify("old"))
    old = (NOW - timedelta(days=3)).isoformat()
    send(database, org, track("old", timestamp=old))
    assert [n for _, n in notes(database)] == [
        "no survey: userId not identified",
        "Segment campaign: contact is unsubscribed",
        "no survey: event is more than 24 hours old",
    ]
    assert scheduled(database) == []


def test_narrowed_trigger_and_paused_campaign(database: Database, org: Org) -> None:
    change(database, org, trigger_events=["Order Completed"])
    send(database, org, identify("buyer"), track("buyer", "Logged In"))
    assert notes(database) == [("Logged In", None)]
    send(database, org, track("buyer", "Order Completed", properties={"order_id": "o1"}))
    assert len(scheduled(database)) == 1
    change(database, org, status="paused")
    send(database, org, identify("other"), track("other", "Order Completed"))
    assert len(scheduled(database)) == 1
    assert notes(database)[-1] == ("Order Completed", None)


def test_delay_weekdays_and_window_use_the_contacts_time_zone(database: Database, org: Org) -> None:
    change(
        database,
        org,
        delay_minutes=60 * 24 * 2,  # Wednesday noon + 2 days = Friday noon UTC
        weekdays_only=True,
        send_window_start=9,
        send_window_end=11,
    )
    # Friday 12:00 UTC is 21:00 in Tokyo: past the window, and Saturday is skipped.
    send(database, org, identify("tokyo", timezone="Asia/Tokyo"), track("tokyo"))
    send(
        database,
        org,
        identify("paris"),
        track("paris", context={"timezone": "Europe/Paris"}),
    )
    tokyo, paris = scheduled(database)
    assert tokyo.scheduled_at == datetime(2026, 6, 15, 0, 0, tzinfo=UTC)  # Mon 09:00 JST
    assert paris.scheduled_at == datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # Mon 09:00 CEST


def test_campaign_changes_reach_a_running_trigger_within_its_ttl(
    database: Database, org: Org
) -> None:
    ticks = [0.0]
    trigger = SurveyTrigger(Clock, campaign_ttl=1.0, monotonic=lambda: ticks[0])

    def send_with(*messages: dict[str, Any]) -> None:
        ingest_messages(
            database=database,
            ingestor=Ingestor([trigger]),
            organization_id=org.id,
            messages=list(messages),
            envelope=Envelope(received_at=Clock.current),
            allowed=TRACKING_API_TYPES,
        )

    send_with(identify("a"), track("a"))
    change(database, org, status="paused")
    send_with(identify("b"), track("b"))  # the trigger still knows the campaign as active
    ticks[0] = 1.5
    send_with(identify("c"), track("c"))
    assert [n for _, n in notes(database)][2] is None
    assert len(scheduled(database)) == 2


def test_the_organizations_cooldown_decides_across_campaigns(database: Database, org: Org) -> None:
    """Changing the cooldown changes what the next trigger decides: 30 days (the default)
    keeps a second campaign from surveying the next day, 0 lets it (the floor is 24 hours)."""
    change(database, org, trigger_events=["Signed Up"])
    second = add_campaign(database, org.id)  # triggered by Order Completed
    send(database, org, identify("u1"), track("u1", "Signed Up"))
    with database.write() as conn:
        conn.execute(update(surveys).values(status="sent", sent_at=NOW))
    Clock.current = NOW + timedelta(days=1, hours=1)
    send(database, org, track("u1", "Order Completed"))
    assert notes(database)[-1] == (
        "Order Completed",
        "Post-purchase: cooldown: surveyed 2026-06-10 "
        "(at most one survey every 30 days across campaigns)",
    )
    with database.write() as conn:
        set_cooldown(conn, organization_id=org.id, cooldown_days=0)
    send(database, org, track("u1", "Order Completed"))
    assert notes(database)[-1] == (
        "Order Completed",
        "Post-purchase: survey scheduled for 2026-06-11 13:00 UTC",
    )
    assert [s.campaign_id for s in scheduled(database)][-1] == second.id
    # The 24-hour floor stays: a third campaign the same day is refused all the same.
    third = add_campaign(database, org.id, "Third")
    with database.write() as conn:
        campaigns.update_campaign(
            conn,
            organization_id=org.id,
            campaign_id=third.id,
            changes={"trigger_events": ["Upgraded"]},
        )
    send(database, org, track("u1", "Upgraded"))
    assert notes(database)[-1] == (
        "Upgraded",
        "Third: throttled: surveyed less than 24 hours ago",
    )
