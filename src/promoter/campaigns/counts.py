"""How many contacts a campaign reaches, how many it could survey now, when it sent, and
what it got back.

Each number is one grouped query over all the campaigns asked about, never a query per
contact or per campaign. Eligibility follows :mod:`promoter.domain.eligibility`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, exists, func, literal, or_, select

from promoter.campaigns.models import Campaign
from promoter.domain.channels import CHANNELS, WEB
from promoter.domain.eligibility import NOT_COUNTED, SUPPRESSED, cooldown
from promoter.storage.campaign_counts import COUNTS
from promoter.storage.tables import (
    campaign_day_counts,
    contacts,
    list_memberships,
    organizations,
    surveys,
)
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
    campaigns that has any (or of ``campaign_id`` alone), by campaign id: the sums of the
    counts the database keeps (storage/campaign_counts.py)."""
    summed = _sums(conn, organization_id, campaign_id)
    results: dict[int, CampaignResults] = {}
    per_channel: dict[int, dict[str, ChannelResults]] = {}
    in_the_app: dict[int, tuple[int, int]] = {}
    for found_id, channel, counts in summed:
        if counts["sent"]:
            results.setdefault(found_id, CampaignResults()).sent += counts["sent"]
            per_channel.setdefault(found_id, {}).setdefault(
                channel, ChannelResults()
            ).sent = counts["sent"]
        shown, dismissed = in_the_app.get(found_id, (0, 0))
        in_the_app[found_id] = (shown + counts["shown"], dismissed + counts["dismissed"])
    for found_id, (shown, dismissed) in in_the_app.items():
        if shown:
            results.setdefault(found_id, CampaignResults())
            web = per_channel.setdefault(found_id, {}).setdefault(WEB, ChannelResults())
            web.sent, web.dismissed = shown, dismissed
    for found_id, channel, counts in summed:
        if counts["responses"]:
            found = results.setdefault(found_id, CampaignResults())
            found.responses += counts["responses"]
            found.promoters += counts["promoters"]
            found.detractors += counts["detractors"]
            channels = per_channel.setdefault(found_id, {})
            channels.setdefault(channel, ChannelResults()).responses = counts["responses"]
    for found_id, channels in per_channel.items():
        results[found_id].channels = {name: channels[name] for name in CHANNELS if name in channels}
    return results


def _sums(
    conn: Connection, organization_id: int, campaign_id: int | None
) -> list[tuple[int, str, dict[str, int]]]:
    """Per campaign and channel, each of ``COUNTS`` over all time."""
    c = campaign_day_counts.c
    mine = [c.organization_id == organization_id]
    if campaign_id is not None:
        mine.append(c.campaign_id == campaign_id)
    rows = conn.execute(
        select(c.campaign_id, c.channel, *(func.sum(c[name]) for name in COUNTS))
        .where(*mine)
        .group_by(c.campaign_id, c.channel)
        .order_by(c.campaign_id, c.channel)
    )
    return [
        (row[0], row[1], dict(zip(COUNTS, (int(v or 0) for v in row[2:]), strict=True)))
        for row in rows
    ]
