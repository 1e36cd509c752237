"""The dashboard's Alerts page: the alerts with their numbers, "Check now" for admins,
each user's own alert emails; another organization's alerts never shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from promoter.domain.roles import Role
from promoter.services import Services
from tests.alerts.planted import plant
from tests.conftest import make_org
from tests.dashboard.conftest import Browser, add_user, sign_in


def test_check_now_lists_the_alert_and_each_user_sets_their_own_emails(
    browser: Browser, services: Services, app_client: TestClient
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

    # Another organization's reader: sees none of it, may not check, sets its own emails.
    globex = make_org(services.database, "Globex")
    add_user(services, globex, "reader@globex.example", Role.READ_ONLY)
    with TestClient(app_client.app) as other:
        csrf = sign_in(other, "reader@globex.example")
        theirs = other.get("/alerts").text
        assert 'data-testid="no-alerts"' in theirs and "Check now" not in theirs
        assert " checked>" not in theirs.split("alerts-emails")[1]  # off by default
        refused = other.post("/alerts/check", data={"csrf": csrf}, follow_redirects=False)
        assert refused.status_code == 403
        on = other.post(
            "/alerts/emails", data={"csrf": csrf, "alert_emails": "on"}, follow_redirects=False
        )
        assert on.headers["location"] == "/alerts?done=emails-on"
        assert " checked>" in other.get("/alerts").text.split("alerts-emails")[1]
    assert browser.client.get("/alerts").text.count('data-testid="alert-') == 1
    assert browser.post("/alerts/check", {"csrf": "wrong"}).status_code == 403  # type: ignore[attr-defined]
