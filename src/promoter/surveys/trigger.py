"""The track listener that turns matching events into scheduled surveys.

It runs inside the ingestion transaction: the survey and its delivery are
committed with the event that triggered them, or not at all. Every track that an
active Segment campaign listens to gets a note, stored on its event row, saying
what happened: scheduled, or why not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from promoter.campaigns.models import Campaign
from promoter.campaigns.service import list_campaigns
from promoter.domain.eligibility import PastSurvey, decide, history_window
from promoter.ingest.listeners import StoredTrack
from promoter.surveys.scheduling import (
    ContactFacts,
    SurveyInserts,
    load_facts,
    new_token,
    organization_rules,
    planned_survey,
    write_surveys,
)

__all__ = ["HISTORICAL", "SurveyTrigger", "new_token"]

#: Events older than this when they arrive are history being imported: no survey.
HISTORICAL = timedelta(hours=24)
NOTE_LENGTH = 200


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
        self._campaigns: dict[int, tuple[float, list[Campaign], str, int]] = {}
        self._inserts = SurveyInserts()

    def _active(self, conn: Connection, organization_id: int) -> tuple[list[Campaign], str, int]:
        """The organization's active Segment campaigns, its time zone and cooldown days,
        cached."""
        now = self._monotonic()
        cached = self._campaigns.get(organization_id)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2], cached[3]
        active = [
            c
            for c in list_campaigns(conn, organization_id=organization_id, status="active")
            if c.kind == "segment"
        ]
        org_zone, cooldown_days = organization_rules(conn, organization_id)
        if len(self._campaigns) > 10_000:
            self._campaigns.clear()
        self._campaigns[organization_id] = (now + self._ttl, active, org_zone, cooldown_days)
        return active, org_zone, cooldown_days

    def on_tracks(self, conn: Connection, tracks: Sequence[StoredTrack]) -> dict[int, str]:
        organization_id = tracks[0].organization_id
        active, org_zone, cooldown_days = self._active(conn, organization_id)
        by_name: dict[str, list[Campaign]] = {}
        for name in {t.name for t in tracks}:
            by_name[name] = [c for c in active if c.triggered_by(name)]
        matches = {t.event_id: by_name[t.name] for t in tracks}
        relevant = [t for t in tracks if matches[t.event_id]]
        if not relevant:
            return {}
        now = self._clock.now(UTC)
        ids = {t.contact_id for t in relevant if t.contact_id is not None}
        since = now - history_window((c.throttle_days for c in active), cooldown_days)
        people, history = load_facts(conn, organization_id, ids, since)
        notes: dict[int, str] = {}
        scheduled: list[dict[str, Any]] = []
        for track in relevant:
            notes[track.event_id] = self._decide(
                track,
                matches[track.event_id],
                people,
                history,
                (org_zone, cooldown_days),
                now,
                scheduled,
            )[:NOTE_LENGTH]
        write_surveys(conn, scheduled, self._inserts)
        return notes

    def _decide(
        self,
        track: StoredTrack,
        campaigns: list[Campaign],
        people: dict[int, ContactFacts],
        history: dict[int, list[PastSurvey]],
        rules: tuple[str, int],
        now: datetime,
        scheduled: list[dict[str, Any]],
    ) -> str:
        if track.contact_id is None:
            return "no survey: userId not identified"
        if now - track.timestamp > HISTORICAL:
            return "no survey: event is more than 24 hours old"
        contact = people.get(track.contact_id)
        if contact is None:  # erased by a later delete in the same request
            return "no survey: contact deleted"
        org_zone, cooldown_days = rules
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
                cooldown_days=cooldown_days,
                needs_email=campaign.channel == "email",
            )
            if not decision.eligible:
                parts.append(f"{campaign.name}: {decision.reason}")
                continue
            survey = planned_survey(
                campaign,
                contact_id=track.contact_id,
                timezone=track.timezone or contact.timezone,
                org_zone=org_zone,
                now=now,
                trigger_event_id=track.event_id,
            )
            scheduled.append(survey)
            history[track.contact_id].append(PastSurvey(campaign.id, "scheduled", now))
            at = survey["scheduled_at"]
            what = "survey" if campaign.channel == "email" else "web survey"
            parts.append(f"{campaign.name}: {what} scheduled for {at:%Y-%m-%d %H:%M} UTC")
        return "; ".join(parts)
