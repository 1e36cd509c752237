"""The alerts raised (their history), those standing (not raised again while the change
lasts), and the daily checks done (claimed once per organization and day).

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from promoter.alerts.rule import Direction, Moved, Windows
from promoter.alerts.scopes import Measured, ScopeKind
from promoter.domain.paging import Page
from promoter.storage.once import claim_once
from promoter.storage.tables import alert_daily_checks, alert_states, alerts

#: The first page of alerts, as the dashboard shows it.
FIRST = Page(1, 50)


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    organization_id: int
    scope: ScopeKind
    scope_id: int | None
    scope_name: str
    direction: Direction
    windows: Windows
    responses_before: int
    responses: int
    nps_before: float
    nps: float
    difference: float
    margin: float
    p_value: float
    q_value: float
    checked_by: str
    created_at: datetime

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% interval of the difference, in points."""
        return self.difference - self.margin, self.difference + self.margin

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "id": self.id,
            "scope": {"kind": self.scope, "id": self.scope_id, "name": self.scope_name},
            "direction": self.direction,
            "windows": self.windows.to_json(),
            "responses_before": self.responses_before,
            "responses": self.responses,
            "nps_before": self.nps_before,
            "nps": self.nps,
            "difference": self.difference,
            "interval": {"low": low, "high": high},
            "p_value": self.p_value,
            "q_value": self.q_value,
            "checked_by": self.checked_by,
            "created_at": self.created_at,
        }


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        row.id,
        row.organization_id,
        row.scope,
        row.scope_id,
        row.scope_name,
        row.direction,
        Windows(row.before_since, row.since, row.until),
        row.responses_before,
        row.responses,
        row.nps_before,
        row.nps,
        row.difference,
        row.margin,
        row.p_value,
        row.q_value,
        row.checked_by,
        row.created_at,
    )


def record_alert(
    conn: Connection,
    *,
    organization_id: int,
    measured: Measured,
    moved: Moved,
    windows: Windows,
    checked_by: str,
    now: datetime,
) -> Alert:
    """Record the alert and make it the scope's standing one."""
    assert measured.latest.nps is not None and measured.before.nps is not None
    scope = measured.scope
    row = conn.execute(
        insert(alerts)
        .values(
            organization_id=organization_id,
            scope=scope.kind,
            scope_id=scope.id,
            scope_name=scope.name[:200],
            direction=moved.direction,
            before_since=windows.before_since,
            before_until=windows.since,
            since=windows.since,
            until=windows.until,
            responses_before=measured.before.responses,
            responses=measured.latest.responses,
            nps_before=measured.before.nps,
            nps=measured.latest.nps,
            difference=moved.difference,
            margin=moved.margin,
            p_value=moved.p_value,
            q_value=moved.q_value,
            checked_by=checked_by,
            created_at=now,
        )
        .returning(*alerts.c)
    ).one()
    state = {"direction": moved.direction, "alert_id": row.id}
    changed = conn.execute(
        update(alert_states)
        .where(
            alert_states.c.organization_id == organization_id,
            alert_states.c.scope_key == scope.key,
        )
        .values(**state)
        .returning(alert_states.c.scope_key)
    ).first()
    if changed is None:
        conn.execute(
            insert(alert_states).values(
                organization_id=organization_id, scope_key=scope.key, **state
            )
        )
    return _alert(row)


def standing(conn: Connection, *, organization_id: int) -> dict[str, str]:
    """The direction of each scope's standing alert, by scope key."""
    rows = conn.execute(
        select(alert_states.c.scope_key, alert_states.c.direction).where(
            alert_states.c.organization_id == organization_id
        )
    )
    return {row.scope_key: row.direction for row in rows}


def stand_down(conn: Connection, *, organization_id: int, scope_keys: list[str]) -> None:
    """These scopes' changes are over: a new one will be alerted."""
    if scope_keys:
        conn.execute(
            delete(alert_states).where(
                alert_states.c.organization_id == organization_id,
                alert_states.c.scope_key.in_(scope_keys),
            )
        )


def claim_day(conn: Connection, *, organization_id: int, day: str, now: datetime) -> bool:
    """Claim the organization's daily check of ``day`` (YYYY-MM-DD); False when another
    check has it (see :func:`promoter.storage.once.claim_once`)."""
    return claim_once(
        conn, alert_daily_checks, organization_id=organization_id, day=day, checked_at=now
    )


def list_alerts(conn: Connection, *, organization_id: int, page: Page = FIRST) -> list[Alert]:
    """A page of the organization's alerts, newest first."""
    rows = conn.execute(
        select(alerts)
        .where(alerts.c.organization_id == organization_id)
        .order_by(alerts.c.id.desc())
        .limit(page.size)
        .offset(page.offset)
    )
    return [_alert(row) for row in rows]


def count_alerts(conn: Connection, *, organization_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(alerts)
            .where(alerts.c.organization_id == organization_id)
        ).scalar_one()
    )
