"""What moves the NPS: groups of answers — an attribute's top values or numeric buckets,
a behaviour (did an event, placed an order) — ranked by their impact on the NPS (see
``impact.py``), with the rows beyond chance marked (Benjamini-Hochberg), and a regression
of promoter and of detractor on them all (``regression.py``), which does not count twice
attributes that go together."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from sqlalchemy import Connection, func, select

from promoter.analytics.breakdown import BreakdownRow, row_filter
from promoter.analytics.buckets import AUTO
from promoter.analytics.engine import Analytics
from promoter.analytics.filters import Expr, FilterError, parse_filter
from promoter.analytics.impact import Impact, impact
from promoter.analytics.membership import Bools, Members, members
from promoter.analytics.query import Scope, matching
from promoter.analytics.regression import Feature, Models, fit_models
from promoter.analytics.significance import FDR, q_values, rest_of
from promoter.analytics.suggest import event_names
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import response_attributes

Kind = Literal["attribute", "event", "orders"]

#: Attributes and event names a question may name; values (or buckets) per attribute.
MAX_ATTRIBUTES = 10
MAX_EVENTS = 10
MAX_TOP = 20
DEFAULT_TOP = 5
#: Without names: the attributes most present in the latest SAMPLE answers, and the first
#: event names (by name).
DEFAULT_ATTRIBUTES = 5
DEFAULT_EVENTS = 5
SAMPLE = 1000


class DriversError(ValueError):
    """A drivers question that cannot be answered as asked (a 400)."""


@dataclass(frozen=True, slots=True)
class Request:
    """What to rank: attributes by name, events by name, and whether placing an order;
    behaviours counted over the last ``within_days`` days (None: ever)."""

    attributes: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    orders: bool = True
    top: int = DEFAULT_TOP
    within_days: int | None = None

    def check(self) -> None:
        if len(self.attributes) > MAX_ATTRIBUTES:
            raise DriversError(f"by: at most {MAX_ATTRIBUTES} attributes")
        if len(self.events) > MAX_EVENTS:
            raise DriversError(f"event: at most {MAX_EVENTS} events")
        if not 1 <= self.top <= MAX_TOP:
            raise DriversError(f"top is from 1 to {MAX_TOP}")
        for name in (*self.attributes, *self.events):
            if not name or len(name) > 255 or "\x00" in name:
                raise DriversError("attribute and event names are 1 to 255 characters")


@dataclass(frozen=True, slots=True)
class Group:
    """Answers sharing a value (or bucket) of an attribute, or a behaviour. ``expr``: the
    filter that finds them (None: the attribute's OTHER values, what its rows leave)."""

    kind: Kind
    name: str
    value: str
    expr: Expr | None
    low: float | None = None
    high: float | None = None

    @property
    def label(self) -> str:
        if self.kind == "attribute":
            return (
                f"{self.name} = {self.value}"
                if self.low is None and self.high is None
                else (f"{self.name} {self.value}")
            )
        return self.value


@dataclass(frozen=True, slots=True)
class Ranked:
    group: Group
    summary: NpsSummary
    rest: NpsSummary
    impact: Impact | None
    q_value: float | None = None

    @property
    def moves(self) -> Literal["raises", "lowers"] | None:
        """The side the group moves the NPS to, beyond chance (q <= FDR)."""
        if self.q_value is None or self.q_value > FDR or self.impact is None:
            return None
        return "raises" if self.impact.points > 0 else "lowers"

    def to_json(self) -> dict[str, object]:
        found = self.impact
        interval = None if found is None else found.interval
        return {
            "kind": self.group.kind,
            "name": self.group.name,
            "value": self.group.value,
            "label": self.group.label,
            "low": self.group.low,
            "high": self.group.high,
            "responses": self.summary.responses,
            "nps": self.summary.nps,
            "nps_rest": self.rest.nps,
            "impact": None if found is None else found.points,
            "interval": None if interval is None else list(interval),
            "p_value": None if found is None else found.p_value,
            "q_value": self.q_value,
            "moves": self.moves,
        }


@dataclass(frozen=True, slots=True)
class Drivers:
    total: NpsSummary
    groups: list[Ranked]
    models: Models
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "total": self.total.to_json(),
            "groups": [g.to_json() for g in self.groups],
            "regression": self.models.to_json(),
            "notes": self.notes,
        }


