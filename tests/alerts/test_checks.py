"""NPS alerts end to end in process: a drop planted in a segment is alerted once, by
webhook (json and Slack, sent to a real receiver) and by email (through the delivery
worker to a real SMTP server); stable scopes and another organization are not; the
day's check is claimed once. (Too few answers: test_api.py.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from promoter.alerts.check import check, check_daily
from promoter.alerts.rule import RATE
from promoter.alerts.scopes import measure, watched
from promoter.alerts.store import list_alerts
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.app import check_alerts
from promoter.delivery.mailers import SmtpMailer
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import alert_daily_checks, notice_emails, webhook_deliveries
from promoter.webhooks.events import NPS_CHANGED
from tests.alerts.planted import BASE_URL, NOW, add_user, alerting, plant
from tests.conftest import Org
from tests.integration.test_delivery import Inbox, free_port, smtp, worker
from tests.receiver import Receiver
from tests.webhooks import run_once, sender, subscribe

__all__ = ["smtp"]  # the SMTP server fixture


def _rows(database: Database, table: object) -> list[object]:
    with database.read() as conn:
        return list(conn.execute(select(table)).all())  # type: ignore[call-overload]


def test_a_drop_in_a_segment_is_alerted_once_by_webhook_slack_and_email(
    database: Database,
    org: Org,
    other_org: Org,
    receiver: Receiver,
    smtp: tuple[Inbox, int],
) -> None:
    plant(database, org)
    add_user(database, org, "admin@acme.example", "admin", None)  # admins: on by default
    add_user(database, org, "member@acme.example", "member", True)  # said yes
    add_user(database, org, "quiet@acme.example", "admin", False)  # said no
    add_user(database, org, "reader@acme.example", "read-only", None)  # off by default
    add_user(database, other_org, "admin@globex.example", "admin", None)
    subscribe(database, org, NPS_CHANGED, receiver.url)
    subscribe(database, org, NPS_CHANGED, receiver.url + "/slack", format="slack")
    subscribe(database, other_org, NPS_CHANGED, receiver.url + "/globex")

    done = check_daily(alerting(database), now=NOW)
    mine = {c.organization_id: c for c in done}
    assert set(mine) == {org.id, other_org.id}
    assert mine[other_org.id].alerts == []
    (alert,) = mine[org.id].alerts
    assert (alert.scope, alert.scope_name, alert.direction) == ("segment", "Enterprise", "down")
    assert (alert.responses_before, alert.responses) == (40, 40)
    assert (alert.nps_before, alert.nps, alert.difference) == (50.0, -10.0, -60.0)
    low, high = alert.interval
    assert low < -60 < high < 0 and alert.p_value < alert.q_value <= RATE
    measured = {m.scope.key: m for m in mine[org.id].measured}
    assert measured["organization"].latest.responses == 240  # tested, and stable enough
    # The in-memory columns measure what SQL measured.
    columns = Analytics(AnalyticsCache(database, background=False))
    with database.read() as conn:
        scopes = watched(conn, organization_id=org.id)
        again = measure(
            conn, columns, organization_id=org.id, scopes=scopes, windows=alert.windows, now=NOW
        )
    columns.close()
    assert [(m.scope, m.latest, m.before) for m in again] == [
        (m.scope, m.latest, m.before) for m in mine[org.id].measured
    ]

    # The webhook event: one outbox row per subscription of this organization.
    events = _rows(database, webhook_deliveries)
    assert len(events) == 2 and {e.event for e in events} == {NPS_CHANGED}  # type: ignore[attr-defined]
    data = events[0].payload["data"]  # type: ignore[attr-defined]
    assert data["scope"] == {"kind": "segment", "id": alert.scope_id, "name": "Enterprise"}
    assert data["direction"] == "down" and data["difference"] == -60.0
    assert data["nps_before"] == 50.0 and data["nps"] == -10.0
    assert data["interval"] == {"low": low, "high": high}
    assert data["p_value"] == alert.p_value and data["q_value"] == alert.q_value
    assert data["windows"]["latest"]["until"].startswith("2031-03-02T00:00:00")
    assert data["links"]["alerts"] == f"{BASE_URL}/alerts"
    assert f"segment={alert.scope_id}" in data["links"]["overview"]
    assert run_once(sender(database)) == 2
    by_path = {r.path: r.json for r in receiver.requests}
    assert by_path["/hooks"]["event"] == NPS_CHANGED
    slack = by_path["/hooks/slack"]["text"]
    assert slack.startswith("NPS alert: the NPS of segment *Enterprise* dropped 60 points")
    assert "+50 → -10" in slack and "Open in Promoter" in slack

    # The email: queued for the admin who said nothing and the member who said yes.
    inbox, port = smtp
    assert sorted(n.to_address for n in _rows(database, notice_emails)) == [  # type: ignore[attr-defined]
        "admin@acme.example",
        "member@acme.example",
    ]

    async def send(to_port: int, at: datetime) -> int:
        mailer = SmtpMailer(host="127.0.0.1", port=to_port, timeout=5)
        try:
            return await worker(database, mailer, clock=lambda: at).run_once()
        finally:
            await mailer.close()

    # The mail server down: the emails wait, and go once it is back.
    assert asyncio.run(send(free_port(), NOW)) == 2
    waiting = _rows(database, notice_emails)
    assert {(n.status, n.attempts) for n in waiting} == {("pending", 1)}  # type: ignore[attr-defined]
    assert all(n.last_error and n.due_at > NOW for n in waiting)  # type: ignore[attr-defined]
    assert asyncio.run(send(port, NOW)) == 0  # not due yet
    assert asyncio.run(send(port, NOW + timedelta(minutes=1))) == 2
    assert sorted(m["To"] for m in inbox.messages) == ["admin@acme.example", "member@acme.example"]
    message = inbox.messages[0]
    assert message["Subject"] == "The segment Enterprise: NPS dropped 60 points"
    assert message["X-Promoter-Organization"] == str(org.id)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    assert 'name="viewport"' in html.get_payload(decode=True).decode()
    assert {n.status for n in _rows(database, notice_emails)} == {"sent"}  # type: ignore[attr-defined]

    # The same day again: the daily check is done, and a manual one finds it standing.
    assert check_daily(alerting(database), now=NOW + timedelta(hours=3)) == []
    again = check(alerting(database), organization_id=org.id, now=NOW, checked_by="manual")
    assert again.alerts == [] and len(_rows(database, webhook_deliveries)) == 2
    with database.read() as conn:
        assert [a.id for a in list_alerts(conn, organization_id=org.id)] == [alert.id]
        assert list_alerts(conn, organization_id=other_org.id) == []


@pytest.fixture
def another_process(database: Database) -> Iterator[Database]:
    """Another handle on the test's database, as another server process would have."""
    handle = Database.from_url(database.engine.url.render_as_string(False))
    yield handle
    handle.dispose()


def test_the_daily_check_is_claimed_once_when_two_checkers_race(
    services: Services, org: Org, another_process: Database
) -> None:
    """The housekeeping round's check against another process's, at the same moment."""
    plant(services.database, org)
    start = threading.Barrier(2)
    raised: list[int] = []

    def housekeeping() -> None:
        start.wait()
        raised.append(check_alerts(services, now=NOW))

    def other() -> None:
        start.wait()
        raised.append(sum(len(c.alerts) for c in check_daily(alerting(another_process), now=NOW)))

    threads = [threading.Thread(target=housekeeping), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(raised) == [0, 1]
    assert len(_rows(services.database, alert_daily_checks)) == 1
    with services.database.read() as conn:
        assert len(list_alerts(conn, organization_id=org.id)) == 1
    assert check_alerts(services, now=NOW + timedelta(hours=23)) == 0  # still that day
