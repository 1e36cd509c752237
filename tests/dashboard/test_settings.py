"""The Settings page for Segment: API keys (shown once, revoked for good), the endpoint URLs, the
webhook shared secret, the time zone, the survey cooldown and the live view of received
messages."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from promoter.config import Settings
from promoter.orgs.key_cache import KeyCache
from promoter.orgs.service import KeyHolder, get_organization, key_holder, list_api_keys
from promoter.services import Services
from promoter.storage.engine import Database
from tests.conftest import make_org
from tests.dashboard.conftest import Browser, add_user, sign_in

KEY = re.compile(r"pk_[A-Za-z0-9_-]{20,}")
NEW_KEY = re.compile(r'data-testid="new-key">([^<]+)<')
NEW_SECRET = re.compile(r'data-testid="new-secret">([^<]+)<')
TTL = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def pass_ttl(self) -> None:
        self.now += TTL + 0.1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(settings: Settings, database: Database, clock: Clock) -> Services:
    """The app's services with a key cache on a clock the test moves."""

    def lookup(key: str) -> KeyHolder | None:
        with database.read() as conn:
            return key_holder(conn, key=key)

    built = Services.build(settings, database)
    return dataclasses.replace(built, keys=KeyCache(lookup, ttl=TTL, clock=clock))


def status(response: Any) -> int:
    code = response.status_code
    assert isinstance(code, int)
    return code


def identify(client: TestClient, key: str, user_id: str = "ann") -> int:
    response = client.post(
        "/v1/identify",
        json={"userId": user_id, "traits": {"email": f"{user_id}@example.com"}},
        auth=(key, ""),
    )
    return response.status_code


def to_segment(client: TestClient, key: str, signature: str | None = None) -> int:
    body = orjson.dumps({"type": "identify", "userId": "bob", "traits": {"email": "b@x.co"}})
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-signature"] = signature
    response = client.post("/segment", content=body, headers=headers, auth=(key, ""))
    return response.status_code


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_page_shows_keys_by_prefix_and_the_endpoints(browser: Browser) -> None:
    page = browser.client.get("/settings/segment")
    assert page.status_code == 200
    assert browser.org.key[:10] in page.text
    assert browser.org.key not in page.text and not KEY.search(page.text)
    assert "http://testserver/segment" in page.text
    assert 'id="url-host">http://testserver<' in page.text
    assert "/v1/batch" in page.text
    assert 'data-testid="last-key-warning"' in page.text  # one active key
    assert '<script src="/static/settings.js"' in page.text
    assert '<link rel="stylesheet" href="/static/settings.css">' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert " style=" not in page.text and "<script>" not in page.text


def created_then_shown(browser: Browser, url: str, data: dict[str, object], anchor: str) -> Any:
    """Post a form that makes a secret: a 303 to the settings page, which shows it once."""
    created = browser.post(url, data)
    assert status(created) == 303
    location = created.headers["location"]  # type: ignore[attr-defined]
    assert location == f"/settings/segment#{anchor}"
    assert "no-store" in created.headers["cache-control"]  # type: ignore[attr-defined]
    assert not KEY.search(created.text)  # type: ignore[attr-defined]
    return browser.client.get(location)


