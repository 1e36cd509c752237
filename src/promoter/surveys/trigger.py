"""The track listener that turns matching events into scheduled surveys.

It runs inside the ingestion transaction: the survey and its delivery are
committed with the event that triggered them, or not at all. Every track that an
active Segment campaign listens to gets a note, stored on its event row, saying
what happened: scheduled, or why not.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert, select

from promoter.campaigns.models import Campaign
from promoter.campaigns.service import list_campaigns
from promoter.domain.eligibility import PastSurvey, decide, history_window
from promoter.domain.schedule import send_time, zone
from promoter.ingest.listeners import StoredTrack
from promoter.storage.tables import (
    contacts,
    deliveries,
    list_memberships,
    organizations,
    surveys,
)

#: Events older than this when they arrive are history being imported: no survey.
HISTORICAL = timedelta(hours=24)
NOTE_LENGTH = 200


@dataclass(frozen=True, slots=True)
class _Contact:
    status: str
    email: str | None
    timezone: str | None
    lists: frozenset[int]


def new_token() -> str:
    """An unguessable survey token (192 random bits)."""
    return secrets.token_urlsafe(24)


class SurveyTrigger:
    """Schedules a survey for each track an active Segment campaign is triggered by.

    An organization's active campaigns are read at most once every ``campaign_ttl``
    seconds: a campaign created, paused or changed takes effect within that time.
    """

    def __init__(
        self,
        clock: type[datetime] = datetime,
        *,
        campaign_ttl: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._ttl = campaign_ttl
        self._monotonic = monotonic
        self._campaigns: dict[int, tuple[float, list[Campaign], str]] = {}

    def _active(self, conn: Connection, organization_id: int) -> tuple[list[Campaign], str]:
        """The organization's active Segment campaigns and its time zone, cached."""
        now = self._monotonic()
        cached = self._campaigns.get(organization_id)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        active = [
            c
            for c in list_campaigns(conn, organization_id=organization_id, status="active")
            if c.kind == "segment"
        ]
        org_zone = _organization_zone(conn, organization_id)
        if len(self._campaigns) > 10_000:
            self._campaigns.clear()
        self._campaigns[organization_id] = (now + self._ttl, active, org_zone)
        return active, org_zone

    def on_tracks(self, conn: Connection, tracks: Sequence[StoredTrack]) -> dict[int, str]:
        organization_id = tracks[0].organization_id
        active, org_zone = self._active(conn, organization_id)
        by_name: dict[str, list[Campaign]] = {}
        for name in {t.name for t in tracks}:
            by_name[name] = [c for c in active if c.triggered_by(name)]
        matches = {t.event_id: by_name[t.name] for t in tracks}
        relevant = [t for t in tracks if matches[t.event_id]]
        if not relevant:
            return {}
        now = self._clock.now(UTC)
        ids = {t.contact_id for t in relevant if t.contact_id is not None}
        people = _load_contacts(conn, ids)
        since = now - history_window(c.throttle_days for c in active)
        history = _load_history(conn, organization_id, ids, since)
        notes: dict[int, str] = {}
        scheduled: list[dict[str, object]] = []
        for track in relevant:
            notes[track.event_id] = self._decide(
                track, matches[track.event_id], people, history, org_zone, now, scheduled
            )[:NOTE_LENGTH]
        _write_surveys(conn, scheduled)
        return notes

    def _decide(
        self,
        track: StoredTrack,
        campaigns: list[Campaign],
        people: dict[int, _Contact],
        history: dict[int, list[PastSurvey]],
        org_zone: str,
        now: datetime,
        scheduled: list[dict[str, object]],
    ) -> str:
        if track.contact_id is None:
            return "no survey: userId not identified"
        if now - track.timestamp > HISTORICAL:
            return "no survey: event is more than 24 hours old"
        contact = people.get(track.contact_id)
        if contact is None:  # erased by a later delete in the same request
            return "no survey: contact deleted"
        parts = []
        for campaign in campaigns:
            if campaign.contact_list_id not in contact.lists:
                parts.append(f"{campaign.name}: contact not in its list")
                continue
            decision = decide(
                contact_status=contact.status,
                has_email=bool(contact.email),
                campaign_id=campaign.id,
                throttle_days=campaign.throttle_days,
                history=history[track.contact_id],
                now=now,
            )
            if not decision.eligible:
                parts.append(f"{campaign.name}: {decision.reason}")
                continue
            at = send_time(
                triggered_at=now,
                delay_minutes=campaign.delay_minutes,
                weekdays_only=campaign.weekdays_only,
                window_start=campaign.send_window_start,
                window_end=campaign.send_window_end,
                tz=zone(track.timezone or contact.timezone, org_zone),
            )
            scheduled.append(
                {
                    "organization_id": track.organization_id,
                    "campaign_id": campaign.id,
                    "contact_id": track.contact_id,
                    "status": "scheduled",
                    "token": new_token(),
                    "trigger_event_id": track.event_id,
                    "attributes": {},
                    "scheduled_at": at,
                    "created_at": now,
                }
            )
            history[track.contact_id].append(PastSurvey(campaign.id, "scheduled", now))
            parts.append(f"{campaign.name}: survey scheduled for {at:%Y-%m-%d %H:%M} UTC")
        return "; ".join(parts)


def _load_contacts(conn: Connection, ids: set[int]) -> dict[int, _Contact]:
    if not ids:
        return {}
    rows = conn.execute(
        select(
            contacts.c.id,
            contacts.c.status,
            contacts.c.email,
            contacts.c.timezone,
            list_memberships.c.list_id,
        )
        .outerjoin(list_memberships, list_memberships.c.contact_id == contacts.c.id)
        .where(contacts.c.id.in_(ids))
    ).all()
    lists: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        if r.list_id is not None:
            lists[r.id].add(r.list_id)
    return {r.id: _Contact(r.status, r.email, r.timezone, frozenset(lists[r.id])) for r in rows}


def _load_history(
    conn: Connection, organization_id: int, ids: set[int], since: datetime
) -> dict[int, list[PastSurvey]]:
    history: dict[int, list[PastSurvey]] = defaultdict(list)
    if not ids:
        return history
    rows = conn.execute(
        select(surveys.c.contact_id, surveys.c.campaign_id, surveys.c.status, surveys.c.created_at)
        .where(surveys.c.organization_id == organization_id, surveys.c.contact_id.in_(ids))
        .where((surveys.c.created_at >= since) | (surveys.c.status == "scheduled"))
    )
    for r in rows:
        history[r.contact_id].append(PastSurvey(r.campaign_id, r.status, r.created_at))
    return history


def _organization_zone(conn: Connection, organization_id: int) -> str:
    tz = conn.execute(
        select(organizations.c.timezone).where(organizations.c.id == organization_id)
    ).scalar()
    return str(tz or "UTC")


def _write_surveys(conn: Connection, scheduled: list[dict[str, object]]) -> None:
    if not scheduled:
        return
    rows = conn.execute(insert(surveys).returning(surveys.c.id, surveys.c.token), scheduled).all()
    survey_ids = {r.token: r.id for r in rows}
    conn.execute(
        insert(deliveries),
        [
            {
                "organization_id": s["organization_id"],
                "survey_id": survey_ids[str(s["token"])],
                "kind": "survey",
                "status": "pending",
                "due_at": s["scheduled_at"],
                "created_at": s["created_at"],
            }
            for s in scheduled
        ],
    )
