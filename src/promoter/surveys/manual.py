"""Surveys sent on request (the REST API): to one contact, or to a campaign's whole list.

The rules are the trigger's (:func:`~promoter.domain.eligibility.decide`: status, email
address, one scheduled survey per campaign, the campaign's throttle and the 24-hour floor
across campaigns), and so is the send time (the campaign's delay, weekdays and send
window). A request that fails a rule is dropped with its reason, never queued.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from promoter.campaigns.models import Campaign
from promoter.campaigns.service import NotFound, get_campaign
from promoter.contacts.lists import member_ids
from promoter.contacts.service import ContactNotFound
from promoter.domain.attributes import flatten_traits
from promoter.domain.eligibility import NOT_COUNTED, PastSurvey, decide, history_window
from promoter.domain.errors import InvalidMessage
from promoter.domain.ids import MAX_INT_ID
from promoter.storage.tables import contacts, surveys
from promoter.surveys.scheduling import (
    load_facts,
    organization_rules,
    planned_survey,
    write_surveys,
)

#: The most survey attributes one survey carries.
MAX_SURVEY_ATTRIBUTES = 200
#: Campaign ids are 32-bit: a larger one names no campaign.
MAX_CAMPAIGN_ID = MAX_INT_ID
#: Members surveyed per transaction when a whole list is.
BATCH_SIZE = 500
ALREADY_SURVEYED = "already surveyed by this campaign"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ManualOutcome:
    """What became of one contact: a scheduled survey, or the reason there is none."""

    contact_id: int
    scheduled: bool
    reason: str
    survey_id: int | None = None
    scheduled_at: datetime | None = None

    @property
    def reason_kind(self) -> str:
        """The reason without its particulars (``throttled``, ``cooldown``, ``contact is
        unsubscribed``), for counting."""
        for kind in ("throttled", "cooldown"):
            if self.reason.startswith(kind):
                return kind
        return self.reason


class CampaignNotActive(ValueError):
    """A paused or complete campaign sends nothing."""


def survey_attributes(raw: Mapping[str, object]) -> dict[str, Any]:
    """Attributes of one survey, typed as traits are, as JSON values (nested objects become
    dotted names; ``null`` and empty lists are left out). Raises :class:`InvalidMessage`."""
    typed = flatten_traits(dict(raw))
    if len(typed) > MAX_SURVEY_ATTRIBUTES:
        raise InvalidMessage(f"at most {MAX_SURVEY_ATTRIBUTES} survey attributes")
    return {name: value.to_json() for name, value in typed.items() if value is not None}


def send_survey(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    contact_id: int,
    attributes: Mapping[str, object],
    now: datetime,
) -> ManualOutcome:
    """Schedule a survey of the campaign for the contact, if the rules allow it now.

    Raises :class:`~promoter.campaigns.service.NotFound` (no such campaign),
    :class:`ContactNotFound` or :class:`InvalidMessage` (bad ``attributes``).
    """
    campaign = _campaign(conn, organization_id, campaign_id)
    (outcome,) = _send(
        conn,
        campaign,
        [contact_id],
        survey_attributes(attributes),
        organization_rules(conn, organization_id),
        now,
    )
    return outcome


@dataclass(slots=True)
class SendReport:
    """What sending to a list did."""

    scheduled: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, outcomes: Sequence[ManualOutcome]) -> None:
        for outcome in outcomes:
            if outcome.scheduled:
                self.scheduled += 1
            else:
                self.skipped += 1
                self.reasons[outcome.reason_kind] += 1


def send_to_list(
    write: Callable[[Callable[[Connection], Any]], Any],
    *,
    organization_id: int,
    campaign_id: int,
    all_contacts: bool,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> SendReport:
    """Survey the members of the campaign's list (``all_contacts=False``: only those the
    campaign never surveyed), ``batch_size`` at a time, each batch in its own transaction
    run by ``write`` (say ``Database.run_write``).

    Raises :class:`~promoter.campaigns.service.NotFound` or :class:`CampaignNotActive`
    before anything is written.
    """
    report = SendReport()
    after: int | None = 0
    while after is not None:
        after, outcomes = write(
            functools.partial(
                _send_batch,
                organization_id=organization_id,
                campaign_id=campaign_id,
                after=after,
                limit=batch_size,
                all_contacts=all_contacts,
                now=now,
            )
        )
        report.add(outcomes)
    return report


def _send_batch(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    after: int,
    limit: int,
    all_contacts: bool,
    now: datetime,
) -> tuple[int | None, list[ManualOutcome]]:
    """One batch of list members above ``after``; returns the last member id (None when
    the list is done) and what became of each."""
    campaign = _campaign(conn, organization_id, campaign_id)
    if campaign.status != "active":
        if after == 0:
            raise CampaignNotActive(f"The campaign is {campaign.status}: it sends no surveys.")
        return None, []  # paused while its list was being surveyed: stop there
    ids = member_ids(
        conn,
        organization_id=organization_id,
        list_id=campaign.contact_list_id,
        after=after,
        limit=limit,
    )
    if not ids:
        return None, []
    done = set() if all_contacts else _surveyed_by(conn, campaign.id, ids)
    outcomes = [ManualOutcome(i, False, ALREADY_SURVEYED) for i in ids if i in done]
    wanted = [i for i in ids if i not in done]
    if wanted:
        outcomes += _send(
            conn, campaign, wanted, {}, organization_rules(conn, organization_id), now
        )
    return (ids[-1] if len(ids) == limit else None), outcomes


def _campaign(conn: Connection, organization_id: int, campaign_id: int) -> Campaign:
    if not 1 <= campaign_id <= MAX_CAMPAIGN_ID:
        raise NotFound(f"no campaign {campaign_id}")
    return get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)


def _surveyed_by(conn: Connection, campaign_id: int, ids: list[int]) -> set[int]:
    return set(
        conn.execute(
            select(surveys.c.contact_id)
            .where(
                surveys.c.campaign_id == campaign_id,
                surveys.c.contact_id.in_(ids),
                surveys.c.status.not_in(sorted(NOT_COUNTED)),
            )
            .distinct()
        ).scalars()
    )


def _send(
    conn: Connection,
    campaign: Campaign,
    ids: list[int],
    attributes: dict[str, Any],
    rules: tuple[str, int],
    now: datetime,
) -> list[ManualOutcome]:
    """Decide for each contact (the organization's, all of them) and schedule the
    eligible ones."""
    mine = _lock(conn, campaign.organization_id, ids)
    missing = [i for i in ids if i not in mine]
    if missing:
        raise ContactNotFound(f"no contact with id {missing[0]}")
    if campaign.status != "active":
        return [ManualOutcome(i, False, f"campaign is {campaign.status}") for i in ids]
    org_zone, cooldown_days = rules
    since = now - history_window([campaign.throttle_days], cooldown_days)
    people, history = load_facts(conn, campaign.organization_id, ids, since)
    planned: dict[int, dict[str, Any]] = {}
    reasons: dict[int, str] = {}
    for contact_id in ids:
        contact = people[contact_id]
        decision = decide(
            contact_status=contact.status,
            has_email=bool(contact.email),
            campaign_id=campaign.id,
            throttle_days=campaign.throttle_days,
            history=history[contact_id],
            now=now,
            cooldown_days=cooldown_days,
            needs_email=campaign.channel == "email",
        )
        reasons[contact_id] = decision.reason
        if decision.eligible:
            planned[contact_id] = planned_survey(
                campaign,
                contact_id=contact_id,
                timezone=contact.timezone,
                org_zone=org_zone,
                now=now,
                attributes=attributes,
            )
            history[contact_id].append(PastSurvey(campaign.id, "scheduled", now))
    survey_ids = write_surveys(conn, list(planned.values()))
    outcomes = []
    for contact_id in ids:
        survey = planned.get(contact_id)
        if survey is None:
            outcomes.append(ManualOutcome(contact_id, False, reasons[contact_id]))
        else:
            outcomes.append(
                ManualOutcome(
                    contact_id,
                    True,
                    "scheduled",
                    survey_id=survey_ids[survey["token"]],
                    scheduled_at=survey["scheduled_at"],
                )
            )
    return outcomes


def _lock(conn: Connection, organization_id: int, ids: list[int]) -> set[int]:
    """Those of ``ids`` that are the organization's contacts, locked until the transaction
    ends on PostgreSQL, so two sends to one contact decide one after the other."""
    return set(
        conn.execute(
            select(contacts.c.id)
            .where(contacts.c.organization_id == organization_id, contacts.c.id.in_(ids))
            .order_by(contacts.c.id)
            .with_for_update()
        ).scalars()
    )
