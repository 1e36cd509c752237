"""How many contacts a campaign reaches, how many it could survey now, when it sent, and
what it got back.

Each number is one grouped query over all the campaigns asked about, never a query per
contact or per campaign. Eligibility follows :mod:`promoter.domain.eligibility`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, literal, or_, select, true

from promoter.campaigns.models import Campaign
from promoter.domain.channels import CHANNELS, WEB
from promoter.domain.eligibility import NOT_COUNTED, SUPPRESSED, cooldown
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN
from promoter.storage.tables import contacts, list_memberships, organizations, responses, surveys
from promoter.storage.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class CampaignCounts:
    #: Members of the campaign's contact list.
    all_count: int = 0
    #: Members who could be surveyed now: not suppressed, with an address, not throttled.
    eligible_count: int = 0
    #: When its first and its latest survey were sent.
    launch_date: datetime | None = None
    last_surveyed_date: datetime | None = None


def campaign_counts(
    conn: Connection, *, organization_id: int, campaigns: Sequence[Campaign], now: datetime
) -> dict[int, CampaignCounts]:
    """The counts of each of ``campaigns`` (of one organization), by campaign id."""
    if not campaigns:
        return {}
    members = _members(conn, {c.contact_list_id for c in campaigns})
    eligible = _eligible(conn, organization_id, campaigns, now)
    dates = _dates(conn, organization_id, [c.id for c in campaigns])
    return {
        c.id: CampaignCounts(
            all_count=members.get(c.contact_list_id, 0),
            eligible_count=eligible.get(c.id, 0),
            launch_date=dates.get(c.id, (None, None))[0],
            last_surveyed_date=dates.get(c.id, (None, None))[1],
        )
        for c in campaigns
    }


def _members(conn: Connection, list_ids: set[int]) -> dict[int, int]:
    rows = conn.execute(
        select(list_memberships.c.list_id, func.count())
        .where(list_memberships.c.list_id.in_(sorted(list_ids)))
        .group_by(list_memberships.c.list_id)
    )
    return {list_id: count for list_id, count in rows}


def _eligible(
    conn: Connection, organization_id: int, campaigns: Sequence[Campaign], now: datetime
) -> dict[int, int]:
    """Per campaign, its list's members that :func:`~promoter.domain.eligibility.decide`
    would let it survey now."""
    cooldown_days = conn.execute(
        select(organizations.c.cooldown_days).where(organizations.c.id == organization_id)
    ).scalar()
    between = cooldown(int(cooldown_days or 0))
    per_campaign = [
        select(
            literal(c.id).label("campaign_id"),
            literal(c.contact_list_id).label("list_id"),
            literal(now - timedelta(days=c.throttle_days), UTCDateTime).label("throttled_since"),
            literal(c.channel == "email").label("needs_email"),
        )
        for c in campaigns
    ]
    wanted = per_campaign[0].union_all(*per_campaign[1:]).subquery("wanted")
    past = surveys.alias("past")
    blocking = exists().where(
        past.c.organization_id == organization_id,
        past.c.contact_id == list_memberships.c.contact_id,
        past.c.status.not_in(sorted(NOT_COUNTED)),
        or_(
            past.c.created_at > now - between,
            and_(
                past.c.campaign_id == wanted.c.campaign_id,
                or_(past.c.status == "scheduled", past.c.created_at > wanted.c.throttled_since),
            ),
        ),
    )
    rows = conn.execute(
        select(wanted.c.campaign_id, func.count())
        .select_from(
            wanted.join(list_memberships, list_memberships.c.list_id == wanted.c.list_id).join(
                contacts, contacts.c.id == list_memberships.c.contact_id
            )
        )
        .where(
            contacts.c.status.not_in(sorted(SUPPRESSED)),
            or_(contacts.c.email != "", ~wanted.c.needs_email),
            ~blocking,
        )
        .group_by(wanted.c.campaign_id)
    )
    return {campaign_id: count for campaign_id, count in rows}


def _dates(
    conn: Connection, organization_id: int, campaign_ids: list[int]
) -> dict[int, tuple[datetime | None, datetime | None]]:
    rows = conn.execute(
        select(surveys.c.campaign_id, func.min(surveys.c.sent_at), func.max(surveys.c.sent_at))
        .where(
            surveys.c.organization_id == organization_id,
            surveys.c.campaign_id.in_(campaign_ids),
            surveys.c.sent_at.is_not(None),
        )
        .group_by(surveys.c.campaign_id)
    )
    return {campaign_id: (first, last) for campaign_id, first, last in rows}


@dataclass
class ChannelResults:
    """Surveys a campaign sent on one channel, and the responses they got. In the app a
    survey is sent when it is shown: ``sent`` counts the surveys shown there (an emailed
    one of a "both" campaign too, when it was shown in the app later), and ``dismissed``
    those closed without an answer."""

    sent: int = 0
    responses: int = 0
    dismissed: int = 0

    @property
    def response_rate(self) -> float | None:
        """Responses per survey sent, from 0 to 1 (None: nothing sent)."""
        return self.responses / self.sent if self.sent else None


@dataclass
class CampaignResults:
    """What a campaign sent and got back, over all time, in all and per channel."""

    sent: int = 0
    responses: int = 0
    promoters: int = 0
    detractors: int = 0
    #: Each channel that has surveys (or responses), in the order of domain.channels.
    channels: dict[str, ChannelResults] = field(default_factory=dict)

    @property
    def nps(self) -> float | None:
        if not self.responses:
            return None
        return (self.promoters - self.detractors) * 100 / self.responses


def campaign_results(
    conn: Connection, *, organization_id: int, campaign_id: int | None = None
) -> dict[int, CampaignResults]:
    """Surveys sent and responses (promoters, detractors) of each of the organization's
    campaigns that has any (or of ``campaign_id`` alone), by campaign id."""
    results: dict[int, CampaignResults] = {}
    per_channel: dict[int, dict[str, ChannelResults]] = {}
    mine = [surveys.c.organization_id == organization_id]
    if campaign_id is not None:
        mine.append(surveys.c.campaign_id == campaign_id)
    sent = conn.execute(
        select(surveys.c.campaign_id, surveys.c.channel, func.count())
        .where(*mine, surveys.c.sent_at.is_not(None))
        .group_by(surveys.c.campaign_id, surveys.c.channel)
    )
    for found_id, channel, number in sent:
        results.setdefault(found_id, CampaignResults()).sent += number
        per_channel.setdefault(found_id, {}).setdefault(channel, ChannelResults()).sent = number
    for found_id, shown, dismissed in _in_the_app(conn, mine):
        results.setdefault(found_id, CampaignResults())
        web = per_channel.setdefault(found_id, {}).setdefault(WEB, ChannelResults())
        web.sent, web.dismissed = shown, dismissed
    answered = conn.execute(
        select(
            responses.c.campaign_id,
            responses.c.channel,
            func.count(),
            func.count().filter(responses.c.score >= PROMOTER_MIN),
            func.count().filter(responses.c.score <= DETRACTOR_MAX),
        )
        .where(
            responses.c.organization_id == organization_id,
            true() if campaign_id is None else responses.c.campaign_id == campaign_id,
        )
        .group_by(responses.c.campaign_id, responses.c.channel)
    )
    for found_id, channel, number, promoters, detractors in answered:
        found = results.setdefault(found_id, CampaignResults())
        found.responses += number
        found.promoters += promoters
        found.detractors += detractors
        channels = per_channel.setdefault(found_id, {})
        channels.setdefault(channel, ChannelResults()).responses = number
    for found_id, channels in per_channel.items():
        results[found_id].channels = {c: channels[c] for c in CHANNELS if c in channels}
    return results


def _in_the_app(conn: Connection, mine: list[Any]) -> list[tuple[int, int, int]]:
    """Per campaign with any: its surveys shown in the app (sent there, or emailed and
    shown there later) and those dismissed there."""
    s = surveys.c
    shown = or_(s.shown_at.is_not(None), and_(s.channel == WEB, s.sent_at.is_not(None)))
    rows = conn.execute(
        select(s.campaign_id, func.count(), func.count().filter(s.dismissed_at.is_not(None)))
        .where(*mine, shown)
        .group_by(s.campaign_id)
    )
    return [(found_id, number, dismissed) for found_id, number, dismissed in rows]
