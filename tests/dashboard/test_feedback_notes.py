"""Notes on feedback in the dashboard: written on the feedback page (CSRF, the user as
author), shown there and on the feedback's own page (the API's ``followup_href``), the
same notes the API reads; another organization's feedback out of reach."""

from __future__ import annotations

import html
import random
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from promoter.storage.engine import Database
from promoter.storage.tables import feedback_notes, responses
from tests.analytics.dataset import build
from tests.conftest import make_org
from tests.credentials import token
from tests.dashboard.conftest import Browser


@pytest.fixture
def rid(database: Database, browser: Browser) -> int:
    build(database, browser.org.id, random.Random(3), contacts_count=6, responses_count=12)
    return _first(database, browser.org.id)


def _first(database: Database, org_id: int) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(responses.c.id)
                .where(responses.c.organization_id == org_id)
                .order_by(responses.c.created_at.desc())
                .limit(1)
            ).scalar_one()
        )


def api(browser: Browser, path: str) -> Any:
    response = browser.client.get(path, headers=token(browser.org.key))
    assert response.status_code == 200, response.text
    return response.json()


def _note_count(database: Database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(feedback_notes)).scalar_one())


def test_write_a_note_and_read_it_everywhere(browser: Browser, rid: int) -> None:
    page = browser.client.get(f"/feedback/{rid}")
    assert page.status_code == 200
    assert f'id="f{rid}"' in page.text and "Notes (0)" in page.text
    assert f'action="/feedback/{rid}/notes"' in page.text
    back = f"/feedback?range=all#f{rid}"
    saved = browser.post(
        f"/feedback/{rid}/notes", {"body": "Called <b>them</b>.\nAll good.", "return": back}
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    assert saved.headers["location"] == f"/feedback?range=all&done=note-saved#f{rid}"  # type: ignore[attr-defined]
    listing = browser.client.get("/feedback", params={"range": "all"})
    assert "<span>1 note</span>" in listing.text  # the list counts them; its page shows them
    one = browser.client.get(f"/feedback/{rid}")
    assert "Notes (1)" in one.text and browser.email in one.text
    assert "Called &lt;b&gt;them&lt;/b&gt;.\nAll good." in one.text
    assert "<b>them</b>" not in one.text
    assert 'class="notes" open' in one.text
    # The API reads the same notes; its followup_href is this page.
    feedback = api(browser, f"/api/v2/feedback/{rid}/")
    assert feedback["notes_count"] == 1
    assert feedback["notes"][0]["author"] == browser.email
    assert feedback["notes"][0]["body"] == "Called <b>them</b>.\nAll good."
    followup = browser.client.get(feedback["followup_href"].removeprefix("http://testserver"))
    assert followup.status_code == 200 and f'id="f{rid}"' in followup.text


def test_listing_links_each_feedback_to_its_page(browser: Browser, rid: int) -> None:
    listing = browser.client.get("/feedback", params={"range": "all"})
    assert f'href="/feedback/{rid}"' in listing.text


def test_a_blank_or_unsigned_note_is_refused(
    browser: Browser, rid: int, database: Database
) -> None:
    blank = browser.post(f"/feedback/{rid}/notes", {"body": "   "})
    assert blank.status_code == 400  # type: ignore[attr-defined]
    assert "may not be blank" in blank.text  # type: ignore[attr-defined]
    long = browser.post(f"/feedback/{rid}/notes", {"body": "x" * 10_001})
    assert long.status_code == 400  # type: ignore[attr-defined]
    forged = browser.client.post(
        f"/feedback/{rid}/notes", data={"body": "hello"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert _note_count(database) == 0


def test_another_organizations_feedback_is_out_of_reach(
    browser: Browser, database: Database
) -> None:
    other = make_org(database, "Globex")
    build(database, other.id, random.Random(4), contacts_count=3, responses_count=3)
    rid = _first(database, other.id)
    assert browser.client.get(f"/feedback/{rid}").status_code == 404
    assert browser.post(f"/feedback/{rid}/notes", {"body": "mine"}).status_code == 404  # type: ignore[attr-defined]
    assert _note_count(database) == 0
    html = {"Accept": "text/html"}
    assert browser.client.get(f"/feedback/{10**30}", headers=html).status_code == 404
    assert browser.client.get("/feedback/nope", headers=html).status_code == 404


def test_signed_out_users_are_sent_to_sign_in(browser: Browser, rid: int) -> None:
    browser.client.cookies.clear()
    page = browser.client.get(f"/feedback/{rid}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")


def test_repeated_actions_leave_one_done_in_the_url(browser: Browser, rid: int) -> None:
    """The list's selection form and the feedback page's forms send the browser back where
    it was, with one done message however many actions went before."""
    back = "/feedback?range=all&done=old"
    list_return = re.compile(r'name="return" value="(/feedback\?[^"]+)"')
    for fields, done in [
        ({"action": "tag", "tag": "call back"}, "bulk-tagged"),
        ({"action": "close"}, "bulk-closed"),
        ({"action": "reopen"}, "bulk-reopened"),
    ]:
        page = browser.client.get(back)
        returned = html.unescape(list_return.search(page.text).group(1))  # type: ignore[union-attr]
        assert returned == back
        saved = browser.post("/feedback/bulk", {"id": [str(rid)], **fields, "return": returned})
        assert saved.status_code == 303  # type: ignore[attr-defined]
        back = saved.headers["location"]  # type: ignore[attr-defined]
        assert back == f"/feedback?range=all&done={done}"
    item_return = re.compile(rf'name="return" value="([^"]+#f{rid})"')
    back = f"/feedback/{rid}?done=old"
    for url, fields, done in [
        (f"/feedback/{rid}/tags", {"tags": "vip"}, "tags-saved"),
        (f"/feedback/{rid}/notes", {"body": "Called."}, "note-saved"),
        (f"/feedback/{rid}/status", {"status": "CLOSED"}, "status-saved"),
        (f"/feedback/{rid}/tags/remove", {"tag": "vip"}, "tags-saved"),
    ]:
        page = browser.client.get(back.partition("#")[0])
        returned = html.unescape(item_return.search(page.text).group(1))  # type: ignore[union-attr]
        saved = browser.post(url, {**fields, "return": returned})
        assert saved.status_code == 303  # type: ignore[attr-defined]
        back = saved.headers["location"]  # type: ignore[attr-defined]
        assert back == f"/feedback/{rid}?done={done}#f{rid}"