def test_a_new_key_is_shown_once_after_a_redirect_and_works(
    browser: Browser, database: Database
) -> None:
    shown = created_then_shown(
        browser, "/settings/segment/keys", {"name": "Segment prod"}, "keys-h"
    )
    assert shown.status_code == 200 and "no-store" in shown.headers["cache-control"]
    assert "API key created. Copy it now" in shown.text
    match = NEW_KEY.search(shown.text)
    assert match, "the new key is on the page redirected to"
    key = match.group(1)
    assert key != browser.org.key and KEY.fullmatch(key)
    assert key not in str(shown.url) and all(
        key not in r.headers.get("location", "") for r in shown.history
    )
    assert identify(browser.client, key) == 200
    listed = browser.client.get("/api/v2/contacts/", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200
    again = browser.client.get("/settings/segment")
    assert not NEW_KEY.search(again.text) and "Copy it now" not in again.text
    assert key not in again.text and key[:10] in again.text and "Segment prod" in again.text
    assert 'data-testid="last-key-warning"' not in again.text  # two active keys now
    with database.read() as conn:
        stored = list_api_keys(conn, organization_id=browser.org.id)
    assert [k.name for k in stored] == ["default", "Segment prod"]
    assert all(key not in repr(k) for k in stored)
    unnamed = created_then_shown(browser, "/settings/segment/keys", {"name": "  "}, "keys-h")
    assert NEW_KEY.search(unnamed.text)
    too_long = browser.post("/settings/segment/keys", {"name": "x" * 101})
    assert status(too_long) == 400 and not NEW_KEY.search(too_long.text)  # type: ignore[attr-defined]
    assert not NEW_KEY.search(browser.client.get("/settings/segment").text)


def test_a_new_key_is_shown_only_to_the_session_that_made_it(
    browser: Browser, app_client: TestClient, services: Services
) -> None:
    other_email = "bo@example.com"
    add_user(services, browser.org, other_email)
    with TestClient(app_client.app) as other:
        sign_in(other, other_email)
        created = browser.post("/settings/segment/keys", {"name": "mine"})
        assert status(created) == 303
        assert not NEW_KEY.search(other.get("/settings/segment").text)
    assert NEW_KEY.search(browser.client.get("/settings/segment").text)


def test_revoking_a_key_stops_it(browser: Browser, database: Database, clock: Clock) -> None:
    client, key = browser.client, browser.org.key
    assert identify(client, key) == 200
    with database.read() as conn:
        (info,) = list_api_keys(conn, organization_id=browser.org.id)
    page = client.get("/settings/segment")
    assert f'action="/settings/segment/keys/{info.id}/revoke"' in page.text
    assert "This is the only active key" in page.text  # the confirmation warns
    revoked = browser.post(f"/settings/segment/keys/{info.id}/revoke")
    assert status(revoked) == 303
    location = revoked.headers["location"]  # type: ignore[attr-defined]
    assert location == "/settings/segment?done=key-revoked"
    clock.pass_ttl()  # the key cache forgets the key
    assert identify(client, key) == 401
    assert to_segment(client, key) == 401
    after = client.get(location)
    assert "API key revoked." in after.text and ">revoked<" in after.text
    assert "No API key is active" in after.text
    assert f'action="/settings/segment/keys/{info.id}/revoke"' not in after.text
    # Revoking it again (or a key that does not exist) is a 404.
    assert status(browser.post(f"/settings/segment/keys/{info.id}/revoke")) == 404
    assert status(browser.post("/settings/segment/keys/999999/revoke")) == 404


def test_another_organizations_key_cannot_be_revoked(
    browser: Browser, database: Database, clock: Clock
) -> None:
    other = make_org(database, "Other")
    with database.read() as conn:
        (info,) = list_api_keys(conn, organization_id=other.id)
    page = browser.client.get("/settings/segment")
    assert other.key[:10] not in page.text
    assert status(browser.post(f"/settings/segment/keys/{info.id}/revoke")) == 404
    clock.pass_ttl()
    assert identify(browser.client, other.key) == 200
    with database.read() as conn:
        (still,) = list_api_keys(conn, organization_id=other.id)
    assert still.active


def test_forms_without_csrf_are_refused(browser: Browser, database: Database) -> None:
    with database.read() as conn:
        (info,) = list_api_keys(conn, organization_id=browser.org.id)
    posts = [
        ("/settings/segment/keys", {"name": "x"}),
        (f"/settings/segment/keys/{info.id}/revoke", {}),
        ("/settings/segment/secret", {"secret": "s3cret"}),
        ("/settings/segment/secret/clear", {}),
        ("/settings/segment/timezone", {"timezone": "Europe/Paris"}),
        ("/settings/segment/cooldown", {"cooldown_days": "3"}),
    ]
    for url, data in posts:
        for token in (None, "wrong"):
            fields = dict(data) if token is None else {**data, "csrf": token}
            response = browser.client.post(url, data=fields, follow_redirects=False)
            assert response.status_code == 403, url
            assert not NEW_KEY.search(response.text)
    with database.read() as conn:
        keys = list_api_keys(conn, organization_id=browser.org.id)
        org = get_organization(conn, organization_id=browser.org.id)
    assert [k.active for k in keys] == [True]
    assert org.webhook_secret is None and org.timezone == "UTC"
    assert org.cooldown_days == 30


def test_shared_secret_set_and_cleared(browser: Browser, database: Database, clock: Clock) -> None:
    client, key = browser.client, browser.org.key
    assert to_segment(client, key) == 200
    saved = created_then_shown(
        browser, "/settings/segment/secret", {"secret": "  open sesame  "}, "secret-h"
    )
    text = saved.text
    assert "Webhook shared secret saved." in text
    match = NEW_SECRET.search(text)
    assert match and match.group(1) == "open sesame"
    assert 'data-testid="secret-state">set<' in text
    clock.pass_ttl()
    assert to_segment(client, key) == 401
    body = orjson.dumps({"type": "identify", "userId": "bob", "traits": {"email": "b@x.co"}})
    assert to_segment(client, key, sign("open sesame", body)) == 200
    page = client.get("/settings/segment")
    assert "open sesame" not in page.text and 'data-testid="secret-state">set<' in page.text
    # The refusal shows in the live view.
    assert "missing or wrong X-Signature" in page.text

    cleared = browser.post("/settings/segment/secret/clear")
    assert status(cleared) == 303
    location = cleared.headers["location"]  # type: ignore[attr-defined]
    assert location == "/settings/segment?done=secret-cleared"
    page = client.get(location)
    assert "X-Signature is no longer required" in page.text
    assert 'data-testid="secret-state">not set<' in page.text
    clock.pass_ttl()
    assert to_segment(client, key) == 200


def test_a_generated_secret_is_shown_once(browser: Browser, database: Database) -> None:
    saved = created_then_shown(
        browser, "/settings/segment/secret", {"secret": "", "generate": "1"}, "secret-h"
    )
    match = NEW_SECRET.search(saved.text)
    assert match and len(match.group(1)) >= 32
    with database.read() as conn:
        org = get_organization(conn, organization_id=browser.org.id)
    assert org.webhook_secret == match.group(1)
    assert match.group(1) not in browser.client.get("/settings/segment").text
    for bad in ("", "   ", "x" * 201, "two\nlines"):
        refused = browser.post("/settings/segment/secret", {"secret": bad})
        assert status(refused) == 400, bad
        assert 'class="error" role="alert"' in refused.text  # type: ignore[attr-defined]
    with database.read() as conn:
        kept = get_organization(conn, organization_id=browser.org.id).webhook_secret
    assert kept == org.webhook_secret


def test_time_zone_is_validated(browser: Browser, database: Database) -> None:
    page = browser.client.get("/settings/segment")
    assert '<option value="Europe/Paris">' in page.text
    assert 'name="timezone" list="zones" value="UTC"' in page.text
    saved = browser.post("/settings/segment/timezone", {"timezone": " Europe/Paris "})
    assert status(saved) == 303
    location = saved.headers["location"]  # type: ignore[attr-defined]
    assert location == "/settings/segment?done=timezone-saved#timezone-h"
    assert "Time zone saved." in browser.client.get(location).text
    with database.read() as conn:
        assert get_organization(conn, organization_id=browser.org.id).timezone == "Europe/Paris"
    for bad in ("Mars/Olympus_Mons", "", "../../etc/passwd", "localtime", "Europe/" + "x" * 80):
        refused = browser.post("/settings/segment/timezone", {"timezone": bad})
        assert status(refused) == 400, bad
        text = refused.text  # type: ignore[attr-defined]
        assert 'class="error" role="alert" id="timezone-error"' in text
    explained = browser.post("/settings/segment/timezone", {"timezone": "Mars/Olympus_Mons"})
    assert "Unknown time zone &#39;Mars/Olympus_Mons&#39;" in explained.text  # type: ignore[attr-defined]
    with database.read() as conn:
        assert get_organization(conn, organization_id=browser.org.id).timezone == "Europe/Paris"


def test_survey_cooldown_is_shown_saved_and_validated(browser: Browser, database: Database) -> None:
    page = browser.client.get("/settings/segment")
    assert 'data-testid="cooldown">30 days<' in page.text
    assert 'id="cooldown_days" name="cooldown_days" type="number"' in page.text
    assert "no campaign surveys the same person again" in page.text
    saved = browser.post("/settings/segment/cooldown", {"cooldown_days": " 7 "})
    assert status(saved) == 303
    location = saved.headers["location"]  # type: ignore[attr-defined]
    assert location == "/settings/segment?done=cooldown-saved#cooldown-h"
    shown = browser.client.get(location)
    assert "Survey cooldown saved." in shown.text
    assert 'data-testid="cooldown">7 days<' in shown.text
    assert status(browser.post("/settings/segment/cooldown", {"cooldown_days": "0"})) == 303
    with database.read() as conn:
        assert get_organization(conn, organization_id=browser.org.id).cooldown_days == 0
    for bad in ("", "-1", "366", "1.5", "soon", "٣", "9" * 30):
        refused = browser.post("/settings/segment/cooldown", {"cooldown_days": bad})
        assert status(refused) == 400, bad
        text = refused.text  # type: ignore[attr-defined]
        assert 'class="error" role="alert" id="cooldown-error"' in text
        assert "Enter a whole number of days from 0 to 365." in text
        assert 'aria-invalid="true"' in text
    with database.read() as conn:
        assert get_organization(conn, organization_id=browser.org.id).cooldown_days == 0


def test_received_messages_show_their_outcome(browser: Browser) -> None:
    client = browser.client
    empty = client.get("/settings/segment/received")
    assert empty.status_code == 200 and 'data-testid="no-received"' in empty.text
    batch = {
        "batch": [
            {
                "type": "identify",
                "userId": "ann",
                "messageId": "m-accepted",
                "traits": {"email": "ann@example.com"},
            },
            {"type": "identify", "userId": "nomail", "messageId": "m-rejected", "traits": {}},
            {"type": "track", "userId": "ann", "event": "Signed Up", "messageId": "m-track"},
        ]
    }
    sent = client.post("/v1/batch", json=batch, auth=(browser.org.key, ""))
    assert sent.status_code == 200 and sent.json()["accepted"] == 2
    assert client.post("/v1/batch", json=batch, auth=(browser.org.key, "")).status_code == 200

    page = client.get("/settings/segment")
    assert 'id="received" data-refresh="/settings/segment/received"' in page.text
    assert 'href="/settings/segment#received-h">Refresh</a>' in page.text
    for html in (page.text, client.get("/settings/segment/received").text):
        rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
        by_id = {}
        for row in rows:
            found = re.search(r"<code>(m-[a-z]+)</code>", row)
            if found:
                by_id.setdefault(found.group(1), row)  # newest first
        assert set(by_id) == {"m-accepted", "m-rejected", "m-track"}
        assert "outcome-duplicate" in by_id["m-accepted"]  # the second batch, newest
        assert "<code>ann</code>" in by_id["m-accepted"]
        rejected = by_id["m-rejected"]
        assert "outcome-rejected" in rejected and "<code>nomail</code>" in rejected
        assert "traits.email` is required to create a contact" in rejected
        assert "Signed Up" in by_id["m-track"] and "Tracking API" in by_id["m-track"]
    first_page = client.get("/settings/segment").text
    assert first_page.count("outcome-accepted") == 2  # the first batch
    fragment = client.get("/settings/segment/received")
    assert "<html" not in fragment.text and "<table" in fragment.text
    assert "no-store" in fragment.headers["cache-control"]


def test_another_organizations_messages_are_not_shown(browser: Browser, database: Database) -> None:
    other = make_org(database, "Other")
    assert identify(browser.client, other.key, "zed") == 200
    assert "<code>zed</code>" not in browser.client.get("/settings/segment/received").text


def test_settings_need_a_session(client: TestClient) -> None:
    page = client.get("/settings/segment/received", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.post("/settings/segment/keys", data={}).status_code == 401
