"""An analytics question (which responses) and the SQL that finds those responses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Subquery,
    and_,
    exists,
    func,
    select,
)

from promoter.analytics.compile import AttributeSource, Target, compile_filter
from promoter.analytics.filters import Expr
from promoter.domain.nps import SCORE_RANGES, ScoreType
from promoter.storage.tables import response_tags, responses

CountMode = Literal["all", "latest"]
FeedbackStatus = Literal["OPEN", "CLOSED"]

#: The default window: this long, up to the latest response.
DEFAULT_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class NpsQuery:
    """Which responses count. Every field narrows the set; all must match."""

    organization_id: int
    where: Expr | None = None
    attributes: AttributeSource = "snapshot"
    #: Half-open: since <= responded < until. None: the default window.
    since: datetime | None = None
    until: datetime | None = None
    campaign_ids: tuple[int, ...] = ()
    scores: tuple[int, ...] = ()
    score_types: tuple[ScoreType, ...] = ()
    has_comment: bool | None = None
    statuses: tuple[FeedbackStatus, ...] = ()
    #: Every one of these tags.
    tags: tuple[str, ...] = ()
    count: CountMode = "all"


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime

    def to_json(self) -> dict[str, datetime]:
        return {"since": self.since, "until": self.until}


@dataclass(frozen=True, slots=True)
class Scope:
    """A query with its window settled, ready to be turned into SQL."""

    query: NpsQuery
    window: Window
    now: datetime
    dialect: str

    def widened(self, since: datetime) -> Scope:
        """The same question over a window that starts earlier (for rolling trends)."""
        return replace(self, window=Window(since, self.window.until))


def resolve_window(conn: Connection, query: NpsQuery, *, now: datetime) -> Window:
    """The query's window; unset ends default to the 30 days up to the latest response."""
    until = query.until
    if until is None:
        latest = conn.execute(
            select(func.max(responses.c.created_at)).where(*_campaign_scope(query))
        ).scalar()
        until = (latest or now) + timedelta(microseconds=1)
    since = query.since if query.since is not None else until - DEFAULT_WINDOW
    return Window(since, until)


def first_response_at(conn: Connection, *, organization_id: int) -> datetime | None:
    """When the organization's first response came (None: none yet), where "all time"
    starts."""
    return conn.execute(
        select(func.min(responses.c.created_at)).where(
            responses.c.organization_id == organization_id
        )
    ).scalar()


def scope(conn: Connection, query: NpsQuery, *, now: datetime | None = None) -> Scope:
    now = now or datetime.now(UTC)
    return Scope(query, resolve_window(conn, query, now=now), now, conn.dialect.name)


def _campaign_scope(query: NpsQuery) -> list[Any]:
    conditions: list[Any] = [responses.c.organization_id == query.organization_id]
    if query.campaign_ids:
        conditions.append(responses.c.campaign_id.in_(query.campaign_ids))
    return conditions


def matching(scope: Scope, *columns: str, per: ColumnElement[Any] | None = None) -> Subquery:
    """The matching responses, with ``id``, ``contact_id``, ``score``, ``created_at`` and
    the named extra ``responses`` columns.

    In "latest" mode each contact's latest response in the window counts, or with ``per``
    (an expression on ``responses``, a trend bucket say) its latest for each value of it.
    """
    query = scope.query
    wanted = ["id", "contact_id", "score", "created_at", *columns]
    in_window = [
        *_campaign_scope(query),
        responses.c.created_at >= scope.window.since,
        responses.c.created_at < scope.window.until,
    ]
    if query.count == "all":
        base: Any = responses
        stmt: Select[Any] = select(*(responses.c[name] for name in wanted)).where(*in_window)
    else:
        needed = sorted({*wanted, "comment", "status", "channel"})
        rank = (
            func.row_number()
            .over(
                partition_by=(
                    responses.c.contact_id if per is None else (responses.c.contact_id, per)
                ),
                order_by=(responses.c.created_at.desc(), responses.c.id.desc()),
            )
            .label("rank")
        )
        latest = (
            select(*(responses.c[name] for name in needed), rank)
            .where(*in_window)
            .subquery("latest")
        )
        base = latest
        stmt = select(*(latest.c[name] for name in wanted)).where(latest.c.rank == 1)
    stmt = stmt.where(*_response_conditions(scope, base))
    return stmt.subquery("matching")


def _response_conditions(scope: Scope, base: Any) -> list[Any]:
    query = scope.query
    c = base.c
    conditions: list[Any] = []
    if query.scores or query.score_types:
        allowed = set(query.scores)
        for kind in query.score_types:
            low, high = SCORE_RANGES[kind]
            allowed.update(range(low, high + 1))
        conditions.append(c.score.in_(sorted(allowed)))
    if query.has_comment is not None:
        has = and_(c.comment.is_not(None), c.comment != "")
        conditions.append(has if query.has_comment else ~has)
    if query.statuses:
        conditions.append(c.status.in_(query.statuses))
    for tag in query.tags:
        conditions.append(
            exists().where(response_tags.c.response_id == c.id, response_tags.c.tag == tag)
        )
    if query.where is not None:
        target = Target(
            response_id=c.id,
            contact_id=c.contact_id,
            organization_id=query.organization_id,
            source=query.attributes,
            now=scope.now,
            dialect=scope.dialect,
            channel=c.channel,
        )
        conditions.append(compile_filter(query.where, target))
    return conditions
