"""The campaign page's "Public link": made, shown with its QR code, rotated and taken
away, CSRF-checked; the anonymous contacts of its answers never listed."""

from __future__ import annotations

import re

from promoter.campaigns import service as campaigns
from promoter.storage.engine import Database
from tests.dashboard.conftest import Browser
from tests.links import answer_link


def _campaign_id(database: Database, browser: Browser) -> int:
    with database.read() as conn:
        [campaign] = campaigns.list_campaigns(conn, organization_id=browser.org.id)
    return campaign.id


def _link_key(database: Database, browser: Browser) -> str | None:
    with database.read() as conn:
        [campaign] = campaigns.list_campaigns(conn, organization_id=browser.org.id)
    return campaign.link_key


def test_a_public_link_is_made_shown_rotated_and_taken_away(
    browser: Browser, database: Database
) -> None:
    campaign_id = _campaign_id(database, browser)
    page = f"/campaigns/{campaign_id}"
    assert "Make a public link" in browser.client.get(page).text
    made = browser.post(f"{page}/link", {"action": "make"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    assert made.headers["location"] == f"{page}?done=link-made#link"  # type: ignore[attr-defined]
    key = _link_key(database, browser)
    assert key is not None
    shown = browser.client.get(f"{page}?done=link-made").text
    assert "Public link made" in shown
    assert f'value="http://testserver/l/{key}"' in shown
    assert f'<img src="/l/{key}/qr.svg"' in shown and "Download the QR code (SVG)" in shown
    browser.post(f"{page}/link", {"action": "rotate"})
    rotated = _link_key(database, browser)
    assert rotated not in (None, key)
    browser.post(f"{page}/link", {"action": "off"})
    assert _link_key(database, browser) is None
    assert browser.post(f"{page}/link", {"action": "other"}).status_code == 400  # type: ignore[attr-defined]
    assert browser.post("/campaigns/987654/link", {"action": "make"}).status_code == 404  # type: ignore[attr-defined]


def test_changing_the_link_needs_the_csrf_token(browser: Browser, database: Database) -> None:
    campaign_id = _campaign_id(database, browser)
    for csrf in (None, "wrong"):
        data = {"action": "make"} if csrf is None else {"action": "make", "csrf": csrf}
        refused = browser.client.post(
            f"/campaigns/{campaign_id}/link", data=data, follow_redirects=False
        )
        assert refused.status_code == 403
    assert _link_key(database, browser) is None


def test_anonymous_answers_are_not_contacts(browser: Browser, database: Database) -> None:
    campaign_id = _campaign_id(database, browser)
    browser.post(f"/campaigns/{campaign_id}/link", {"action": "make"})
    key = _link_key(database, browser)
    assert answer_link(browser.client, f"/l/{key}", 9).status_code == 303
    listing = browser.client.get("/contacts").text
    assert not re.search(r'href="/contacts/\d+"', listing)
    assert browser.client.get("/contacts/1").status_code == 404