def default_request(conn: Connection, scope: Scope, *, top: int = DEFAULT_TOP) -> Request:
    """The attributes (of response snapshots) most present among the scope's latest
    answers, leaving out those with nearly one value per answer (an email, a name) unless
    numeric, and the organization's first event names."""
    latest = matching(scope)
    sample = select(latest.c.id).order_by(latest.c.created_at.desc()).limit(SAMPLE).subquery()
    a = response_attributes.c
    counted = conn.execute(
        select(
            a.name,
            func.count(),
            func.count(a.value_text.distinct()),
            func.count().filter(a.value_type == "number"),
        )
        .join(sample, sample.c.id == a.response_id)
        .group_by(a.name)
        .order_by(func.count().desc(), a.name)
    ).all()
    names = [
        name
        for name, n, distinct, numbers in counted
        if distinct <= max(2 * top, n // 2) or numbers * 10 >= n * 9
    ]
    events = event_names(conn, organization_id=scope.query.organization_id, limit=DEFAULT_EVENTS)
    return Request(tuple(names[:DEFAULT_ATTRIBUTES]), tuple(events), top=top)


def behaviour_groups(request: Request) -> list[Group]:
    within = request.within_days
    days: dict[str, Any] = {} if within is None else {"within_days": within}
    when = "" if request.within_days is None else f" in the last {request.within_days} days"
    groups = [
        Group("event", name, f"did {name}{when}", parse_filter({"event": name, **days}))
        for name in request.events
    ]
    if request.orders:
        orders = parse_filter({"orders": "count", "op": "gte", "value": 1, **days})
        groups.append(Group("orders", "orders", f"placed an order{when}", orders))
    return groups


def attribute_groups(name: str, rows: list[BreakdownRow]) -> list[Group]:
    """The breakdown's rows as groups (its empty buckets left out)."""
    groups = []
    for row in rows:
        if row.summary.responses:
            found = row_filter(name, row)
            expr = None if found is None else parse_filter(found)
            groups.append(Group("attribute", name, row.value, expr, row.low, row.high))
    return groups


def drivers(analytics: Analytics, conn: Connection, scope: Scope, request: Request) -> Drivers:
    """The groups of ``request`` (naming no attribute and no event: the defaults) over
    the scope's answers, ranked by impact, and the regressions of promoter and detractor
    on them."""
    request.check()
    if not request.attributes and not request.events:
        defaults = default_request(conn, scope, top=request.top)
        request = replace(request, attributes=defaults.attributes, events=defaults.events)
    try:
        groups = behaviour_groups(request)
        for name in request.attributes:
            found = analytics.breakdown(conn, scope, by=name, top=request.top, buckets=AUTO)
            groups.extend(attribute_groups(name, found.rows))
    except FilterError as exc:
        raise DriversError(str(exc)) from None
    filtered = [g for g in groups if g.expr is not None]
    answers = members(analytics, conn, scope, [g.expr for g in filtered if g.expr is not None])
    masks = _masks(groups, filtered, answers)
    total = answers.summary()
    ranked = rank([(g, answers.summary(masks[i])) for i, g in enumerate(groups)], total)
    features = _features(groups, masks, answers)
    return Drivers(total, ranked, fit_models(answers.promoter, answers.detractor, features))


def _masks(groups: list[Group], filtered: list[Group], answers: Members) -> list[Bools]:
    """Each group's answers; an attribute's OTHER is what its other rows leave."""
    by_group = {id(g): answers.columns[i] for i, g in enumerate(filtered)}
    masks = []
    for group in groups:
        if group.expr is not None:
            masks.append(by_group[id(group)])
            continue
        taken = np.zeros(len(answers.scores), np.bool_)
        for other in groups:
            if other.kind == "attribute" and other.name == group.name and other.expr is not None:
                taken |= by_group[id(other)]
        masks.append(~taken)
    return masks


def rank(groups: list[tuple[Group, NpsSummary]], total: NpsSummary) -> list[Ranked]:
    """Each group with its impact, the tested ones' q-values (Benjamini-Hochberg across
    them), the largest impacts first and the groups too small to test last."""
    found = [
        (g, s, impact(s, total)) for g, s in groups if s.responses and s.responses < total.responses
    ]
    tested: list[tuple[int, float]] = []
    for i, (_, _, f) in enumerate(found):
        p = None if f is None else f.p_value
        if p is not None:
            tested.append((i, p))
    qs = dict(zip([i for i, _ in tested], q_values([p for _, p in tested]), strict=True))
    ranked = [Ranked(g, s, rest_of(total, s), f, qs.get(i)) for i, (g, s, f) in enumerate(found)]
    ranked.sort(
        key=lambda r: (
            r.q_value is None,
            -abs(r.impact.points) if r.impact is not None else 0.0,
            r.group.label,
        )
    )
    return ranked


def _features(groups: list[Group], masks: list[Bools], answers: Members) -> list[Feature]:
    """The regression's features: each behaviour (against not doing it) and each value of
    an attribute but its most frequent, the attribute's reference level."""
    features = []
    largest: dict[str, int] = {}
    for i, group in enumerate(groups):
        if group.kind == "attribute":
            best = largest.get(group.name)
            if best is None or masks[i].sum() > masks[best].sum():
                largest[group.name] = i
    for i, group in enumerate(groups):
        if group.kind != "attribute":
            features.append(Feature(group.label, masks[i], "did not"))
        elif largest[group.name] != i:
            reference = groups[largest[group.name]]
            features.append(Feature(group.label, masks[i], reference.label, group.name))
    return features
