"""Each user's own choice of the weekly digest on the Alerts page, read by the weekly
round the server's housekeeping runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from promoter.app import send_digests
from promoter.domain.roles import Role
from promoter.services import Services
from promoter.storage.tables import notice_emails
from tests.alerts.planted import answer_at
from tests.analytics.writes import identify
from tests.dashboard.conftest import Browser, add_user, sign_in

pytestmark = pytest.mark.one_database(
    reason="the page sets the column tests/digest reads on both databases"
)

#: A Tuesday: the last complete week is Monday Feb 24 to Sunday Mar 2, 2031.
NOW = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)


def test_each_user_turns_the_weekly_digest_on_or_off(browser: Browser, services: Services) -> None:
    page = browser.client.get("/alerts").text
    mine = page.split('data-testid="digest-emails"')[1].split("</form>")[0]
    assert "Email me a weekly digest" in mine and " checked>" in mine  # admins: on by default

    off = browser.post("/alerts/digest", {})
    assert off.headers["location"] == "/alerts?done=digest-off"  # type: ignore[attr-defined]
    page = browser.client.get("/alerts?done=digest-off").text
    assert "You will get no weekly digest." in page
    assert " checked>" not in page.split('data-testid="digest-emails"')[1].split("</form>")[0]
    assert browser.post("/alerts/digest", {"csrf": "wrong"}).status_code == 403  # type: ignore[attr-defined]

    add_user(services, browser.org, "rea@example.com", Role.READ_ONLY)  # off by default
    reader = Browser(browser.client, browser.org, "rea@example.com", "")
    reader.csrf = sign_in(browser.client, "rea@example.com")
    on = reader.post("/alerts/digest", {"digest_emails": "on"})
    assert on.headers["location"] == "/alerts?done=digest-on"  # type: ignore[attr-defined]

    identify(services.database, browser.org, "u1", plan="Free")
    answer_at(services.database, browser.org, "u1", [(datetime(2031, 2, 25, tzinfo=UTC), 9)])
    assert send_digests(services, now=NOW) == 1
    with services.database.read() as conn:
        assert list(
            conn.execute(
                notice_emails.select().with_only_columns(notice_emails.c.to_address)
            ).scalars()
        ) == ["rea@example.com"]
