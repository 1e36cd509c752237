"""The survey pages in Chromium against a real server: one click saves a person's score,
a scanner's browser opening every link saves none, the page works without scripts, and
every page passes axe-core in left-to-right and right-to-left languages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select, update

from promoter.campaigns import service as campaigns
from promoter.delivery.tokens import TokenSigner
from promoter.storage.engine import Database
from promoter.storage.instance import instance_secret
from promoter.storage.tables import contacts, email_templates, responses, score_clicks, surveys
from promoter.surveys.clicks import QUIET, settle_clicks
from tests.browser.axe import violations
from tests.browser.conftest import phone_context, screenshot
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import ServerProcess

SAVED = re.compile("Your score is saved")
QUESTIONS = [
    {"id": "why", "text": "What matters most?", "type": "single",
     "choices": ["Price", "Support", "Speed"]},
    {"id": "fix", "text": "What should we fix?", "type": "multiple", "audience": "detractors",
     "choices": ["Bugs", "Docs"]},
    {"id": "ease", "text": "How easy was setup?", "type": "scale", "audience": "promoters"},
    {"id": "more", "text": "Anything else?", "type": "text"},
]  # fmt: skip


def ask_questions(database: Database, org: Org) -> None:
    """Every campaign of ``org`` asks QUESTIONS after the score."""
    with database.write() as conn:
        for campaign in campaigns.list_campaigns(conn, organization_id=org.id):
            campaigns.update_campaign(
                conn,
                organization_id=org.id,
                campaign_id=campaign.id,
                changes={"questions": QUESTIONS},
            )


CONFIRM = "Press Confirm to save your score."


def new_survey(site: ServerProcess, database: Database, org: Org, user: str) -> str:
    """A survey for a new contact, sent through the server: its link, without a score."""
    batch = {
        "batch": [
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}},
            {"type": "track", "userId": user, "event": "Signed Up"},
        ]
    }
    sent = httpx2.post(f"{site.url}/v1/batch", json=batch, headers=basic(org.key))
    assert sent.status_code == 200, sent.text
    with database.write() as conn:
        token = conn.execute(
            select(surveys.c.token)
            .join(contacts, contacts.c.id == surveys.c.contact_id)
            .where(contacts.c.email == f"{user}@example.com")
        ).scalar_one()
        secret = instance_secret(conn, configured=None)
    return f"{site.url}/s/{TokenSigner(secret).sign(token)}"


def rows(database: Database, table_column: object) -> list[object]:
    with database.read() as conn:
        return list(conn.execute(select(table_column)).scalars())  # type: ignore[call-overload]


def answer_of(database: Database, user: str) -> tuple[int, str | None] | None:
    with database.read() as conn:
        row = conn.execute(
            select(responses.c.score, responses.c.comment)
            .join(contacts, contacts.c.id == responses.c.contact_id)
            .where(contacts.c.email == f"{user}@example.com")
        ).one_or_none()
    return None if row is None else (row.score, row.comment)


def clicks_of(database: Database, link: str) -> list[str]:
    token = link.rsplit("/", 1)[1].rsplit(".", 1)[0]
    with database.read() as conn:
        return list(
            conn.execute(
                select(score_clicks.c.status)
                .join(surveys, surveys.c.id == score_clicks.c.survey_id)
                .where(surveys.c.token == token)
                .order_by(score_clicks.c.id)
            ).scalars()
        )


def settle(database: Database) -> tuple[int, int]:
    with database.write() as conn:
        settled = settle_clicks(conn, now=datetime.now(UTC) + QUIET + QUIET)
    return settled.recorded, settled.discarded


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def phone(chromium: Browser, site: ServerProcess) -> Iterator[BrowserContext]:
    with phone_context(chromium, site, bypass_csp=False) as context:
        yield context


def test_one_click_saves_the_score_and_the_page_takes_the_rest(
    phone: BrowserContext, site: ServerProcess, database: Database, seeded: Org, backend: str
) -> None:
    link = new_survey(site, database, seeded, "pia")
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{link}/10")
    expect(page.get_by_role("status")).to_have_text(SAVED)
    expect(page.get_by_role("button", name="Confirm")).to_be_hidden()
    comment = page.get_by_role("textbox", name=re.compile("main reason"))
    expect(comment).to_be_focused()
    assert clicks_of(database, link) == ["pending"]  # stored at once, settled once quiet
    screenshot(page, backend, "survey-saved-390")
    # A score changed on the page is the person's: recorded at once.
    page.get_by_role("radio", name="8").check()
    expect(page.get_by_role("status")).to_have_text(SAVED)
    wait_for(lambda: answer_of(database, "pia") == (8, None))
    comment.fill("Quick to set up; the reports could be faster.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading")).to_have_text("Thank you for your feedback.")
    assert answer_of(database, "pia") == (8, "Quick to set up; the reports could be faster.")
    # Re-opening the link shows the answer recorded, ready to change.
    page.goto(link)
    expect(page.get_by_role("radio", name="8")).to_be_checked()
    expect(comment).to_have_value("Quick to set up; the reports could be faster.")
    expect(page.get_by_role("status")).to_have_text(re.compile("already answered"))
    assert settle(database) == (0, 0) and clicks_of(database, link) == ["superseded"]
    assert not errors, errors


@pytest.mark.one_database(reason="the page in the browser; the score path runs on both")
def test_the_questions_follow_the_score_chosen(
    phone: BrowserContext, site: ServerProcess, database: Database, seeded: Org
) -> None:
    ask_questions(database, seeded)
    link = new_survey(site, database, seeded, "quinn")
    page = phone.new_page()
    page.goto(f"{link}/9")
    fix, ease = page.get_by_role("group", name=re.compile("fix")), page.get_by_text("easy")
    expect(fix).to_be_hidden()
    expect(ease).to_be_visible()
    page.get_by_role("radio", name="3", exact=True).first.check()
    expect(fix).to_be_visible()
    expect(ease).to_be_hidden()
    page.get_by_role("radio", name="Support").check()
    page.get_by_role("checkbox", name="Docs").check()
    page.get_by_role("textbox", name="Anything else?").fill("More examples.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading")).to_have_text("Thank you for your feedback.")
    assert answer_of(database, "quinn") == (3, None)
    page.goto(link)
    expect(page.get_by_role("checkbox", name="Docs")).to_be_checked()
    expect(page.get_by_role("textbox", name="Anything else?")).to_have_value("More examples.")


def test_a_scanners_browser_opening_every_link_saves_no_score(
    chromium: Browser, site: ServerProcess, database: Database, seeded: Org
) -> None:
    link = new_survey(site, database, seeded, "sam")
    said = []
    for score in range(11):  # a fresh sandbox a link, the page's script running
        context = chromium.new_context()
        page = context.new_page()
        page.goto(f"{link}/{score}")
        page.wait_for_load_state("networkidle")  # the click's answer has come back
        said.append(page.get_by_role("status").text_content())
        context.close()
    # Two different scores may be a person changing their mind; from the third on, the
    # page asks for a Confirm press (which a scanner does not give).
    saved = "Thank you! Your score is saved. You can still change it."
    assert said == [saved] * 2 + [CONFIRM] * 9
    assert settle(database) == (0, 11)
    assert answer_of(database, "sam") is None
    assert clicks_of(database, link) == ["discarded"] * 11


@pytest.mark.one_database(reason="the page in the browser; the score path runs on both")
def test_without_scripts_one_confirm_press_records_the_score(
    chromium: Browser, site: ServerProcess, database: Database, seeded: Org
) -> None:
    link = new_survey(site, database, seeded, "noa")
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{link}/7")
        expect(page.get_by_role("status")).to_have_text(CONFIRM)
        assert answer_of(database, "noa") is None and clicks_of(database, link) == []
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("status")).to_have_text(SAVED)
        assert answer_of(database, "noa") == (7, None)
        page.get_by_role("textbox", name=re.compile("main reason")).fill("Fine.")
        page.get_by_role("button", name="Skip").click()
        expect(page.get_by_role("heading")).to_have_text("Thank you for your feedback.")
        assert answer_of(database, "noa") == (7, None)  # Skip leaves the comment out
    finally:
        context.close()


@pytest.mark.one_database(reason="the page in the browser; the score path runs on both")
@pytest.mark.parametrize("language", ["en", "de", "ar", "ja"])
def test_every_survey_page_passes_axe(
    chromium: Browser,
    site: ServerProcess,
    database: Database,
    seeded: Org,
    language: str,
    backend: str,
) -> None:
    with database.write() as conn:
        conn.execute(update(email_templates).values(language=language, brand_name="Acme Inc."))
    ask_questions(database, seeded)
    link = new_survey(site, database, seeded, f"axe-{language}")
    unsubscribe = link.replace("/s/", "/u/")
    context = chromium.new_context(viewport={"width": 320, "height": 700}, bypass_csp=True)
    page = context.new_page()
    found = {}
    try:
        for name, url in [
            ("score-link", f"{link}/3"),
            ("bad-score", f"{link}/12"),
            ("answered", link),
            ("thanks", f"{link}/thanks"),
            ("unsubscribe", unsubscribe),
            ("not-found", f"{site.url}/s/nope.nope"),
        ]:
            page.goto(url)
            page.wait_for_load_state("networkidle")
            shown = "en" if name == "not-found" else language  # no survey, no language
            expect(page.locator("html")).to_have_attribute("lang", shown)
            expect(page.locator("html")).to_have_attribute("dir", "rtl" if shown == "ar" else "ltr")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{name} is {overflow} px too wide at 320 px"
            found[name] = violations(page)
            if name == "score-link":
                screenshot(page, backend, f"survey-{language}-320")
    finally:
        context.close()
    assert found == {name: [] for name in found}
