"""Promoter's metrics: the NPS of each campaign and of the whole organization, over one
window (the analytics default: the 30 days up to the latest response)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from promoter.analytics.query import NpsQuery, Window, matching, scope
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary

EMPTY = NpsSummary(0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Metrics:
    window: Window
    organization: NpsSummary
    #: Campaigns with responses in the window, by id.
    campaigns: dict[int, NpsSummary]

    def of(self, campaign_id: int) -> NpsSummary:
        return self.campaigns.get(campaign_id, EMPTY)


def metrics(
    conn: Connection,
    *,
    organization_id: int,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> Metrics:
    """Every response in the window counts (as ``GET /api/v2/nps/`` without filters); an
    unset end of the window is the analytics default."""
    question = NpsQuery(organization_id=organization_id, since=since, until=until)
    settled = scope(conn, question, now=now)
    found = matching(settled, "campaign_id")
    rows = conn.execute(
        select(
            found.c.campaign_id,
            func.count(),
            func.count().filter(found.c.score >= PROMOTER_MIN),
            func.count().filter(found.c.score <= DETRACTOR_MAX),
        ).group_by(found.c.campaign_id)
    ).all()
    per_campaign = {
        campaign_id: NpsSummary.of(responses, promoters, detractors)
        for campaign_id, responses, promoters, detractors in rows
    }
    organization = NpsSummary.of(
        sum(s.responses for s in per_campaign.values()),
        sum(s.promoters for s in per_campaign.values()),
        sum(s.detractors for s in per_campaign.values()),
    )
    return Metrics(settled.window, organization, per_campaign)
