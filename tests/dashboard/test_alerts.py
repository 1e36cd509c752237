"""The dashboard's Alerts page: the alerts with their numbers, "Check now" for admins,
each user's own alert emails; another organization's alerts never shown. (Who may use
each form: tests/web/test_roles.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promoter.alerts.check import Alerting, check
from promoter.analytics.engine import Analytics
from promoter.services import Services
from tests.alerts.planted import plant
from tests.conftest import make_org
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.one_database(
    reason="the page reads and checks through the functions tests/alerts runs on both"
)


def test_check_now_lists_the_alert_and_each_user_sets_their_own_emails(
    browser: Browser, services: Services
) -> None:
    plant(services.database, browser.org, until=datetime.now(UTC) - timedelta(seconds=1))
    empty = browser.client.get("/alerts")
    assert empty.status_code == 200 and 'data-testid="no-alerts"' in empty.text
    assert "Email me each new alert</label>" in empty.text and " checked>" in empty.text

    checked = browser.post("/alerts/check")
    assert checked.status_code == 303 and checked.headers["location"] == "/alerts?done=raised"  # type: ignore[attr-defined]
    page = browser.client.get("/alerts?done=raised").text
    assert "new alerts are below" in page
    assert '<a href="/?segment=1">Enterprise</a>' in page
    assert "Down -60" in page and "+50 → -10" in page and "40 / 40" in page
    again = browser.post("/alerts/check")
    assert again.headers["location"] == "/alerts?done=none"  # type: ignore[attr-defined]
    assert browser.client.get("/alerts").text.count('data-testid="alert-') == 1

    off = browser.post("/alerts/emails", {})
    assert off.headers["location"] == "/alerts?done=emails-off"  # type: ignore[attr-defined]
    assert " checked>" not in browser.client.get("/alerts").text.split("alerts-emails")[1]

    # Another organization's alert is never shown here.
    globex = make_org(services.database, "Globex")
    plant(services.database, globex, until=datetime.now(UTC) - timedelta(seconds=1))
    (theirs,) = check(
        Alerting(services.database, Analytics(), "http://testserver"),
        organization_id=globex.id,
        now=datetime.now(UTC),
        checked_by="manual",
    ).alerts
    page = browser.client.get("/alerts").text
    assert page.count('data-testid="alert-') == 1 and f'data-testid="alert-{theirs.id}"' not in page
    assert browser.post("/alerts/check", {"csrf": "wrong"}).status_code == 403  # type: ignore[attr-defined]
