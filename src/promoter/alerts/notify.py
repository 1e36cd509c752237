"""Telling of an alert: the ``nps.changed`` webhook event (json or Slack, through the
webhook outbox) and an email to each dashboard user who takes them (through the delivery
worker's outbox), both queued in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jinja2
from sqlalchemy import Connection, and_, or_, select, update

from promoter.alerts.store import Alert
from promoter.delivery.notices import Notice, queue_notices
from promoter.domain.roles import Role
from promoter.storage.tables import users
from promoter.webhooks.events import NPS_CHANGED, emit


def links(alert: Alert, base_url: str) -> dict[str, str]:
    """The dashboard's Alerts page, and its overview of the scope over the latest window."""
    last_day = (alert.windows.until - timedelta(microseconds=1)).date()
    query: dict[str, object] = {
        "range": "custom",
        "since": alert.windows.since.date().isoformat(),
        "until": last_day.isoformat(),
    }
    if alert.scope_id is not None:
        query[alert.scope] = alert.scope_id
    return {"alerts": f"{base_url}/alerts", "overview": f"{base_url}/?{urlencode(query)}"}


def event_data(alert: Alert, base_url: str) -> dict[str, Any]:
    """The ``data`` of the ``nps.changed`` event (docs/webhooks.md)."""
    data = alert.to_json()
    data["alert_id"] = data.pop("id")
    data.pop("checked_by")
    data.pop("created_at")
    return data | {"checked_by": alert.checked_by, "links": links(alert, base_url)}


def emit_alert(conn: Connection, alert: Alert, *, base_url: str, now: datetime) -> str | None:
    """Queue the ``nps.changed`` event for the subscriptions that want it (one limited to a
    campaign gets the alerts of that campaign only)."""
    return emit(
        conn,
        organization_id=alert.organization_id,
        event=NPS_CHANGED,
        data=lambda: event_data(alert, base_url),
        campaign_id=alert.scope_id if alert.scope == "campaign" else None,
        now=now,
    )


def recipients(conn: Connection, *, organization_id: int) -> list[str]:
    """The addresses of the organization's users who take alert emails: those who said
    yes, and admins who said nothing."""
    c = users.c
    rows = conn.execute(
        select(c.email)
        .where(
            c.organization_id == organization_id,
            or_(
                c.alert_emails.is_(True),
                and_(c.alert_emails.is_(None), c.role == Role.ADMIN.value),
            ),
        )
        .order_by(c.id)
    )
    return list(rows.scalars())


def takes_alert_emails(conn: Connection, *, user_id: int) -> bool:
    """Whether the user takes alert emails: their choice, else their role's default."""
    row = conn.execute(
        select(users.c.alert_emails, users.c.role).where(users.c.id == user_id)
    ).one()
    return bool(row.alert_emails) if row.alert_emails is not None else row.role == Role.ADMIN.value


def set_alert_emails(conn: Connection, *, user_id: int, organization_id: int, on: bool) -> None:
    """The user's own choice of alert emails."""
    conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.organization_id == organization_id)
        .values(alert_emails=on)
    )


def _signed(value: float) -> str:
    number = round(value)
    return f"+{number}" if number > 0 else str(number)


def _days(since: datetime, until: datetime) -> str:
    """A half-open window as its first and last days: "Nov 16 to Dec 6"."""
    last = until - timedelta(microseconds=1)
    return f"{since:%b} {since.day} to {last:%b} {last.day}"


def _words(alert: Alert) -> dict[str, str]:
    what = "Your organization" if alert.scope == "organization" else f"The {alert.scope}"
    moved = "dropped" if alert.direction == "down" else "rose"
    low, high = alert.interval
    return {
        "headline": f"{what} {alert.scope_name}: NPS {moved} {abs(round(alert.difference))} points",
        "scores": f"{_signed(alert.nps_before)} → {_signed(alert.nps)}",
        "interval": f"{_signed(low)} to {_signed(high)} points (95%)",
        "latest": _days(alert.windows.since, alert.windows.until),
        "before": _days(alert.windows.before_since, alert.windows.since),
    }


class AlertEmails:
    """Renders the alert email, phone-first like the survey email."""

    def __init__(self) -> None:
        loader = jinja2.PackageLoader("promoter.alerts", "templates")
        self._html = jinja2.Environment(loader=loader, autoescape=True)
        self._text = jinja2.Environment(loader=loader, autoescape=False)

    def notice(self, alert: Alert, *, to_address: str, base_url: str) -> Notice:
        words = _words(alert)
        context = {"alert": alert, "words": words, "links": links(alert, base_url)}
        return Notice(
            to_address=to_address,
            from_name="Promoter NPS alerts",
            subject=words["headline"][:300],
            text=self._text.get_template("alert.txt").render(context),
            html=self._html.get_template("alert.html").render(context),
        )


def email_alert(
    conn: Connection, alert: Alert, *, emails: AlertEmails, base_url: str, now: datetime
) -> int:
    """Queue the alert's email to each user who takes them; returns how many."""
    addresses = recipients(conn, organization_id=alert.organization_id)
    notices = [emails.notice(alert, to_address=a, base_url=base_url) for a in addresses]
    queue_notices(conn, organization_id=alert.organization_id, notices=notices, now=now)
    return len(notices)
