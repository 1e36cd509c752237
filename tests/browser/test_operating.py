"""In Chromium: rotate an API key, and walk a survey from the outbox (the email written by
the file mail backend) to the comment, then find it in the feedback."""

from __future__ import annotations

import re
import time

import httpx2
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import ServerProcess


def _identify(site: ServerProcess, key: str, user: str) -> int:
    return httpx2.post(
        f"{site.url}/v1/identify",
        json={"userId": user, "traits": {"email": f"{user}@example.com"}},
        headers=basic(key),
    ).status_code


def test_rotate_an_api_key(page: Page, site: ServerProcess, seeded: Org, backend: str) -> None:
    sign_in(page)
    page.goto("/settings/segment")
    page.get_by_label("Name (optional)").fill("rotated")
    page.get_by_role("button", name="Create a key").click()
    new_key = page.get_by_test_id("new-key").inner_text().strip()
    assert new_key.startswith("pk_") and new_key != seeded.key
    assert _identify(site, new_key, "via-new-key") == 200
    screenshot(page, backend, "settings")
    page.goto("/settings/segment")
    assert new_key not in page.content()  # shown once
    old_prefix = seeded.key[:8]
    row = page.get_by_role("row").filter(has_text=old_prefix)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_have_text("API key revoked.")
    assert _identify(site, seeded.key, "via-old-key") == 401
    assert _identify(site, new_key, "via-new-key-2") == 200
    # The live view shows what arrived with the new key.
    expect(page.locator("#received-h")).to_be_visible()
    page.goto("/settings/segment")
    expect(page.get_by_text("via-new-key-2")).to_be_visible()


def test_walk_a_survey_from_the_outbox(
    page: Page, site: ServerProcess, seeded: Org, backend: str
) -> None:
    batch = {
        "batch": [
            {
                "type": "identify",
                "userId": "walker",
                "traits": {"email": "walker@example.com", "name": "Wendy Walker", "plan": "Pro"},
            },
            {"type": "track", "userId": "walker", "event": "Signed Up"},
        ]
    }
    sent = httpx2.post(f"{site.url}/v1/batch", json=batch, headers=basic(seeded.key))
    assert sent.status_code == 200, sent.text
    sign_in(page)
    deadline = time.monotonic() + 30
    while True:  # the worker writes the email within a few seconds
        page.goto("/outbox")
        link = page.get_by_role("row").filter(has_text="walker@example.com").get_by_role("link")
        if link.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    screenshot(page, backend, "outbox")
    link.first.click()
    expect(page.get_by_text("walker@example.com").first).to_be_visible()
    frame = page.frame_locator("iframe.email-html")
    frame.get_by_role("link", name="9", exact=True).click()  # opens the survey in the window
    expect(page).to_have_url(re.compile(r"/s/[^/]+/9$"))
    expect(page.get_by_role("radio", name="9")).to_be_checked()
    # The page's script saved the score at once and put the cursor in the comment box.
    expect(page.get_by_role("status")).to_have_text(re.compile("Your score is saved"))
    comment = page.get_by_role("textbox", name=re.compile("main reason"))
    expect(comment).to_be_focused()
    comment.fill("Setting it up took five minutes. <3")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading").first).to_be_visible()
    page.goto("/feedback?range=30")
    item = page.get_by_test_id("feedback-item").filter(has_text="Wendy Walker")
    expect(item).to_contain_text("Setting it up took five minutes. <3")
    expect(item.locator(".score")).to_have_text("9")
