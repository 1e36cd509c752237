"""Surveys sent on request follow the trigger's rules and send times (both databases)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from promoter.campaigns import service as campaigns
from promoter.campaigns.models import Campaign, CampaignSettings
from promoter.contacts.lists import add_members, create_list, segment_list_id
from promoter.contacts.service import ContactNotFound, change_status
from promoter.contacts.writes import upsert_contact
from promoter.domain.attributes import AttributeLimits
from promoter.domain.errors import InvalidMessage
from promoter.storage.engine import Database
from promoter.storage.tables import deliveries, organizations, surveys
from promoter.surveys.manual import (
    CampaignNotActive,
    ManualOutcome,
    send_survey,
    send_to_list,
)
from tests.conftest import Org

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday


def campaign_of(database: Database, org: Org) -> Campaign:
    with database.read() as conn:
        return campaigns.list_campaigns(conn, organization_id=org.id)[0]


def another_campaign(
    database: Database, org: Org, list_id: int | None = None, **settings: Any
) -> Campaign:
    first = campaign_of(database, org)
    with database.write() as conn:
        return campaigns.create_campaign(
            conn,
            organization_id=org.id,
            settings=CampaignSettings(name="Another", **settings),
            template_id=first.email_template_id,
            list_id=list_id,
        )


def contact(database: Database, org: Org, email: str, list_id: int | None = None) -> int:
    with database.write() as conn:
        lists = [list_id] if list_id else [segment_list_id(conn, organization_id=org.id)]
        contact_id, _ = upsert_contact(
            conn,
            organization_id=org.id,
            email=email,
            names={},
            attributes={},
            list_ids=lists,
            now=NOW,
            limits=AttributeLimits(),
        )
    return contact_id


def send(
    database: Database,
    org: Org,
    campaign: Campaign,
    contact_id: int,
    now: datetime = NOW,
    attributes: dict[str, object] | None = None,
) -> ManualOutcome:
    with database.write() as conn:
        return send_survey(
            conn,
            organization_id=org.id,
            campaign_id=campaign.id,
            contact_id=contact_id,
            attributes=attributes or {},
            now=now,
        )


def mark_sent(database: Database) -> None:
    with database.write() as conn:
        conn.execute(update(surveys).values(status="sent"))


def test_schedules_survey_and_delivery_with_its_attributes(database: Database, org: Org) -> None:
    campaign = campaign_of(database, org)
    cid = contact(database, org, "a@x.co")
    outcome = send(
        database, org, campaign, cid, attributes={"order": {"id": 7}, "gone": None, "empty": []}
    )
    assert (outcome.scheduled, outcome.reason, outcome.scheduled_at) == (True, "scheduled", NOW)
    with database.read() as conn:
        survey = conn.execute(select(surveys)).one()
        delivery = conn.execute(select(deliveries)).one()
    assert survey.id == outcome.survey_id and survey.contact_id == cid
    assert (survey.status, survey.attributes, survey.trigger_event_id) == (
        "scheduled",
        {"order.id": 7},
        None,
    )
    assert len(survey.token) >= 32
    assert (delivery.survey_id, delivery.kind, delivery.status, delivery.due_at) == (
        survey.id,
        "survey",
        "pending",
        NOW,
    )


def test_send_time_follows_the_campaign(database: Database, org: Org) -> None:
    with database.write() as conn:
        conn.execute(update(organizations).values(timezone="Europe/Berlin"))
    campaign = another_campaign(
        database,
        org,
        delay_minutes=60,
        weekdays_only=True,
        send_window_start=9,
        send_window_end=17,
    )
    cid = contact(database, org, "a@x.co")
    friday_evening = datetime(2026, 6, 12, 16, 30, tzinfo=UTC)  # 18:30 in Berlin
    outcome = send(database, org, campaign, cid, now=friday_evening)
    # Monday 09:00 in Berlin.
    assert outcome.scheduled_at == datetime(2026, 6, 15, 7, 0, tzinfo=UTC)


def test_rules_are_the_triggers(database: Database, org: Org) -> None:
    first = campaign_of(database, org)
    second = another_campaign(database, org, throttle_days=30)
    cid = contact(database, org, "a@x.co")
    assert send(database, org, first, cid).scheduled
    assert send(database, org, first, cid).reason == (
        "a survey of this campaign is already scheduled"
    )
    assert send(database, org, second, cid, NOW + timedelta(hours=23)).reason == (
        "throttled: surveyed less than 24 hours ago"
    )
    mark_sent(database)
    # The organization's cooldown (30 days by default) spans campaigns.
    cooled = send(database, org, second, cid, NOW + timedelta(hours=25))
    assert cooled.reason == (
        "cooldown: surveyed 2026-06-10 (at most one survey every 30 days across campaigns)"
    )
    assert cooled.reason_kind == "cooldown"
    assert send(database, org, second, cid, NOW + timedelta(days=30, hours=1)).scheduled
    mark_sent(database)
    later = send(database, org, first, cid, NOW + timedelta(days=61))
    assert later.reason == "throttled: surveyed 2026-06-10 (at most once every 90 days)"
    assert later.reason_kind == "throttled"
    assert send(database, org, first, cid, NOW + timedelta(days=91)).scheduled

    quiet = contact(database, org, "b@x.co")
    with database.write() as conn:
        change_status(conn, organization_id=org.id, contact_id=quiet, status="inactive", now=NOW)
    assert send(database, org, first, quiet).reason == "contact is inactive"


def test_a_cancelled_survey_does_not_count(database: Database, org: Org) -> None:
    campaign = campaign_of(database, org)
    cid = contact(database, org, "a@x.co")
    assert send(database, org, campaign, cid).scheduled
    with database.write() as conn:
        conn.execute(update(surveys).values(status="cancelled"))
    assert send(database, org, campaign, cid, NOW + timedelta(minutes=5)).scheduled


def test_another_organizations_campaign_or_contact_is_not_found(
    database: Database, org: Org, other_org: Org
) -> None:
    mine = campaign_of(database, org)
    theirs = campaign_of(database, other_org)
    my_contact = contact(database, org, "a@x.co")
    their_contact = contact(database, other_org, "a@x.co")
    with pytest.raises(campaigns.NotFound):
        send(database, org, theirs, my_contact)
    with pytest.raises(ContactNotFound):
        send(database, org, mine, their_contact)
    with pytest.raises(campaigns.NotFound), database.write() as conn:
        send_survey(
            conn,
            organization_id=org.id,
            campaign_id=2**40,
            contact_id=my_contact,
            attributes={},
            now=NOW,
        )
    with pytest.raises(InvalidMessage):
        send(database, org, mine, my_contact, attributes={"x" * 300: 1})
    with database.read() as conn:
        assert conn.execute(select(surveys)).all() == []


def writer(database: Database, calls: list[int]) -> Callable[[Callable[[Connection], Any]], Any]:
    def write(fn: Callable[[Connection], Any]) -> Any:
        calls.append(1)
        return database.run_write(fn)

    return write


def test_send_to_list_walks_the_list_in_batches(database: Database, org: Org) -> None:
    with database.write() as conn:
        list_id = create_list(conn, organization_id=org.id, name="Batch", now=NOW).id
    campaign = another_campaign(database, org, list_id=list_id)
    ids = [contact(database, org, f"c{i}@x.co", list_id) for i in range(7)]
    contact(database, org, "elsewhere@x.co")
    with database.write() as conn:
        change_status(
            conn, organization_id=org.id, contact_id=ids[2], status="unsubscribed", now=NOW
        )
    calls: list[int] = []
    report = send_to_list(
        writer(database, calls),
        organization_id=org.id,
        campaign_id=campaign.id,
        all_contacts=False,
        now=NOW,
        batch_size=3,
    )
    assert (report.scheduled, report.skipped, dict(report.reasons)) == (
        6,
        1,
        {"contact is unsubscribed": 1},
    )
    assert len(calls) == 3  # 3 + 3 + 1 members
    with database.read() as conn:
        surveyed = set(conn.execute(select(surveys.c.contact_id)).scalars())
    assert surveyed == set(ids) - {ids[2]}

    mark_sent(database)
    late = contact(database, org, "late@x.co")
    with database.write() as conn:
        add_members(conn, organization_id=org.id, list_ids=[list_id], contact_id=late, now=NOW)
    later = NOW + timedelta(days=2)
    report = send_to_list(
        database.run_write,
        organization_id=org.id,
        campaign_id=campaign.id,
        all_contacts=False,
        now=later,
        batch_size=3,
    )
    assert (report.scheduled, report.skipped, dict(report.reasons)) == (
        1,
        7,
        {"already surveyed by this campaign": 6, "contact is unsubscribed": 1},
    )


def test_send_to_list_refuses_a_paused_or_foreign_campaign(
    database: Database, org: Org, other_org: Org
) -> None:
    campaign = campaign_of(database, org)
    contact(database, org, "a@x.co")
    with pytest.raises(campaigns.NotFound):
        send_to_list(
            database.run_write,
            organization_id=org.id,
            campaign_id=campaign_of(database, other_org).id,
            all_contacts=True,
            now=NOW,
        )
    with database.write() as conn:
        campaigns.update_campaign(
            conn, organization_id=org.id, campaign_id=campaign.id, changes={"status": "complete"}
        )
    with pytest.raises(CampaignNotActive):
        send_to_list(
            database.run_write,
            organization_id=org.id,
            campaign_id=campaign.id,
            all_contacts=True,
            now=NOW,
        )
    with database.read() as conn:
        assert conn.execute(select(surveys)).all() == []


def test_concurrent_sends_to_one_contact_schedule_one_survey(database: Database, org: Org) -> None:
    campaign = campaign_of(database, org)
    cid = contact(database, org, "a@x.co")
    barrier = threading.Barrier(5)

    def one(_: int) -> bool:
        barrier.wait()
        return send(database, org, campaign, cid).scheduled

    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(one, range(5)))
    assert sorted(outcomes) == [False] * 4 + [True]
    with database.read() as conn:
        assert len(conn.execute(select(surveys)).all()) == 1
