"""What the survey trigger and manual sends share: the facts eligibility is decided on,
and writing a scheduled survey with its delivery.

Nothing here commits; every function takes the caller's connection.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from promoter.campaigns.models import Campaign
from promoter.domain.channels import EMAIL, WEB, WEB_FIRST, uses_email
from promoter.domain.eligibility import PastSurvey
from promoter.domain.schedule import send_time, zone
from promoter.storage.bulk import BulkInsert, InSelect, allocate_ids, insert_rows
from promoter.storage.pipeline import pipeline
from promoter.storage.tables import (
    deliveries,
    organizations,
    surveys,
)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What eligibility and send times depend on."""

    status: str
    email: str | None
    timezone: str | None
    lists: frozenset[int]


def new_token() -> str:
    """An unguessable survey token (192 random bits)."""
    return secrets.token_urlsafe(24)


# Read for every batch of triggering events: fixed SQL, built once.
_CONTACT_FACTS = InSelect(
    "SELECT c.id, c.status, c.email, c.timezone, m.list_id FROM contacts AS c"
    " LEFT OUTER JOIN list_memberships AS m ON m.contact_id = c.id WHERE c.id {in}"
)
_HISTORY = InSelect(
    "SELECT contact_id, campaign_id, status, created_at FROM surveys"
    " WHERE organization_id = {p} AND (created_at >= {p} OR status = 'scheduled')"
    " AND contact_id {in}",
    params={1: surveys.c.created_at.type},
    columns={3: surveys.c.created_at.type},
)


#: The columns of a planned survey (see planned_survey) and of its delivery, as inserted.
_SURVEY_COLUMNS = (
    "organization_id",
    "campaign_id",
    "contact_id",
    "status",
    "token",
    "trigger_event_id",
    "attributes",
    "scheduled_at",
    "created_at",
    "channel",
)
_DELIVERY_COLUMNS = ("organization_id", "survey_id", "kind", "status", "due_at", "created_at")


def load_facts(
    conn: Connection, organization_id: int, ids: Collection[int], since: datetime
) -> tuple[dict[int, ContactFacts], dict[int, list[PastSurvey]]]:
    """The contacts' facts by id (missing ids are left out), and each one's surveys
    created since ``since`` and any still scheduled; on PostgreSQL in one round trip."""
    if not ids:
        return {}, defaultdict(list)
    listed = list(ids)
    if conn.dialect.name != "postgresql":
        facts = _CONTACT_FACTS.rows(conn, values=listed)
        past = _HISTORY.rows(conn, organization_id, since, values=listed)
        return _contact_facts(facts), _history(past)
    with pipeline(conn) as queued:
        queued_facts = _CONTACT_FACTS.queue(conn, queued, values=listed)
        queued_past = _HISTORY.queue(conn, queued, organization_id, since, values=listed)
    return _contact_facts(queued_facts.all()), _history(queued_past.all())


def _contact_facts(rows: list[Any]) -> dict[int, ContactFacts]:
    lists: dict[int, set[int]] = defaultdict(set)
    for cid, _, _, _, list_id in rows:
        if list_id is not None:
            lists[cid].add(list_id)
    return {
        cid: ContactFacts(status, email, zone, frozenset(lists[cid]))
        for cid, status, email, zone, _ in rows
    }


def _history(rows: list[Any]) -> dict[int, list[PastSurvey]]:
    history: dict[int, list[PastSurvey]] = defaultdict(list)
    for contact_id, campaign_id, status, created_at in rows:
        history[contact_id].append(PastSurvey(campaign_id, status, created_at))
    return history


def organization_zone(conn: Connection, organization_id: int) -> str:
    return organization_rules(conn, organization_id)[0]


def organization_rules(conn: Connection, organization_id: int) -> tuple[str, int]:
    """The organization's time zone and its cooldown days across campaigns."""
    row = conn.execute(
        select(organizations.c.timezone, organizations.c.cooldown_days).where(
            organizations.c.id == organization_id
        )
    ).one_or_none()
    if row is None:
        return "UTC", 0
    return str(row.timezone or "UTC"), int(row.cooldown_days)


def planned_survey(
    campaign: Campaign,
    *,
    contact_id: int,
    timezone: str | None,
    org_zone: str,
    now: datetime,
    trigger_event_id: int | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The survey row for ``contact_id``, due at the campaign's next permitted send time
    (its delay, weekdays and send window, in the contact's time zone or else the
    organization's). A web or both campaign's survey is a web survey: shown in the app from
    then on (a "both" one is emailed ``WEB_FIRST`` later unless shown in the app first)."""
    at = send_time(
        triggered_at=now,
        delay_minutes=campaign.delay_minutes,
        weekdays_only=campaign.weekdays_only,
        window_start=campaign.send_window_start,
        window_end=campaign.send_window_end,
        tz=zone(timezone, org_zone),
    )
    return {
        "organization_id": campaign.organization_id,
        "campaign_id": campaign.id,
        "contact_id": contact_id,
        "status": "scheduled",
        "token": new_token(),
        "trigger_event_id": trigger_event_id,
        "attributes": dict(attributes or {}),
        "scheduled_at": at,
        "created_at": now,
        "channel": EMAIL if campaign.channel == EMAIL else WEB,
        "email": uses_email(campaign.channel),
    }


class SurveyInserts:
    """The survey and delivery inserts, compiled once per database (see BulkInsert):
    the survey trigger keeps one, as it writes inside every triggering request."""

    def __init__(self) -> None:
        self.surveys = BulkInsert(surveys, ("id", *_SURVEY_COLUMNS))
        self.deliveries = BulkInsert(deliveries, _DELIVERY_COLUMNS)


def write_surveys(
    conn: Connection, scheduled: list[dict[str, Any]], inserts: SurveyInserts | None = None
) -> dict[str, int]:
    """Insert planned surveys and the pending deliveries of those that are emailed; return
    token -> survey id."""
    if not scheduled:
        return {}
    inserts = inserts or SurveyInserts()
    # Ids drawn up front rather than returned: SQLite's driver returns rows one insert at
    # a time, and this runs inside every request whose events trigger surveys.
    ids = allocate_ids(conn, surveys, len(scheduled))
    survey_rows = [
        (i, *(s[name] for name in _SURVEY_COLUMNS)) for s, i in zip(scheduled, ids, strict=True)
    ]
    delivery_rows = [
        (s["organization_id"], i, "survey", "pending", _email_due(s), s["created_at"])
        for s, i in zip(scheduled, ids, strict=True)
        if s.get("email", True)
    ]
    insert_rows(conn, [(inserts.surveys, survey_rows), (inserts.deliveries, delivery_rows)])
    return {str(s["token"]): i for s, i in zip(scheduled, ids, strict=True)}


def _email_due(survey: Mapping[str, Any]) -> datetime:
    """When a planned survey is emailed: at its time, or, when it is offered in the app
    first, ``WEB_FIRST`` later."""
    at: datetime = survey["scheduled_at"]
    return at + WEB_FIRST if survey["channel"] == WEB else at
