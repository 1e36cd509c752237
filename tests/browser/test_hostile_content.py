"""Values that came from a sender (traits, attribute names, event names, comments, tags)
are shown as text on every page: nothing a sender writes runs in the browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from promoter.feedback.followup import add_tags
from promoter.storage.engine import Database
from promoter.storage.tables import campaigns, contacts
from promoter.surveys.responses import find_survey, record_comment
from tests.analytics.dataset import answer_survey
from tests.browser.conftest import sign_in
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import ServerProcess

#: Escaping is the pages' (templates and scripts), whatever the database stored: SQLite
#: only; markup in stored values is checked on both databases in tests/dashboard.
pytestmark = pytest.mark.one_database(reason="escaping on the pages")

SCRIPT = "<script>alert('name')</script>"
ATTRIBUTE = 'x"onmouseover="alert(1)'
VALUE = "<img src=x onerror=alert(2)>"
EVENT = "<script>alert(3)</script>"
COMMENT = 'Terrible</p><script>alert(4)</script>"onmouseover="alert(5)'
TAG = "<b onmouseover=alert(6)>"

#: Any of these in the page means sender text became markup.
HOSTILE_DOM = """() => ({
  handlers: document.querySelectorAll('[onmouseover],[onerror]').length,
  inline: document.querySelectorAll('script:not([src])').length,
  foreign: [...document.scripts].filter(s => !s.src.includes('/static/')).length,
  images: document.querySelectorAll('img[src="x"]').length,
})"""


def _send_hostile(site: ServerProcess, org: Org, database: Database) -> int:
    batch = {
        "batch": [
            {
                "type": "identify",
                "userId": "mallory",
                "traits": {
                    "email": "mallory@example.com",
                    "name": SCRIPT,
                    ATTRIBUTE: VALUE,
                    "plan": VALUE,
                },
            },
            {
                "type": "track",
                "userId": "mallory",
                "event": EVENT,
                "properties": {VALUE: SCRIPT},
            },
            {"type": "identify", "userId": "no-email", "traits": {"name": SCRIPT}},
        ]
    }
    response = httpx2.post(f"{site.url}/v1/batch", json=batch, headers=basic(org.key))
    assert response.status_code == 200, response.text
    with database.write() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(contacts.c.user_id == "mallory")
        ).scalar_one()
        campaign_id = conn.execute(
            select(campaigns.c.id).where(campaigns.c.organization_id == org.id).limit(1)
        ).scalar_one()
        now = datetime.now(UTC)
        token, response_id = answer_survey(conn, org.id, contact_id, campaign_id, 0, now)
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_comment(conn, survey, comment=COMMENT, now=now)
        add_tags(conn, organization_id=org.id, response_id=response_id, tags=[TAG], now=now)
    return int(contact_id)


def _check(page: Page, url: str, dialogs: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    found = page.evaluate(HOSTILE_DOM)
    assert found == {"handlers": 0, "inline": 0, "foreign": 0, "images": 0}, (url, found)
    assert not dialogs, (url, dialogs)


def test_sender_text_is_never_markup(
    page: Page, site: ServerProcess, seeded: Org, database: Database
) -> None:
    contact_id = _send_hostile(site, seeded, database)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page)
    hostile_filter = json.dumps({"attribute": ATTRIBUTE, "op": "eq", "value": VALUE})
    pages = [
        "/?range=all",
        f"/?range=all&pending={quote(ATTRIBUTE)}",
        f"/?range=all&filter={quote(hostile_filter)}",
        f"/?range=all&filter={quote(json.dumps({'event': EVENT}))}",
        f"/breakdown?range=all&by={quote(ATTRIBUTE)}",
        "/breakdown?range=all&by=plan",
        "/feedback?range=all",
        f"/feedback?range=all&tag={quote(TAG)}",
        "/contacts",
        f"/contacts/{contact_id}",
        "/settings/segment",
    ]
    for url in pages:
        _check(page, url, dialogs)
    # The text is there, as text.
    page.goto("/feedback?range=all&type=detractor")
    expect(page.get_by_text(COMMENT, exact=True)).to_be_visible()
    expect(page.get_by_role("list", name="Tags").get_by_text(TAG, exact=True)).to_be_visible()
    page.goto(f"/contacts/{contact_id}")
    expect(page.get_by_role("heading", name=SCRIPT)).to_be_visible()
    expect(page.get_by_text(EVENT, exact=True).first).to_be_visible()
    page.goto(f"/breakdown?range=all&by={quote(ATTRIBUTE)}")
    expect(page.get_by_role("rowheader", name=VALUE)).to_be_visible()
    page.goto("/settings/segment")
    expect(page.get_by_text(EVENT).first).to_be_visible()
