"""Settings > Web survey: the site key and its snippet, the identity secret shown once
(when made and rotated) and masked after, the allowed origins checked, CSRF on every
form, and each organization's own."""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient

from promoter.services import Services
from promoter.websurveys.settings import get_settings
from tests.conftest import Org
from tests.dashboard.conftest import Browser, add_user, sign_in

PAGE = "/settings/web-survey"
ORIGINS = "https://App.example.com:443/\n\n  http://localhost:3000  \n"


def _post(browser: Browser, url: str, data: dict[str, object] | None = None) -> Any:
    return browser.post(url, data)


def _shown_once(browser: Browser, response: Any) -> Any:
    """A form that makes a secret redirects (303) to the page, which shows it once."""
    assert response.status_code == 303 and response.headers["location"] == PAGE
    return browser.client.get(PAGE)


def test_the_dashboard_page(browser: Browser, services: Services) -> None:
    page = browser.client.get(PAGE)
    assert page.status_code == 200 and "Create the site key and secret" in page.text
    assert 'data-testid="site-key"' not in page.text
    made = _post(browser, PAGE, {"allowed_origins": ORIGINS, "enabled": "on"})
    created = _shown_once(browser, made)
    assert created.status_code == 200 and "identity secret are ready" in created.text
    with services.database.read() as conn:
        found = get_settings(conn, organization_id=browser.org.id)
    assert found is not None and found.enabled
    assert found.allowed_origins == ("https://app.example.com", "http://localhost:3000")
    assert found.identity_secret in created.text and 'data-testid="new-secret"' in created.text
    assert found.identity_secret not in made.text
    snippet = (
        f'<script src="http://testserver/w/promoter.js" data-site-key="{found.site_key}" '
        "async></script>"
    )
    shown = html.unescape(created.text)
    assert snippet in shown and 'promoter("identify", userId, traits, {signature})' in shown

    page = browser.client.get(PAGE)
    assert found.identity_secret not in page.text and found.masked_secret in page.text
    assert found.site_key in page.text
    assert "https://app.example.com\nhttp://localhost:3000</textarea>" in page.text

    saved = _post(browser, PAGE, {"allowed_origins": "https://shop.example"})
    assert saved.status_code == 303 and saved.headers["location"] == PAGE + "?done=saved"
    page = browser.client.get(PAGE + "?done=saved")
    assert found.identity_secret not in page.text and "https://shop.example" in page.text

    bad = _post(browser, PAGE, {"allowed_origins": "https://shop.example/path", "enabled": "on"})
    assert bad.status_code == 400 and "no path" in bad.text
    assert "https://shop.example/path</textarea>" in bad.text
    too_many = "\n".join(f"https://s{n}.example" for n in range(51))
    assert _post(browser, PAGE, {"allowed_origins": too_many}).status_code == 400

    rotated = _shown_once(browser, _post(browser, PAGE + "/rotate-secret"))
    assert rotated.status_code == 200 and "24 hours" in rotated.text
    with services.database.read() as conn:
        after = get_settings(conn, organization_id=browser.org.id)
    assert after is not None and after.previous_secret == found.identity_secret
    assert after.identity_secret in rotated.text and found.identity_secret not in rotated.text
    assert after.identity_secret not in browser.client.get(PAGE).text

    moved = _post(browser, PAGE + "/rotate-site-key")
    assert moved.status_code == 303
    with services.database.read() as conn:
        last = get_settings(conn, organization_id=browser.org.id)
    assert last is not None and last.site_key != found.site_key
    page = browser.client.get(moved.headers["location"])
    assert last.site_key in page.text and found.site_key not in page.text


def test_every_form_wants_the_csrf_token(browser: Browser, services: Services) -> None:
    for url in (PAGE, PAGE + "/rotate-secret", PAGE + "/rotate-site-key"):
        forged = browser.client.post(
            url,
            data={"csrf": "nope", "allowed_origins": "https://a.example"},
            follow_redirects=False,
        )
        assert forged.status_code == 403, url
    with services.database.read() as conn:
        assert get_settings(conn, organization_id=browser.org.id) is None
    # Rotating before anything is saved goes back to the page.
    assert _post(browser, PAGE + "/rotate-secret").status_code == 303
    assert _post(browser, PAGE + "/rotate-site-key").status_code == 303


def test_another_organization_sees_nothing(
    app_client: TestClient, services: Services, browser: Browser, other_org: Org
) -> None:
    _post(browser, PAGE, {"allowed_origins": "https://acme.example", "enabled": "on"})
    with services.database.read() as conn:
        mine = get_settings(conn, organization_id=browser.org.id)
    assert mine is not None
    add_user(services, other_org, "bea@globex.example")
    with TestClient(app_client.app) as other:
        sign_in(other, "bea@globex.example")
        page = other.get(PAGE)
        assert page.status_code == 200 and "Create the site key and secret" in page.text
        assert mine.site_key not in page.text and "acme.example" not in page.text
        assert mine.masked_secret not in page.text
        other.post(PAGE + "/rotate-secret", follow_redirects=False)
    with services.database.read() as conn:
        assert get_settings(conn, organization_id=browser.org.id) == mine
        assert get_settings(conn, organization_id=other_org.id) is None
