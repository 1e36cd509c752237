"""A campaign's public link in Chromium against a real server: answered on a phone (axe-core
clean), taken back to the answer by the browser's cookie, signed for a contact, refused
with a bad signature; the same form replayed and the per-address budget over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select

from promoter.campaigns import service as campaigns
from promoter.campaigns.links import set_link
from promoter.storage.engine import Database
from promoter.storage.tables import contacts
from promoter.websurveys.identity import sign_user
from promoter.websurveys.settings import save_settings
from tests.browser.axe import violations
from tests.browser.conftest import phone_context, screenshot
from tests.conftest import Org
from tests.e2e.conftest import ServerProcess
from tests.links import NONCE, link_answers

#: What a link records is checked on both databases in-process (tests/web/test_link_pages.py);
#: here the pages in the browser, once, on SQLite.
pytestmark = pytest.mark.one_database(reason="the link survey in the browser")


def make_link(database: Database, org: Org) -> str:
    with database.write() as conn:
        first = campaigns.list_campaigns(conn, organization_id=org.id)[0]
        made = set_link(conn, organization_id=org.id, campaign_id=first.id, now=datetime.now(UTC))
    return f"/l/{made.link_key}"


def test_answering_a_public_link_on_a_phone(
    chromium: Browser, site: ServerProcess, database: Database, seeded: Org, backend: str
) -> None:
    link = make_link(database, seeded)
    before = len(link_answers(database))  # the seeded history has some
    # CSP bypassed so that axe-core can be injected.
    with phone_context(chromium, site, bypass_csp=True) as phone:
        _answer_on_a_phone(phone, link, database, before, backend)


def _answer_on_a_phone(
    phone: BrowserContext, link: str, database: Database, before: int, backend: str
) -> None:
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("How likely are you")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the link's page is {overflow} px too wide at 390 px"
    assert violations(page) == []
    # The honeypot is out of sight and out of reach.
    trap = page.locator("input[name=website]")
    expect(trap).not_to_be_in_viewport()
    assert trap.get_attribute("tabindex") == "-1"
    screenshot(page, backend, "link-survey-390")
    page.get_by_role("radio", name="9").check()
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/s/[^/]+\?saved$"))
    expect(page.get_by_role("status")).to_have_text(re.compile("Your score is saved"))
    page.get_by_role("textbox", name=re.compile("main reason")).fill("Found you on a poster.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading")).to_have_text("Thank you for your feedback.")
    [answer] = link_answers(database)[before:]
    assert (answer.score, answer.status) == (9, "anonymous")
    # The same browser opening the link again is taken to its answer.
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/s/[^/?]+$"))
    expect(page.get_by_role("radio", name="9")).to_be_checked()
    assert violations(page) == []
    assert len(link_answers(database)) == before + 1
    assert not errors, errors


def test_a_signed_link_in_the_browser(
    chromium: Browser, site: ServerProcess, database: Database, seeded: Org
) -> None:
    link = make_link(database, seeded)
    before = len(link_answers(database))
    with database.write() as conn:
        settings, _ = save_settings(
            conn, organization_id=seeded.id, allowed_origins=[], enabled=True, now=datetime.now(UTC)
        )
        user_id = conn.execute(
            select(contacts.c.user_id)
            .where(contacts.c.organization_id == seeded.id, contacts.c.user_id.is_not(None))
            .order_by(contacts.c.id)
            .limit(1)
        ).scalar_one()
    signature = sign_user(settings.identity_secret, user_id)
    context = chromium.new_context(base_url=site.url, locale="de-DE", bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{link}?u={user_id}&sig={'0' * 64}")
        expect(page.get_by_role("heading")).to_have_text("Dieser Umfragelink ist ungültig.")
        assert violations(page) == []
        page.goto(f"{link}?u={user_id}&sig={signature}")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        page.get_by_role("radio", name="3").check()
        page.get_by_role("button", name="Senden").click()
        expect(page).to_have_url(re.compile(r"\?saved$"))
    finally:
        context.close()
    [answer] = link_answers(database)[before:]
    assert (answer.user_id, answer.score) == (user_id, 3)


def test_a_replayed_form_and_the_budget_over_http(
    site: ServerProcess, database: Database, seeded: Org
) -> None:
    link = make_link(database, seeded)
    before = len(link_answers(database))
    with httpx2.Client(base_url=site.url) as http:
        found = NONCE.search(http.get(link).text)
        assert found
        form = {"score": "10", "nonce": found.group(1), "website": ""}
        first = http.post(link, data=form)
        http.cookies.clear()
        replayed = http.post(link, data=form)
        assert first.status_code == replayed.status_code == 303
        assert len(link_answers(database)) == before + 1
        # The default budget: 10 answers at once from one address, then 429.
        statuses = []
        for _ in range(10):
            http.cookies.clear()
            nonce = NONCE.search(http.get(link).text)
            assert nonce
            statuses.append(http.post(link, data={**form, "nonce": nonce.group(1)}).status_code)
        assert statuses[:8] == [303] * 8 and statuses[-1] == 429
    assert len(link_answers(database)) == before + 1 + statuses.count(303)
