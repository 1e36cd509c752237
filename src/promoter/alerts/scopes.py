"""What an organization's alerts watch: the organization as a whole, each campaign, each
saved segment; and each one's NPS over the rule's two windows, read through the
analytics engine (the in-memory columns when loaded, SQL otherwise)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, select

from promoter.alerts.rule import Windows
from promoter.analytics import query as analytics_query
from promoter.analytics.engine import Analytics
from promoter.analytics.filters import Expr, FilterError
from promoter.analytics.query import NpsQuery
from promoter.analytics.segments import list_segments
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import campaigns, organizations

log = logging.getLogger("promoter.alerts")

ScopeKind = Literal["organization", "campaign", "segment"]


@dataclass(frozen=True, slots=True)
class Watched:
    """One scope: its kind, id (None for the organization), name and filter."""

    kind: ScopeKind
    id: int | None
    name: str
    where: Expr | None = None

    @property
    def key(self) -> str:
        """How the standing alerts name it: "organization", "campaign:3", "segment:7"."""
        return self.kind if self.id is None else f"{self.kind}:{self.id}"

    def query(self, organization_id: int, since: datetime, until: datetime) -> NpsQuery:
        campaign_ids = (self.id,) if self.kind == "campaign" and self.id is not None else ()
        return NpsQuery(
            organization_id, where=self.where, since=since, until=until, campaign_ids=campaign_ids
        )


def watched(conn: Connection, *, organization_id: int) -> list[Watched]:
    """The organization, its campaigns (by id) and its saved segments (by name); a segment
    whose filter no longer reads is left out."""
    name = conn.execute(
        select(organizations.c.name).where(organizations.c.id == organization_id)
    ).scalar_one()
    found = [Watched("organization", None, name)]
    rows = conn.execute(
        select(campaigns.c.id, campaigns.c.name)
        .where(campaigns.c.organization_id == organization_id)
        .order_by(campaigns.c.id)
    )
    found += [Watched("campaign", row.id, row.name) for row in rows]
    for segment in list_segments(conn, organization_id=organization_id):
        try:
            found.append(Watched("segment", segment.id, segment.name, segment.expression))
        except FilterError as exc:
            log.warning("segment %s is not watched: %s", segment.id, exc)
    return found


@dataclass(frozen=True, slots=True)
class Measured:
    scope: Watched
    latest: NpsSummary
    before: NpsSummary


def measure(
    conn: Connection,
    analytics: Analytics,
    *,
    organization_id: int,
    scopes: list[Watched],
    windows: Windows,
    now: datetime,
) -> list[Measured]:
    """Each scope's NPS over the latest window and the window before it."""
    found = []
    for scope in scopes:
        latest, before = (
            analytics.nps(
                conn,
                analytics_query.scope(conn, scope.query(organization_id, since, until), now=now),
            ).summary
            for since, until in (
                (windows.since, windows.until),
                (windows.before_since, windows.since),
            )
        )
        found.append(Measured(scope, latest, before))
    return found
