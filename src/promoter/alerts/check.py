"""Checking an organization for alerts: measure every scope (in a read), then, in one
write transaction, claim the day's check when it is the daily one, record the alerts not
already standing, stand down the changes that are over, and queue the webhook events and
emails. Several server processes may check at once: one claims, the others do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Literal

from sqlalchemy import Connection, exists, select

from promoter.alerts.notify import AlertEmails, email_alert, emit_alert
from promoter.alerts.rule import Windows, moved, windows
from promoter.alerts.scopes import Measured, measure, watched
from promoter.alerts.store import Alert, claim_day, record_alert, stand_down, standing
from promoter.analytics.engine import Analytics
from promoter.storage.engine import Database
from promoter.storage.tables import alert_daily_checks, organizations

log = logging.getLogger("promoter.alerts")

CheckedBy = Literal["daily", "manual"]


@dataclass(frozen=True, slots=True)
class Checked:
    """One check: the scopes measured, the alerts raised; ``claimed`` False when the
    day's check was another's (nothing was recorded)."""

    organization_id: int
    windows: Windows
    measured: list[Measured]
    alerts: list[Alert] = field(default_factory=list)
    claimed: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "windows": self.windows.to_json(),
            "scopes_checked": len(self.measured),
            "alerts": [alert.to_json() for alert in self.alerts],
        }


@dataclass(frozen=True, slots=True)
class Alerting:
    """What a check needs: the database, the analytics engine, the dashboard's URL."""

    database: Database
    analytics: Analytics
    base_url: str
    emails: AlertEmails = field(default_factory=AlertEmails)


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)


def check(
    alerting: Alerting, *, organization_id: int, now: datetime, checked_by: CheckedBy
) -> Checked:
    """Check the organization: the daily check over the whole days before today (once a
    day), a manual one up to ``now``."""
    until = day_start(now) if checked_by == "daily" else now
    spans = windows(until)
    with alerting.database.read() as conn:
        scopes = watched(conn, organization_id=organization_id)
        found = measure(
            conn,
            alerting.analytics,
            organization_id=organization_id,
            scopes=scopes,
            windows=spans,
            now=now,
        )

    def record(conn: Connection) -> Checked:
        if checked_by == "daily":
            day = until.date().isoformat()
            if not claim_day(conn, organization_id=organization_id, day=day, now=now):
                return Checked(organization_id, spans, found, claimed=False)
        raised = _record(conn, alerting, organization_id, found, spans, checked_by, now)
        return Checked(organization_id, spans, found, raised)

    return alerting.database.run_write(record)


def _record(
    conn: Connection,
    alerting: Alerting,
    organization_id: int,
    found: list[Measured],
    spans: Windows,
    checked_by: CheckedBy,
    now: datetime,
) -> list[Alert]:
    outcome = moved([(m.latest, m.before) for m in found])
    standing_now = standing(conn, organization_id=organization_id)
    raised: list[Alert] = []
    over: list[str] = []
    for measured, move in zip(found, outcome, strict=True):
        key = measured.scope.key
        if move is None:
            if key in standing_now:
                over.append(key)
            continue
        if standing_now.get(key) == move.direction:
            continue  # still the change already told
        alert = record_alert(
            conn,
            organization_id=organization_id,
            measured=measured,
            moved=move,
            windows=spans,
            checked_by=checked_by,
            now=now,
        )
        emit_alert(conn, alert, base_url=alerting.base_url, now=now)
        email_alert(conn, alert, emails=alerting.emails, base_url=alerting.base_url, now=now)
        raised.append(alert)
    # A scope gone since (a segment deleted) stands down too: its id may come back.
    watched_now = {m.scope.key for m in found}
    over += [key for key in standing_now if key not in watched_now]
    stand_down(conn, organization_id=organization_id, scope_keys=over)
    return raised


def due_organizations(conn: Connection, *, day: str) -> list[int]:
    """The organizations whose daily check of ``day`` is not done."""
    done = exists().where(
        alert_daily_checks.c.organization_id == organizations.c.id,
        alert_daily_checks.c.day == day,
    )
    return list(
        conn.execute(select(organizations.c.id).where(~done).order_by(organizations.c.id)).scalars()
    )


def check_daily(alerting: Alerting, *, now: datetime) -> list[Checked]:
    """The daily check of every organization not checked today; one failing is logged
    and tried again on the next round."""
    day = day_start(now).date().isoformat()
    with alerting.database.read() as conn:
        due = due_organizations(conn, day=day)
    done = []
    for organization_id in due:
        try:
            done.append(
                check(alerting, organization_id=organization_id, now=now, checked_by="daily")
            )
        except Exception:
            log.exception("daily NPS alert check of organization %s failed", organization_id)
    for checked in done:
        if checked.alerts:
            log.info("organization %s: %d NPS alerts", checked.organization_id, len(checked.alerts))
    return done
