"""In Chromium: an admin invites someone as read-only; the invitee opens the link in a
browser of their own, chooses a password, lands in the dashboard, sees no edit buttons,
and a form sent anyway is refused (403)."""

from __future__ import annotations

import email
import email.policy
import random
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from promoter.accounts.passwords import Passwords
from promoter.accounts.users import create_user
from promoter.storage.engine import Database
from tests.analytics.dataset import build
from tests.browser.conftest import EMAIL, screenshot, sign_in
from tests.browser.conftest import PASSWORD as ADMIN_PASSWORD
from tests.conftest import Org
from tests.e2e.conftest import ServerProcess

#: Roles in the browser do not depend on the database: checked on SQLite only; the
#: services behind them run on both in tests/integration/test_roles.py.
pytestmark = [pytest.mark.browser, pytest.mark.one_database(reason="roles in the browser")]
INVITEE = "rita@example.com"
PASSWORD = "rita's long password"


@pytest.fixture
def seeded(database: Database, org: Org) -> Org:
    """The admin and a few answers: enough for the feedback's forms."""
    build(database, org.id, random.Random(5), contacts_count=3, responses_count=4)
    with database.write() as conn:
        create_user(conn, Passwords(), organization_id=org.id, email=EMAIL, password=ADMIN_PASSWORD)
    return org


def test_an_invited_read_only_user_joins_and_changes_nothing(
    page: Page,
    chromium: Browser,
    site: ServerProcess,
    seeded: Org,
    mail_dir: Path,
    backend: str,
) -> None:
    sign_in(page)
    page.goto("/feedback")
    expect(page.get_by_role("button", name="Tag").first).to_be_visible()  # an admin's
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email").fill(INVITEE)
    page.get_by_label("Role", exact=True).select_option("read-only")
    page.get_by_role("button", name="Invite").click()
    link = page.get_by_test_id("invite-link").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(site.url)}/invite/[\w-]{{40,}}", link), link
    (sent,) = mail_dir.glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert link in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    expect(page.get_by_role("cell", name=INVITEE)).to_be_visible()  # waiting
    screenshot(page, backend, "users")

    context = chromium.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    try:
        rita = context.new_page()
        rita.goto(link)
        expect(rita.get_by_role("heading", name="Join Acme")).to_be_visible()
        rita.get_by_label("Your name").fill("Rita")
        rita.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
        rita.get_by_label("The password again").fill(PASSWORD)
        rita.get_by_role("button", name="Join and sign in").click()
        rita.wait_for_url(f"{site.url}/")
        expect(rita.get_by_role("button", name="Sign out")).to_be_visible()
        rita.goto("/feedback")
        expect(rita.get_by_text("Export CSV")).to_be_visible()  # reads everything
        screenshot(rita, backend, "feedback-read-only")
        for name in ("Tag", "Close the loop", "Save note", "Save"):
            expect(rita.get_by_role("button", name=name, exact=True)).to_have_count(0)
        rita.goto("/settings/segment")
        expect(rita.get_by_role("button", name="Create a key")).to_have_count(0)
        expect(rita.get_by_role("link", name="Users")).to_have_count(0)
        csrf = rita.locator('input[name="csrf"]').first.get_attribute("value")
        refused = rita.request.post(
            f"{site.url}/feedback/1/tags",
            form={"csrf": csrf or "", "tags": "sneaky"},
            headers={"Origin": site.url, "Accept": "text/html"},
        )
        assert refused.status == 403 and "Not allowed" in refused.text()
        rita.goto("/settings/users")
        expect(rita.get_by_role("heading", name="Not allowed")).to_be_visible()
    finally:
        context.close()
    page.goto("/settings/users")
    expect(page.get_by_role("row").filter(has_text=INVITEE)).to_contain_text("Read-only")
